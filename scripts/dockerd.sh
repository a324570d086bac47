#!/usr/bin/env bash
# Make sure a docker daemon answers: install docker.io when it is missing (Debian/Ubuntu, root),
# start dockerd in the background when nothing answers (logs in .cache/dockerd.log), and wait
# for `docker info`. CI machines have no init system that would start it for us.
# Idempotent: a no-op when `docker info` already answers.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache"
mkdir -p "$cache"

apt_install() {
  [ "$(id -u)" = 0 ] || { echo "dockerd.sh: need root to install: $*" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "$@"
}

if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
  apt_install docker.io
fi

docker info >/dev/null 2>&1 && exit 0

[ "$(id -u)" = 0 ] || { echo "dockerd.sh: docker is not answering and only root can start dockerd" >&2; exit 1; }

# A stale pid file from a daemon that died makes a new one refuse to start.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
  rm -f /var/run/docker.pid
fi
if ! pgrep -x dockerd >/dev/null; then
  echo "dockerd.sh: starting dockerd (log: $cache/dockerd.log)"
  # setsid: the daemon must outlive this script and the make target that called it.
  setsid dockerd >>"$cache/dockerd.log" 2>&1 < /dev/null &
fi
for _ in $(seq 1 120); do
  docker info >/dev/null 2>&1 && { echo "dockerd.sh: docker is up"; exit 0; }
  sleep 0.5
done
echo "dockerd.sh: docker did not answer within 60 s; last lines of $cache/dockerd.log:" >&2
tail -n 30 "$cache/dockerd.log" >&2 || true
exit 1
