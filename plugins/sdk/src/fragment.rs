//! The compose fragment a service renders.

use serde_json::{Map, Value, json};

use crate::{Decky, ServiceInfo};

/// The image every built-in emulator runs: Chaff's own sensor, built locally `FROM scratch`.
pub const SENSOR_IMAGE: &str = "chaff-sensor:0.1";

/// A compose `services.<name>` entry under construction.
///
/// The host fills in everything that is not the service's business: container name, network
/// namespace, labels, logging, restart policy, resource caps and hardening. A fragment says
/// which image runs what, with which environment, capabilities and scratch space.
#[derive(Clone, Debug, PartialEq)]
pub struct Fragment {
    fields: Map<String, Value>,
}

impl Fragment {
    /// A fragment running the sensor's `emulator` with every capability dropped, a read-only
    /// root and a small `/tmp`.
    pub fn sensor(emulator: &str) -> Self {
        let mut fields = Map::new();
        fields.insert("image".into(), json!(SENSOR_IMAGE));
        fields.insert("command".into(), json!([emulator]));
        fields.insert("environment".into(), Value::Object(Map::new()));
        fields.insert("cap_drop".into(), json!(["ALL"]));
        fields.insert("read_only".into(), json!(true));
        fields.insert("tmpfs".into(), json!(["/tmp:size=16m"]));
        Self { fields }
    }

    /// The sensor fragment of a declared service on `decky`: the emulator named by its slug,
    /// exactly the capabilities it declares (so the two cannot drift apart), and `NODE_NAME`.
    pub fn for_service(info: &ServiceInfo, decky: &Decky) -> Self {
        let fragment = info.capabilities.iter().fold(Self::sensor(&info.slug), |f, cap| f.cap_add(cap));
        fragment.env("NODE_NAME", &decky.name)
    }

    /// A fragment from raw JSON, for plugins that need full control. The host's policy
    /// applies to it exactly as to any other.
    pub fn from_json(fields: Map<String, Value>) -> Self {
        Self { fields }
    }

    /// Sets one environment variable.
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        let env = self.fields.entry("environment").or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(map) = env {
            map.insert(key.to_owned(), Value::String(value.into()));
        }
        self
    }

    /// Sets an environment variable only when `value` is present.
    pub fn env_opt(self, key: &str, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(v) => self.env(key, v),
            None => self,
        }
    }

    /// Adds a Linux capability (it must be declared in the service's `capabilities`).
    pub fn cap_add(mut self, capability: &str) -> Self {
        let caps = self.fields.entry("cap_add").or_insert_with(|| json!([]));
        if let Value::Array(list) = caps {
            list.push(json!(capability));
        }
        self
    }

    /// Adds a tmpfs mount (`/path` or `/path:options`).
    pub fn tmpfs(mut self, mount: &str) -> Self {
        let mounts = self.fields.entry("tmpfs").or_insert_with(|| json!([]));
        if let Value::Array(list) = mounts {
            list.push(json!(mount));
        }
        self
    }

    /// Sets any top-level key.
    pub fn set(mut self, key: &str, value: Value) -> Self {
        self.fields.insert(key.to_owned(), value);
        self
    }

    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.fields).expect("a JSON map always serialises")
    }
}
