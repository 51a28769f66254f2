//! Fixtures for plugin authors' native unit tests.

use crate::Decky;

/// A plain Linux decky: `decky-01` (`host01`, 192.168.1.10, debian, linux, no archetype).
pub fn decky() -> Decky {
    Decky {
        name: "decky-01".into(),
        hostname: "host01".into(),
        ip: "192.168.1.10".into(),
        distro: "debian".into(),
        os_family: "linux".into(),
        archetype: None,
    }
}
