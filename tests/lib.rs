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
