//! Who this redis server claims to be: version, OS, build and process details, counters,
//! and its configuration; fixed per decky (derived from its name) except what a real
//! server would change on restart (run id, replication id).

use std::time::{SystemTime, UNIX_EPOCH};

use super::keyspace::DbSummary;
use crate::env::{ConfigError, Env};

/// A redis version, `major.minor.patch`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub text: String,
    pub major: u32,
    pub minor: u32,
}

impl Version {
    pub fn parse(text: &str) -> Option<Version> {
        let number = |part: &str| match part.len() {
            1..=4 if part.bytes().all(|b| b.is_ascii_digit()) => part.parse::<u32>().ok(),
            _ => None,
        };
        let parts: Vec<&str> = text.split('.').collect();
        let [major, minor, patch] = parts[..] else { return None };
        number(patch)?;
        Some(Version { text: text.to_owned(), major: number(major)?, minor: number(minor)? })
    }

    /// At least `major.minor`.
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }
}

/// INFO's sections in the order redis writes them: (name as requested, title).
const INFO_SECTIONS: [(&str, &str); 13] = [
    ("server", "Server"),
    ("clients", "Clients"),
    ("memory", "Memory"),
    ("persistence", "Persistence"),
    ("stats", "Stats"),
    ("replication", "Replication"),
    ("cpu", "CPU"),
    ("modules", "Modules"),
    ("commandstats", "Commandstats"),
    ("errorstats", "Errorstats"),
    ("latencystats", "Latencystats"),
    ("cluster", "Cluster"),
    ("keyspace", "Keyspace"),
];

/// What a distro's own redis package looks like.
struct DistroDefaults {
    distro: &'static str,
    /// Versions the distro shipped; one is picked per decky.
    versions: &'static [&'static str],
    os: &'static str,
    gcc: &'static str,
    config_file: &'static str,
    supervised: &'static str,
}

const DISTROS: &[DistroDefaults] = &[
    DistroDefaults {
        distro: "debian",
        versions: &["7.0.15", "7.0.11"],
        os: "Linux 6.1.0-18-amd64 x86_64",
        gcc: "12.2.0",
        config_file: "/etc/redis/redis.conf",
        supervised: "systemd",
    },
    DistroDefaults {
        distro: "ubuntu22",
        versions: &["6.0.16"],
        os: "Linux 5.15.0-91-generic x86_64",
        gcc: "11.2.0",
        config_file: "/etc/redis/redis.conf",
        supervised: "systemd",
    },
    DistroDefaults {
        distro: "ubuntu20",
        versions: &["5.0.7"],
        os: "Linux 5.4.0-169-generic x86_64",
        gcc: "9.3.0",
        config_file: "/etc/redis/redis.conf",
        supervised: "systemd",
    },
    DistroDefaults {
        distro: "rocky9",
        versions: &["6.2.7"],
        os: "Linux 5.14.0-362.18.1.el9_3.x86_64 x86_64",
        gcc: "11.4.1",
        config_file: "/etc/redis/redis.conf",
        supervised: "systemd",
    },
    DistroDefaults {
        distro: "centos7",
        versions: &["6.2.14"],
        os: "Linux 3.10.0-1160.108.1.el7.x86_64 x86_64",
        gcc: "4.8.5",
        config_file: "/etc/redis.conf",
        supervised: "systemd",
    },
    DistroDefaults {
        distro: "alpine",
        versions: &["7.2.4"],
        os: "Linux 6.6.14-0-lts x86_64",
        gcc: "13.2.1",
        config_file: "/etc/redis.conf",
        supervised: "no",
    },
    DistroDefaults {
        distro: "fedora",
        versions: &["7.2.4", "7.2.3"],
        os: "Linux 6.7.5-200.fc39.x86_64 x86_64",
        gcc: "13.2.1",
        config_file: "/etc/redis/redis.conf",
        supervised: "systemd",
    },
    DistroDefaults {
        distro: "kali",
        versions: &["7.0.15"],
        os: "Linux 6.6.9-amd64 x86_64",
        gcc: "13.2.0",
        config_file: "/etc/redis/redis.conf",
        supervised: "systemd",
    },
    DistroDefaults {
        distro: "arch",
        versions: &["7.2.4"],
        os: "Linux 6.7.4-arch1-1 x86_64",
        gcc: "13.2.1",
        config_file: "/etc/redis/redis.conf",
        supervised: "systemd",
    },
];

/// The defaults of `distro`; an unknown distro gets Debian's.
fn distro_defaults(distro: &str) -> &'static DistroDefaults {
    DISTROS.iter().find(|d| d.distro == distro).unwrap_or(&DISTROS[0])
}

pub use crate::persona::decky_rng;

pub fn random_hex(rng: &mut fastrand::Rng, len: usize) -> String {
    (0..len).map(|_| char::from_digit(rng.u32(0..16), 16).unwrap_or('0')).collect()
}

/// The server's identity and the numbers its INFO grows from.
#[derive(Clone, Debug)]
pub struct Persona {
    pub version: Version,
    pub os: String,
    gcc: &'static str,
    config_file: &'static str,
    supervised: &'static str,
    /// The package's build id: the same for every decky running that build.
    build_id: String,
    pub process_id: u32,
    /// Random per process start, as redis's.
    pub run_id: String,
    pub master_replid: String,
    /// How long the server had been up when the sensor started.
    pub uptime_at_start: u64,
    base_memory: u64,
    total_system_memory: u64,
    /// Connections and commands per hour of uptime, for the counters in INFO stats.
    connections_per_hour: u64,
    commands_per_hour: u64,
    /// Seconds before the sensor started that the last RDB save happened.
    pub last_save_age: u64,
}

impl Persona {
    /// From `REDIS_VERSION`, `REDIS_OS` and `REDIS_DISTRO`, with per-decky picks for what
    /// is unset.
    pub fn from_env(env: &Env) -> Result<Persona, ConfigError> {
        let decky = env.decky();
        let distro = distro_defaults(env.get_or("REDIS_DISTRO", "debian"));
        let version = match env.get("REDIS_VERSION") {
            Some(text) => Version::parse(text).ok_or_else(|| {
                ConfigError::new("REDIS_VERSION", format!("expected a version like 7.0.15, got {text:?}"))
            })?,
            None => {
                let pick = decky_rng(decky, "redis-version").usize(..distro.versions.len());
                Version::parse(distro.versions[pick]).unwrap_or_else(|| unreachable!("valid table version"))
            }
        };
        let os = env.get_or("REDIS_OS", distro.os);
        if os.chars().any(char::is_control) {
            return Err(ConfigError::new("REDIS_OS", "must be one line of text"));
        }
        let mut build = decky_rng(&version.text, distro.distro);
        let mut rng = decky_rng(decky, "redis");
        let mut process = fastrand::Rng::new();
        Ok(Persona {
            os: os.to_owned(),
            gcc: distro.gcc,
            config_file: distro.config_file,
            supervised: distro.supervised,
            build_id: random_hex(&mut build, 16),
            process_id: rng.u32(380..3200),
            run_id: random_hex(&mut process, 40),
            master_replid: random_hex(&mut process, 40),
            uptime_at_start: rng.u64(3 * 86_400..97 * 86_400),
            base_memory: rng.u64(870_000..1_900_000),
            total_system_memory: [2_063_302_656, 4_109_217_792, 8_339_861_504, 16_768_974_848]
                [rng.usize(..4)],
            connections_per_hour: rng.u64(2..40),
            commands_per_hour: rng.u64(40..900),
            last_save_age: rng.u64(30..3_600),
            version,
        })
    }

    /// The configuration a fresh server reports, in `CONFIG GET *` order.
    pub fn config_defaults(&self) -> Vec<(&'static str, String)> {
        let v7 = self.version.at_least(7, 0);
        let defaults: [(&'static str, &str); 32] = [
            ("dbfilename", "dump.rdb"),
            ("requirepass", ""),
            ("masterauth", ""),
            ("unixsocket", ""),
            ("logfile", "/var/log/redis/redis-server.log"),
            ("pidfile", "/run/redis/redis-server.pid"),
            ("dir", "/var/lib/redis"),
            ("maxmemory", "0"),
            ("maxmemory-policy", "noeviction"),
            ("maxmemory-samples", "5"),
            ("timeout", "0"),
            ("tcp-keepalive", "300"),
            ("tcp-backlog", "511"),
            ("databases", "16"),
            ("port", "6379"),
            ("bind", if self.version.at_least(6, 2) { "* -::*" } else { "0.0.0.0" }),
            ("protected-mode", "no"),
            ("daemonize", "no"),
            ("supervised", if self.supervised == "no" { "no" } else { "systemd" }),
            ("loglevel", "notice"),
            ("maxclients", "10000"),
            ("io-threads", "1"),
            ("appendonly", "no"),
            ("appendfilename", "appendonly.aof"),
            ("appendfsync", "everysec"),
            ("save", if v7 { "3600 1 300 100 60 10000" } else { "900 1 300 10 60 10000" }),
            ("rdbcompression", "yes"),
            ("rdbchecksum", "yes"),
            ("stop-writes-on-bgsave-error", "yes"),
            ("replica-read-only", "yes"),
            ("hz", "10"),
            ("lua-time-limit", "5000"),
        ];
        defaults.into_iter().map(|(name, value)| (name, value.to_owned())).collect()
    }

    /// `INFO` for `sections` (lowercase names; empty means `default`), as redis writes it.
    pub fn info(&self, sections: &[String], view: &InfoView) -> String {
        let wanted = |name: &str| {
            let in_default = !matches!(name, "commandstats" | "latencystats");
            (sections.is_empty() && in_default)
                || sections
                    .iter()
                    .any(|s| s == name || s == "all" || s == "everything" || (s == "default" && in_default))
        };
        let mut lines = Vec::new();
        for (name, title) in INFO_SECTIONS {
            if !wanted(name) {
                continue;
            }
            if let Some(section) = self.section(name, view) {
                lines.push(format!("# {title}"));
                lines.extend(section);
                lines.push(String::new());
            }
        }
        // Sections are separated by one empty line; the text ends with the last line's CRLF.
        lines.pop();
        let mut text = lines.join("\r\n");
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        text
    }

    /// The lines of section `name`, if this version has it.
    fn section(&self, name: &str, view: &InfoView) -> Option<Vec<String>> {
        let v = &self.version;
        match name {
            "server" => Some(self.server_section(view)),
            "clients" => Some(self.clients_section(view)),
            "memory" => Some(self.memory_section(view)),
            "persistence" => Some(self.persistence_section(view)),
            "stats" => Some(self.stats_section(view)),
            "replication" => Some(self.replication_section(view)),
            "cpu" => Some(self.cpu_section(view)),
            "modules" => v.at_least(4, 0).then(Vec::new),
            "commandstats" => Some(Vec::new()),
            "errorstats" => v.at_least(6, 2).then(|| errorstats_section(view)),
            "latencystats" => v.at_least(7, 0).then(Vec::new),
            "cluster" => Some(vec!["cluster_enabled:0".to_owned()]),
            "keyspace" => Some(keyspace_section(view)),
            _ => None,
        }
    }

    fn uptime(&self, view: &InfoView) -> u64 {
        self.uptime_at_start + view.sensor_uptime
    }

    fn server_section(&self, view: &InfoView) -> Vec<String> {
        let v = &self.version;
        let now = view.now.duration_since(UNIX_EPOCH).unwrap_or_default();
        let uptime = self.uptime(view);
        let mut lines = vec![
            format!("redis_version:{}", v.text),
            "redis_git_sha1:00000000".to_owned(),
            "redis_git_dirty:0".to_owned(),
            format!("redis_build_id:{}", self.build_id),
            "redis_mode:standalone".to_owned(),
            format!("os:{}", self.os),
            "arch_bits:64".to_owned(),
        ];
        if v.at_least(6, 2) {
            lines.push("monotonic_clock:POSIX clock_gettime".to_owned());
        }
        lines.push("multiplexing_api:epoll".to_owned());
        let atomicvar = if v.at_least(6, 0) { "c11-builtin" } else { "atomic-builtin" };
        lines.extend([
            format!("atomicvar_api:{atomicvar}"),
            format!("gcc_version:{}", self.gcc),
            format!("process_id:{}", self.process_id),
            format!("process_supervised:{}", self.supervised),
            format!("run_id:{}", self.run_id),
            format!("tcp_port:{}", view.port),
        ]);
        if v.at_least(6, 0) {
            lines.push(format!("server_time_usec:{}", now.as_micros()));
        }
        lines.extend([
            format!("uptime_in_seconds:{uptime}"),
            format!("uptime_in_days:{}", uptime / 86_400),
            "hz:10".to_owned(),
            "configured_hz:10".to_owned(),
            format!("lru_clock:{}", now.as_secs() & 0x00ff_ffff),
            "executable:/usr/bin/redis-server".to_owned(),
            format!("config_file:{}", self.config_file),
        ]);
        if v.at_least(6, 0) {
            lines.push("io_threads_active:0".to_owned());
        }
        lines
    }

    fn clients_section(&self, view: &InfoView) -> Vec<String> {
        let v = &self.version;
        let mut lines = vec![format!("connected_clients:{}", view.connected_clients)];
        if v.at_least(7, 0) {
            lines.push("cluster_connections:0".to_owned());
        }
        if v.at_least(6, 2) {
            lines.push("maxclients:10000".to_owned());
        }
        lines.extend([
            "client_recent_max_input_buffer:20480".to_owned(),
            "client_recent_max_output_buffer:0".to_owned(),
            "blocked_clients:0".to_owned(),
        ]);
        if v.at_least(6, 0) {
            lines.push("tracking_clients:0".to_owned());
        }
        if v.at_least(6, 2) {
            lines.push("clients_in_timeout_table:0".to_owned());
        }
        lines
    }

    fn memory_section(&self, view: &InfoView) -> Vec<String> {
        let used = self.base_memory + view.dataset_bytes;
        let startup = 862_000 + self.base_memory % 4_000;
        let overhead = startup + 20_000 + u64::from(view.connected_clients) * 20_500;
        let used = used.max(overhead + 1);
        let peak = used + self.base_memory / 9;
        let rss = (used * 6 + 4_095) & !4_095;
        let maxmemory = view.maxmemory;
        vec![
            format!("used_memory:{used}"),
            format!("used_memory_human:{}", human_bytes(used)),
            format!("used_memory_rss:{rss}"),
            format!("used_memory_rss_human:{}", human_bytes(rss)),
            format!("used_memory_peak:{peak}"),
            format!("used_memory_peak_human:{}", human_bytes(peak)),
            format!("used_memory_peak_perc:{:.2}%", used as f64 * 100.0 / peak as f64),
            format!("used_memory_overhead:{overhead}"),
            format!("used_memory_startup:{startup}"),
            format!("used_memory_dataset:{}", used - overhead),
            format!(
                "used_memory_dataset_perc:{:.2}%",
                (used - overhead) as f64 * 100.0 / (used - startup) as f64
            ),
            format!("total_system_memory:{}", self.total_system_memory),
            format!("total_system_memory_human:{}", human_bytes(self.total_system_memory)),
            "used_memory_lua:31744".to_owned(),
            "used_memory_lua_human:31.00K".to_owned(),
            "number_of_cached_scripts:0".to_owned(),
            format!("maxmemory:{maxmemory}"),
            format!("maxmemory_human:{}", human_bytes(maxmemory)),
            format!("maxmemory_policy:{}", view.maxmemory_policy),
            format!("mem_fragmentation_ratio:{:.2}", rss as f64 / used as f64),
            format!("mem_fragmentation_bytes:{}", rss - used),
            "mem_not_counted_for_evict:0".to_owned(),
            "mem_replication_backlog:0".to_owned(),
            format!("mem_clients_normal:{}", u64::from(view.connected_clients) * 20_500),
            "mem_aof_buffer:0".to_owned(),
            format!(
                "mem_allocator:{}",
                if self.version.at_least(7, 2) { "jemalloc-5.3.0" } else { "jemalloc-5.2.1" }
            ),
            "active_defrag_running:0".to_owned(),
            "lazyfree_pending_objects:0".to_owned(),
        ]
    }

    fn persistence_section(&self, view: &InfoView) -> Vec<String> {
        let saves = self.uptime(view) / 3_600;
        vec![
            "loading:0".to_owned(),
            "rdb_changes_since_last_save:0".to_owned(),
            "rdb_bgsave_in_progress:0".to_owned(),
            format!("rdb_last_save_time:{}", view.last_save),
            "rdb_last_bgsave_status:ok".to_owned(),
            "rdb_last_bgsave_time_sec:0".to_owned(),
            "rdb_current_bgsave_time_sec:-1".to_owned(),
            format!("rdb_saves:{saves}"),
            "rdb_last_cow_size:249856".to_owned(),
            "aof_enabled:0".to_owned(),
            "aof_rewrite_in_progress:0".to_owned(),
            "aof_rewrite_scheduled:0".to_owned(),
            "aof_last_rewrite_time_sec:-1".to_owned(),
            "aof_current_rewrite_time_sec:-1".to_owned(),
            "aof_last_bgrewrite_status:ok".to_owned(),
            "aof_last_write_status:ok".to_owned(),
            "aof_last_cow_size:0".to_owned(),
            "module_fork_in_progress:0".to_owned(),
            "module_fork_last_cow_size:0".to_owned(),
        ]
    }

    fn stats_section(&self, view: &InfoView) -> Vec<String> {
        let hours = self.uptime(view) / 3_600;
        let connections = self.connections_per_hour * hours + view.connections_served;
        let commands = self.commands_per_hour * hours + view.commands_served;
        vec![
            format!("total_connections_received:{connections}"),
            format!("total_commands_processed:{commands}"),
            "instantaneous_ops_per_sec:0".to_owned(),
            format!("total_net_input_bytes:{}", commands * 37),
            format!("total_net_output_bytes:{}", commands * 211),
            "instantaneous_input_kbps:0.00".to_owned(),
            "instantaneous_output_kbps:0.00".to_owned(),
            "rejected_connections:0".to_owned(),
            "sync_full:0".to_owned(),
            "sync_partial_ok:0".to_owned(),
            "sync_partial_err:0".to_owned(),
            format!("expired_keys:{}", hours * 3),
            "expired_stale_perc:0.00".to_owned(),
            "expired_time_cap_reached_count:0".to_owned(),
            "evicted_keys:0".to_owned(),
            format!("keyspace_hits:{}", commands / 3),
            format!("keyspace_misses:{}", commands / 17),
            "pubsub_channels:0".to_owned(),
            "pubsub_patterns:0".to_owned(),
            "latest_fork_usec:312".to_owned(),
            "migrate_cached_sockets:0".to_owned(),
            "slave_expires_tracked_keys:0".to_owned(),
            "active_defrag_hits:0".to_owned(),
            "active_defrag_misses:0".to_owned(),
            "active_defrag_key_hits:0".to_owned(),
            "active_defrag_key_misses:0".to_owned(),
        ]
    }

    fn replication_section(&self, view: &InfoView) -> Vec<String> {
        let mut lines = Vec::new();
        match &view.master {
            None => lines.extend(["role:master".to_owned(), "connected_slaves:0".to_owned()]),
            Some((host, port)) => lines.extend([
                "role:slave".to_owned(),
                format!("master_host:{host}"),
                format!("master_port:{port}"),
                "master_link_status:down".to_owned(),
                "master_last_io_seconds_ago:-1".to_owned(),
                "master_sync_in_progress:0".to_owned(),
                "slave_repl_offset:0".to_owned(),
                "master_link_down_since_seconds:-1".to_owned(),
                "slave_priority:100".to_owned(),
                "slave_read_only:1".to_owned(),
                "connected_slaves:0".to_owned(),
            ]),
        }
        if self.version.at_least(6, 2) {
            lines.push("master_failover_state:no-failover".to_owned());
        }
        lines.extend([
            format!("master_replid:{}", self.master_replid),
            format!("master_replid2:{}", "0".repeat(40)),
            "master_repl_offset:0".to_owned(),
            "second_repl_offset:-1".to_owned(),
            "repl_backlog_active:0".to_owned(),
            "repl_backlog_size:1048576".to_owned(),
            "repl_backlog_first_byte_offset:0".to_owned(),
            "repl_backlog_histlen:0".to_owned(),
        ]);
        lines
    }

    fn cpu_section(&self, view: &InfoView) -> Vec<String> {
        let uptime = self.uptime(view) as f64;
        vec![
            format!("used_cpu_sys:{:.6}", uptime * 0.000_41),
            format!("used_cpu_user:{:.6}", uptime * 0.000_57),
            "used_cpu_sys_children:0.004012".to_owned(),
            "used_cpu_user_children:0.001873".to_owned(),
        ]
    }
}

/// What INFO shows that changes while the server runs.
#[derive(Clone, Debug)]
pub struct InfoView {
    pub now: SystemTime,
    /// Seconds since the sensor started.
    pub sensor_uptime: u64,
    pub port: u16,
    pub connected_clients: u32,
    pub connections_served: u64,
    pub commands_served: u64,
    pub error_replies: u64,
    /// Bytes of keys and values in the client's keyspace.
    pub dataset_bytes: u64,
    pub keyspace: Vec<DbSummary>,
    pub master: Option<(String, String)>,
    pub last_save: u64,
    pub maxmemory: u64,
    pub maxmemory_policy: String,
}

fn errorstats_section(view: &InfoView) -> Vec<String> {
    if view.error_replies == 0 {
        return Vec::new();
    }
    vec![format!("errorstat_ERR:count={}", view.error_replies)]
}

fn keyspace_section(view: &InfoView) -> Vec<String> {
    view.keyspace
        .iter()
        .map(|d| format!("db{}:keys={},expires={},avg_ttl={}", d.db, d.keys, d.expires, d.avg_ttl_ms))
        .collect()
}

/// Bytes as redis's `bytesToHuman`: `954B`, `1.13M`, `3.83G`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [(u64, &str); 5] =
        [(1 << 50, "P"), (1 << 40, "T"), (1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")];
    match UNITS.iter().find(|(size, _)| n >= *size) {
        Some((size, unit)) => format!("{:.2}{unit}", n as f64 / *size as f64),
        None => format!("{n}B"),
    }
}

/// Longest glob pattern matched; a longer one matches nothing. Real patterns are short,
/// and the cost of matching grows with pattern length times text length.
pub const MAX_PATTERN: usize = 256;

/// Whether `text` matches the glob `pattern` as redis's `stringmatchlen` does: `*`, `?`,
/// `[abc]`, `[^a-z]`, `\x`. Iterative, with a run of stars taken as one, so it costs at
/// most [`MAX_PATTERN`] steps per byte of `text` whatever the pattern.
pub fn glob_match(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    if pattern.len() > MAX_PATTERN {
        return false;
    }
    let fold = |b: u8| if nocase { b.to_ascii_lowercase() } else { b };
    let (mut p, mut t) = (0, 0);
    // Where to resume after the last `*`: the pattern after it, and the text it covers up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        let step = match pattern.get(p) {
            Some(b'*') => {
                while pattern.get(p) == Some(&b'*') {
                    p += 1;
                }
                star = Some((p, t));
                continue;
            }
            Some(b'?') => Some(p + 1),
            Some(b'[') => match_class(pattern, p, fold(text[t]), nocase),
            Some(b'\\') if p + 1 < pattern.len() => (fold(pattern[p + 1]) == fold(text[t])).then_some(p + 2),
            Some(&c) => (fold(c) == fold(text[t])).then_some(p + 1),
            None => None,
        };
        match (step, star) {
            (Some(next), _) => {
                p = next;
                t += 1;
            }
            (None, Some((after_star, covered))) => {
                p = after_star;
                t = covered + 1;
                star = Some((after_star, covered + 1));
            }
            (None, None) => return false,
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&b| b == b'*')
}

/// Matches `c` against the class starting at `pattern[open] == b'['`; the position after
/// the class when it matches. An unterminated class runs to the end of the pattern.
fn match_class(pattern: &[u8], open: usize, c: u8, nocase: bool) -> Option<usize> {
    let fold = |b: u8| if nocase { b.to_ascii_lowercase() } else { b };
    let mut i = open + 1;
    let negate = pattern.get(i) == Some(&b'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    while i < pattern.len() && pattern[i] != b']' {
        if pattern[i] == b'\\' && i + 1 < pattern.len() {
            matched |= fold(pattern[i + 1]) == c;
            i += 2;
        } else if i + 2 < pattern.len() && pattern[i + 1] == b'-' && pattern[i + 2] != b']' {
            let (a, b) = (fold(pattern[i]), fold(pattern[i + 2]));
            let (low, high) = if a <= b { (a, b) } else { (b, a) };
            matched |= (low..=high).contains(&c);
            i += 3;
        } else {
            matched |= fold(pattern[i]) == c;
            i += 1;
        }
    }
    (matched != negate).then_some((i + 1).min(pattern.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn persona(pairs: &[(&str, &str)]) -> Persona {
        Persona::from_env(&Env::from_pairs(pairs.iter().copied())).unwrap()
    }

    fn view() -> InfoView {
        InfoView {
            now: UNIX_EPOCH + std::time::Duration::from_secs(1_714_566_896),
            sensor_uptime: 10,
            port: 6379,
            connected_clients: 1,
            connections_served: 1,
            commands_served: 1,
            error_replies: 0,
            dataset_bytes: 500,
            keyspace: vec![DbSummary { db: 0, keys: 6, expires: 1, avg_ttl_ms: 81_000 }],
            master: None,
            last_save: 1_714_566_000,
            maxmemory: 0,
            maxmemory_policy: "noeviction".into(),
        }
    }

    #[test]
    fn versions() {
        let v = Version::parse("7.0.15").unwrap();
        assert_eq!((v.major, v.minor), (7, 0));
        assert!(v.at_least(6, 2) && v.at_least(7, 0) && !v.at_least(7, 2));
        for bad in ["7", "7.0", "7.0.x", "v7.0.1", "7.0.1.2", "7..1", "7.0.1 "] {
            assert_eq!(Version::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn defaults_are_stable_per_decky_and_follow_the_distro() {
        let a = persona(&[("NODE_NAME", "db-01"), ("REDIS_DISTRO", "debian")]);
        let again = persona(&[("NODE_NAME", "db-01"), ("REDIS_DISTRO", "debian")]);
        assert_eq!(
            (a.version.clone(), a.process_id, a.uptime_at_start),
            (again.version, again.process_id, again.uptime_at_start)
        );
        assert!(["7.0.15", "7.0.11"].contains(&a.version.text.as_str()));
        assert_eq!(a.os, "Linux 6.1.0-18-amd64 x86_64");
        assert_ne!(a.run_id, again.run_id, "the run id changes with every start");
        let ids: std::collections::BTreeSet<u32> =
            (0..20).map(|i| persona(&[("NODE_NAME", &format!("db-{i}"))]).process_id).collect();
        assert!(ids.len() > 15, "{ids:?}");

        let ubuntu = persona(&[("NODE_NAME", "db-01"), ("REDIS_DISTRO", "ubuntu22")]);
        assert_eq!(ubuntu.version.text, "6.0.16");
        assert!(ubuntu.os.contains("generic"));
    }

    #[test]
    fn configured_values_win_and_bad_ones_are_refused() {
        let p = persona(&[("REDIS_VERSION", "6.2.14"), ("REDIS_OS", "Linux 4.19.0-26-amd64 x86_64")]);
        assert_eq!(p.version.text, "6.2.14");
        assert_eq!(p.os, "Linux 4.19.0-26-amd64 x86_64");
        let err = Persona::from_env(&Env::from_pairs([("REDIS_VERSION", "latest")])).unwrap_err();
        assert_eq!(err.var, "REDIS_VERSION");
        let err = Persona::from_env(&Env::from_pairs([("REDIS_OS", "Linux\r\nx")])).unwrap_err();
        assert_eq!(err.var, "REDIS_OS");
    }

    #[test]
    fn info_has_the_sections_redis_has() {
        let p = persona(&[("NODE_NAME", "db-01"), ("REDIS_VERSION", "7.0.15")]);
        let info = p.info(&[], &view());
        assert!(info.starts_with("# Server\r\nredis_version:7.0.15\r\n"), "{info}");
        assert!(info.ends_with("\r\n# Keyspace\r\ndb0:keys=6,expires=1,avg_ttl=81000\r\n"), "{info}");
        for section in ["Clients", "Memory", "Persistence", "Stats", "Replication", "CPU", "Cluster"] {
            assert!(info.contains(&format!("\r\n\r\n# {section}\r\n")), "{section}");
        }
        assert!(!info.contains("Commandstats"));
        assert!(info.contains("\r\ntcp_port:6379\r\n"));
        assert!(info.contains(&format!("\r\nuptime_in_seconds:{}\r\n", p.uptime_at_start + 10)));

        let server = p.info(&["server".into()], &view());
        assert!(!server.contains("# Clients") && server.ends_with("io_threads_active:0\r\n"), "{server}");
        assert_eq!(p.info(&["nosuchsection".into()], &view()), "");
        let two = p.info(&["keyspace".into(), "cpu".into()], &view());
        assert!(two.starts_with("# CPU\r\n") && two.contains("\r\n\r\n# Keyspace\r\n"), "{two}");

        let slave = InfoView { master: Some(("10.9.9.9".into(), "8888".into())), ..view() };
        let replication = p.info(&["replication".into()], &slave);
        assert!(replication.contains("role:slave\r\nmaster_host:10.9.9.9\r\nmaster_port:8888\r\n"));
    }

    #[test]
    fn older_versions_lack_newer_fields() {
        let old = persona(&[("REDIS_VERSION", "5.0.7")]);
        let info = old.info(&["server".into()], &view());
        assert!(!info.contains("monotonic_clock") && info.contains("atomicvar_api:atomic-builtin"));
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(0), "0B");
        assert_eq!(human_bytes(1023), "1023B");
        assert_eq!(human_bytes(31_744), "31.00K");
        assert_eq!(human_bytes(1_183_456), "1.13M");
        assert_eq!(human_bytes(4_109_217_792), "3.83G");
    }

    #[test]
    fn globs() {
        let m = |p: &str, t: &str| glob_match(p.as_bytes(), t.as_bytes(), false);
        assert!(m("*", "") && m("*", "anything") && m("a*", "abc") && m("*c", "abc") && m("a*c", "abbbc"));
        assert!(m("h?llo", "hello") && !m("h?llo", "hllo"));
        assert!(m("h[ae]llo", "hallo") && !m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo") && !m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo") && !m("h[a-b]llo", "hcllo"));
        assert!(m("a\\*b", "a*b") && !m("a\\*b", "axb"));
        assert!(m("*sess*:*", "app:session:42") && !m("*sess*:*", "app:session"));
        assert!(!m("abc", "abcd") && !m("abcd", "abc"));
        assert!(glob_match(b"DIR", b"dir", true) && !glob_match(b"DIR", b"dir", false));
        let stars = "*".repeat(MAX_PATTERN - 1) + "x";
        assert!(!m(&stars, &"a".repeat(200)) && m(&stars, "ax"));
        assert!(!m(&"*".repeat(MAX_PATTERN + 1), "anything"));
    }
}
