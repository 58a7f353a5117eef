#!/bin/bash
# crusoe-ial, boot mode ipxe, for {{server_name}}.
# Crusoe runs this as root after the network is up, on every boot of Linux. It turns this VM's
# boot disk into a disk that holds only Cycle's iPXE image and reboots into it: from then on the
# firmware starts Cycle's iPXE, which pulls CycleOS, and Linux never runs again. (An image
# builder, `crusoe-ial image build`, runs the same conversion and powers off instead, so that its
# disk can be imaged.)
# Nothing is written to the disk until the image is downloaded, checked and staged in memory, so
# a failure before that leaves this VM in Linux with the reason on the console; restarting the
# server runs this script again.
set -Eeuo pipefail
umask 077

readonly IPXE_URL='{{ipxe_url}}'
readonly IPXE_SHA256='{{ipxe_sha256}}'  # empty: not pinned
readonly IPXE_FORMAT='{{ipxe_format}}'  # iso: written raw; efi: put in an EFI system partition
readonly FINISH='{{finish}}'            # reboot: a server; poweroff: an image builder
readonly SERVER='{{server_name}}'

# Unset on a server: the disk holding / is converted and the VM reboots. The boot test sets it to
# a disk image file, which is then converted in the same way, and nothing else on the machine
# running the test is touched (no unmount, no reboot).
TARGET="${CRUSOE_IAL_TARGET:-}"
on_server=1
if [ -n "$TARGET" ]; then on_server=0; fi

# Everything written lies in the first 64 MiB (and the disk's last 33 sectors), clear of the
# root partition of Ubuntu's cloud images (it starts at 111 MiB), so the running Linux cannot
# write over the new disk before the reboot.
readonly MIN_BYTES=16384
readonly MAX_BYTES=$((32 * 1024 * 1024))
readonly ESP_START_MIB=1
readonly ESP_MIB=63
readonly WRITE_END_MIB=$((ESP_START_MIB + ESP_MIB))
readonly ESP_TYPE=C12A7328-F81F-11D2-BA4B-00A0C93EC93B
readonly SECURE_BOOT_VAR=/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c

if [ "$on_server" = 1 ] && [ -w /dev/console ]; then
  # The serial console, where an operator looks when a server does not come up.
  exec > >(tee -a /dev/console) 2>&1
fi

log() { printf 'crusoe-ial[%s] %s %s\n' "$SERVER" "$(date -u +%H:%M:%S)" "$*"; }

disk_changed=0
fail() {
  if [ "$disk_changed" = 0 ]; then
    log "FAILED: $*. The boot disk was not changed and this VM stays in Linux; correct the cause (bridge.boot.ipxe_url, bridge.boot.ipxe_sha256) and restart the server to try again."
  else
    log "FAILED after the boot disk was changed: $*. Restart the server; if it does not reach iPXE, decommission it and provision it again."
  fi
  exit 1
}
trap 'fail "line $LINENO: \"$BASH_COMMAND\" exited with status $?"' ERR

# Bytes of a file as lower-case hex, and a little-endian 32-bit number.
hex_at() { od -An -v -tx1 -j "$2" -N "$3" "$1" | tr -d ' \n'; }
u32_at() { od -An -tu4 -j "$2" -N 4 "$1" | tr -d ' \n'; }

# Commands the conversion needs, each with the Debian/Ubuntu package that has it.
require() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" > /dev/null || missing+=("${pair#*:}")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "installing ${missing[*]} (not on this image)"
  local attempt
  for attempt in 1 2 3 4 5; do
    if apt-get -qq -o DPkg::Lock::Timeout=120 update \
      && DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=120 \
        install -y --no-install-recommends "${missing[@]}" > /dev/null; then
      return 0
    fi
    log "installing ${missing[*]} failed (attempt $attempt of 5)"
    sleep $((attempt * 5))
  done
  fail "could not install ${missing[*]}"
}

# Sets TARGET to the whole disk under /, refusing anything but a partition of a plain disk.
find_boot_disk() {
  local source parent
  source=$(findmnt -n -o SOURCE --target /)
  parent=$(lsblk -n -d -o PKNAME "$source" 2> /dev/null || true)
  [ -n "$parent" ] || fail "cannot tell which disk holds / (it is on $source)"
  [ "$(lsblk -n -d -o TYPE "/dev/$parent")" = disk ] \
    || fail "/ is on $source, which is not a partition of a plain disk"
  local start_sectors
  start_sectors=$(cat "/sys/class/block/$(basename "$(readlink -f "$source")")/start")
  [ $((start_sectors * 512)) -ge $((WRITE_END_MIB * 1024 * 1024)) ] \
    || fail "the root partition starts at sector $start_sectors, inside the first $WRITE_END_MIB MiB that the iPXE disk needs"
  TARGET="/dev/$parent"
}

log "step 1/6: checking tools and firmware"
tools=(curl:curl sha256sum:coreutils od:coreutils dd:coreutils cmp:diffutils sfdisk:fdisk)
if [ "$IPXE_FORMAT" = efi ]; then
  tools+=(mkfs.vfat:dosfstools mmd:mtools mcopy:mtools)
fi
require "${tools[@]}"
if [ "$on_server" = 1 ]; then
  [ "$(id -u)" = 0 ] || fail "must run as root"
  if [ -d /sys/firmware/efi ]; then firmware=uefi; else firmware=bios; fi
  log "this VM boots with $firmware firmware"
  if [ "$firmware" = bios ] && [ "$IPXE_FORMAT" = efi ]; then
    fail "an .efi image cannot boot a BIOS VM; set bridge.boot.ipxe_url to Cycle's iPXE .iso"
  fi
  find_boot_disk
  sector_size=$(blockdev --getss "$TARGET")
  disk_bytes=$(blockdev --getsize64 "$TARGET")
else
  [ -f "$TARGET" ] || fail "CRUSOE_IAL_TARGET=$TARGET is not a disk image file"
  firmware=any
  sector_size=512
  disk_bytes=$(stat -c %s "$TARGET")
fi
log "boot disk $TARGET: $disk_bytes bytes, $sector_size-byte sectors"
[ "$sector_size" = 512 ] \
  || fail "the boot disk has $sector_size-byte sectors; an iPXE disk is made for 512-byte sectors only"
[ "$disk_bytes" -gt $(((WRITE_END_MIB + 1) * 1024 * 1024)) ] || fail "the boot disk is too small"

if ! work=$(mktemp -d /dev/shm/crusoe-ial.XXXXXX 2> /dev/null); then
  work=$(mktemp -d)
  log "no /dev/shm: staging in $work instead"
fi
trap 'rm -rf "$work"' EXIT
export MTOOLS_SKIP_CHECK=1

log "step 2/6: downloading $IPXE_URL"
curl --fail --location --silent --show-error --proto '=http,https' --proto-redir '=http,https' \
  --connect-timeout 15 --max-time 300 --retry 8 --retry-max-time 600 --retry-connrefused \
  --max-filesize "$MAX_BYTES" --output "$work/image" "$IPXE_URL" \
  || fail "downloading $IPXE_URL failed (curl exit status $?)"

log "step 3/6: checking the image"
size=$(stat -c %s "$work/image")
[ "$size" -ge "$MIN_BYTES" ] || fail "the image is $size bytes, too small to be iPXE"
[ "$size" -le "$MAX_BYTES" ] || fail "the image is $size bytes, more than $MAX_BYTES"
sum=$(sha256sum "$work/image" | cut -d ' ' -f 1)
log "downloaded $size bytes, sha256 $sum"
if [ -n "$IPXE_SHA256" ] && [ "$sum" != "$IPXE_SHA256" ]; then
  fail "its sha256 is $sum but bridge.boot.ipxe_sha256 is $IPXE_SHA256"
fi
case "$IPXE_FORMAT" in
  iso)
    [ "$(hex_at "$work/image" 32769 5)" = 4344303031 ] || fail "the image is not an ISO 9660 image"
    [ "$(hex_at "$work/image" 510 2)" = 55aa ] \
      || fail "the ISO has no hybrid boot record, so it can boot from a CD but not from a disk"
    if [ "$firmware" = uefi ]; then
      # Firmware boots a disk from its EFI system partition; the ISO's El Torito entry is for CDs.
      grep -qiE "type=(ef|$ESP_TYPE)" <<< "$(sfdisk --dump "$work/image" 2> /dev/null)" \
        || fail "this VM boots with UEFI and the ISO has no EFI system partition; set bridge.boot.ipxe_url to Cycle's iPXE .efi"
      # The loader inside an ISO cannot be checked for a signature here: with Secure Boot on,
      # the firmware might refuse it after the disk is gone.
      if [ -f "$SECURE_BOOT_VAR" ] && [ "$(hex_at "$SECURE_BOOT_VAR" 4 1)" = 01 ]; then
        fail "Secure Boot is on and an ISO's loader cannot be checked; set bridge.boot.ipxe_url to Cycle's iPXE .efi"
      fi
    fi
    ;;
  efi)
    [ "$(hex_at "$work/image" 0 2)" = 4d5a ] || fail "the image is not an EFI executable (no MZ header)"
    pe=$(u32_at "$work/image" 60)
    if [ "$pe" -le 0 ] || [ "$pe" -ge $((size - 176)) ]; then fail "the image has no PE header"; fi
    [ "$(hex_at "$work/image" "$pe" 4)" = 50450000 ] || fail "the image has no PE header"
    machine=$(hex_at "$work/image" $((pe + 4)) 2)
    [ "$machine" = 6486 ] || fail "the image is not built for x86-64 (PE machine $machine)"
    if [ "$on_server" = 1 ] && [ -f "$SECURE_BOOT_VAR" ] \
      && [ "$(hex_at "$SECURE_BOOT_VAR" 4 1)" = 01 ]; then
      # The certificate table of a PE32+ image: data directory 4 of its optional header.
      [ "$(u32_at "$work/image" $((pe + 172)))" != 0 ] \
        || fail "Secure Boot is on and the image is not signed: the firmware would refuse it"
      log "Secure Boot is on; the image is signed, the firmware checks the signature"
    fi
    ;;
  *) fail "unknown image format $IPXE_FORMAT" ;;
esac

log "step 4/6: staging the iPXE disk in memory"
if [ "$IPXE_FORMAT" = efi ]; then
  payload="$work/esp.img"
  mkfs.vfat -F 32 -n CYCLEIPXE -C "$payload" $((ESP_MIB * 1024)) > /dev/null
  mmd -i "$payload" ::/EFI ::/EFI/BOOT
  mcopy -i "$payload" "$work/image" ::/EFI/BOOT/BOOTX64.EFI
  mcopy -n -i "$payload" ::/EFI/BOOT/BOOTX64.EFI "$work/readback"
  cmp -s "$work/image" "$work/readback" || fail "the staged EFI system partition does not hold the image"
  offset=$((ESP_START_MIB * 1024 * 1024))
else
  payload="$work/image"
  offset=0
fi
payload_bytes=$(stat -c %s "$payload")

log "step 5/6: writing the iPXE disk over $TARGET"
if [ "$on_server" = 1 ] && mountpoint -q /boot/efi; then
  # Nothing may write the old EFI partition back over the new disk.
  umount /boot/efi || umount -l /boot/efi
fi
disk_changed=1
if [ "$IPXE_FORMAT" = efi ]; then
  # A new GPT (its backup at the disk's end too) with one EFI system partition, no Linux's.
  sfdisk --quiet --no-reread --no-tell-kernel --wipe always --label gpt "$TARGET" << TABLE
start=${ESP_START_MIB}MiB, size=${ESP_MIB}MiB, type=$ESP_TYPE, name="Cycle iPXE"
TABLE
else
  # The old disk's backup GPT, in its last 33 sectors, would still describe Linux's partitions.
  dd if=/dev/zero of="$TARGET" bs=512 seek=$((disk_bytes / 512 - 33)) count=33 \
    conv=notrunc,fsync status=none
fi
dd if="$payload" of="$TARGET" bs=1M seek="$offset" oflag=seek_bytes conv=notrunc,fsync status=none
sync
if [ "$on_server" = 1 ]; then blockdev --flushbufs "$TARGET"; fi
cmp -s -n "$payload_bytes" "$payload" "$TARGET" 0 "$offset" \
  || fail "what was read back from $TARGET differs from what was written"
log "the boot disk now holds only Cycle's iPXE ($IPXE_FORMAT image, sha256 $sum)"

if [ "$FINISH" = poweroff ]; then
  log "step 6/6: powering off, for the disk to be imaged"
else
  log "step 6/6: rebooting into Cycle's iPXE"
fi
if [ "$on_server" = 0 ]; then
  log "$TARGET is an image file: no $FINISH"
  exit 0
fi
sleep 2
# At once, without unmounting: the root file system's disk is no longer Linux's.
echo 1 > /proc/sys/kernel/sysrq
{{finish_command}}
