#!/usr/bin/env bash
# Build the molecule base image locally (no registry is reachable): debootstrap a minimal
# Debian bookworm with systemd, tmux, python3, sudo and openssh, and `docker import` it.
# The tag is a hash of this script (which holds the package list), so the image is rebuilt
# only when what goes into it changes. Prints the image tag on stdout (last line).
#
# Usage: scripts/build-image.sh [--print-tag]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache"

SUITE=bookworm
# What the fleet role and the scenarios need on a host, nothing more.
PACKAGES=(
  systemd systemd-sysv dbus dbus-user-session
  tmux python3 sudo procps
  openssh-server openssh-client
  iproute2 ca-certificates
  # What Debian servers normally carry and Ansible's apt module needs (without it the module
  # installs it from the network on first use). check_first removes it to test a bare host.
  python3-apt
)

hash=$( { cat "$0"; } | sha256sum | cut -c1-12)
TAG="mosaic-fleet-test:$hash"
if [ "${1:-}" = "--print-tag" ]; then echo "$TAG"; exit 0; fi

# `:current` names the newest build, for running `molecule` by hand without this script.
CURRENT=mosaic-fleet-test:current
if docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "build-image.sh: $TAG exists" >&2
  docker tag "$TAG" "$CURRENT"
  echo "$TAG"
  exit 0
fi

[ "$(id -u)" = 0 ] || { echo "build-image.sh: debootstrap needs root" >&2; exit 1; }
if ! command -v debootstrap >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends debootstrap
fi

start=$(date +%s)
mkdir -p "$cache"
rootfs=$(mktemp -d "$cache/rootfs.XXXXXX")
trap 'rm -rf "$rootfs"' EXIT
echo "build-image.sh: debootstrap $SUITE into $rootfs (log: $cache/debootstrap.log)" >&2
if ! debootstrap --variant=minbase --include="$(IFS=,; echo "${PACKAGES[*]}")" \
     "$SUITE" "$rootfs" >"$cache/debootstrap.log" 2>&1; then
  tail -n 40 "$cache/debootstrap.log" >&2
  exit 1
fi

# Each container must get its own machine id (systemd writes one at first boot).
: >"$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id"
# Host keys are generated per container at first boot (below), never baked into the image.
rm -f "$rootfs"/etc/ssh/ssh_host_*
mkdir -p "$rootfs/etc/systemd/system/ssh.service.d"
cat >"$rootfs/etc/systemd/system/ssh.service.d/10-hostkeys.conf" <<'EOF'
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
EOF
chroot "$rootfs" systemctl enable ssh.service >/dev/null 2>&1
# Units that make no sense (or hang) in a container.
for unit in systemd-networkd-wait-online.service systemd-timesyncd.service \
            getty@tty1.service console-getty.service apt-daily.timer apt-daily-upgrade.timer \
            e2scrub_all.timer e2scrub_reap.service fstrim.timer; do
  chroot "$rootfs" systemctl mask "$unit" >/dev/null 2>&1 || true
done
# Keep the image small: no apt caches, no docs beyond copyright.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
       "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/*/changelog* \
       "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
rm -rf "$rootfs"/var/log/*.log "$rootfs"/tmp/* "$rootfs"/var/tmp/*

tar -C "$rootfs" -c . | docker import \
  --change 'CMD ["/lib/systemd/systemd"]' \
  --change 'ENV container=docker' \
  - "$TAG" >/dev/null
docker tag "$TAG" "$CURRENT"
# Older builds are dead weight (~200 MB each).
docker images --format '{{.Repository}}:{{.Tag}}' mosaic-fleet-test |
  grep -vxF -e "$TAG" -e "$CURRENT" | xargs -r docker rmi >/dev/null 2>&1 || true
echo "build-image.sh: built $TAG in $(( $(date +%s) - start ))s" >&2
echo "$TAG"
