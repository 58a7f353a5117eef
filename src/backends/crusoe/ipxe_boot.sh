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
readonly EFIVARS=/sys/firmware/efi/efivars
readonly SECURE_BOOT_VAR=$EFIVARS/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c
# The image security databases: what the firmware trusts (db) and what it forbids (dbx).
readonly DB_VAR=$EFIVARS/db-d719b2cb-3d3a-4596-a3bc-dad00e67656f
readonly DBX_VAR=$EFIVARS/dbx-d719b2cb-3d3a-4596-a3bc-dad00e67656f

# The serial console is where an operator looks when a server does not come up. A runner that
# already sends this script's output there (systemd's journal with `journal+console`, a terminal)
# would show each line twice if it were also copied.
stdout_is_journal() {
  [ -n "${JOURNAL_STREAM:-}" ] && [ "$(stat -L -c '%d:%i' "/proc/$$/fd/1" 2> /dev/null)" = "$JOURNAL_STREAM" ]
}
if [ "$on_server" = 1 ] && [ -w /dev/console ] && [ ! -t 1 ] && ! stdout_is_journal; then
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
bytes_at() { dd if="$1" iflag=skip_bytes,count_bytes skip="$2" count="$3" bs=64K status=none; }
u32_at() { od -An -tu4 -j "$2" -N 4 "$1" | tr -d ' \n'; }

# Commands the conversion needs, each with the Debian/Ubuntu package that has it.
require() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" > /dev/null && continue
    # Several commands come in one package: each package once.
    [[ " ${missing[*]} " == *" ${pair#*:} "* ]] || missing+=("${pair#*:}")
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
  TARGET="/dev/$parent"
}

# Every partition the new disk does not replace (all but the EFI system and BIOS boot
# partitions) must lie wholly between the first WRITE_END_MIB MiB and the last 33 sectors, which
# are all that is written: both of its ends are checked, whatever the partition table.
check_partitions() {
  local first=$((WRITE_END_MIB * 2048)) last=$(($1 - 33)) line name start size type
  while IFS= read -r line; do
    [[ $line == *" : "*start=* ]] || continue
    name=${line%% :*}
    start=$(sed -n 's/.*start= *\([0-9]*\).*/\1/p' <<< "$line")
    size=$(sed -n 's/.*size= *\([0-9]*\).*/\1/p' <<< "$line")
    type=$(sed -n 's/.*type= *\([0-9A-Za-z-]*\).*/\1/p' <<< "$line")
    case "${type^^}" in
      "$ESP_TYPE" | EF | 21686148-6449-6E6F-744E-656564454649) continue ;;
    esac
    [ "$start" -ge "$first" ] \
      || fail "partition $name starts at sector $start, inside the first $WRITE_END_MIB MiB that the iPXE disk needs"
    [ $((start + size)) -le "$last" ] \
      || fail "partition $name ends at sector $((start + size - 1)), inside the disk's last 33 sectors, which the iPXE disk needs"
  done < <(sfdisk --dump "$TARGET" 2> /dev/null)
}

# The firmware's boot entries that start an OS from a file on a disk (Ubuntu's `ubuntu`,
# Debian's `debian`): they name the old EFI system partition, which is gone. Removed, the
# firmware goes straight to the disk's own loader, \EFI\BOOT\BOOTX64.EFI, rather than failing
# them first; where efibootmgr cannot, it still falls back to that loader.
remove_old_boot_entries() {
  if ! command -v efibootmgr > /dev/null; then
    log "efibootmgr is not installed: the firmware's boot entries are left; it falls back to the disk's loader"
    return 0
  fi
  local line num label tab=$'\t'
  local entry="^Boot([0-9A-Fa-f]{4})[*]?[[:space:]]([^${tab}]*)${tab}(.*)$"
  while IFS= read -r line; do
    [[ $line =~ $entry ]] || continue
    num=${BASH_REMATCH[1]}
    label=${BASH_REMATCH[2]}
    [[ ${BASH_REMATCH[3]} == *HD\(*File\(* ]] || continue
    if efibootmgr --quiet --bootnum "$num" --delete-bootnum; then
      log "removed the firmware's boot entry Boot$num ($label), which started Linux from the old disk"
    else
      log "could not remove the firmware's boot entry Boot$num ($label); the firmware will fall back to the disk's loader"
    fi
  done < <(efibootmgr -v 2> /dev/null || true)
}

# Whether the firmware itself would start `image` with Secure Boot on, decided as EDK2's image
# verification does (OVMF, and the firmware of most clouds): a signature whose signed digest is
# the image's Authenticode hash and that chains to a certificate in db, with neither the image's
# hash nor any certificate of the signature in dbx. A signature alone proves nothing: Debian's
# grub is signed, by a key only shim trusts, and a firmware refusing the disk's only loader
# leaves a server that boots nothing. Whatever cannot be checked is a refusal.
secure_boot_trusts() {
  local image=$1 d="$work/secure-boot" n i digest hash256 hash1 signed trusted=0 off hl len
  mkdir -p "$d"
  [ -r "$DB_VAR" ] || fail "Secure Boot is on and the firmware's db cannot be read"
  # efivarfs files cannot seek: read whole, then drop the 4 bytes of attributes.
  cat "$DB_VAR" > "$d/db.var"
  tail -c +5 "$d/db.var" > "$d/db.esl"
  if [ -e "$DBX_VAR" ]; then
    cat "$DBX_VAR" > "$d/dbx.var"
    tail -c +5 "$d/dbx.var" > "$d/dbx.esl"
  else
    : > "$d/dbx.esl"
  fi
  sb_split "$d" db || fail "Secure Boot is on and the firmware's db cannot be read as signature lists"
  sb_split "$d" dbx || fail "Secure Boot is on and the firmware's dbx cannot be read as signature lists"
  [ ! -s "$d/dbx.unknown" ] || fail "Secure Boot is on and dbx holds entries this script cannot check"
  hash256=$(pesign -h -d sha256 -i "$image" 2> /dev/null | awk '/^hash:/ { print $2 }')
  hash1=$(pesign -h -d sha1 -i "$image" 2> /dev/null | awk '/^hash:/ { print $2 }')
  [[ $hash256 =~ ^[0-9a-f]{64}$ && $hash1 =~ ^[0-9a-f]{40}$ ]] \
    || fail "Secure Boot is on and the image's Authenticode hash cannot be computed"
  if grep -qix -e "$hash256" -e "$hash1" "$d/dbx.sha256" "$d/dbx.sha1"; then
    fail "Secure Boot is on and the firmware's dbx forbids this image (its hash is listed)"
  fi
  if grep -qix -e "$hash256" -e "$hash1" "$d/db.sha256" "$d/db.sha1"; then return 0; fi
  n=$(sbverify --list "$image" 2> /dev/null | grep -c '^signature ' || true)
  [ "$n" -gt 0 ] || fail "Secure Boot is on and the image is not signed: the firmware would refuse it"
  for ((i = 1; i <= n; i++)); do
    if ! sbattach --detach "$d/sig$i.p7" --signum "$i" "$image" > /dev/null 2>&1 \
      || [ ! -s "$d/sig$i.p7" ]; then
      fail "Secure Boot is on and the image's signature $i cannot be read"
    fi
    # What a signature signs: its SpcIndirectDataContent (after the OID 1.3.6.1.4.1.311.2.1.4),
    # whose last octet string is the image's digest.
    openssl asn1parse -inform DER -in "$d/sig$i.p7" > "$d/sig$i.asn" 2> /dev/null \
      || fail "Secure Boot is on and the image's signature $i is not a PKCS#7 structure"
    off=''
    read -r off hl len < <(awk '/:1\.3\.6\.1\.4\.1\.311\.2\.1\.4/ { f = 1; next }
      f && /SEQUENCE/ { split($1, a, ":"); match($0, /hl= *[0-9]+/); h = substr($0, RSTART + 3, RLENGTH - 3) + 0
        match($0, / l= *[0-9]+/); l = substr($0, RSTART + 3, RLENGTH - 3) + 0; print a[1], h, l; exit }' "$d/sig$i.asn") || true
    [ -n "${off:-}" ] || fail "Secure Boot is on and the image's signature $i is not an Authenticode signature"
    bytes_at "$d/sig$i.p7" $((off + hl)) "$len" > "$d/spc$i.bin"
    bytes_at "$d/sig$i.p7" "$off" $((hl + len)) > "$d/spc$i.der"
    openssl asn1parse -inform DER -in "$d/spc$i.der" > "$d/spc$i.asn" 2> /dev/null \
      || fail "Secure Boot is on and the image's signature $i cannot be read"
    digest=$(awk '/prim: OBJECT/ { o = $NF } END { sub(/^:/, "", o); print o }' "$d/spc$i.asn")
    signed=$(sed -n 's/.*OCTET STRING *\[HEX DUMP\]://p' "$d/spc$i.asn" | tail -1 | tr 'A-F' 'a-f')
    case "$digest" in
      sha256) [ "$signed" = "$hash256" ] || continue ;;
      sha1) [ "$signed" = "$hash1" ] || continue ;;
      *) continue ;;
    esac
    # A signature chaining to a forbidden certificate, or carrying one, forbids the image.
    if [ -s "$d/dbx.pem" ] && sb_verifies "$d/dbx.pem" "$d/sig$i.p7" "$d/spc$i.bin"; then
      fail "Secure Boot is on and the firmware's dbx forbids the image's signer"
    fi
    sb_signers_forbidden "$d" "$i"
    if [ -s "$d/db.pem" ] && sb_verifies "$d/db.pem" "$d/sig$i.p7" "$d/spc$i.bin"; then trusted=1; fi
  done
  [ "$trusted" = 1 ] \
    || fail "Secure Boot is on and the firmware's db does not trust the image's signature: the firmware would refuse it"
}

# The PKCS#7 verification EDK2 makes: the given certificates as the only anchors, an anchor
# anywhere in the chain, and no check of time or purpose (the firmware has neither).
sb_verifies() {
  openssl smime -verify -binary -inform DER -in "$2" -content "$3" -CAfile "$1" -no-CApath \
    -no-CAstore -partial_chain -no_check_time -purpose any -out /dev/null > /dev/null 2>&1
}

# Whether a certificate the signature carries is in dbx, itself or by its hash.
sb_signers_forbidden() {
  local d=$1 i=$2 cert a h tbs off hl len
  openssl pkcs7 -inform DER -in "$d/sig$i.p7" -print_certs -out "$d/certs$i.pem" 2> /dev/null \
    || fail "Secure Boot is on and the certificates of the image's signature $i cannot be read"
  rm -f "$d"/carried-*.pem
  awk -v d="$d" '/BEGIN CERT/ { n++; f = d "/carried-" n ".pem"; on = 1 } on { print > f } /END CERT/ { on = 0; close(f) }' "$d/certs$i.pem"
  for cert in "$d"/carried-*.pem; do
    [ -e "$cert" ] || continue
    openssl x509 -in "$cert" -outform DER -out "$d/carried.der" 2> /dev/null \
      || fail "Secure Boot is on and a certificate of the image's signature cannot be read"
    for a in "$d"/dbx-*.der; do
      if [ -e "$a" ] && cmp -s "$a" "$d/carried.der"; then
        fail "Secure Boot is on and the firmware's dbx forbids a certificate of the image's signature"
      fi
    done
    off=''
    # The certificate's TBSCertificate, the second structure in it, is what dbx hashes.
    read -r off hl len < <(openssl asn1parse -inform DER -in "$d/carried.der" \
      | awk 'NR == 2 { split($1, a, ":"); match($0, /hl= *[0-9]+/); h = substr($0, RSTART + 3, RLENGTH - 3) + 0
          match($0, / l= *[0-9]+/); l = substr($0, RSTART + 3, RLENGTH - 3) + 0; print a[1], h, l }') || true
    [ -n "$off" ] || fail "Secure Boot is on and a certificate of the image's signature cannot be read"
    tbs="$d/carried.tbs"
    bytes_at "$d/carried.der" "$off" $((hl + len)) > "$tbs"
    for a in sha256 sha384 sha512; do
      [ -s "$d/dbx.x509$a" ] || continue
      h=$(openssl dgst "-$a" -r "$tbs" | cut -d ' ' -f 1)
      if grep -qix "$h" "$d/dbx.x509$a"; then
        fail "Secure Boot is on and the firmware's dbx revokes a certificate of the image's signature"
      fi
    done
  done
}

# Splits the signature lists of $1/$2.esl (EFI_SIGNATURE_LIST: type GUID, list size, header size,
# signature size, header, then entries of an owner GUID and data) into $1/$2.pem (X.509
# certificates, also $1/$2-N.der), $1/$2.sha256 and .sha1 (hashes), .x509sha256/384/512
# (certificate hashes) and .unknown (other types). Fails on a malformed list.
sb_split() {
  local d=$1 name=$2 f="$1/$2.esl" size off=0 type lsize hsize ssize count i at k=0 kind
  for kind in pem sha256 sha1 x509sha256 x509sha384 x509sha512 unknown; do : > "$d/$name.$kind"; done
  size=$(stat -c %s "$f")
  while [ "$off" -lt "$size" ]; do
    [ $((size - off)) -ge 28 ] || return 1
    type=$(hex_at "$f" "$off" 16)
    read -r lsize hsize ssize < <(od -An -v -tu4 --endian=little -j $((off + 16)) -N 12 "$f")
    if [ "$ssize" -le 16 ] || [ "$lsize" -lt $((28 + hsize)) ] || [ $((off + lsize)) -gt "$size" ] \
      || [ $(((lsize - 28 - hsize) % ssize)) -ne 0 ]; then
      return 1
    fi
    count=$(((lsize - 28 - hsize) / ssize))
    for ((i = 0; i < count; i++)); do
      at=$((off + 28 + hsize + i * ssize + 16))
      case "$type" in
        a159c0a5e494a74a87b5ab155c2bf072)
          bytes_at "$f" "$at" $((ssize - 16)) > "$d/$name-$k.der"
          openssl x509 -inform DER -in "$d/$name-$k.der" >> "$d/$name.pem" 2> /dev/null || return 1
          k=$((k + 1))
          ;;
        2616c4c14c509240aca941f936934328) { hex_at "$f" "$at" 32; echo; } >> "$d/$name.sha256" ;;
        12a56c8210cfc94ab187be01496631bd) { hex_at "$f" "$at" 20; echo; } >> "$d/$name.sha1" ;;
        92a4d23bc0967940b420fcf98ef103ed) { hex_at "$f" "$at" 32; echo; } >> "$d/$name.x509sha256" ;;
        6e877670c280e64eaad228b349a6865b) { hex_at "$f" "$at" 48; echo; } >> "$d/$name.x509sha384" ;;
        63bf6d440225da4cbcfa2465d2b0fe9d) { hex_at "$f" "$at" 64; echo; } >> "$d/$name.x509sha512" ;;
        *) echo "$type" >> "$d/$name.unknown" ;;
      esac
    done
    off=$((off + lsize))
  done
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
check_partitions $((disk_bytes / 512))

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
      require openssl:openssl sbverify:sbsigntool sbattach:sbsigntool pesign:pesign
      secure_boot_trusts "$work/image"
      log "Secure Boot is on; the firmware's db trusts the image's signature and dbx does not forbid it"
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
  # Nothing may write the old EFI partition back over the new disk. A lazy unmount would let
  # its write-back land inside the new one: a busy /boot/efi stops the script instead.
  umount /boot/efi || fail "/boot/efi cannot be unmounted (a process is using it); nothing was written"
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
if [ "$on_server" = 1 ] && [ "$firmware" = uefi ]; then remove_old_boot_entries; fi

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
