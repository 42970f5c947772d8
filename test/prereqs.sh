#!/usr/bin/env bash
# System packages the test suite needs. Missing ones are installed with apt when
# running as root; otherwise the run stops with a message naming them.
# Nothing is ever skipped because a component is missing.
set -euo pipefail

declare -A CHECK=(
  [clickhouse-server]="/usr/sbin/clickhouse-server"
  [doctest-dev]="/usr/include/doctest/doctest.h"
  [zookeeperd]="/usr/share/java/zookeeper.jar"
)

missing=()
for pkg in "${!CHECK[@]}"; do
  [ -e "${CHECK[$pkg]}" ] || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "npm test needs these Debian packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "installing test prerequisites: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
# The Debian package starts a system-wide server; tests start their own.
if command -v service >/dev/null 2>&1; then service clickhouse-server stop >/dev/null 2>&1 || true; fi
# Same for ZooKeeper: the cluster tests run their own on a free port.
if command -v service >/dev/null 2>&1; then service zookeeper stop >/dev/null 2>&1 || true; fi
