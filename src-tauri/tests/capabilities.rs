//! The webview gets exactly the commands it uses: the capability grants one permission per
//! command the shell registers (build.rs), nothing else but listening to events, and every
//! command the UI calls is one of them.

use std::collections::BTreeSet;
use std::path::Path;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The command names listed in build.rs's COMMANDS.
fn registered_commands() -> BTreeSet<String> {
    let build = std::fs::read_to_string(manifest_dir().join("build.rs")).unwrap();
    let list = build.split("const COMMANDS: &[&str] = &[").nth(1).unwrap().split("];").next().unwrap();
    list.split(',')
        .map(|item| item.trim().trim_matches('"').to_owned())
        .filter(|item| !item.is_empty())
        .collect()
}

#[test]
fn the_capability_grants_one_permission_per_command_and_nothing_else() {
    let text = std::fs::read_to_string(manifest_dir().join("capabilities/main.json")).unwrap();
    let capability: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(capability["windows"], serde_json::json!(["main"]));
    let granted: BTreeSet<String> = capability["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().expect("plain permission identifiers, no scopes").to_owned())
        .collect();
    let mut expected: BTreeSet<String> =
        registered_commands().iter().map(|c| format!("allow-{}", c.replace('_', "-"))).collect();
    expected.extend(["core:event:allow-listen".to_owned(), "core:event:allow-unlisten".to_owned()]);
    assert_eq!(granted, expected);
}

#[test]
fn every_command_the_ui_calls_is_registered() {
    let registered = registered_commands();
    let mut called = BTreeSet::new();
    let mut stack = vec![manifest_dir().join("../ui/js")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            for piece in source.split("call('").skip(1) {
                called.insert(piece.split('\'').next().unwrap().to_owned());
            }
        }
    }
    assert!(called.len() >= 15, "found the UI's calls: {called:?}");
    let unknown: Vec<_> = called.difference(&registered).collect();
    assert!(unknown.is_empty(), "the UI calls commands the shell does not register: {unknown:?}");
}

#[test]
fn the_content_security_policy_is_strict() {
    let text = std::fs::read_to_string(manifest_dir().join("tauri.conf.json")).unwrap();
    let config: serde_json::Value = serde_json::from_str(&text).unwrap();
    let csp = config["app"]["security"]["csp"].as_str().unwrap();
    for directive in ["default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'none'"] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval") && !csp.contains('*'), "{csp}");
}
