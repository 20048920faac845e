#!/usr/bin/env bash
# Installs what the tests, the demo and the benchmarks need, and nothing else:
#   - tansu 0.6.0, the Kafka-protocol broker the tests run against (~10 min to build once;
#     `cargo install` returns at once when that version is already installed)
#   - tmux (the end-to-end test drives the real binary in it)
#   - OpenSSL headers and pkg-config (librdkafka is built with SSL and SASL/SCRAM)
#   - Apache Kafka 3.9.1 and 4.3.1 with MirrorMaker 2, through Maven (the real-Kafka suite)
#   - a Python venv with confluent-kafka (its librdkafka 2.16 mock cluster writes transaction
#     markers; the transactional-source test runs it through tests/helpers/txn_mock.py)
# Safe to run again: every step checks first.
set -euo pipefail

TANSU_VERSION=0.6.0
need_apt=()
command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)
# `cutover man` is checked by rendering it (tests/shell.rs).
command -v man >/dev/null 2>&1 || need_apt+=(man-db)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
pkg-config --exists openssl 2>/dev/null || need_apt+=(libssl-dev)
command -v make >/dev/null 2>&1 || need_apt+=(make)
if ((${#need_apt[@]})); then
  echo "setup: installing ${need_apt[*]} with apt-get"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

tansu_bin="$(command -v tansu || true)"
[ -n "$tansu_bin" ] || tansu_bin="$HOME/.cargo/bin/tansu"
if [ -x "$tansu_bin" ] && "$tansu_bin" --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
  echo "setup: $("$tansu_bin" --version) at $tansu_bin"
else
  echo "setup: building tansu $TANSU_VERSION (about 10 minutes on 2 cores, once)"
  # --locked: a newer deadpool breaks the build.
  cargo install tansu --version "$TANSU_VERSION" --locked --features libsql,dynostore
fi

venv="${CUTOVER_VENV:-$HOME/.cache/cutover/venv}"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import confluent_kafka' 2>/dev/null; then
  echo "setup: confluent-kafka in $venv"
else
  echo "setup: creating $venv with confluent-kafka"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q confluent-kafka
fi

# Apache Kafka and MirrorMaker 2 for the real-Kafka suite (tests/kafka_*.rs): the source's
# version (3.9.x) and the target's (4.x), through Maven into a cache outside the clone. A
# version is fetched again only when scripts/kafka/pom.xml changed (its hash is kept beside
# the jars); each fetch goes to a fresh directory, so no stale jar stays on the classpath.
KAFKA_VERSIONS=(3.9.1 4.3.1)
kafka_cache="${CUTOVER_KAFKA_CACHE:-$HOME/.cache/cutover/kafka}"
pom="$(cd "$(dirname "$0")" && pwd)/kafka/pom.xml"
pom_hash="$(sha256sum "$pom" | cut -d' ' -f1)"
command -v java >/dev/null 2>&1 || { echo "setup: java 17+ is needed for Apache Kafka (apt-get install openjdk-17-jre-headless)" >&2; exit 1; }
command -v mvn >/dev/null 2>&1 || { echo "setup: mvn is needed to fetch Apache Kafka (apt-get install maven)" >&2; exit 1; }
for v in "${KAFKA_VERSIONS[@]}"; do
  dir="$kafka_cache/$v"
  if [ -f "$dir/.pom-sha256" ] && [ "$(cat "$dir/.pom-sha256")" = "$pom_hash" ]; then
    echo "setup: Apache Kafka $v and MirrorMaker 2 in $dir"
    continue
  fi
  echo "setup: fetching Apache Kafka $v and MirrorMaker 2 through Maven into $dir"
  rm -rf "$dir.partial"
  mvn -q -B -f "$pom" -Dkafka.version="$v" dependency:copy-dependencies -DoutputDirectory="$dir.partial"
  echo "$pom_hash" > "$dir.partial/.pom-sha256"
  rm -rf "$dir"
  mv "$dir.partial" "$dir"
done

# The release build as a bastion gets it: `cargo install --locked --path .` (its shared
# libraries are listed in the README), then the installed binary checks the example config.
install_root="${CUTOVER_INSTALL_ROOT:-$HOME/.cache/cutover/install}"
echo "setup: cargo install --locked --path . --root $install_root"
cargo install --quiet --locked --path "$(cd "$(dirname "$0")/.." && pwd)" --root "$install_root"
"$install_root/bin/cutover" --config "$(cd "$(dirname "$0")/.." && pwd)/config.example.toml" check-config >/dev/null
echo "setup: $("$install_root/bin/cutover" --version) installed in $install_root/bin"
