//! The desktop app end to end, in its real webview on the real Docker daemon: import an INI,
//! deploy three deckies and watch every bar reach success, add a service and see its chip,
//! connect to a decky and see the attacker event in the feed, survive a reload, tear down.
//! A screenshot of each screen is saved (see `support::Desktop::screenshot`).

mod support;

use std::time::Duration;

use serde_json::json;
use support::Desktop;

const FLEET: &str = "uie2e";
const DECKIES: [&str; 3] = ["ui-web-01", "ui-web-02", "ui-web-03"];
/// Addresses of this test only (other Docker tests use 10.241-10.246).
const LAB_INI: &str =
    "[general]\nname = uie2e\nnet = 10.247.1.0/24\ngw = 10.247.1.1\n\n[ui-web]\namount = 3\nservices = ssh\n";

/// Leaves Docker clean whatever happens to the test.
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        chaff_tests::remove_everything_of(FLEET);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyst_deploys_changes_watches_and_tears_down_in_the_app() {
    chaff_tests::remove_everything_of(FLEET);
    let _cleanup = Cleanup;
    let app = Desktop::launch().await;
    let long = Duration::from_secs(300);

    // An empty install says how to start.
    app.wait_for("#fleet-empty", Duration::from_secs(20)).await;
    app.wait_until(
        "document.getElementById('docker-pill').classList.contains('ok')",
        "document.getElementById('docker-pill').textContent",
        Duration::from_secs(20),
    )
    .await;
    app.screenshot("fleet-empty").await;

    // A mistake is shown at the field, and nothing is deployed.
    app.open_screen("deploy").await;
    app.run(
        "document.getElementById('ini-text').value = arguments[0];",
        vec![json!("[general]\nnet = 10.247.1.0/33\n\n[x]\nservices = ssh\n")],
    )
    .await;
    app.click("#ini-preview").await;
    app.wait_until(
        "document.querySelector('#ini-form .field[data-field=config]').classList.contains('invalid')",
        "document.getElementById('deploy-preview').textContent",
        Duration::from_secs(20),
    )
    .await;
    let error =
        app.eval("document.querySelector('#ini-form .field[data-field=config] .error').textContent").await;
    assert!(error.as_str().unwrap().contains("net="), "the error names the key: {error}");

    // Import, preview, deploy.
    app.run("document.getElementById('ini-text').value = arguments[0];", vec![json!(LAB_INI)]).await;
    app.click("#ini-preview").await;
    app.wait_for("#preview-table", Duration::from_secs(30)).await;
    let previewed = app.eval("document.querySelectorAll('#preview-table tbody tr').length").await;
    assert_eq!(previewed, json!(3));
    let yaml = app.eval("document.getElementById('compose-yaml').textContent").await;
    assert!(yaml.as_str().unwrap().contains("ui-web-02"), "the compose preview shows the deckies");
    let hostnames =
        "[...document.querySelectorAll('#preview-table tbody tr td:nth-child(3)')].map(td => td.textContent)";
    let previewed_hostnames = app.eval(hostnames).await;
    app.screenshot("deploy-preview").await;
    app.click("#ini-deploy").await;
    app.wait_for("#screen-progress:not([hidden])", Duration::from_secs(10)).await;
    app.wait_until(
        "document.querySelectorAll('#progress-list .progress-entry').length === 3",
        "document.getElementById('progress-list').textContent",
        Duration::from_secs(20),
    )
    .await;
    app.screenshot("progress-running").await;
    wait_all_succeeded(&app, "deploy", 3, long).await;
    let widths =
        app.eval("[...document.querySelectorAll('#progress-list .fill')].map(f => f.style.width)").await;
    assert_eq!(
        widths,
        json!(["100%", "100%", "100%"]),
        "each finished bar is full (set through the CSSOM: the CSP drops style attributes)"
    );
    app.screenshot("progress").await;

    // The progress panel survives a reload of the window.
    app.run("location.reload();", vec![]).await;
    app.wait_for("#app[data-ready=true]", Duration::from_secs(30)).await;
    app.open_screen("progress").await;
    wait_all_succeeded(&app, "deploy", 3, Duration::from_secs(10)).await;

    // The fleet: three running deckies.
    app.open_screen("fleet").await;
    app.wait_until(
        "document.querySelectorAll('#fleet-table tbody tr').length === 3",
        "document.getElementById('fleet-body').textContent",
        Duration::from_secs(30),
    )
    .await;
    let deployed_hostnames = app
        .eval("[...document.querySelectorAll('#fleet-table tbody tr th .small')].map(e => e.textContent)")
        .await;
    assert_eq!(deployed_hostnames, previewed_hostnames, "what was previewed is what was deployed");
    for decky in DECKIES {
        let state =
            app.eval(&format!("document.querySelector('tr[data-decky={decky}] .badge').textContent")).await;
        assert_eq!(state, json!("Running"), "{decky}");
    }

    // Add a service: the chip appears.
    app.click("tr[data-decky=ui-web-01] [data-action=add-service]").await;
    app.wait_for("#add-service-select", Duration::from_secs(5)).await;
    app.run("const s = document.getElementById('add-service-select'); s.value = 'ftp'; s.dispatchEvent(new Event('change'));", vec![]).await;
    app.screenshot("add-service").await;
    app.click("#dialog-submit").await;
    app.wait_for("tr[data-decky=ui-web-01] .chip[data-service=ftp]", long).await;
    app.screenshot("fleet").await;

    // An attacker connects: the event reaches the feed.
    let ip = chaff_tests::container_ip("ui-web-02");
    assert!(ip.starts_with("10.247.1."), "ui-web-02 has a lab address: {ip}");
    chaff_tests::connect_and_send(&ip, 22, b"SSH-2.0-e2e-probe\r\n");
    app.open_screen("events").await;
    app.wait_for("#event-feed tr[data-decky=ui-web-02]", Duration::from_secs(60)).await;
    app.click("#event-feed tr[data-decky=ui-web-02] td:last-child").await;
    app.wait_for("#event-json", Duration::from_secs(5)).await;
    app.screenshot("events").await;

    app.open_screen("catalogue").await;
    app.click("#catalogue-table tr[data-service=http] button").await;
    app.wait_for("#service-detail .config-preview", Duration::from_secs(5)).await;
    app.screenshot("catalogue").await;
    app.open_screen("plugins").await;
    app.wait_for("#plugins-table tr[data-plugin=rotate]", Duration::from_secs(10)).await;
    app.screenshot("plugins").await;

    // Tear everything down.
    app.open_screen("fleet").await;
    app.click("#teardown-all").await;
    app.click("#confirm-yes").await;
    wait_all_succeeded(&app, "teardown", 3, long).await;
    app.open_screen("fleet").await;
    app.wait_for("#fleet-empty", Duration::from_secs(30)).await;
    assert!(chaff_tests::fleet_container_ids(FLEET).is_empty(), "no container of the fleet is left");
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_docker_the_app_explains_how_to_fix_it_and_still_designs() {
    let app = Desktop::launch_with(&[("DOCKER_HOST", "unix:///nonexistent/chaff-e2e-docker.sock")]).await;
    app.wait_for("#banner:not([hidden])", Duration::from_secs(20)).await;
    let banner = app.eval("document.getElementById('banner').textContent").await;
    let banner = banner.as_str().unwrap();
    assert!(banner.contains("cannot reach Docker") && banner.contains("systemctl start docker"), "{banner}");
    let pill = app.eval("document.getElementById('docker-pill').className").await;
    assert_eq!(pill, json!("pill bad"));
    app.wait_for("#fleet-empty", Duration::from_secs(30)).await;
    app.screenshot("no-docker").await;

    // Designing and previewing a fleet needs no Docker.
    app.open_screen("deploy").await;
    app.run("document.getElementById('ini-text').value = arguments[0];", vec![json!(LAB_INI)]).await;
    app.click("#ini-preview").await;
    app.wait_for("#preview-table", Duration::from_secs(30)).await;
    app.close().await;
}

/// Waits until `count` progress entries of `operation` have succeeded; any failure fails the
/// test with the error the UI shows.
async fn wait_all_succeeded(app: &Desktop, operation: &str, count: usize, timeout: Duration) {
    let entries = format!(
        "[...document.querySelectorAll('#progress-list .progress-entry')].filter(e => e.querySelector('.muted').textContent.toLowerCase() === '{operation}')"
    );
    app.wait_until(
        &format!("(() => {{ const e = {entries}; if (e.some(x => x.dataset.status === 'failed')) return 'failed: ' + e.map(x => x.textContent).join(' | '); return e.filter(x => x.dataset.status === 'succeeded').length >= {count}; }})()"),
        &format!("{entries}.map(x => x.textContent).join(' | ')"),
        timeout,
    )
    .await;
}
