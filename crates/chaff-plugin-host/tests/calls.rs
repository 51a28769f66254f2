//! Calling plugins: every hostile fixture fails alone with its own error, the host keeps
//! working, repeated timeouts disable a plugin, strategies are checked, logs are bounded.
//! Real components built from source.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chaff_plugin_host::{
    Call, DisabledReason, Limits, MutateInput, PlanDecky, PlanInput, PluginError, PluginHost, PluginState,
    ServiceConfig, StrategyFailure, ViolationKind, validate_config,
};
use common::*;
use indexmap::IndexMap;
use serde_json::json;

/// A short call budget keeps the timeout tests quick; the fixtures that finish do so in
/// microseconds.
fn quick_limits() -> Limits {
    Limits { call_budget: Duration::from_millis(200), ..Limits::default() }
}

const SERVICE_FIXTURES: &[&str] = &[
    "infinite-loop",
    "memory-bomb",
    "huge-output",
    "panic",
    "privileged",
    "docker-socket",
    "undeclared-port",
    "undeclared-image",
    "forbidden-capability",
];

fn hostile_host() -> PluginHost {
    let mut host = host_with(quick_limits());
    load_ssh(&mut host);
    for name in SERVICE_FIXTURES {
        load_fixture(&mut host, name);
    }
    host
}

fn render(host: &PluginHost, slug: &str) -> Result<serde_json::Map<String, serde_json::Value>, PluginError> {
    host.render(slug, &decky(), &ServiceConfig::default())
}

fn assert_ssh_renders(host: &PluginHost) {
    let spec = host.service("ssh").unwrap();
    let raw: IndexMap<String, serde_json::Value> =
        serde_json::from_value(json!({ "password": "hunter2" })).unwrap();
    let config = validate_config(spec, &raw).unwrap();
    let fragment = host.render("ssh", &decky(), &config).unwrap();
    assert_eq!(fragment["image"], "chaff-sensor:0.1");
    assert_eq!(fragment["environment"]["NODE_NAME"], "decky-01");
    assert_eq!(fragment["environment"]["SSH_ROOT_PASSWORD"], "hunter2");
    assert_eq!(fragment["environment"]["SSH_USER"], "ubuntu", "defaults are filled in");
}

fn assert_policy(host: &PluginHost, slug: &str, plugin: &str, field: &str, kind: ViolationKind) {
    let err = render(host, slug).unwrap_err();
    let message = err.to_string();
    let PluginError::Policy { plugin: p, service, violation } = err else {
        panic!("{slug}: expected Policy, got {message}")
    };
    assert_eq!((p.as_str(), service.as_str()), (plugin, slug));
    assert_eq!((violation.field.as_str(), violation.kind), (field, kind), "{slug}: {violation}");
    assert!(message.contains(plugin) && message.contains(field), "{message}");
}

#[test]
fn every_hostile_fixture_fails_alone_and_the_host_keeps_working() {
    let host = hostile_host();
    assert_ssh_renders(&host);

    let err = render(&host, "fx_loop").unwrap_err();
    assert!(
        matches!(&err, PluginError::Timeout { plugin, call: Call::Render, budget } if plugin == "fixture-infinite-loop" && *budget == Duration::from_millis(200)),
        "{err}"
    );
    assert!(err.to_string().contains("fixture-infinite-loop"));

    let err = render(&host, "fx_memory").unwrap_err();
    assert!(
        matches!(&err, PluginError::MemoryExceeded { plugin, call: Call::Render, limit } if plugin == "fixture-memory-bomb" && *limit == 32 << 20),
        "{err}"
    );

    let err = render(&host, "fx_huge").unwrap_err();
    assert!(
        matches!(&err, PluginError::OutputTooLarge { plugin, size, limit, .. } if plugin == "fixture-huge-output" && *size > 10 << 20 && *limit == 256 << 10),
        "{err}"
    );

    let err = render(&host, "fx_panic").unwrap_err();
    let PluginError::Trapped { plugin, call: Call::Render, message } = &err else {
        panic!("expected Trapped, got {err}")
    };
    assert_eq!(plugin, "fixture-panic");
    assert!(
        message.contains("fixture panic while rendering for decky-01"),
        "panic message from stderr: {message}"
    );

    assert_policy(&host, "fx_privileged", "fixture-privileged", "privileged", ViolationKind::Privileged);
    assert_policy(
        &host,
        "fx_docker_socket",
        "fixture-docker-socket",
        "volumes[0]",
        ViolationKind::DockerSocket,
    );
    assert_policy(&host, "fx_undeclared_port", "fixture-undeclared-port", "ports[0]", ViolationKind::Port);
    assert_policy(&host, "fx_undeclared_image", "fixture-undeclared-image", "image", ViolationKind::Image);
    assert_policy(
        &host,
        "fx_forbidden_cap",
        "fixture-forbidden-capability",
        "cap_add[0]",
        ViolationKind::Capability,
    );

    // After all of that, the same host still renders ssh, and every plugin is still enabled
    // (one timeout is not enough to disable).
    assert_ssh_renders(&host);
    assert!(host.plugins().iter().all(|p| p.state == PluginState::Enabled));
    // A hostile fixture fails the same way every time: nothing leaks between calls.
    assert!(matches!(render(&host, "fx_memory"), Err(PluginError::MemoryExceeded { .. })));
    assert!(matches!(render(&host, "fx_panic"), Err(PluginError::Trapped { .. })));
    assert_ssh_renders(&host);
}

#[test]
fn repeated_timeouts_disable_the_plugin() {
    let mut host = host_with(quick_limits());
    load_ssh(&mut host);
    load_fixture(&mut host, "infinite-loop");

    for attempt in 1..=3 {
        let err = render(&host, "fx_loop").unwrap_err();
        assert!(matches!(err, PluginError::Timeout { .. }), "attempt {attempt}: {err}");
    }
    let err = render(&host, "fx_loop").unwrap_err();
    let PluginError::Disabled { plugin, reason } = &err else { panic!("expected Disabled, got {err}") };
    assert_eq!(plugin, "fixture-infinite-loop");
    assert_eq!(reason, &DisabledReason::RepeatedTimeouts { count: 3 });
    assert!(err.to_string().contains("timed out 3 times"), "{err}");

    let status = host.plugin("fixture-infinite-loop").unwrap();
    assert_eq!(status.state, PluginState::Disabled { reason: DisabledReason::RepeatedTimeouts { count: 3 } });
    assert!(host.services().iter().all(|s| s.slug != "fx_loop"), "disabled services are not offered");
    assert!(host.service("fx_loop").is_some(), "but can still be looked up, to explain");
    assert_ssh_renders(&host);
}

#[test]
fn unknown_services_and_plugin_render_errors() {
    let host = hostile_host();
    assert!(matches!(render(&host, "nope"), Err(PluginError::UnknownService(s)) if s == "nope"));
}

/// Default limits: `fx-flood` does real work (100000 steps), which a loaded machine could
/// stretch past the short budget of [`quick_limits`].
fn strategy_host() -> PluginHost {
    let mut host = host_with(Limits::default());
    load_fixture(&mut host, "strategy");
    host
}

fn mutate_input() -> MutateInput {
    MutateInput {
        decky: "d1".into(),
        current: vec!["ssh".into()],
        archetype_services: None,
        available: vec!["ftp".into(), "http".into(), "ssh".into()],
        now: 1_700_000_000,
        seed: 7,
    }
}

fn plan_input(parameters: &[(&str, &str)]) -> PlanInput {
    PlanInput {
        deckies: vec![
            PlanDecky { name: "a".into(), host: None },
            PlanDecky { name: "b".into(), host: None },
            PlanDecky { name: "c".into(), host: Some("h1".into()) },
        ],
        hosts: vec!["h1".into(), "h2".into()],
        parameters: parameters.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        now: 1_700_000_000,
        seed: 7,
    }
}

#[test]
fn strategies_answer_and_are_checked() {
    let host = strategy_host();
    let ids: Vec<&str> = host.strategies().iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["fx-flood", "fx-invent", "fx-rotate", "fx-spin", "fx-spread"]);

    assert_eq!(host.mutate("fx-rotate", &mutate_input()).unwrap(), ["ftp"]);

    let steps = host.plan("fx-spread", &plan_input(&[])).unwrap();
    let placed: Vec<(&str, &str, u32)> =
        steps.iter().map(|s| (s.decky.as_str(), s.host.as_str(), s.batch)).collect();
    assert_eq!(placed, [("a", "h1", 0), ("b", "h2", 0), ("c", "h1", 1)]);
    // A declared parameter reaches the plugin; an undeclared one is dropped.
    let steps = host.plan("fx-spread", &plan_input(&[("first-batch", "5"), ("bogus", "x")])).unwrap();
    assert_eq!(steps[0].batch, 5);

    let err = host.mutate("fx-invent", &mutate_input()).unwrap_err();
    assert!(
        matches!(&err, PluginError::MalformedOutput { plugin, call: Call::Mutate, message } if plugin == "fixture-strategy" && message.contains("definitely_not_offered")),
        "{err}"
    );

    let err = host.plan("fx-flood", &plan_input(&[])).unwrap_err();
    assert!(
        matches!(&err, PluginError::OutputTooLarge { call: Call::Plan, limit, .. } if *limit == 256 << 10),
        "{err}"
    );

    let err = host.mutate("fx-spread", &mutate_input()).unwrap_err();
    assert!(matches!(err, PluginError::WrongStrategyKind { .. }), "{err}");
    assert!(matches!(host.plan("nope", &plan_input(&[])), Err(PluginError::UnknownStrategy(_))));

    // The plugin's own refusal comes back typed.
    let mut nothing_new = mutate_input();
    nothing_new.available = vec!["ssh".into()];
    let err = host.mutate("fx-rotate", &nothing_new).unwrap_err();
    assert!(
        matches!(&err, PluginError::Strategy { failure: StrategyFailure::NoCandidates(_), strategy, .. } if strategy == "fx-rotate"),
        "{err}"
    );

    // Still healthy after all that.
    assert_eq!(host.mutate("fx-rotate", &mutate_input()).unwrap(), ["ftp"]);
    assert_eq!(host.plugin("fixture-strategy").unwrap().limits.memory_bytes, 64 << 20);
}

#[test]
fn a_strategy_that_never_answers_times_out() {
    let mut host = host_with(quick_limits());
    load_fixture(&mut host, "strategy");
    let err = host.mutate("fx-spin", &mutate_input()).unwrap_err();
    assert!(
        matches!(&err, PluginError::Timeout { plugin, call: Call::Mutate, .. } if plugin == "fixture-strategy"),
        "{err}"
    );
    // One timeout does not disable the plugin.
    assert_eq!(host.mutate("fx-rotate", &mutate_input()).unwrap(), ["ftp"]);
}

/// Captures formatted tracing output on this thread.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn plugin_logs_become_bounded_tracing_events() {
    let host = strategy_host();
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        host.mutate("fx-rotate", &mutate_input()).unwrap();
        host.plan("fx-spread", &plan_input(&[])).unwrap();
    });
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let rotate =
        text.lines().find(|l| l.contains("rotating d1")).unwrap_or_else(|| panic!("no log line in:\n{text}"));
    assert!(
        rotate.contains("INFO") && rotate.contains("plugin=\"fixture-strategy\"")
            || rotate.contains("plugin=fixture-strategy"),
        "{rotate}"
    );
    let spread = text.lines().find(|l| l.contains("spread xxx")).unwrap();
    assert!(spread.contains("WARN") && spread.contains("truncated=true"), "{spread}");
    let xs = spread.matches('x').count();
    assert!(xs < 1100, "the 3000-byte message is cut to the 1024-byte limit ({xs} x's)");
}

#[test]
fn calls_run_concurrently_from_many_threads() {
    let mut host = host_with(quick_limits());
    load_ssh(&mut host);
    load_fixture(&mut host, "panic");
    let host = &host;
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(move || {
                for _ in 0..10 {
                    assert_ssh_renders(host);
                    assert!(matches!(render(host, "fx_panic"), Err(PluginError::Trapped { .. })));
                }
            });
        }
    });
}

#[test]
fn the_builtin_strategies_pass_the_output_checks() {
    let mut host = host();
    for plugin in chaff_builtin_plugins::BUILTIN.iter().filter(|p| p.manifest.contains("kind = \"strategy\""))
    {
        host.load(plugin.manifest, plugin.wasm, chaff_plugin_host::Origin::Builtin).unwrap();
    }
    for strategy in host.strategies().iter().map(|s| (s.id.clone(), s.kind)).collect::<Vec<_>>() {
        match strategy.1 {
            chaff_plugin_host::StrategyKind::Mutate => {
                for seed in 0..20 {
                    let input = MutateInput { seed, ..mutate_input() };
                    let chosen = host.mutate(&strategy.0, &input).unwrap_or_else(|e| panic!("{e}"));
                    assert!(!chosen.is_empty());
                }
            }
            chaff_plugin_host::StrategyKind::Deploy => {
                let steps = host.plan(&strategy.0, &plan_input(&[])).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(steps.len(), 3);
            }
        }
    }
}

/// The SDK's call heap starts with a 256 KiB arena and grows memory past it. A render whose
/// input, fragment and JSON together need several times that still renders exactly, and the
/// next call on the same plugin starts from a clean instance.
#[test]
fn a_render_larger_than_the_call_heap_arena_grows_it_and_the_next_call_starts_clean() {
    let host = hostile_host();
    let spec = host.service("ssh").unwrap();
    let password = "p".repeat(200 << 10);
    let raw: IndexMap<String, serde_json::Value> =
        serde_json::from_value(json!({ "password": password })).unwrap();
    let config = validate_config(spec, &raw).unwrap();
    let fragment = host.render("ssh", &decky(), &config).unwrap();
    assert_eq!(fragment["environment"]["SSH_ROOT_PASSWORD"], password.as_str());
    assert_ssh_renders(&host);
}
