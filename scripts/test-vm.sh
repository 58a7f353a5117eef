#!/usr/bin/env bash
# Builds the Linux VM the live boot test (tests/boot/live.rs) boots: Debian bookworm from Debian's
# packages, on a 1.5 GiB disk laid out like Ubuntu 22.04's cloud image (BIOS boot p14 at sector
# 2048, EFI system partition p15 at 10240 labelled UEFI and mounted at /boot/efi, root p1 from
# sector 227328 labelled cloudimg-rootfs), with Debian's signed shim and grub on the ESP (so that
# it boots under Secure Boot) and a stand-in for Crusoe's startup-script runner: a oneshot unit
# after network-online.target that runs, as root in /, each script QEMU hands it through fw_cfg.
#
# No mount anywhere: mmdebstrap makes the root directory, `mkfs.ext4 -d` and mtools make the file
# systems on image files, sfdisk the table, dd places them.
#
# Prints the directory holding disk.raw, vmlinuz and initrd.img. The build is cached under
# ${XDG_CACHE_HOME:-~/.cache}/crusoe-ial-test-vm/<key>, keyed by this file's contents (its package
# list among them), and made again when absent. A failed download fails the build: the test
# needs the VM and never skips.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
"$here/boot-tools.sh"

key=$(sha256sum "$0" | cut -c1-16)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/crusoe-ial-test-vm"
out="$cache/$key"
mkdir -p "$cache"
# One builder at a time: the live tests start concurrently.
exec 9> "$cache/.lock"
flock 9
if [ -f "$out/done" ]; then
  echo "$out"
  exit 0
fi

packages=(
  systemd-sysv udev kmod linux-image-amd64 initramfs-tools
  curl ca-certificates coreutils diffutils util-linux fdisk dosfstools mtools
  efibootmgr sbsigntool pesign openssl
  shim-signed grub-efi-amd64-signed
)
readonly DISK_MIB=1536
readonly ESP_START=10240 ESP_SECTORS=217088 ROOT_START=227328
root_sectors=$((DISK_MIB * 2048 - ROOT_START - 34))

work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

started=$SECONDS
mmdebstrap --quiet --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" \
  --customize-hook='echo crusoe-test > "$1/etc/hostname"' \
  --customize-hook='printf "LABEL=cloudimg-rootfs / ext4 defaults 0 1\nLABEL=UEFI /boot/efi vfat ro,umask=0077 0 2\n" > "$1/etc/fstab"' \
  --customize-hook='mkdir -p "$1/boot/efi"' \
  --customize-hook='printf "[Match]\nName=en*\n[Network]\nDHCP=yes\n" > "$1/etc/systemd/network/10-dhcp.network"' \
  --customize-hook='echo qemu_fw_cfg > "$1/etc/modules-load.d/crusoe-test.conf"' \
  --customize-hook="cp '$here/test-vm/crusoe-runner' \"\$1/usr/local/sbin/crusoe-runner\"" \
  --customize-hook="cp '$here/test-vm/crusoe-startup.service' \"\$1/etc/systemd/system/\"" \
  --customize-hook='chmod 755 "$1/usr/local/sbin/crusoe-runner"' \
  --customize-hook='chroot "$1" systemctl enable systemd-networkd systemd-networkd-wait-online crusoe-startup.service' \
  --customize-hook='chroot "$1" passwd -d root' \
  bookworm "$rootfs" http://deb.debian.org/debian
echo "test VM: root directory made in $((SECONDS - started)) s" >&2

mkdir -p "$out.tmp"
cp -L "$rootfs/vmlinuz" "$out.tmp/vmlinuz"
cp -L "$rootfs/initrd.img" "$out.tmp/initrd.img"
# Images the Secure Boot test serves: one the firmware trusts (shim, signed by Microsoft's UEFI
# CA) and one it does not (grub, signed by Debian's key, which only shim trusts).
cp "$rootfs/usr/lib/shim/shimx64.efi.signed" "$out.tmp/shimx64.efi"
cp "$rootfs/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed" "$out.tmp/grubx64.efi"

# The ESP: Debian's signed shim as the fallback loader, its signed grub beside it, and the
# config grub reads from there.
esp="$work/esp.img"
mkfs.vfat -n UEFI -C "$esp" $((ESP_SECTORS / 2)) > /dev/null
export MTOOLS_SKIP_CHECK=1
mmd -i "$esp" ::/EFI ::/EFI/BOOT ::/EFI/debian
mcopy -i "$esp" "$rootfs/usr/lib/shim/shimx64.efi.signed" ::/EFI/BOOT/BOOTX64.EFI
mcopy -i "$esp" "$rootfs/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed" ::/EFI/BOOT/grubx64.efi
cat > "$work/grub.cfg" << 'CFG'
set timeout=0
search --no-floppy --label --set=root cloudimg-rootfs
linux /vmlinuz root=LABEL=cloudimg-rootfs ro console=ttyS0
initrd /initrd.img
boot
CFG
mcopy -i "$esp" "$work/grub.cfg" ::/EFI/BOOT/grub.cfg
mcopy -i "$esp" "$work/grub.cfg" ::/EFI/debian/grub.cfg

root="$work/root.img"
mkfs.ext4 -q -L cloudimg-rootfs -d "$rootfs" "$root" $((root_sectors / 2))k > /dev/null
disk="$out.tmp/disk.raw"
truncate -s "${DISK_MIB}M" "$disk"
# Numbered as in Ubuntu's image: root p1, BIOS boot p14, ESP p15.
sfdisk --quiet "$disk" << TABLE
label: gpt
${disk}14 : start=2048, size=8192, type=21686148-6449-6E6F-744E-656564454649, name="BIOS boot"
${disk}15 : start=$ESP_START, size=$ESP_SECTORS, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="UEFI"
${disk}1 : start=$ROOT_START, size=$root_sectors, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="cloudimg-rootfs"
TABLE
dd if="$esp" of="$disk" bs=512 seek="$ESP_START" conv=notrunc,sparse status=none
dd if="$root" of="$disk" bs=1M seek=$((ROOT_START * 512)) oflag=seek_bytes conv=notrunc,sparse status=none
touch "$out.tmp/done"
rm -rf "$out"
mv "$out.tmp" "$out"
echo "test VM: built in $((SECONDS - started)) s, $(du -h "$out/disk.raw" | cut -f1) allocated" >&2
echo "$out"
