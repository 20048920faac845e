#!/usr/bin/env bash
# Installs what the tests, the demo and the benchmarks need, and nothing else:
#   - tansu 0.6.0, the Kafka-protocol broker the tests run against (~10 min to build once;
#     `cargo install` returns at once when that version is already installed)
#   - tmux (the end-to-end test drives the real binary in it)
#   - OpenSSL headers and pkg-config (librdkafka is built with SSL and SASL/SCRAM)
#   - a Python venv with confluent-kafka (its librdkafka 2.16 mock cluster writes transaction
#     markers; the transactional-source test runs it through tests/helpers/txn_mock.py)
# Safe to run again: every step checks first.
set -euo pipefail

TANSU_VERSION=0.6.0
need_apt=()
command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)
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
