//! The generic listener on real loopback sockets, with the bind address injected (the
//! service ports themselves are fixed and privileged).

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use chaff_sensor::emulators::Emulator;
use chaff_sensor::listener::TcpLimits;
use chaff_sensor::{Env, Recorder};

mod support;
use support::{kinds, loopback, runtime, wait_for};

fn serve_tcp(limits: TcpLimits) -> (SocketAddr, chaff_sensor::recorder::MemoryLog) {
    support::serve_emulator(Emulator::Generic, limits, "web-01", "redis")
}

#[test]
fn tcp_connection_is_recorded_from_connect_to_disconnect() {
    let (addr, log) = serve_tcp(TcpLimits::default());
    let mut client = TcpStream::connect(addr).unwrap();
    let client_addr = client.local_addr().unwrap();
    client.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    client.write_all(b"\x00\xffmore").unwrap();
    client.shutdown(Shutdown::Write).unwrap();

    let events = wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    assert_eq!(kinds(&events), ["listening", "connect", "disconnect"]);
    let (listening, connect, disconnect) = (&events[0], &events[1], &events[2]);

    assert_eq!(listening["bind"], addr.to_string());
    assert_eq!(listening["dst_port"], addr.port());
    assert!(listening.get("src_ip").is_none());

    for e in [connect, disconnect] {
        assert_eq!(e["v"], 1);
        assert_eq!(e["decky"], "web-01");
        assert_eq!(e["service"], "redis");
        assert_eq!(e["transport"], "tcp");
        assert_eq!(e["src_ip"], "127.0.0.1");
        assert_eq!(e["src_port"], client_addr.port());
        assert_eq!(e["dst_port"], addr.port());
        assert_eq!(e["conn"], connect["conn"]);
        let ts = e["ts"].as_str().unwrap();
        assert!(ts.len() == 24 && ts.ends_with('Z') && ts.as_bytes()[10] == b'T', "{ts}");
    }
    assert_eq!(disconnect["bytes_in"], 20);
    assert_eq!(disconnect["preview"], "*1\\r\\n$4\\r\\nPING\\r\\n\\x00\\xffmore");
    assert_eq!(disconnect["reason"], "eof");
    assert!(disconnect["duration_ms"].as_u64().is_some());
}

#[test]
fn silent_client_is_closed_after_the_idle_timeout() {
    let limits = TcpLimits { idle_timeout: Duration::from_millis(200), ..TcpLimits::default() };
    let (addr, log) = serve_tcp(limits);
    let _client = TcpStream::connect(addr).unwrap();
    let events = wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    let disconnect = events.iter().find(|e| e["kind"] == "disconnect").unwrap();
    assert_eq!(disconnect["reason"], "timeout");
    assert_eq!(disconnect["bytes_in"], 0);
    assert_eq!(disconnect["preview"], "");
}

#[test]
fn dripping_client_is_closed_at_the_session_time_limit() {
    let limits = TcpLimits {
        idle_timeout: Duration::from_secs(5),
        max_duration: Duration::from_millis(300),
        ..TcpLimits::default()
    };
    let (addr, log) = serve_tcp(limits);
    let mut client = TcpStream::connect(addr).unwrap();
    let writer = std::thread::spawn(move || {
        for _ in 0..20 {
            if client.write_all(b".").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let events = wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    let disconnect = events.iter().find(|e| e["kind"] == "disconnect").unwrap();
    assert_eq!(disconnect["reason"], "timeout");
    assert!(disconnect["bytes_in"].as_u64().unwrap() >= 1);
    writer.join().unwrap();
}

#[test]
fn reading_stops_at_the_byte_cap() {
    let limits = TcpLimits { max_bytes_in: 1000, ..TcpLimits::default() };
    let (addr, log) = serve_tcp(limits);
    let mut client = TcpStream::connect(addr).unwrap();
    // The server may close (and reset) while this is still being sent.
    let _ = client.write_all(&[b'A'; 5000]);
    let events = wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    let disconnect = events.iter().find(|e| e["kind"] == "disconnect").unwrap();
    assert_eq!(disconnect["reason"], "limit");
    assert_eq!(disconnect["bytes_in"], 1000);
    assert_eq!(disconnect["preview"].as_str().unwrap(), "A".repeat(chaff_sensor::event::PREVIEW_BYTES));
}

#[test]
fn connections_get_distinct_ids() {
    let (addr, log) = serve_tcp(TcpLimits::default());
    for _ in 0..3 {
        let client = TcpStream::connect(addr).unwrap();
        client.shutdown(Shutdown::Write).unwrap();
    }
    let events =
        wait_for(&log, "three disconnects", |e| kinds(e).iter().filter(|k| **k == "disconnect").count() == 3);
    let mut ids: Vec<u64> =
        events.iter().filter(|e| e["kind"] == "connect").map(|e| e["conn"].as_u64().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3);
}

#[test]
fn udp_datagrams_are_recorded() {
    let (addr, log) = support::serve_udp(Emulator::Generic, "web-01", "snmp");

    let client = UdpSocket::bind(loopback()).unwrap();
    client.send_to(b"\x30\x26\x02\x01\x01\x04\x06public", addr).unwrap();
    client.send_to(b"", addr).unwrap();

    let events =
        wait_for(&log, "two datagrams", |e| kinds(e).iter().filter(|k| **k == "datagram").count() == 2);
    assert_eq!(kinds(&events), ["listening", "datagram", "datagram"]);
    let (first, empty) = (&events[1], &events[2]);
    assert_eq!(first["transport"], "udp");
    assert_eq!(first["service"], "snmp");
    assert_eq!(first["src_ip"], "127.0.0.1");
    assert_eq!(first["src_port"], client.local_addr().unwrap().port());
    assert_eq!(first["dst_port"], addr.port());
    assert_eq!(first["bytes"], 13);
    assert_eq!(first["preview"], "0&\\x02\\x01\\x01\\x04\\x06public");
    assert!(first.get("conn").is_none());
    assert_eq!(empty["bytes"], 0);
    assert_eq!(empty["preview"], "");
}

#[test]
fn start_refuses_a_port_in_use_and_records_why() {
    use chaff_sensor::ports::{Port, Service, Transport};
    // A service whose only port is already taken on loopback.
    let taken = TcpListener::bind(loopback()).unwrap();
    let number = taken.local_addr().unwrap().port();
    let ports: &'static [Port] = Box::leak(Box::new([Port { number, transport: Transport::Tcp }]));
    let service = Service { slug: "redis", ports };
    let (recorder, log) = Recorder::memory("web-01", "redis");
    let _guard = runtime().enter();
    let error = chaff_sensor::emulators::start(
        &service,
        "127.0.0.1".parse().unwrap(),
        &Env::default(),
        &Arc::new(recorder),
    )
    .expect_err("the port is taken");
    let message = error.to_string();
    assert!(message.contains(&format!("tcp port {number}")), "{message}");
    let events = wait_for(&log, "error", |e| !e.is_empty());
    assert_eq!(kinds(&events), ["error"]);
    assert_eq!(events[0]["dst_port"], number);
    assert_eq!(events[0]["message"], message);
}

#[test]
fn ports_another_service_serves_are_left_alone() {
    use chaff_sensor::ports::{Port, Service, Transport};
    let free = || TcpListener::bind(loopback()).unwrap().local_addr().unwrap().port();
    let (kept, skipped) = (free(), free());
    let ports: &'static [Port] = Box::leak(Box::new([
        Port { number: kept, transport: Transport::Tcp },
        Port { number: skipped, transport: Transport::Tcp },
    ]));
    let service = Service { slug: "redis", ports };
    let (recorder, log) = Recorder::memory("web-01", "redis");
    let env = Env::from_pairs([("CHAFF_SKIP_PORTS", format!("{skipped}/tcp").as_str())]);
    let _guard = runtime().enter();
    chaff_sensor::emulators::start(&service, "127.0.0.1".parse().unwrap(), &env, &Arc::new(recorder))
        .unwrap();
    let events = wait_for(&log, "listening", |e| !e.is_empty());
    std::thread::sleep(Duration::from_millis(200));
    let events = if events.len() == 1 { support::events(&log) } else { events };
    assert_eq!(kinds(&events), ["listening"], "{events:#?}");
    assert_eq!(events[0]["dst_port"], kept);
    assert!(TcpListener::bind(("127.0.0.1", skipped)).is_ok(), "the skipped port stays free");

    let bad = Env::from_pairs([("CHAFF_SKIP_PORTS", "443/sctp")]);
    let (recorder, _log) = Recorder::memory("web-01", "redis");
    let error =
        chaff_sensor::emulators::start(&service, "127.0.0.1".parse().unwrap(), &bad, &Arc::new(recorder))
            .expect_err("a bad list is refused");
    assert!(error.to_string().contains("CHAFF_SKIP_PORTS"), "{error}");
}
