#!/usr/bin/env bash
# Machine prerequisites that a venv cannot provide: tmux, python3-venv, docker and debootstrap
# (for the molecule scenarios). Idempotent; a no-op when everything is there.
set -euo pipefail
need=()
command -v tmux >/dev/null || need+=(tmux)
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
command -v git >/dev/null || need+=(git)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "ci-prereqs: need root to install: ${need[*]}" >&2; exit 1; }
  apt-get update -q
  apt-get install -y -q "${need[@]}"
fi
