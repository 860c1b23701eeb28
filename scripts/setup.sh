#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine for LabVirt: the Debian packages it runs and tests
# with, then the npm dependencies. Safe to run again; installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  qemu-system-x86 # the hypervisor (KVM when /dev/kvm is usable, TCG otherwise)
  qemu-utils      # qemu-img
  nasm            # assembles the project's test guest
  genisoimage     # makes the test guest's bootable CD-ROM
  procps          # pgrep, used by the tests
  gettext         # msgmerge and msgfmt: po/ catalogue upkeep and checks
  postgresql      # the database tests run on a real PostgreSQL server too
  dash            # the terminals' boot script is tested under dash...
  busybox         # ...and under busybox sh, with busybox wget
  iproute2        # bridges, taps and network namespaces (ip)
  dnsmasq-base    # the DHCP server the agent runs on a bridge (no system service)
  nftables        # turns on connection tracking for bridged guests' connections
  cpio            # packs the Linux test guest's initramfs...
  syslinux        # ...boots it from a FAT disk image...
  syslinux-common
  mtools          # ...written without mounting anything
  dosfstools
  chromium        # the web console's end-to-end tests drive it (playwright-core)
  fonts-dejavu-core # ...with a font to draw the console's text
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "setup: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
