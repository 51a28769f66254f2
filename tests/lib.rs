//! The end-to-end test package (its tests live in `tests/tests/`), and what Chaff's tests on
//! the real Docker daemon share: reading and cleaning up a fleet's containers with the
//! `docker` CLI, independently of the code under test.

use std::process::Command;

/// `docker ARGS...`'s stdout, trimmed (empty when the command failed).
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("the docker CLI runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Ids of every container (running or not) labelled as belonging to `fleet`.
pub fn fleet_container_ids(fleet: &str) -> Vec<String> {
    docker(&["ps", "-aq", "--filter", &format!("label=io.chaff.fleet={fleet}")])
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Removes every container of `fleet` and its network, whatever state a test left them in.
pub fn remove_everything_of(fleet: &str) {
    for id in fleet_container_ids(fleet) {
        docker(&["rm", "-f", "-v", &id]);
    }
    docker(&["network", "rm", &format!("chaff_{fleet}")]);
}

/// Whether `fleet`'s network still exists.
pub fn network_exists(fleet: &str) -> bool {
    let inspect = Command::new("docker").args(["network", "inspect", &format!("chaff_{fleet}")]).output();
    inspect.expect("the docker CLI runs").status.success()
}

/// The address of a running container on its (single) network.
pub fn container_ip(name: &str) -> String {
    docker(&["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name])
}

/// Connects to `ip:port` from this host, sends `bytes`, closes; returns the local (source)
/// port the sensor will report. Retries the connection for a few seconds: a sensor that was
/// just (re)started may not listen yet.
pub fn connect_and_send(ip: &str, port: u16, bytes: &[u8]) -> u16 {
    use std::io::Write;
    use std::net::TcpStream;
    use std::time::{Duration, Instant};

    let address: std::net::SocketAddr = format!("{ip}:{port}").parse().expect("an address");
    let started = Instant::now();
    loop {
        match TcpStream::connect_timeout(&address, Duration::from_secs(2)) {
            Ok(mut stream) => {
                stream.write_all(bytes).expect("send to the sensor");
                let local = stream.local_addr().expect("a local address").port();
                stream.shutdown(std::net::Shutdown::Both).ok();
                return local;
            }
            Err(error) if started.elapsed() < Duration::from_secs(20) => {
                eprintln!("connect {address}: {error}; retrying");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(error) => panic!("cannot connect to {address}: {error}"),
        }
    }
}
