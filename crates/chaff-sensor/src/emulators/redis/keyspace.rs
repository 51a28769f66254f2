//! A connection's view of the data: string keys in 16 databases, seeded with a few keys a
//! small web application would keep (the same per decky), and bounded in size.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::persona::{decky_rng, random_hex};

/// Databases, as redis's default `databases 16`.
pub const DATABASES: usize = 16;

/// Bytes of keys and values one connection may store; beyond, writes fail as they would
/// on a server at its `maxmemory`.
pub const MAX_KEYSPACE_BYTES: usize = 64 * 1024;

/// The error a write past [`MAX_KEYSPACE_BYTES`] gets, as redis words it.
pub const OUT_OF_MEMORY: &str = "OOM command not allowed when used memory > 'maxmemory'.";

struct Entry {
    value: Vec<u8>,
    expires: Option<Instant>,
}

/// String keys per database. Expired keys disappear when next looked at.
pub struct Keyspace {
    entries: BTreeMap<(usize, Vec<u8>), Entry>,
    /// Bytes of all keys and values.
    bytes: usize,
}

impl Keyspace {
    pub fn empty() -> Keyspace {
        Keyspace { entries: BTreeMap::new(), bytes: 0 }
    }

    /// Database 0 with the decky's fake application keys.
    pub fn seeded(decky: &str) -> Keyspace {
        let mut rng = decky_rng(decky, "redis-keys");
        let mut keyspace = Keyspace::empty();
        let now = Instant::now();
        let users = ["admin", "jsmith", "mwilson", "deploy", "akumar", "lchen", "backup", "ops"];
        for _ in 0..rng.usize(2..5) {
            let user = users[rng.usize(..users.len())];
            let value = format!(
                "{{\"user_id\":{},\"username\":\"{user}\",\"ip\":\"10.0.{}.{}\",\"csrf\":\"{}\"}}",
                rng.u32(1000..1200),
                rng.u8(0..8),
                rng.u8(2..250),
                random_hex(&mut rng, 24)
            );
            let ttl = Duration::from_secs(rng.u64(600..86_400));
            keyspace.insert_seed(format!("session:{}", random_hex(&mut rng, 32)), value, Some(now + ttl));
        }
        let db_host = format!("10.0.{}.{}", rng.u8(0..8), rng.u8(2..250));
        let app_config = format!(
            "{{\"db_host\":\"{db_host}\",\"db_name\":\"app_prod\",\"db_user\":\"app\",\"db_password\":\"{}\",\"smtp_relay\":\"mail.internal\"}}",
            random_hex(&mut rng, 16)
        );
        keyspace.insert_seed("config:app".to_owned(), app_config, None);
        keyspace.insert_seed("stats:visits".to_owned(), rng.u32(10_000..900_000).to_string(), None);
        keyspace.insert_seed("queue:mail:pending".to_owned(), rng.u32(0..40).to_string(), None);
        keyspace.insert_seed(
            "lock:cron:backup".to_owned(),
            "1".to_owned(),
            Some(now + Duration::from_secs(240)),
        );
        keyspace.insert_seed(
            format!("user:{}:email", rng.u32(1000..1200)),
            "it-support@corp.local".to_owned(),
            None,
        );
        keyspace
    }

    fn insert_seed(&mut self, key: String, value: String, expires: Option<Instant>) {
        let (key, value) = (key.into_bytes(), value.into_bytes());
        self.bytes += key.len() + value.len();
        self.entries.insert((0, key), Entry { value, expires });
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Drops `key` from `db` if its time is up.
    fn expire(&mut self, db: usize, key: &[u8]) {
        let lookup = (db, key.to_vec());
        if self.entries.get(&lookup).is_some_and(|e| e.expires.is_some_and(|t| t <= Instant::now())) {
            self.remove_entry(&lookup);
        }
    }

    fn remove_entry(&mut self, lookup: &(usize, Vec<u8>)) -> bool {
        match self.entries.remove(lookup) {
            Some(entry) => {
                self.bytes -= lookup.1.len() + entry.value.len();
                true
            }
            None => false,
        }
    }

    pub fn get(&mut self, db: usize, key: &[u8]) -> Option<&[u8]> {
        self.expire(db, key);
        self.entries.get(&(db, key.to_vec())).map(|e| e.value.as_slice())
    }

    pub fn contains(&mut self, db: usize, key: &[u8]) -> bool {
        self.get(db, key).is_some()
    }

    /// Stores `value` under `key`, with a time to live or, when `keep_ttl`, the key's
    /// current one. Fails when the keyspace would exceed [`MAX_KEYSPACE_BYTES`].
    pub fn set(
        &mut self,
        db: usize,
        key: &[u8],
        value: Vec<u8>,
        ttl: Option<Duration>,
        keep_ttl: bool,
    ) -> Result<(), &'static str> {
        self.expire(db, key);
        let lookup = (db, key.to_vec());
        let old = self.entries.get(&lookup);
        let freed = old.map_or(0, |e| key.len() + e.value.len());
        if self.bytes - freed + key.len() + value.len() > MAX_KEYSPACE_BYTES {
            return Err(OUT_OF_MEMORY);
        }
        let expires = match ttl {
            Some(ttl) => Instant::now().checked_add(ttl),
            None if keep_ttl => old.and_then(|e| e.expires),
            None => None,
        };
        self.bytes = self.bytes - freed + key.len() + value.len();
        self.entries.insert(lookup, Entry { value, expires });
        Ok(())
    }

    pub fn remove(&mut self, db: usize, key: &[u8]) -> bool {
        self.expire(db, key);
        self.remove_entry(&(db, key.to_vec()))
    }

    /// The time to live of `key`: `None` if it does not exist, `Some(None)` if it has none.
    pub fn ttl(&mut self, db: usize, key: &[u8]) -> Option<Option<Duration>> {
        self.expire(db, key);
        let entry = self.entries.get(&(db, key.to_vec()))?;
        Some(entry.expires.map(|t| t.saturating_duration_since(Instant::now())))
    }

    /// Sets or clears the time to live of an existing key; false if there is no such key.
    pub fn set_ttl(&mut self, db: usize, key: &[u8], ttl: Option<Duration>) -> bool {
        self.expire(db, key);
        match self.entries.get_mut(&(db, key.to_vec())) {
            Some(entry) => {
                entry.expires = ttl.and_then(|ttl| Instant::now().checked_add(ttl));
                true
            }
            None => false,
        }
    }

    /// The live keys of `db`, in order.
    pub fn keys(&mut self, db: usize) -> Vec<Vec<u8>> {
        let now = Instant::now();
        let expired: Vec<_> = self
            .entries
            .iter()
            .filter(|((d, _), e)| *d == db && e.expires.is_some_and(|t| t <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for lookup in &expired {
            self.remove_entry(lookup);
        }
        self.entries.keys().filter(|(d, _)| *d == db).map(|(_, k)| k.clone()).collect()
    }

    pub fn flush_db(&mut self, db: usize) {
        for key in self.keys(db) {
            self.remove_entry(&(db, key));
        }
    }

    pub fn flush_all(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    /// Every non-empty database, for INFO.
    pub fn summary(&mut self) -> Vec<DbSummary> {
        let now = Instant::now();
        (0..DATABASES)
            .filter_map(|db| {
                let keys = self.keys(db);
                let ttls: Vec<u128> = keys
                    .iter()
                    .filter_map(|k| self.entries.get(&(db, k.clone()))?.expires)
                    .map(|t| t.saturating_duration_since(now).as_millis())
                    .collect();
                let avg_ttl_ms = ttls.iter().sum::<u128>().checked_div(ttls.len() as u128).unwrap_or(0);
                (!keys.is_empty()).then_some(DbSummary {
                    db,
                    keys: keys.len(),
                    expires: ttls.len(),
                    avg_ttl_ms: u64::try_from(avg_ttl_ms).unwrap_or(u64::MAX),
                })
            })
            .collect()
    }
}

/// One database as INFO's keyspace section shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DbSummary {
    pub db: usize,
    pub keys: usize,
    /// Keys with a time to live.
    pub expires: usize,
    /// Their average time to live.
    pub avg_ttl_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_keys_are_stable_per_decky() {
        let a = Keyspace::seeded("db-01").keys(0);
        assert_eq!(a, Keyspace::seeded("db-01").keys(0));
        assert_ne!(a, Keyspace::seeded("db-02").keys(0));
        assert!(a.len() >= 7 && a.contains(&b"config:app".to_vec()));
        assert!(Keyspace::seeded("db-01").keys(1).is_empty());
    }

    #[test]
    fn set_get_expire_and_remove() {
        let mut ks = Keyspace::empty();
        ks.set(0, b"k", b"v".to_vec(), None, false).unwrap();
        assert_eq!(ks.get(0, b"k"), Some(&b"v"[..]));
        assert_eq!(ks.get(1, b"k"), None);
        assert_eq!(ks.ttl(0, b"k"), Some(None));
        ks.set(0, b"gone", b"x".to_vec(), Some(Duration::ZERO), false).unwrap();
        assert_eq!(ks.get(0, b"gone"), None);
        assert_eq!(ks.bytes(), 2);
        assert!(ks.remove(0, b"k"));
        assert!(!ks.remove(0, b"k"));
        assert_eq!(ks.bytes(), 0);
    }

    #[test]
    fn keyspace_is_bounded() {
        let mut ks = Keyspace::empty();
        let big = vec![b'x'; MAX_KEYSPACE_BYTES / 2];
        ks.set(0, b"a", big.clone(), None, false).unwrap();
        assert_eq!(ks.set(0, b"b", big.clone(), None, false), Err(OUT_OF_MEMORY));
        // Overwriting frees the old value first.
        ks.set(0, b"a", big, None, false).unwrap();
        ks.flush_all();
        assert_eq!((ks.bytes(), ks.keys(0).len()), (0, 0));
    }

    #[test]
    fn summary_counts_volatile_keys() {
        let mut ks = Keyspace::seeded("db-01");
        let [DbSummary { db: 0, keys, expires, avg_ttl_ms }] = ks.summary()[..] else { panic!("db0 only") };
        assert!(keys >= 7 && expires >= 3, "{keys} {expires}");
        assert!(avg_ttl_ms > 60_000, "{avg_ttl_ms}");
        ks.flush_db(0);
        assert!(ks.summary().is_empty());
    }
}
