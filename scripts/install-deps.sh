#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian machine. Idempotent; quiet when all is present.
set -euo pipefail
pkgs=(libcap-dev libsqlite3-dev libpq-dev postgresql util-linux iproute2 file binutils python3-yaml python3-pytest python3-jsonschema
      qemu-system-x86 busybox-static cpio e2fsprogs tmux gcc libc6-dev
      golang-go golang-github-containerd-go-runc-dev golang-github-opencontainers-specs-dev runc podman
      zlib1g-dev libzstd-dev libssl-dev zstd curl docker-registry skopeo umoci
      valgrind prometheus)  # valgrind: scripts/supervisor-order.sh (HotCodeOrderTests); promtool: the metrics endpoint's output is checked by it (SupervisorTests MetricsTests)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The simulator and the schema check use the python3 on PATH (may be pyenv's, not Debian's).
python3 - <<'PY' || python3 -m pip install -q pyyaml pytest jsonschema
import yaml, pytest, jsonschema
PY
