//! The wire envelope and the typed payloads of the topics the orchestration core publishes.
//!
//! The envelope serialises exactly as the original's `Event.to_dict()`:
//! `{"v": 1, "id": "<uuid hex>", "topic": ..., "type": ..., "ts": <epoch secs>, "payload": {...}}`.
//! Identity and time are inputs ([`Stamp`]), never read from the environment here.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::topics::{self, TopicError};

/// The only envelope version this crate writes.
pub const ENVELOPE_VERSION: u32 = 1;

/// Event `type` of `decky.<name>.lifecycle`.
pub const KIND_LIFECYCLE: &str = "lifecycle";
/// Event `type` of `decky.<name>.mutation`.
pub const KIND_MUTATION: &str = "mutation";
/// Event `type` of the live service events (`service_added`, `service_removed`,
/// `service_config_changed`): the original publishes them with an empty type.
pub const KIND_LIVE_SERVICE: &str = "";

/// The caller-supplied identity and time of one event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stamp {
    /// Unique event id; callers normally pass `Uuid::new_v4()`.
    pub id: Uuid,
    /// Publication time in seconds since the Unix epoch.
    pub ts: f64,
}

/// One bus message. Field order is the wire order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Envelope version, always [`ENVELOPE_VERSION`] for events built here.
    pub v: u32,
    /// The event id as 32 lowercase hex digits (Python's `uuid4().hex`).
    pub id: String,
    /// Concrete topic (no wildcards), e.g. `decky.web-1.lifecycle`.
    pub topic: String,
    /// The original's `type` field.
    #[serde(rename = "type")]
    pub kind: String,
    /// Seconds since the Unix epoch.
    pub ts: f64,
    pub payload: Value,
}

impl Event {
    /// An event with an arbitrary payload; `topic` should come from a [`topics`] builder.
    pub fn new(topic: String, kind: impl Into<String>, payload: Value, stamp: Stamp) -> Event {
        Event {
            v: ENVELOPE_VERSION,
            id: stamp.id.simple().to_string(),
            topic,
            kind: kind.into(),
            ts: stamp.ts,
            payload,
        }
    }

    /// `decky.<decky_name>.lifecycle`, type `lifecycle`.
    pub fn lifecycle(
        decky_name: &str,
        payload: &LifecyclePayload,
        stamp: Stamp,
    ) -> Result<Event, TopicError> {
        Ok(Event::new(topics::decky_lifecycle(decky_name)?, KIND_LIFECYCLE, to_json(payload), stamp))
    }

    /// `decky.<payload.decky>.mutation`, type `mutation`.
    pub fn mutation(payload: &MutationPayload, stamp: Stamp) -> Result<Event, TopicError> {
        Ok(Event::new(topics::decky_mutation(&payload.decky)?, KIND_MUTATION, to_json(payload), stamp))
    }

    /// `decky.<payload.decky_name>.service_added`, empty type.
    pub fn service_added(payload: &ServiceSetPayload, stamp: Stamp) -> Result<Event, TopicError> {
        Self::live_service(&payload.decky_name, topics::DECKY_SERVICE_ADDED, to_json(payload), stamp)
    }

    /// `decky.<payload.decky_name>.service_removed`, empty type.
    pub fn service_removed(payload: &ServiceSetPayload, stamp: Stamp) -> Result<Event, TopicError> {
        Self::live_service(&payload.decky_name, topics::DECKY_SERVICE_REMOVED, to_json(payload), stamp)
    }

    /// `decky.<payload.decky_name>.service_config_changed`, empty type.
    pub fn service_config_changed(
        payload: &ServiceConfigChangedPayload,
        stamp: Stamp,
    ) -> Result<Event, TopicError> {
        Self::live_service(&payload.decky_name, topics::DECKY_SERVICE_CONFIG_CHANGED, to_json(payload), stamp)
    }

    fn live_service(decky_name: &str, leaf: &str, payload: Value, stamp: Stamp) -> Result<Event, TopicError> {
        Ok(Event::new(topics::decky(decky_name, leaf)?, KIND_LIVE_SERVICE, payload, stamp))
    }
}

/// Serialises a payload struct of this module.
///
/// Invariant: every payload type here holds only strings, string lists, booleans, options of
/// those and `serde_json` maps with string keys, none of which can fail to serialise.
fn to_json(payload: &impl Serialize) -> Value {
    serde_json::to_value(payload).expect("bus payloads hold only infallibly serialisable fields")
}

/// Payload of `decky.<name>.lifecycle`: keys `lifecycle_id`, `operation`, `status`, `error?`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecyclePayload {
    pub lifecycle_id: Uuid,
    /// `deploy`, `teardown`, `mutate`, `add_service`, `remove_service` or `apply_config`.
    pub operation: String,
    /// `pending`, `running`, `succeeded` or `failed`.
    pub status: String,
    /// Present only when the row failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the operation is doing now (`create web-1-ssh`); Chaff's addition for progress,
    /// absent on plain status changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// How far the decky's steps are (`step` is number `done` of `total`); Chaff's addition,
    /// present with the steps of a decky's plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
}

/// Step `done` of `total` of one decky's plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub done: u32,
    pub total: u32,
}

/// What caused a mutation (the original's `MutationTrigger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Creation,
    Retirement,
    Scheduled,
    Operator,
    Behavioral,
    Healer,
    Federation,
}

/// Payload of `decky.<name>.mutation`: keys `decky`, `old_services`, `new_services`, `trigger`,
/// `actor?`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MutationPayload {
    pub decky: String,
    pub old_services: Vec<String>,
    pub new_services: Vec<String>,
    pub trigger: Trigger,
    /// Who asked for it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

/// Payload of `decky.<name>.service_added` and `.service_removed`: keys `decky_name`,
/// `service_name`, `topology_id` (always present, `null` for fleet deckies), `services` (the
/// decky's services after the change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSetPayload {
    pub decky_name: String,
    pub service_name: String,
    pub topology_id: Option<String>,
    pub services: Vec<String>,
}

/// Payload of `decky.<name>.service_config_changed`: keys `decky_name`, `service_name`,
/// `topology_id`, `service_config` (the validated configuration), `recreated` (whether the
/// container was recreated with it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceConfigChangedPayload {
    pub decky_name: String,
    pub service_name: String,
    pub topology_id: Option<String>,
    pub service_config: Map<String, Value>,
    pub recreated: bool,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn stamp() -> Stamp {
        Stamp { id: Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef), ts: 1_700_000_000.25 }
    }

    fn keys(value: &Value) -> Vec<&str> {
        value.as_object().unwrap().keys().map(String::as_str).collect()
    }

    #[test]
    fn envelope_serialises_in_wire_order_with_hex_id() {
        let event = Event::new("system.health".into(), "health", json!({"worker": "x"}), stamp());
        let value = serde_json::to_value(&event).unwrap();
        assert_eq!(keys(&value), ["v", "id", "topic", "type", "ts", "payload"]);
        assert_eq!(
            value,
            json!({"v": 1, "id": "0123456789abcdef0123456789abcdef", "topic": "system.health",
                   "type": "health", "ts": 1_700_000_000.25, "payload": {"worker": "x"}})
        );
        let back: Event = serde_json::from_value(value).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn lifecycle_payload_keys() {
        let id = Uuid::from_u128(7);
        let ok = LifecyclePayload {
            lifecycle_id: id,
            operation: "deploy".into(),
            status: "running".into(),
            error: None,
            step: None,
            progress: None,
        };
        let event = Event::lifecycle("web-1", &ok, stamp()).unwrap();
        assert_eq!((event.topic.as_str(), event.kind.as_str()), ("decky.web-1.lifecycle", "lifecycle"));
        assert_eq!(keys(&event.payload), ["lifecycle_id", "operation", "status"]);
        assert_eq!(event.payload["lifecycle_id"], json!(id.to_string()));
        let progress = LifecyclePayload {
            step: Some("create web-1".into()),
            progress: Some(Progress { done: 1, total: 2 }),
            ..ok.clone()
        };
        let event = Event::lifecycle("web-1", &progress, stamp()).unwrap();
        assert_eq!(keys(&event.payload), ["lifecycle_id", "operation", "status", "step", "progress"]);
        assert_eq!(event.payload["progress"], json!({"done": 1, "total": 2}));

        let failed = LifecyclePayload { status: "failed".into(), error: Some("boom".into()), ..ok.clone() };
        let event = Event::lifecycle("web-1", &failed, stamp()).unwrap();
        assert_eq!(keys(&event.payload), ["lifecycle_id", "operation", "status", "error"]);
        assert_eq!(event.payload["error"], "boom");
    }

    #[test]
    fn mutation_payload_keys_and_triggers() {
        let payload = MutationPayload {
            decky: "web-1".into(),
            old_services: vec!["ssh".into()],
            new_services: vec!["http".into(), "ftp".into()],
            trigger: Trigger::Scheduled,
            actor: None,
        };
        let event = Event::mutation(&payload, stamp()).unwrap();
        assert_eq!((event.topic.as_str(), event.kind.as_str()), ("decky.web-1.mutation", "mutation"));
        assert_eq!(
            event.payload,
            json!({"decky": "web-1", "old_services": ["ssh"], "new_services": ["http", "ftp"], "trigger": "scheduled"})
        );
        let with_actor = MutationPayload { actor: Some("admin".into()), ..payload };
        let value = serde_json::to_value(&with_actor).unwrap();
        assert_eq!(keys(&value), ["decky", "old_services", "new_services", "trigger", "actor"]);

        let all = [
            (Trigger::Creation, "creation"),
            (Trigger::Retirement, "retirement"),
            (Trigger::Scheduled, "scheduled"),
            (Trigger::Operator, "operator"),
            (Trigger::Behavioral, "behavioral"),
            (Trigger::Healer, "healer"),
            (Trigger::Federation, "federation"),
        ];
        for (trigger, name) in all {
            assert_eq!(serde_json::to_value(trigger).unwrap(), json!(name));
        }
    }

    #[test]
    fn service_set_payload_keys_with_null_topology() {
        let payload = ServiceSetPayload {
            decky_name: "web-1".into(),
            service_name: "ftp".into(),
            topology_id: None,
            services: vec!["ssh".into(), "ftp".into()],
        };
        let added = Event::service_added(&payload, stamp()).unwrap();
        assert_eq!((added.topic.as_str(), added.kind.as_str()), ("decky.web-1.service_added", ""));
        assert_eq!(
            added.payload,
            json!({"decky_name": "web-1", "service_name": "ftp", "topology_id": null, "services": ["ssh", "ftp"]})
        );
        let removed = Event::service_removed(&payload, stamp()).unwrap();
        assert_eq!(removed.topic, "decky.web-1.service_removed");
        assert_eq!(keys(&removed.payload), ["decky_name", "service_name", "topology_id", "services"]);
    }

    #[test]
    fn service_config_changed_payload_keys() {
        let mut config = Map::new();
        config.insert("banner".into(), json!("220 hi"));
        let payload = ServiceConfigChangedPayload {
            decky_name: "web-1".into(),
            service_name: "smtp".into(),
            topology_id: Some("t1".into()),
            service_config: config,
            recreated: true,
        };
        let event = Event::service_config_changed(&payload, stamp()).unwrap();
        assert_eq!((event.topic.as_str(), event.kind.as_str()), ("decky.web-1.service_config_changed", ""));
        assert_eq!(
            event.payload,
            json!({"decky_name": "web-1", "service_name": "smtp", "topology_id": "t1",
                   "service_config": {"banner": "220 hi"}, "recreated": true})
        );
        assert_eq!(
            keys(&event.payload),
            ["decky_name", "service_name", "topology_id", "service_config", "recreated"]
        );
    }

    #[test]
    fn typed_constructors_reject_bad_decky_names() {
        let payload = ServiceSetPayload {
            decky_name: "web.1".into(),
            service_name: "ftp".into(),
            topology_id: None,
            services: vec![],
        };
        assert!(Event::service_added(&payload, stamp()).is_err());
        let lifecycle = LifecyclePayload {
            lifecycle_id: Uuid::nil(),
            operation: "deploy".into(),
            status: "pending".into(),
            error: None,
            step: None,
            progress: None,
        };
        assert!(Event::lifecycle("*", &lifecycle, stamp()).is_err());
    }
}
