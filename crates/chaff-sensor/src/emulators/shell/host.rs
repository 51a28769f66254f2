//! The machine a shell decky pretends to be: its persona, accounts and the stable facts an
//! intruder can observe (boot time, hardware, addresses). Everything stable derives from
//! the decky's name, so one decky always answers the same and two deckies differ.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use super::distro::{DEFAULT_DISTRO, Distro};
use super::fs::FakeFs;
use super::sysinfo;
use crate::env::{ConfigError, Env};

/// A login that opens the fake shell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub password: String,
    pub uid: u32,
    pub home: String,
}

impl Account {
    pub fn is_root(&self) -> bool {
        self.uid == 0
    }
}

/// The uid of the configured login user, as the first user `adduser` creates.
pub const USER_UID: u32 = 1000;

/// Simulated hardware, derived from the decky's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hardware {
    pub cpus: u32,
    pub cpu_model: &'static str,
    pub cpu_mhz: &'static str,
    pub memory_kib: u64,
    pub disk_gib: u64,
}

const CPU_MODELS: [(&str, &str); 4] = [
    ("Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz", "2299.998"),
    ("Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz", "2499.996"),
    ("AMD EPYC 7571", "2199.950"),
    ("Intel Xeon Processor (Skylake, IBRS)", "2095.076"),
];

/// What the plugin configures (`<P>_*` variables), validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub distro: &'static Distro,
    pub hostname: String,
    pub root_password: String,
    pub user: String,
    pub user_password: String,
    pub capture_dir: Option<PathBuf>,
    /// The decky's name (the seed of every stable value).
    pub decky: String,
}

impl Settings {
    /// Reads `<prefix>_DISTRO`, `_ROOT_PASSWORD`, `_USER`, `_USER_PASSWORD`, `_HOSTNAME` and
    /// `_CAPTURE_DIR`.
    pub fn from_env(env: &Env, prefix: &str) -> Result<Settings, ConfigError> {
        let var = |name: &str| format!("{prefix}_{name}");
        let distro_var = var("DISTRO");
        let slug = env.get_or(&distro_var, DEFAULT_DISTRO);
        let distro = Distro::named(slug).ok_or_else(|| {
            let known: Vec<&str> = Distro::slugs().collect();
            ConfigError::new(&distro_var, format!("unknown distro {slug:?}; known: {}", known.join(", ")))
        })?;

        let user_var = var("USER");
        let user = env.get_or(&user_var, "ubuntu");
        if !is_valid_username(user) {
            return Err(ConfigError::new(
                &user_var,
                format!("{user:?} is not a login name (letters, digits, '.', '_', '-'; at most 32)"),
            ));
        }

        let hostname_var = var("HOSTNAME");
        let hostname = match env.get(&hostname_var) {
            Some(name) if is_valid_hostname(name) => name,
            Some(name) => {
                return Err(ConfigError::new(
                    &hostname_var,
                    format!("{name:?} is not a host name (letters, digits, '.', '-', '_'; at most 63)"),
                ));
            }
            None if is_valid_hostname(env.decky()) => env.decky(),
            None => "localhost",
        };

        let capture_var = var("CAPTURE_DIR");
        let capture_dir = env.get(&capture_var).map(PathBuf::from);
        if capture_dir.as_ref().is_some_and(|dir| !dir.is_absolute()) {
            return Err(ConfigError::new(&capture_var, "expected an absolute path"));
        }

        Ok(Settings {
            distro,
            hostname: hostname.to_owned(),
            root_password: env.get_or(&var("ROOT_PASSWORD"), "admin").to_owned(),
            user: user.to_owned(),
            user_password: env.get_or(&var("USER_PASSWORD"), "admin").to_owned(),
            capture_dir,
            decky: env.decky().to_owned(),
        })
    }
}

/// A name `useradd` would accept.
fn is_valid_username(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && !name.starts_with('-')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A name the kernel would take as its node name and a prompt can show.
fn is_valid_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && !name.starts_with(['-', '.'])
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The machine behind one shell emulator; built once at start-up and shared by every
/// connection.
#[derive(Debug)]
pub struct Host {
    pub distro: &'static Distro,
    pub hostname: String,
    /// `root` first, then the configured user (unless it is `root` itself).
    pub accounts: Vec<Account>,
    pub capture_dir: Option<PathBuf>,
    pub hardware: Hardware,
    /// Unix time the machine "booted": the sensor's start, minus a per-decky number of days.
    pub booted_at: u64,
    /// Unix time the system was "installed" (file dates).
    pub installed_at: u64,
    pub mac: [u8; 6],
    /// The address shown when the connection's own local address is loopback.
    pub fallback_ip: Ipv4Addr,
    /// The previous login the MOTD reports: when, and from where.
    pub last_login: (u64, Ipv4Addr),
    /// A stable 64-bit value of this decky, for anything else that must not change.
    pub seed: u64,
    pub fs: FakeFs,
}

impl Host {
    pub fn new(settings: Settings, now: SystemTime) -> Host {
        let seed = stable_hash(if settings.decky.is_empty() { &settings.hostname } else { &settings.decky });
        let pick = |salt: u64, n: u64| stable_hash_u64(seed ^ salt) % n;
        let now = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
        // Up a few days to four months; the last login a few hours to a week ago.
        let booted_at = now.saturating_sub(3 * 86_400 + pick(1, 120 * 86_400));
        let installed_at = booted_at.saturating_sub(30 * 86_400 + pick(2, 300 * 86_400));
        let last_login_at = now.saturating_sub(3600 + pick(3, 7 * 86_400));
        let octet = |salt: u64, low: u64, span: u64| (low + pick(salt, span)) as u8;
        let fallback_ip = Ipv4Addr::new(10, octet(4, 0, 255), octet(5, 0, 255), octet(6, 10, 240));
        let admin_ip = Ipv4Addr::new(10, octet(7, 0, 255), octet(8, 0, 255), octet(9, 2, 250));
        let (cpu_model, cpu_mhz) = CPU_MODELS[pick(10, CPU_MODELS.len() as u64) as usize];
        let hardware = Hardware {
            cpus: [2, 4, 8][pick(11, 3) as usize],
            cpu_model,
            cpu_mhz,
            memory_kib: [2_013_452, 4_025_872, 8_141_392, 16_365_404][pick(12, 4) as usize],
            disk_gib: [20, 30, 40, 80][pick(13, 4) as usize],
        };
        // 52:54:00 is the QEMU/KVM prefix cloud VMs show.
        let mac = [0x52, 0x54, 0x00, octet(14, 0, 256), octet(15, 0, 256), octet(16, 0, 256)];

        let mut accounts = vec![Account {
            name: "root".into(),
            password: settings.root_password,
            uid: 0,
            home: "/root".into(),
        }];
        if settings.user != "root" {
            accounts.push(Account {
                home: format!("/home/{}", settings.user),
                name: settings.user,
                password: settings.user_password,
                uid: USER_UID,
            });
        }
        let fs = FakeFs::build(settings.distro, &settings.hostname, &accounts, installed_at, seed);
        let mut host = Host {
            distro: settings.distro,
            hostname: settings.hostname,
            accounts,
            capture_dir: settings.capture_dir,
            hardware,
            booted_at,
            installed_at,
            mac,
            fallback_ip,
            last_login: (last_login_at, admin_ip),
            seed,
            fs,
        };
        let proc_files = [
            ("/proc/cpuinfo", sysinfo::proc_cpuinfo(&host)),
            ("/proc/meminfo", sysinfo::proc_meminfo(&host)),
            ("/proc/version", sysinfo::proc_version(&host)),
        ];
        for (path, text) in proc_files {
            host.fs.insert_proc_file(path, text, host.booted_at);
        }
        host
    }

    /// The host name up to the first dot, as prompts show it.
    pub fn short_hostname(&self) -> &str {
        self.hostname.split('.').next().unwrap_or(&self.hostname)
    }

    /// The account `user` logs into with `password`, if the pair is configured.
    pub fn authenticate(&self, user: &str, password: &[u8]) -> Option<&Account> {
        self.accounts.iter().find(|a| a.name == user && a.password.as_bytes() == password)
    }

    pub fn account(&self, name: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.name == name)
    }

    pub fn root(&self) -> &Account {
        &self.accounts[0]
    }

    /// The configured login user (root when the user is `root`).
    pub fn user(&self) -> &Account {
        self.accounts.last().unwrap_or(&self.accounts[0])
    }

    /// Seconds since the simulated boot at unix time `now`.
    pub fn uptime(&self, now: u64) -> u64 {
        now.saturating_sub(self.booted_at)
    }
}

/// FNV-1a, 64 bits: stable across builds and platforms, unlike `std`'s hasher.
pub fn stable_hash(text: &str) -> u64 {
    text.bytes()
        .fold(0xcbf2_9ce4_8422_2325, |hash, b| (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// Mixes `x` (splitmix64's finaliser), so nearby seeds give unrelated values.
pub fn stable_hash_u64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Unix time now.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn settings(distro: &str) -> Settings {
        Settings {
            distro: Distro::named(distro).unwrap(),
            hostname: "web-01".into(),
            root_password: "toor".into(),
            user: "deploy".into(),
            user_password: "s3cret".into(),
            capture_dir: None,
            decky: "decky-01".into(),
        }
    }

    pub fn host(distro: &str) -> Host {
        Host::new(settings(distro), UNIX_EPOCH + std::time::Duration::from_secs(1_714_566_896))
    }

    #[test]
    fn settings_default_and_validate() {
        let env = Env::from_pairs([("NODE_NAME", "decky-07")]);
        let s = Settings::from_env(&env, "SSH").unwrap();
        assert_eq!(s.distro.slug, "debian");
        assert_eq!(s.hostname, "decky-07");
        assert_eq!(
            (s.root_password.as_str(), s.user.as_str(), s.user_password.as_str()),
            ("admin", "ubuntu", "admin")
        );
        assert_eq!(s.capture_dir, None);

        let bad = |name: &str, value: &str| {
            Settings::from_env(&Env::from_pairs([(name, value)]), "TELNET").unwrap_err().var
        };
        assert_eq!(bad("TELNET_DISTRO", "gentoo"), "TELNET_DISTRO");
        assert_eq!(bad("TELNET_USER", "bad user"), "TELNET_USER");
        assert_eq!(bad("TELNET_HOSTNAME", "evil\nhost"), "TELNET_HOSTNAME");
        assert_eq!(bad("TELNET_CAPTURE_DIR", "relative/dir"), "TELNET_CAPTURE_DIR");
        let error = Settings::from_env(&Env::from_pairs([("SSH_DISTRO", "gentoo")]), "SSH").unwrap_err();
        assert!(error.message.contains("rocky9"), "{error}");
    }

    #[test]
    fn settings_read_every_variable() {
        let env = Env::from_pairs([
            ("NODE_NAME", "decky-07"),
            ("SSH_DISTRO", "rocky9"),
            ("SSH_ROOT_PASSWORD", "toor"),
            ("SSH_USER", "deploy"),
            ("SSH_USER_PASSWORD", "s3cret"),
            ("SSH_HOSTNAME", "build07.localdomain"),
            ("SSH_CAPTURE_DIR", "/var/lib/systemd/coredump"),
        ]);
        let s = Settings::from_env(&env, "SSH").unwrap();
        assert_eq!(s.distro.slug, "rocky9");
        assert_eq!(s.hostname, "build07.localdomain");
        assert_eq!(
            (s.root_password.as_str(), s.user.as_str(), s.user_password.as_str()),
            ("toor", "deploy", "s3cret")
        );
        assert_eq!(s.capture_dir, Some(PathBuf::from("/var/lib/systemd/coredump")));
    }

    #[test]
    fn credentials_are_exact_pairs() {
        let host = host("debian");
        assert_eq!(host.authenticate("root", b"toor").map(|a| a.uid), Some(0));
        assert_eq!(host.authenticate("deploy", b"s3cret").map(|a| a.home.as_str()), Some("/home/deploy"));
        assert!(host.authenticate("root", b"s3cret").is_none());
        assert!(host.authenticate("deploy", b"toor").is_none());
        assert!(host.authenticate("Root", b"toor").is_none());
        assert!(host.authenticate("root", b"toor ").is_none());
    }

    #[test]
    fn stable_values_follow_the_decky_name() {
        let a = host("debian");
        let b = host("debian");
        assert_eq!(
            (a.booted_at, a.mac, a.fallback_ip, &a.hardware),
            (b.booted_at, b.mac, b.fallback_ip, &b.hardware)
        );
        let mut other = settings("debian");
        other.decky = "decky-02".into();
        let c = Host::new(other, UNIX_EPOCH + std::time::Duration::from_secs(1_714_566_896));
        assert_ne!((a.booted_at, a.mac), (c.booted_at, c.mac));
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn a_root_user_setting_keeps_one_account() {
        let mut s = settings("alpine");
        s.user = "root".into();
        let host = Host::new(s, UNIX_EPOCH);
        assert_eq!(host.accounts.len(), 1);
        assert_eq!(host.user().name, "root");
    }
}
