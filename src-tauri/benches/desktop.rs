//! The desktop app's responsiveness, measured on the real app in its real webview:
//!
//! * cold start: launching the app until its first screen is ready (and WebKit's
//!   first-contentful-paint time, from navigation start);
//! * idle memory: resident memory of the app and its WebKit processes, idle on the fleet screen;
//! * command round-trip from the page (`invoke`), p50/p99, idle and while a 30-decky deploy runs
//!   on the same engine: the runner must never stall the UI;
//! * lifecycle transition in the engine → DOM updated, p50/p99, over that deploy;
//! * beside them, `docker ps` on the fleet's label during the deploy: what one would otherwise run
//!   to watch the deckies.
//!
//! `cargo bench -p chaff-desktop --bench desktop -- [--starts N] [--deckies N] [--calls N]`
//! (needs Docker; uses 10.248.0.0/24 and removes what it deployed).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Desktop;

const FLEET: &str = "uibench";

struct Options {
    starts: usize,
    deckies: usize,
    calls: usize,
}

fn options() -> Options {
    let mut options = Options { starts: 5, deckies: 30, calls: 300 };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.windows(2) {
        let value = || pair[1].parse().expect("a number");
        match pair[0].as_str() {
            "--starts" => options.starts = value(),
            "--deckies" => options.deckies = value(),
            "--calls" => options.calls = value(),
            _ => {}
        }
    }
    options
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn summary(mut samples: Vec<f64>) -> String {
    samples.sort_by(f64::total_cmp);
    format!(
        "n={} p50={:.2} ms p99={:.2} ms max={:.2} ms",
        samples.len(),
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples[samples.len() - 1]
    )
}

/// Resident set sizes (KiB) of the processes named like the app or WebKit's helpers.
fn resident_kib() -> Vec<(String, u64)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else { continue };
        let field =
            |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).map(str::trim).map(str::to_owned);
        let name = field("Name:").unwrap_or_default();
        let wanted = name.starts_with("chaff-desktop")
            || name.starts_with("WebKitWebProces")
            || name.starts_with("WebKitNetworkPr");
        if let (true, Some(rss)) = (wanted, field("VmRSS:")) {
            found.push((name, rss.trim_end_matches(" kB").trim().parse().unwrap_or(0)));
        }
    }
    found
}

/// `calls` round trips of command `command` from the page, in ms each.
async fn round_trips(app: &Desktop, command: &str, args: Value, calls: usize) -> Vec<f64> {
    let script = "const [command, args, calls, done] = arguments; (async () => { const out = []; \
        for (let i = 0; i < calls; i++) { const t = performance.now(); await window.__TAURI__.core.invoke(command, args); out.push(performance.now() - t); } \
        return out; })().then(done, (e) => done(String(e)));";
    let value = app.client.execute_async(script, vec![json!(command), args, json!(calls)]).await.unwrap();
    value
        .as_array()
        .unwrap_or_else(|| panic!("{command}: {value}"))
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let options = options();
    chaff_tests::remove_everything_of(FLEET);

    println!("== cold start ({} launches, fresh data directory each)", options.starts);
    let mut starts = Vec::new();
    let mut paints = Vec::new();
    for _ in 0..options.starts {
        let started = Instant::now();
        let app = Desktop::launch().await;
        starts.push(started.elapsed().as_secs_f64() * 1000.0);
        let paint = app
            .eval("(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || null")
            .await;
        if let Some(ms) = paint.as_f64() {
            paints.push(ms);
        }
        app.close().await;
    }
    println!("launch → first screen ready (WebDriver session included): {}", summary(starts));
    if !paints.is_empty() {
        println!("navigation → first contentful paint: {}", summary(paints));
    }

    let app = Desktop::launch().await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let memory = resident_kib();
    let total: u64 = memory.iter().map(|(_, kib)| kib).sum();
    println!(
        "== idle memory after 10 s on the fleet screen: {:.1} MiB resident in all",
        total as f64 / 1024.0
    );
    for (name, kib) in &memory {
        println!("   {name}: {:.1} MiB", *kib as f64 / 1024.0);
    }

    println!("== command round-trip from the page ({} calls each)", options.calls);
    let idle_lifecycle = round_trips(&app, "open_lifecycle", json!({}), options.calls).await;
    let idle_catalogue = round_trips(&app, "catalogue", json!({}), options.calls).await;
    println!("idle     open_lifecycle: {}", summary(idle_lifecycle));
    println!("idle     catalogue:      {}", summary(idle_catalogue));

    let ini = format!(
        "[general]\nname = {FLEET}\nnet = 10.248.0.0/24\n\n[ui-bench]\namount = {}\nservices = ssh\n",
        options.deckies
    );
    app.run("window.__TAURI__.core.invoke('deploy_ini', {text: arguments[0], fleet_name: 'uibench', replace: false});", vec![json!(ini)]).await;
    let deploy_started = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let busy_lifecycle = round_trips(&app, "open_lifecycle", json!({}), options.calls).await;
    let busy_catalogue = round_trips(&app, "catalogue", json!({}), options.calls).await;
    let docker_ps: Vec<f64> = (0..20)
        .map(|_| {
            let started = Instant::now();
            chaff_tests::docker(&["ps", "--filter", &format!("label=io.chaff.fleet={FLEET}")]);
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    println!("deploying open_lifecycle: {}", summary(busy_lifecycle));
    println!("deploying `docker ps --filter label=...` (what one would run instead): {}", summary(docker_ps));
    println!("deploying catalogue:      {}", summary(busy_catalogue));
    app.wait_until(
        &format!(
            "document.querySelectorAll('#progress-list .progress-entry[data-status=succeeded]').length >= {}",
            options.deckies
        ),
        "document.getElementById('progress-summary').textContent",
        Duration::from_secs(900),
    )
    .await;
    println!("== {}-decky deploy took {:.1} s", options.deckies, deploy_started.elapsed().as_secs_f64());
    let latencies = app.eval("window.chaffMetrics.lifecycleLatencyMs").await;
    let latencies: Vec<f64> = latencies.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    println!("lifecycle transition (engine) → DOM updated: {}", summary(latencies));

    app.open_screen("fleet").await;
    app.click("#teardown-all").await;
    app.click("#confirm-yes").await;
    app.wait_until(
        &format!(
            "[...document.querySelectorAll('#progress-list .progress-entry[data-status=succeeded] .muted')].filter(e => e.textContent === 'Teardown').length >= {}",
            options.deckies
        ),
        "document.getElementById('progress-summary').textContent",
        Duration::from_secs(900),
    )
    .await;
    app.close().await;
    chaff_tests::remove_everything_of(FLEET);
}
