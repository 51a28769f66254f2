#!/usr/bin/env bash
# Set up what is missing, build Chaff, and run it.
#   ./run.sh            the desktop app (local Docker, state in the platform data directory)
#   ./run.sh ARGS...    the `chaff` command line with ARGS, e.g. ./run.sh status
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
if [ $# -eq 0 ]; then
  exec cargo run --quiet --release --locked -p chaff-desktop
fi
exec cargo run --quiet --release --locked -p chaff-cli -- "$@"
