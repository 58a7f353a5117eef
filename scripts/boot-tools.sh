#!/usr/bin/env bash
# Installs what tests/boot/qemu.rs and tests/boot/live.rs need to boot a converted disk for real: QEMU, OVMF (UEFI),
# Debian's iPXE builds (ipxe.efi, ipxe.iso), the tools the ipxe mode's startup script uses (curl,
# sfdisk, mkfs.vfat, mtools), and shellcheck. Installs only what is missing, once; fails, never
# skips, when it cannot (CI runs as root on a clean machine). Debian/Ubuntu only.
set -euo pipefail

packages=()
need() { # need FILE PACKAGE
  [ -e "$1" ] || packages+=("$2")
}
need /usr/bin/qemu-system-x86_64 qemu-system-x86
need /usr/share/OVMF/OVMF_CODE_4M.fd ovmf
need /usr/lib/ipxe/ipxe.efi ipxe
need /usr/lib/ipxe/ipxe.iso ipxe
need /usr/bin/curl curl
need /usr/bin/mcopy mtools
need /usr/sbin/mkfs.vfat dosfstools
need /usr/sbin/sfdisk fdisk
need /usr/bin/shellcheck shellcheck
# The live test's VM (scripts/test-vm.sh): its root directory, file system and overlays.
need /usr/bin/mmdebstrap mmdebstrap
need /usr/sbin/mkfs.ext4 e2fsprogs
need /usr/bin/qemu-img qemu-utils
[ "${#packages[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "boot tests need ${packages[*]}: run as root, or: sudo apt-get install -y --no-install-recommends ${packages[*]}" >&2
  exit 1
fi
# One installer at a time: the boot tests start concurrently.
mkdir -p target
exec 9> target/.boot-tools.lock
flock 9
export DEBIAN_FRONTEND=noninteractive
for attempt in 1 2 3; do
  if apt-get update -qq && apt-get install -y -qq --no-install-recommends "${packages[@]}" > /dev/null; then
    exit 0
  fi
  echo "apt-get failed (attempt $attempt of 3)" >&2
  sleep $((attempt * 5))
done
echo "could not install ${packages[*]}" >&2
exit 1
