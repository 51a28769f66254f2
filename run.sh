#!/usr/bin/env bash
# Set up what is missing, build Chaff, and run it: `./run.sh [chaff arguments]`.
# With no arguments it renders the example lab (examples/lab.ini) to lab-compose.yml.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
if [ $# -eq 0 ]; then
  set -- render --config examples/lab.ini -o lab-compose.yml
fi
exec cargo run --quiet --release --locked -p chaff-cli -- "$@"
