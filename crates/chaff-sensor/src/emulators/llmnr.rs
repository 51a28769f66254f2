//! `llmnr` on 5355/udp (LLMNR, RFC 4795) and 5353/udp (mDNS, RFC 6762): a detector of name
//! resolution on the local link, which tools such as Responder poison.
//!
//! Both protocols use the DNS message format ([`super::dns::wire`]). Every query is recorded
//! as `query` with its questions (name, type, class; for mDNS whether a unicast answer was
//! asked for) and who sent it. Nothing is answered: a detector never claims a name, so it can
//! never poison a resolver itself, and a host that answers nothing for names that are not its
//! own is what every other host on the link looks like. Datagrams that are not a query with
//! readable questions (responses, announcements, garbage) are only the framework's
//! `datagram` event.

use std::net::SocketAddr;

use super::dns::wire::{self, Header};
use crate::env::{ConfigError, Env};
use crate::event::{Event, Fields, Kind};
use crate::ports::Transport;
use crate::recorder::Recorder;

/// Most questions recorded from one message (a datagram could claim 65 535).
const MAX_QUESTIONS: usize = 16;

/// The top bit of an mDNS question's class: the querier asks for a unicast answer (QU).
const MDNS_UNICAST_RESPONSE: u16 = 0x8000;

/// Which of the two protocols a port speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Link-Local Multicast Name Resolution, 5355/udp.
    Llmnr,
    /// Multicast DNS, 5353/udp.
    Mdns,
}

impl Protocol {
    /// The catalogue port, reported as `dst_port` of protocol events.
    pub const fn port(self) -> u16 {
        match self {
            Protocol::Llmnr => 5355,
            Protocol::Mdns => 5353,
        }
    }

    /// The name in `query` events.
    pub const fn name(self) -> &'static str {
        match self {
            Protocol::Llmnr => "llmnr",
            Protocol::Mdns => "mdns",
        }
    }
}

/// One listening port of the detector; it has nothing to configure.
pub struct Llmnr {
    protocol: Protocol,
}

impl Llmnr {
    pub fn from_env(_env: &Env, protocol: Protocol) -> Result<Llmnr, ConfigError> {
        Ok(Llmnr { protocol })
    }

    /// Records the query, if the datagram is one; never answers.
    pub fn answer(&self, datagram: &[u8], peer: SocketAddr, recorder: &Recorder) -> Option<Vec<u8>> {
        if let Some(fields) = self.query_fields(datagram) {
            recorder.record(&Event {
                transport: Transport::Udp,
                src: Some(peer),
                dst_port: self.protocol.port(),
                conn: None,
                kind: Kind::Protocol { name: "query", fields },
            });
        }
        None
    }

    /// The `query` event of `datagram`; `None` if it is not a standard query whose first
    /// [`MAX_QUESTIONS`] questions can be read.
    pub fn query_fields(&self, datagram: &[u8]) -> Option<Fields> {
        let header = Header::parse(datagram)?;
        if !header.is_query() || header.opcode() != 0 {
            return None;
        }
        let (questions, _) = wire::read_questions(datagram, &header, MAX_QUESTIONS)?;
        let questions: Vec<serde_json::Value> =
            questions.iter().map(|question| self.question_value(question)).collect();
        let fields = Fields::new()
            .text("protocol", self.protocol.name())
            .num("id", header.id.into())
            .num("flags", header.flags.into())
            .value("questions", questions.into());
        Some(match self.protocol {
            // Known answers (RFC 6762 §7.1) list what the querier already holds.
            Protocol::Mdns => fields.num("known_answers", header.answers.into()),
            Protocol::Llmnr => fields,
        })
    }

    fn question_value(&self, question: &wire::Question) -> serde_json::Value {
        let mut value = serde_json::Map::new();
        // Names are pure ASCII: bytes outside printable ASCII are escaped by the reader.
        value.insert("name".into(), question.name.clone().into());
        value.insert("type".into(), wire::type_name(question.qtype).into());
        match self.protocol {
            Protocol::Llmnr => {
                value.insert("class".into(), wire::class_name(question.qclass).into());
            }
            Protocol::Mdns => {
                let class = question.qclass & !MDNS_UNICAST_RESPONSE;
                value.insert("class".into(), wire::class_name(class).into());
                value
                    .insert("unicast_response".into(), (question.qclass & MDNS_UNICAST_RESPONSE != 0).into());
            }
        }
        value.into()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::emulators::dns::wire::{CLASS_IN, TYPE_A, TYPE_PTR, write_name};

    fn query(flags: u16, questions: &[(&str, u16, u16)]) -> Vec<u8> {
        let mut out = vec![0xab, 0xcd];
        out.extend_from_slice(&flags.to_be_bytes());
        out.extend_from_slice(&(questions.len() as u16).to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        for (name, qtype, qclass) in questions {
            write_name(&mut out, name);
            out.extend_from_slice(&qtype.to_be_bytes());
            out.extend_from_slice(&qclass.to_be_bytes());
        }
        out
    }

    fn fields(protocol: Protocol, datagram: &[u8]) -> Option<serde_json::Value> {
        let fields = Llmnr { protocol }.query_fields(datagram)?;
        Some(json!({"questions": fields.get("questions"), "protocol": fields.get("protocol")}))
    }

    #[test]
    fn llmnr_queries_are_read() {
        let got = fields(Protocol::Llmnr, &query(0, &[("WPAD", TYPE_A, CLASS_IN)])).unwrap();
        assert_eq!(
            got,
            json!({"protocol": "llmnr", "questions": [{"name": "WPAD", "type": "A", "class": "IN"}]})
        );
    }

    #[test]
    fn mdns_questions_carry_the_unicast_bit() {
        let datagram = query(
            0,
            &[("_services._dns-sd._udp.local", TYPE_PTR, CLASS_IN), ("fileserver.local", TYPE_A, 0x8001)],
        );
        let got = fields(Protocol::Mdns, &datagram).unwrap();
        assert_eq!(
            got["questions"],
            json!([
                {"name": "_services._dns-sd._udp.local", "type": "PTR", "class": "IN", "unicast_response": false},
                {"name": "fileserver.local", "type": "A", "class": "IN", "unicast_response": true},
            ])
        );
    }

    #[test]
    fn responses_garbage_and_truncations_are_not_queries() {
        let whole = query(0, &[("printer", TYPE_A, CLASS_IN)]);
        for cut in 0..whole.len() {
            assert!(fields(Protocol::Llmnr, &whole[..cut]).is_none(), "cut at {cut}");
        }
        assert!(fields(Protocol::Mdns, &query(0x8400, &[("host.local", TYPE_A, CLASS_IN)])).is_none());
        assert!(fields(Protocol::Mdns, &query(0, &[])).is_none());
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..2000 {
            let garbage: Vec<u8> = (0..rng.usize(0..64)).map(|_| rng.u8(..)).collect();
            let _ = fields(Protocol::Mdns, &garbage);
        }
    }

    #[test]
    fn questions_are_bounded() {
        let many: Vec<(&str, u16, u16)> = (0..40).map(|_| ("x", TYPE_A, CLASS_IN)).collect();
        let got = fields(Protocol::Llmnr, &query(0, &many)).unwrap();
        assert_eq!(got["questions"].as_array().unwrap().len(), MAX_QUESTIONS);
    }
}
