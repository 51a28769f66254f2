//! The events the webview listens to: their names, and which bus event becomes which.
//!
//! Every payload carries what the UI needs to update one place without asking again: the
//! decky, and for lifecycle events the row's id, status, step and progress. `ts` is the
//! engine's publication time (seconds), so the UI can tell how late an update arrives;
//! an attacker event keeps its own `ts` (when the sensor saw it).

use chaff_bus::Event;
use chaff_bus::topics::{
    ATTACKER, ATTACKER_OBSERVED, DECKY, DECKY_LIFECYCLE, DECKY_MUTATION, DECKY_SERVICE_ADDED,
    DECKY_SERVICE_CONFIG_CHANGED, DECKY_SERVICE_REMOVED,
};
use serde::Serialize;
use serde_json::{Map, Value};

/// A lifecycle row changed (status, step or progress).
pub const LIFECYCLE: &str = "chaff:lifecycle";
/// A service was added to a decky.
pub const SERVICE_ADDED: &str = "chaff:service-added";
/// A service was removed from a decky.
pub const SERVICE_REMOVED: &str = "chaff:service-removed";
/// A service's configuration changed.
pub const SERVICE_CONFIG_CHANGED: &str = "chaff:service-config-changed";
/// A decky's services were rotated.
pub const MUTATION: &str = "chaff:mutation";
/// A sensor recorded something an attacker did.
pub const ATTACKER_EVENT: &str = "chaff:attacker-event";
/// Docker became reachable or unreachable ([`crate::docker_health::DockerHealth`]).
pub const DOCKER: &str = "chaff:docker";
/// The subscriber fell behind and lost this many events: the UI should re-read its state.
pub const LAGGED: &str = "chaff:lagged";

/// Every event name, for the shell's checks and the UI's listeners.
pub const ALL: [&str; 8] = [
    LIFECYCLE,
    SERVICE_ADDED,
    SERVICE_REMOVED,
    SERVICE_CONFIG_CHANGED,
    MUTATION,
    ATTACKER_EVENT,
    DOCKER,
    LAGGED,
];

/// The bus pattern [`from_bus`] understands.
pub const BUS_PATTERN: &str = ">";

/// One event for the webview.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UiEvent {
    pub name: &'static str,
    pub payload: Value,
}

/// The webview event for bus event `event`, or `None` for topics the UI does not show.
pub fn from_bus(event: &Event) -> Option<UiEvent> {
    let tokens: Vec<&str> = event.topic.split('.').collect();
    let (name, decky) = match tokens.as_slice() {
        [DECKY, decky, DECKY_LIFECYCLE] => (LIFECYCLE, Some(*decky)),
        [DECKY, decky, DECKY_SERVICE_ADDED] => (SERVICE_ADDED, Some(*decky)),
        [DECKY, decky, DECKY_SERVICE_REMOVED] => (SERVICE_REMOVED, Some(*decky)),
        [DECKY, decky, DECKY_SERVICE_CONFIG_CHANGED] => (SERVICE_CONFIG_CHANGED, Some(*decky)),
        [DECKY, decky, DECKY_MUTATION] => (MUTATION, Some(*decky)),
        [ATTACKER, ATTACKER_OBSERVED] => (ATTACKER_EVENT, None),
        _ => return None,
    };
    let mut payload = match &event.payload {
        Value::Object(object) => object.clone(),
        other => Map::from_iter([("value".to_owned(), other.clone())]),
    };
    if let Some(decky) = decky {
        payload.entry("decky").or_insert_with(|| decky.into());
    }
    // Attacker events keep the sensor's own time; the rest get the publication time.
    payload.entry("ts").or_insert_with(|| event.ts.into());
    Some(UiEvent { name, payload: Value::Object(payload) })
}

#[cfg(test)]
mod tests {
    use chaff_bus::{LifecyclePayload, Progress, ServiceSetPayload, Stamp};
    use chaff_lifecycle::Uuid;
    use serde_json::json;

    use super::*;

    fn stamp() -> Stamp {
        Stamp { id: Uuid::from_u128(1), ts: 1_700_000_000.5 }
    }

    #[test]
    fn lifecycle_events_carry_the_decky_progress_and_time() {
        let payload = LifecyclePayload {
            lifecycle_id: Uuid::from_u128(9),
            operation: "deploy".into(),
            status: "running".into(),
            error: None,
            step: Some("create web-1-ssh".into()),
            progress: Some(Progress { done: 2, total: 3 }),
        };
        let event = Event::lifecycle("web-1", &payload, stamp()).unwrap();
        let ui = from_bus(&event).unwrap();
        assert_eq!(ui.name, LIFECYCLE);
        assert_eq!(ui.payload["decky"], "web-1");
        assert_eq!(ui.payload["progress"], json!({"done": 2, "total": 3}));
        assert_eq!(ui.payload["step"], "create web-1-ssh");
        assert_eq!(ui.payload["ts"], 1_700_000_000.5);
    }

    #[test]
    fn live_service_attacker_and_unknown_topics() {
        let added = ServiceSetPayload {
            decky_name: "web-1".into(),
            service_name: "ftp".into(),
            topology_id: None,
            services: vec!["ssh".into(), "ftp".into()],
        };
        let ui = from_bus(&Event::service_added(&added, stamp()).unwrap()).unwrap();
        assert_eq!((ui.name, ui.payload["decky"].as_str()), (SERVICE_ADDED, Some("web-1")));

        let attack = Event::new("attacker.observed".into(), "login", json!({"decky": "web-1"}), stamp());
        assert_eq!(from_bus(&attack).unwrap().name, ATTACKER_EVENT);

        let health = Event::new("system.health".into(), "health", json!({}), stamp());
        assert_eq!(from_bus(&health), None);
    }

    #[test]
    fn names_are_valid_tauri_event_names() {
        for name in ALL {
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || "-/:_".contains(c)), "{name}");
        }
    }
}
