//! The sniffer on a real interface: a veth pair whose far end lives in a network namespace
//! of its own. The capture runs on the near end; real clients in the namespace (arping,
//! python's sockets) send an ARP who-has, a TCP SYN, a UDP datagram to an address nobody
//! holds, and an ICMP echo. Needs root (network namespaces, `CAP_NET_RAW`), as the machines
//! running the tests have. Only addresses of 10.249.0.0/16 that the test creates are used.

mod support;

use std::process::Command;
use std::sync::Arc;

use chaff_sensor::emulators::sniffer;
use chaff_sensor::recorder::MemoryLog;
use chaff_sensor::{Env, Recorder};
use serde_json::{Value, json};
use support::{runtime, wait_for};

/// A veth pair `near`/`far` with `far` in namespace `ns`; removed on drop, even when the
/// test fails half-way (deleting the namespace deletes `far`, and `far` takes `near`).
struct Veth {
    ns: String,
    near: String,
    far: String,
    subnet: u8,
}

const NEAR_MAC: &str = "02:00:0a:f9:00:01";
const FAR_MAC: &str = "02:00:0a:f9:00:02";
/// The MAC a static neighbour entry gives the unheld address, so a datagram is sent to it.
const DARK_MAC: &str = "02:00:0a:f9:00:99";

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap_or_else(|e| panic!("ip {args:?}: {e}"));
    assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

impl Veth {
    /// The guard exists before the first command, so a failing step still cleans up.
    fn create() -> Veth {
        let id = std::process::id() % 100_000;
        // A /24 per process, away from 10.249.50.0/24 (the Docker tests').
        let veth = Veth {
            ns: format!("chaff-snf-{id}"),
            near: format!("csnf{id}a"),
            far: format!("csnf{id}b"),
            subnet: (100 + id % 100) as u8,
        };
        let (ns, near, far) = (veth.ns.as_str(), veth.near.as_str(), veth.far.as_str());
        ip(&["netns", "add", ns]);
        ip(&[
            "link", "add", near, "address", NEAR_MAC, "type", "veth", "peer", "name", far, "address", FAR_MAC,
        ]);
        ip(&["link", "set", far, "netns", ns]);
        ip(&["addr", "add", &format!("{}/24", veth.addr(1)), "dev", near]);
        ip(&["link", "set", near, "up"]);
        veth.exec_ip(&["addr", "add", &format!("{}/24", veth.addr(2)), "dev", far]);
        veth.exec_ip(&["link", "set", far, "up"]);
        veth.exec_ip(&["neigh", "replace", &veth.addr(99), "lladdr", DARK_MAC, "dev", far]);
        veth
    }

    fn addr(&self, host: u8) -> String {
        format!("10.249.{}.{host}", self.subnet)
    }

    fn exec_ip(&self, args: &[&str]) {
        let mut all = vec!["netns", "exec", &self.ns, "ip"];
        all.extend_from_slice(args);
        ip(&all);
    }

    /// Runs `program` in the namespace (at most 20 s); its exit status is not checked, as
    /// probes of unheld addresses go unanswered.
    fn exec(&self, program: &str, args: &[&str]) {
        let mut all = vec!["ip", "netns", "exec", &self.ns, program];
        all.extend_from_slice(args);
        support::run(all[0], &all[1..]);
    }

    fn python(&self, code: &str) {
        self.exec("python3", &["-c", code]);
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
        let _ = Command::new("ip").args(["link", "del", &self.near]).output();
    }
}

/// The events of `kind`, without `ts` (the only field a test cannot predict).
fn of_kind(log: &MemoryLog, kind: &str) -> Vec<Value> {
    support::events(log)
        .into_iter()
        .filter(|e| e["kind"] == kind)
        .map(|mut e| {
            e.as_object_mut().unwrap().remove("ts");
            e
        })
        .collect()
}

fn common(kind: &str, transport: &str, src: (&str, u16), dst_port: u16) -> Value {
    json!({"v":1,"decky":"lab-sniffer","service":"sniffer","kind":kind,"transport":transport,
        "src_ip":src.0,"src_port":src.1,"dst_port":dst_port})
}

fn with(mut base: Value, fields: Value) -> Value {
    let object = base.as_object_mut().unwrap();
    object.extend(fields.as_object().unwrap().clone());
    base
}

#[test]
fn records_arp_who_has_and_probes_from_a_real_peer() {
    let veth = Veth::create();
    let (recorder, log) = Recorder::memory("lab-sniffer", "sniffer");
    let env = Env::from_pairs([("SNIFFER_INTERFACE", veth.near.as_str())]);
    let task = {
        let _entered = runtime().enter();
        sniffer::start(&env, &Arc::new(recorder)).unwrap_or_else(|e| panic!("{e}"))
    };
    let far = veth.far.clone();
    let (near_ip, far_ip, dark_ip) = (veth.addr(1), veth.addr(2), veth.addr(99));

    // Two who-has for an unheld address: one event, the second counted on the next.
    veth.exec("arping", &["-c", "2", "-w", "3", "-I", &far, &veth.addr(77)]);
    veth.python(&format!(
        "import socket\ns=socket.socket()\ns.bind(('{far_ip}',41001))\ns.settimeout(3)\ns.connect_ex(('{near_ip}',4444))"
    ));
    veth.python(&format!(
        "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('{far_ip}',41002))\ns.sendto(b'hi',('{dark_ip}',5353))"
    ));
    veth.python(&format!(
        "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_ICMP)\n\
         s.sendto(b'\\x08\\x00\\xf7\\xff\\x00\\x00\\x00\\x00',('{near_ip}',0))"
    ));
    wait_for(&log, "three probes", |events| events.iter().filter(|e| e["kind"] == "probe").count() >= 3);
    task.abort();

    let capturing = of_kind(&log, "capturing");
    assert_eq!(
        capturing,
        [
            json!({"v":1,"decky":"lab-sniffer","service":"sniffer","kind":"capturing","transport":"udp","dst_port":0,
            "interface":veth.near,"promiscuous":true,"dedup_seconds":300})
        ]
    );
    let arp = |target: &str| {
        with(
            common("arp_probe", "udp", (&far_ip, 0), 0),
            json!({"proto":"arp","src_mac":FAR_MAC,"target_ip":target,"repeats":0,"dropped":0}),
        )
    };
    // The dark address once (deduplicated), then the near end, asked for before the SYN.
    assert_eq!(of_kind(&log, "arp_probe"), [arp(&veth.addr(77)), arp(&near_ip)]);
    let probe = |transport, src_port, dst_port, fields: Value| {
        with(common("probe", transport, (&far_ip, src_port), dst_port), fields)
    };
    assert_eq!(
        of_kind(&log, "probe"),
        [
            probe(
                "tcp",
                41001,
                4444,
                json!({"proto":"tcp","dst_ip":near_ip,"src_mac":FAR_MAC,"tcp_flags":"SYN","repeats":0,"dropped":0})
            ),
            probe(
                "udp",
                41002,
                5353,
                json!({"proto":"udp","dst_ip":dark_ip,"src_mac":FAR_MAC,"repeats":0,"dropped":0})
            ),
            probe(
                "udp",
                0,
                0,
                json!({"proto":"icmp","dst_ip":near_ip,"src_mac":FAR_MAC,"icmp_type":8,"repeats":0,"dropped":0})
            ),
        ]
    );
    assert!(of_kind(&log, "error").is_empty(), "{:?}", of_kind(&log, "error"));
}
