//! `chaff events`: what the sensors saw.
//!
//! Catches up first (every service container's log since it was last read goes into the
//! database), then prints the matching events: a table, or with `--json` one stored event per
//! line. `--follow` then keeps following the containers and prints each new event until
//! Ctrl-C; it reads new events from the database, so events another Chaff process stores
//! (the desktop app, `chaff watch`) are shown too.

use std::time::{Duration, SystemTime};

use chaff_docker::BollardDocker;
use chaff_lifecycle::{Engine, ErrorCode};
use chaff_state::{EventQuery, StoredEvent, Timestamp, rfc3339};
use clap::Args;

use crate::exit::CliError;
use crate::ops::op_error;
use crate::table;

/// How often `--follow` looks for new events in the database.
const FOLLOW_POLL: Duration = Duration::from_millis(250);
/// Events shown when `--limit` is not given.
const DEFAULT_LIMIT: usize = 100;
/// The longest value shown in a table cell; longer ones end with `…`.
const MAX_CELL_CHARS: usize = 60;
/// Fields shown in the table's detail column, in this order, when the event has them.
const DETAIL_FIELDS: [&str; 11] = [
    "username",
    "password",
    "password_hex",
    "command",
    "method",
    "path",
    "bytes_in",
    "reason",
    "preview",
    "message",
    "bind",
];

#[derive(Args)]
pub struct EventsArgs {
    /// Keep following and print new events until Ctrl-C
    #[arg(short, long)]
    follow: bool,
    /// Only this fleet's events
    #[arg(long)]
    fleet: Option<String>,
    /// Only this decky's events
    #[arg(long)]
    decky: Option<String>,
    /// Only this service's events (a slug: ssh, redis, ...)
    #[arg(long)]
    service: Option<String>,
    /// Only this kind (connect, disconnect, auth, command, request, malformed, ...)
    #[arg(long)]
    kind: Option<String>,
    /// Only events at or after this time: RFC 3339 (2024-05-01T12:00:00Z) or an age (90s, 10m, 2h, 1d)
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Show the latest N matching events (0: all) [default: 100]
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// One stored event per line, as JSON: the sensor's object with its `id`
    #[arg(long)]
    json: bool,
}

pub async fn run(engine: &Engine<BollardDocker>, args: EventsArgs) -> Result<(), CliError> {
    let since = args.since.as_deref().map(|text| parse_since(text, SystemTime::now())).transpose()?;
    catch_up(engine).await?;
    let limit = match args.limit.unwrap_or(DEFAULT_LIMIT) {
        0 => None,
        n => Some(n),
    };
    let mut query = EventQuery {
        fleet: args.fleet,
        decky: args.decky,
        service: args.service,
        kind: args.kind,
        since,
        after_id: None,
        limit,
        latest: true,
    };
    let shown = engine.events(&query).map_err(op_error)?;
    print(&shown, args.json, true);
    if !args.follow {
        return Ok(());
    }
    // Follow from the newest stored event, matching or not, so nothing older shows up late.
    let newest = engine.events(&EventQuery { limit: Some(1), latest: true, ..EventQuery::default() });
    query.after_id = newest.map_err(op_error)?.last().map(|e| e.id).or(Some(0));
    query.limit = None;
    query.latest = false;
    follow(engine, query, args.json).await
}

/// Stores what the containers logged since they were last read. Docker being unreachable is
/// reported, not fatal: the stored events are still worth showing.
async fn catch_up(engine: &Engine<BollardDocker>) -> Result<(), CliError> {
    match engine.collect_events().await {
        Ok(collected) => {
            tracing::info!(?collected, "caught up");
            Ok(())
        }
        Err(error) if error.code() == ErrorCode::DockerUnavailable => {
            eprintln!("warning: {error}; showing the events stored so far");
            Ok(())
        }
        Err(error) => Err(op_error(error)),
    }
}

async fn follow(engine: &Engine<BollardDocker>, mut query: EventQuery, json: bool) -> Result<(), CliError> {
    let follower = engine.clone();
    let following = tokio::spawn(async move { follower.follow_events().await });
    eprintln!("following: new events appear below (Ctrl-C stops)");
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        tokio::select! {
            signal = &mut interrupted => {
                signal.map_err(|e| CliError::Internal(format!("cannot wait for Ctrl-C: {e}")))?;
                following.abort();
                return Ok(());
            }
            () = tokio::time::sleep(FOLLOW_POLL) => {}
        }
        let new = engine.events(&query).map_err(op_error)?;
        if let Some(last) = new.last() {
            query.after_id = Some(last.id);
        }
        print(&new, json, false);
    }
}

fn print(events: &[StoredEvent], json: bool, header: bool) {
    if json {
        for event in events {
            println!("{}", event.to_json());
        }
        return;
    }
    if events.is_empty() {
        if header {
            eprintln!("no events");
        }
        return;
    }
    let rows: Vec<Vec<String>> = events.iter().map(row).collect();
    let text = table::render(&["TIME", "DECKY", "SERVICE", "KIND", "SOURCE", "DETAIL"], &rows);
    // Following prints rows only: the header was printed with the first table.
    let skip = if header { 0 } else { 1 };
    for line in text.lines().skip(skip) {
        println!("{line}");
    }
}

fn row(event: &StoredEvent) -> Vec<String> {
    let source = match (&event.src_ip, event.field("src_port")) {
        (Some(ip), Some(port)) => format!("{ip}:{port}"),
        (Some(ip), None) => ip.clone(),
        _ => "-".to_owned(),
    };
    vec![
        rfc3339::format_millis(event.ts.unix_millis()),
        event.decky.clone(),
        event.service.clone(),
        event.kind.clone(),
        source,
        detail(event),
    ]
}

/// The fields worth a glance (`username=root password=toor`), or a malformed line's text.
fn detail(event: &StoredEvent) -> String {
    if event.is_malformed() {
        return shorten(&event.raw);
    }
    DETAIL_FIELDS
        .iter()
        .filter_map(|name| event.field(name).map(|value| format!("{name}={}", shorten(&value))))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shorten(text: &str) -> String {
    let flat: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    match flat.char_indices().nth(MAX_CELL_CHARS) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

/// `--since`: an RFC 3339 time, or an age before `now` (`90s`, `10m`, `2h`, `1d`).
pub fn parse_since(text: &str, now: SystemTime) -> Result<Timestamp, CliError> {
    if let Some(millis) = rfc3339::parse_millis(text) {
        return Ok(Timestamp::from_unix_millis(millis));
    }
    let age = parse_age(text).ok_or_else(|| {
        CliError::InvalidInput(format!(
            "--since '{text}' is neither an RFC 3339 time (2024-05-01T12:00:00Z) nor an age like 90s, 10m, 2h or 1d"
        ))
    })?;
    let then = now
        .checked_sub(age)
        .ok_or_else(|| CliError::InvalidInput(format!("--since '{text}' is too long ago")))?;
    Ok(Timestamp::from_system_time(then))
}

/// `<digits><unit>` with unit `s`, `m`, `h` or `d`.
fn parse_age(text: &str) -> Option<Duration> {
    let unit_at = text.len().checked_sub(1)?;
    let (number, unit) = text.split_at(unit_at);
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds_per_unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    let count: u64 = number.parse().ok()?;
    Some(Duration::from_secs(count.checked_mul(seconds_per_unit)?))
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use chaff_state::{EventOrigin, NewEvent};

    use super::*;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_714_566_896)
    }

    fn millis(text: &str) -> i64 {
        parse_since(text, now()).unwrap().unix_millis()
    }

    #[test]
    fn since_takes_rfc3339_or_an_age() {
        assert_eq!(millis("2024-05-01T12:00:00Z"), 1_714_564_800_000);
        assert_eq!(millis("2024-05-01T14:00:00.5+02:00"), 1_714_564_800_500);
        assert_eq!(millis("90s"), 1_714_566_806_000);
        assert_eq!(millis("10m"), 1_714_566_296_000);
        assert_eq!(millis("2h"), 1_714_559_696_000);
        assert_eq!(millis("1d"), 1_714_480_496_000);
        assert_eq!(millis("0s"), 1_714_566_896_000);
    }

    #[test]
    fn a_bad_since_is_invalid_input_saying_what_is_accepted() {
        for bad in ["", "10", "m", "10w", "-5m", "1.5h", "yesterday", "2024-05-01", "99999999999999999999d"] {
            let error = parse_since(bad, now()).unwrap_err();
            assert_eq!(error.exit_code(), 3, "{bad:?}");
            assert!(error.to_string().contains(&format!("--since '{bad}'")), "{error}");
        }
        assert!(parse_since("18446744073709551d", now()).is_err(), "overflow is refused");
    }

    #[test]
    fn the_detail_column_shows_the_fields_worth_a_glance() {
        let origin = EventOrigin {
            container: "c".into(),
            fleet: "f".into(),
            decky: "web".into(),
            service: "ssh".into(),
        };
        let line = r#"{"v":1,"ts":"2024-05-01T12:00:00Z","decky":"web","service":"ssh","kind":"auth","transport":"tcp","src_ip":"10.0.0.9","src_port":4000,"dst_port":22,"username":"root","password":"toor"}"#;
        let event = NewEvent::from_line(&origin, 0, 0, line.into());
        let stored = StoredEvent {
            id: 1,
            container: event.container,
            docker_ts_ns: 0,
            fleet: event.fleet,
            decky: event.decky,
            service: event.service,
            kind: event.kind,
            ts: event.ts,
            src_ip: event.src_ip,
            dst_port: event.dst_port,
            raw: event.raw,
            data: event.data,
        };
        assert_eq!(
            row(&stored),
            [
                "2024-05-01T12:00:00.000Z",
                "web",
                "ssh",
                "auth",
                "10.0.0.9:4000",
                "username=root password=toor"
            ]
        );
        assert_eq!(shorten(&"x".repeat(70)), format!("{}…", "x".repeat(MAX_CELL_CHARS)));
        assert_eq!(shorten("a\nb"), "a b");
    }
}
