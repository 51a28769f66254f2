#!/usr/bin/env bash
# Installs what building and testing Chaff needs, idempotently: Debian packages, the
# wasm32-wasip2 Rust target, rustfmt and clippy, and the Compose tool used to validate
# rendered projects.
# Safe to run any number of times; does nothing when everything is present.
set -euo pipefail

# libc6-dev: the static glibc the sensor binary links; iproute2: the macvlan test's parent interface.
# The rest are the real clients and scanner the sensor's emulators are tested against.
APT_PACKAGES=(build-essential libc6-dev pkg-config docker-compose iproute2
  openssh-client sshpass curl redis-tools mariadb-client lftp ftp swaks telnet nmap netcat-openbsd
  postgresql-client freetds-bin dnsutils snmp tftp-hpa smbclient freerdp2-x11 sipsak
  python3-pymodbus python3-serial-asyncio mosquitto-clients ldap-utils python3-pymongo
  # arping: the ARP who-has the sniffer's veth test sends.
  iputils-arping
  # The desktop app: WebKitGTK and friends to build it, a virtual display, WebKit's WebDriver
  # and node (the UI's unit tests) to test it.
  libwebkit2gtk-4.1-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev libgtk-3-dev libssl-dev
  libxdo-dev librsvg2-dev libayatana-appindicator3-dev file xvfb xauth webkit2gtk-driver)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

for component in rustfmt clippy; do
  rustup component list --installed | grep -q "^$component" || rustup component add "$component"
done

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  echo "setup: adding the wasm32-wasip2 Rust target"
  rustup target add wasm32-wasip2
fi

# node runs the UI's unit tests (`node --test`); any recent one will do, Debian's included.
if ! command -v node >/dev/null; then
  echo "setup: installing nodejs"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs
fi

# tauri-driver bridges WebDriver to WebKitWebDriver for the desktop app's end-to-end tests.
TAURI_DRIVER_VERSION=2.1.0
if ! command -v tauri-driver >/dev/null && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ]; then
  echo "setup: installing tauri-driver $TAURI_DRIVER_VERSION"
  cargo install tauri-driver --locked --version "$TAURI_DRIVER_VERSION"
fi
