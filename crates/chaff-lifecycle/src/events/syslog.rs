//! Sensor events as RFC 5424 syslog messages (pure).
//!
//! `<PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID [chaff@55555 fleet="..." k="v" ...] MSG`:
//! facility local0; severity notice for `auth` and `command` events (credentials and
//! commands are what an analyst acts on), informational otherwise; HOSTNAME the decky,
//! APP-NAME the service, MSGID the kind, each cut to the RFC's limit (255, 48, 32) and made
//! of printable ASCII; one SD parameter per field of the sensor's object that the header does
//! not already carry; MSG the line as the sensor wrote it. Over TCP every message is framed
//! by octet counting (RFC 6587 §3.4.1: `LEN SP MSG`).

use chaff_state::{StoredEvent, rfc3339};
use serde_json::Value;

/// The structured-data id (a private enterprise number form, as the original used).
pub const SD_ID: &str = "chaff@55555";
/// local0.
pub const FACILITY: u8 = 16;
pub const SEVERITY_NOTICE: u8 = 5;
pub const SEVERITY_INFO: u8 = 6;
/// RFC 5424 §6: the longest HOSTNAME, APP-NAME and MSGID.
pub const MAX_HOSTNAME: usize = 255;
pub const MAX_APP_NAME: usize = 48;
pub const MAX_MSGID: usize = 32;
/// The longest SD-PARAM name.
pub const MAX_PARAM_NAME: usize = 32;
/// The most a UDP datagram can carry over IPv4; longer messages are cut to it.
pub const MAX_UDP_MESSAGE: usize = 65_507;

/// Sensor fields the header carries already.
const IN_HEADER: [&str; 5] = ["v", "ts", "decky", "service", "kind"];

pub fn severity(kind: &str) -> u8 {
    match kind {
        "auth" | "command" => SEVERITY_NOTICE,
        _ => SEVERITY_INFO,
    }
}

/// The RFC 5424 message of `event` (no framing, no trailing newline).
pub fn format(event: &StoredEvent) -> String {
    let pri = u16::from(FACILITY) * 8 + u16::from(severity(&event.kind));
    format!(
        "<{pri}>1 {} {} {} - {} {} {}",
        rfc3339::format_millis(event.ts.unix_millis()),
        header_field(&event.decky, MAX_HOSTNAME),
        header_field(&event.service, MAX_APP_NAME),
        header_field(&event.kind, MAX_MSGID),
        structured_data(event),
        event.raw
    )
}

/// `message` framed for a stream: `LEN SP MSG`, LEN in bytes.
pub fn octet_counted(message: &str) -> String {
    format!("{} {message}", message.len())
}

/// `message` cut to what one UDP datagram carries, at a character boundary.
pub fn for_datagram(message: &str) -> &str {
    if message.len() <= MAX_UDP_MESSAGE {
        return message;
    }
    let mut cut = MAX_UDP_MESSAGE;
    while !message.is_char_boundary(cut) {
        cut -= 1;
    }
    &message[..cut]
}

/// Printable ASCII (33–126) only, other characters as `_`, at most `max`; `-` (the nil
/// value) when empty.
fn header_field(text: &str, max: usize) -> String {
    let field: String = text.chars().take(max).map(|c| if c.is_ascii_graphic() { c } else { '_' }).collect();
    if field.is_empty() { "-".to_owned() } else { field }
}

fn structured_data(event: &StoredEvent) -> String {
    let mut sd = format!("[{SD_ID} fleet=\"{}\"", param_value(&event.fleet));
    for (name, value) in event.data.iter().flatten() {
        if IN_HEADER.contains(&name.as_str()) {
            continue;
        }
        let (Some(name), Some(value)) = (param_name(name), value_text(value)) else { continue };
        sd.push_str(&format!(" {name}=\"{}\"", param_value(&value)));
    }
    sd.push(']');
    sd
}

/// An SD-NAME: printable ASCII except `=`, space, `]` and `"`, 1–32 characters.
fn param_name(name: &str) -> Option<String> {
    let kept: String = name
        .chars()
        .filter(|c| c.is_ascii_graphic() && !matches!(c, '=' | ']' | '"'))
        .take(MAX_PARAM_NAME)
        .collect();
    (!kept.is_empty()).then_some(kept)
}

/// Strings as they are, numbers and booleans as written, nested values as JSON; null: none.
fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

/// RFC 5424 §6.3.3: `"`, `\` and `]` are escaped with a backslash.
fn param_value(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '"' | '\\' | ']') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use chaff_state::{EventOrigin, NewEvent, Timestamp};

    use super::*;

    fn stored(raw: &str) -> StoredEvent {
        let origin = EventOrigin {
            container: "c1".into(),
            fleet: "lab".into(),
            decky: "web-01".into(),
            service: "ssh".into(),
        };
        let event = NewEvent::from_line(&origin, 1_714_566_896_000_000_000, 0, raw.into());
        StoredEvent {
            id: 1,
            container: event.container,
            docker_ts_ns: event.docker_ts_ns,
            fleet: event.fleet,
            decky: event.decky,
            service: event.service,
            kind: event.kind,
            ts: event.ts,
            src_ip: event.src_ip,
            dst_port: event.dst_port,
            raw: event.raw,
            data: event.data,
        }
    }

    const AUTH: &str = r#"{"v":1,"ts":"2024-05-01T12:34:56.789Z","decky":"web-01","service":"ssh","kind":"auth","transport":"tcp","src_ip":"10.0.0.9","src_port":40000,"dst_port":22,"conn":3,"username":"root","password":"p\"a]s\\s","extra":{"k":[1]},"gone":null}"#;

    #[test]
    fn an_auth_event_is_a_notice_with_every_field_as_a_parameter() {
        let message = format(&stored(AUTH));
        let expected = format!(
            "<133>1 2024-05-01T12:34:56.789Z web-01 ssh - auth [chaff@55555 fleet=\"lab\" transport=\"tcp\" \
             src_ip=\"10.0.0.9\" src_port=\"40000\" dst_port=\"22\" conn=\"3\" username=\"root\" \
             password=\"p\\\"a\\]s\\\\s\" extra=\"{{\\\"k\\\":[1\\]}}\"] {AUTH}"
        );
        assert_eq!(message, expected);
    }

    #[test]
    fn severity_is_notice_for_credentials_and_commands_info_otherwise() {
        assert_eq!((severity("auth"), severity("command")), (5, 5));
        assert_eq!((severity("connect"), severity("request"), severity("malformed")), (6, 6, 6));
        let connect = AUTH.replace("\"kind\":\"auth\"", "\"kind\":\"connect\"");
        assert!(format(&stored(&connect)).starts_with("<134>1 "));
    }

    #[test]
    fn a_malformed_line_keeps_its_text_and_docker_time() {
        let message = format(&stored("panic: out of cheese"));
        assert_eq!(
            message,
            "<134>1 2024-05-01T12:34:56.000Z web-01 ssh - malformed [chaff@55555 fleet=\"lab\"] panic: out of cheese"
        );
    }

    #[test]
    fn header_fields_are_cut_to_the_rfc_limits_and_printable() {
        let mut event = stored(AUTH);
        event.decky = "d".repeat(300);
        event.service = "s".repeat(60);
        event.kind = "k é\t".repeat(20);
        event.ts = Timestamp::from_unix_millis(0);
        let message = format(&event);
        let header: Vec<&str> = message.splitn(7, ' ').collect();
        assert_eq!(header[2].len(), MAX_HOSTNAME);
        assert_eq!(header[3].len(), MAX_APP_NAME);
        assert_eq!(header[4], "-");
        assert_eq!(header[5].len(), MAX_MSGID);
        assert!(header[5].chars().all(|c| c.is_ascii_graphic()), "{}", header[5]);
        assert_eq!(header_field("", 10), "-");
        assert_eq!(param_name("a b=c]d\"e").as_deref(), Some("abcde"));
        assert_eq!(param_name(" "), None);
    }

    #[test]
    fn framing_counts_bytes_and_datagrams_are_cut_at_a_character() {
        assert_eq!(octet_counted("<134>1 é"), "9 <134>1 é");
        let long = format!("{}é", "x".repeat(MAX_UDP_MESSAGE - 1));
        assert_eq!(for_datagram(&long).len(), MAX_UDP_MESSAGE - 1);
        assert_eq!(for_datagram("short"), "short");
    }
}
