//! Driving the real app in its real webview: Xvfb (unless a display is set), tauri-driver and
//! WebKitWebDriver, a WebDriver session from Rust. The app runs on a data directory of its
//! own, so a test never touches the analyst's state.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// The app as built for this test run.
pub const APP: &str = env!("CARGO_BIN_EXE_chaff-desktop");

pub struct Desktop {
    pub client: Client,
    pub data_dir: tempfile::TempDir,
    /// Stopped on drop, so a failing test leaves no driver or display behind.
    processes: Processes,
}

struct Processes {
    driver: Child,
    display: Option<Child>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `tauri-driver` from PATH or cargo's bin directory (where `cargo install` puts it).
fn tauri_driver() -> PathBuf {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .map(|home| home.join("bin/tauri-driver"));
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("tauri-driver"))
        .chain(cargo_bin)
        .find(|path| path.is_file())
        .expect("tauri-driver is installed (scripts/setup.sh installs it)")
}

/// A virtual display: `Xvfb` picks a free display number and prints it.
fn start_display() -> (Child, String) {
    let mut xvfb = Command::new("Xvfb")
        .args(["-displayfd", "1", "-screen", "0", "1400x900x24", "-nolisten", "tcp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb runs (scripts/setup.sh installs xvfb)");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(xvfb.stdout.take().unwrap()), &mut line)
        .unwrap();
    (xvfb, format!(":{}", line.trim()))
}

fn wait_for_port(port: u16, timeout: Duration) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < timeout, "tauri-driver did not listen on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Desktop {
    /// Starts the app and waits until its window has loaded everything it shows first.
    pub async fn launch() -> Desktop {
        Desktop::launch_with(&[]).await
    }

    /// [`Desktop::launch`] with extra environment for the app (e.g. another `DOCKER_HOST`).
    pub async fn launch_with(env: &[(&str, &str)]) -> Desktop {
        let data_dir = tempfile::tempdir().unwrap();
        let (display, name) = match std::env::var("DISPLAY") {
            Ok(name) if !name.is_empty() => (None, name),
            _ => {
                let (child, name) = start_display();
                (Some(child), name)
            }
        };
        let (port, native_port) = (free_port(), free_port());
        let driver = Command::new(tauri_driver())
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .env("DISPLAY", &name)
            .env("CHAFF_DATA_DIR", data_dir.path())
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("tauri-driver starts");
        wait_for_port(port, Duration::from_secs(20));
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("wry"));
        capabilities.insert("tauri:options".into(), json!({ "application": APP }));
        let client = ClientBuilder::native()
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session on the app");
        let desktop = Desktop { client, data_dir, processes: Processes { driver, display } };
        desktop.wait_for("#app[data-ready=true]", Duration::from_secs(60)).await;
        desktop
    }

    /// The first element matching `css`, waiting up to `timeout` for it.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Element {
        self.client
            .wait()
            .at_most(timeout)
            .every(Duration::from_millis(100))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css} within {timeout:?}: {e}"))
    }

    /// Waits until the JavaScript expression `condition` is true; `explain` (another
    /// expression) says what the page shows instead when it never becomes true.
    pub async fn wait_until(&self, condition: &str, explain: &str, timeout: Duration) {
        let started = Instant::now();
        loop {
            if self.eval(condition).await == Value::Bool(true) {
                return;
            }
            if started.elapsed() > timeout {
                let shown = self.eval(explain).await;
                panic!("{condition} not true within {timeout:?}; the page shows: {shown}");
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// The value of a JavaScript expression in the page.
    pub async fn eval(&self, expression: &str) -> Value {
        self.client.execute(&format!("return ({expression});"), vec![]).await.unwrap()
    }

    /// Runs a statement in the page with `args` as `arguments`.
    pub async fn run(&self, script: &str, args: Vec<Value>) {
        self.client.execute(script, args).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.wait_for(css, Duration::from_secs(10))
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    pub async fn open_screen(&self, screen: &str) {
        self.click(&format!("#tab-{screen}")).await;
        self.wait_for(&format!("#screen-{screen}:not([hidden])"), Duration::from_secs(5)).await;
    }

    /// Saves a PNG of the window under the test's target dir, and under `docs/screenshots/`
    /// when CHAFF_UPDATE_SCREENSHOTS is set.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let mut dirs = vec![Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots")];
        if std::env::var_os("CHAFF_UPDATE_SCREENSHOTS").is_some() {
            dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots"));
        }
        for dir in dirs {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
        }
    }

    /// Ends the session (the app quits and shuts its engine down), then the driver.
    pub async fn close(self) {
        self.client.clone().close().await.ok();
    }
}

impl Drop for Processes {
    /// SIGTERM, not SIGKILL: tauri-driver then stops WebKitWebDriver, which otherwise keeps
    /// the test's output pipe open.
    fn drop(&mut self) {
        Command::new("kill").args(["-TERM", &self.driver.id().to_string()]).status().ok();
        let started = Instant::now();
        while self.driver.try_wait().ok().flatten().is_none() && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.driver.kill().ok();
        self.driver.wait().ok();
        if let Some(display) = &mut self.display {
            display.kill().ok();
            display.wait().ok();
        }
    }
}
