#!/usr/bin/env bash
# Set up what is missing, then run the whole test suite: the plugin workspace's own tests
# (natively), the desktop UI's logic (node) and every test of the main workspace (real wasm
# plugins, real Compose tool, real Docker, the real desktop app in WebKit under Xvfb).
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
echo "== formatting and lints"
cargo fmt --all --check
(cd plugins && cargo fmt --all --check)
cargo clippy --locked --workspace --all-targets -- -D warnings
echo "== ui/ (the desktop UI's logic, node --test)"
node --test ui/tests/
echo "== plugins/ (native unit tests of every plugin)"
cargo test --locked --manifest-path plugins/Cargo.toml --workspace
echo "== main workspace"
cargo test --locked --workspace
