//! Plugin benchmarks, reported side by side in one run:
//!
//! 1. Rendering 1,000 deckies × 3 services through the wasm plugins, and the same fragments
//!    from the same plugin code compiled natively (plain Rust), with the ratio.
//! 2. The engine's full render of a 1,000-decky fleet into a compose project.
//! 3. Cold load of every built-in plugin: a first start (empty cache, every component
//!    compiled) and a start with the cache warm. Each load runs in a fresh process, because
//!    the engine and its in-memory compile cache are process-wide.
//!
//! Run: `cargo bench -p chaff-bench --bench plugins` (see BENCHMARKS.md).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chaff_bench::{native_render, sdk_config, sdk_decky};
use chaff_plugin_host::{
    DeckyContext, HostOptions, Origin, PluginHost, ServiceConfig, check_fragment, validate_config,
};

const DECKIES: usize = 1_000;
const SERVICES_PER_DECKY: usize = 3;
/// Repetitions of each measured run; the median is reported.
const RUNS: usize = 7;
const LOAD_RUNS: usize = 5;
/// Child-process mode: load every built-in plugin with this cache dir and print the nanoseconds.
const LOAD_ONCE: &str = "--load-once";
/// Profiling mode: render through wasm repeatedly and nothing else.
const PROFILE_RENDER: &str = "--profile-render";
/// Workload rounds in profiling mode: enough that compiling the plugins at start-up is noise.
const PROFILE_ROUNDS: usize = 100;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == LOAD_ONCE) {
        let cache = Path::new(&args[pos + 1]);
        println!("{}", load_builtins(Some(cache)).1.as_nanos());
        return;
    }
    // `cargo bench` passes `--bench`; anything else we ignore.
    let (host, _) = load_builtins(None);
    let work = workload(&host);
    if args.iter().any(|a| a == PROFILE_RENDER) {
        // For `perf record`: only the wasm render path, repeated.
        (0..PROFILE_ROUNDS).for_each(|_| render_wasm(&host, &work));
        return;
    }

    println!(
        "Chaff plugin benchmarks ({} runs each, median; {} deckies x {} services)",
        RUNS, DECKIES, SERVICES_PER_DECKY
    );
    let wasm = median(RUNS, || time(|| render_wasm(&host, &work)));
    let native = median(RUNS, || time(|| render_native(&host, &work)));
    println!("render {} fragments, wasm plugins      : {:>9.2} ms", work.len(), ms(wasm));
    println!("render {} fragments, native plain Rust : {:>9.2} ms", work.len(), ms(native));
    println!(
        "ratio wasm / native                        : {:>9.2}x",
        wasm.as_secs_f64() / native.as_secs_f64()
    );
    println!(
        "per fragment: wasm {:.1} µs, native {:.1} µs",
        wasm.as_secs_f64() * 1e6 / work.len() as f64,
        native.as_secs_f64() * 1e6 / work.len() as f64
    );

    let fleet = chaff_bench::bench_fleet(&host, DECKIES, SERVICES_PER_DECKY);
    let full = median(RUNS, || {
        time(|| {
            let project = chaff_engine::render::render_fleet(&fleet, &host).expect("fleet renders");
            std::hint::black_box(project);
        })
    });
    println!("engine: full render of a {DECKIES}-decky fleet to a compose project: {:>9.2} ms", ms(full));

    let exe = std::env::current_exe().expect("own path");
    let cold = median(LOAD_RUNS, || {
        let cache = tempfile::tempdir().unwrap();
        child_load(&exe, cache.path())
    });
    let warm_cache = tempfile::tempdir().unwrap();
    child_load(&exe, warm_cache.path());
    let warm = median(LOAD_RUNS, || child_load(&exe, warm_cache.path()));
    let count = chaff_builtin_plugins::BUILTIN.len();
    println!("load {count} built-in plugins, first start (compile) : {:>9.2} ms", ms(cold));
    println!("load {count} built-in plugins, cache warm            : {:>9.2} ms", ms(warm));
}

/// One (service, decky, validated config) triple per fragment to render.
struct Work {
    decky: DeckyContext,
    slug: String,
    config: ServiceConfig,
}

fn workload(host: &PluginHost) -> Vec<Work> {
    let slugs: Vec<String> =
        host.services().into_iter().filter(|s| !s.fleet_singleton).map(|s| s.slug.clone()).collect();
    let mut work = Vec::with_capacity(DECKIES * SERVICES_PER_DECKY);
    for d in 0..DECKIES {
        let decky = DeckyContext {
            name: format!("decky-{d:04}"),
            hostname: format!("SRV-WEB-{}", 10 + d % 90),
            ip: format!("10.{}.{}.{}", d / 65_536, (d / 256) % 256, d % 256),
            distro: "debian".into(),
            os_family: "linux".into(),
            archetype: None,
        };
        for k in 0..SERVICES_PER_DECKY {
            let slug = &slugs[(d * SERVICES_PER_DECKY + k) % slugs.len()];
            let spec = host.service(slug).unwrap();
            let config = validate_config(spec, &Default::default()).unwrap();
            work.push(Work { decky: decky.clone(), slug: slug.clone(), config });
        }
    }
    work
}

fn render_wasm(host: &PluginHost, work: &[Work]) {
    for w in work {
        let fragment = host.render(&w.slug, &w.decky, &w.config).expect("wasm render");
        std::hint::black_box(fragment);
    }
}

/// The same path as the host's, minus the sandbox: render, serialise to JSON, parse, police.
fn render_native(host: &PluginHost, work: &[Work]) {
    for w in work {
        let fragment =
            native_render(&w.slug, &sdk_decky(&w.decky), &sdk_config(&w.config)).expect("native render");
        let json: serde_json::Value = serde_json::from_str(&fragment.to_json()).unwrap();
        let checked = check_fragment(host.service(&w.slug).unwrap(), &json).expect("policy");
        std::hint::black_box(checked);
    }
}

fn load_builtins(cache: Option<&Path>) -> (PluginHost, Duration) {
    let start = Instant::now();
    let options = HostOptions { cache_dir: cache.map(Path::to_path_buf), ..HostOptions::default() };
    let mut host = PluginHost::new(options).expect("host");
    for plugin in chaff_builtin_plugins::BUILTIN {
        host.load(plugin.manifest, plugin.wasm, Origin::Builtin).expect("built-in plugin loads");
    }
    (host, start.elapsed())
}

fn child_load(exe: &Path, cache: &Path) -> Duration {
    let out = Command::new(exe).arg(LOAD_ONCE).arg(cache).output().expect("spawn load child");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let nanos: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().expect("nanos");
    Duration::from_nanos(nanos)
}

fn median(runs: usize, mut measure: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..runs).map(|_| measure()).collect();
    times.sort();
    times[runs / 2]
}

fn time(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
