//! The engine's `Fleet` ⇄ the store's `FleetRecord` (serde both ways, nothing lost).

use chaff_engine::{Decky, Fleet};
use chaff_state::{DeckyRecord, FleetRecord};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::OpError;

/// Invariant: the engine's model types hold only string-keyed maps, strings, numbers,
/// addresses and lists, so serialising them cannot fail.
fn to_json(value: &impl Serialize) -> Value {
    serde_json::to_value(value).expect("model types serialise infallibly")
}

pub(crate) fn to_record(fleet: &Fleet) -> FleetRecord {
    FleetRecord {
        name: fleet.name.clone(),
        network: to_json(&fleet.network),
        log_target: fleet.log_target.clone(),
        mutate_interval: fleet.mutate_interval,
        custom_services: to_json(&fleet.custom_services),
        fleet_services: to_json(&fleet.fleet_services),
        deckies: fleet
            .deckies
            .iter()
            .map(|d| DeckyRecord { name: d.name.clone(), ip: d.ip.into(), desired: to_json(d) })
            .collect(),
    }
}

pub(crate) fn from_record(record: &FleetRecord) -> Result<Fleet, OpError> {
    fn read<T: DeserializeOwned>(fleet: &str, what: &str, value: &Value) -> Result<T, OpError> {
        serde_json::from_value(value.clone())
            .map_err(|e| OpError::Internal(format!("stored fleet '{fleet}' has an unreadable {what}: {e}")))
    }
    let name = record.name.as_str();
    let deckies = record
        .deckies
        .iter()
        .map(|d| read::<Decky>(name, &format!("decky {}", d.name), &d.desired))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Fleet {
        name: name.to_owned(),
        network: read(name, "network", &record.network)?,
        log_target: record.log_target.clone(),
        mutate_interval: record.mutate_interval,
        deckies,
        custom_services: read(name, "custom services", &record.custom_services)?,
        fleet_services: read(name, "fleet services", &record.fleet_services)?,
    })
}
