//! CloudSigma's boot model in QEMU: a server boots Cycle's iPXE ISO attached as an IDE CD-ROM
//! (boot order 1), its data disk on virtio (boot order 2), with a virtio NIC, the server's uuid
//! and the NIC's MAC assigned by the cloud; iPXE must then present exactly that uuid and MAC.
//! [`boot_and_record`] is the harness (a CloudSigma simulator's drive and identity in, what iPXE
//! presented out); the tests below run it on Debian's `ipxe.iso`, under SeaBIOS and under OVMF.
//!
//! CloudSigma rounds an uploaded drive up (to at least 512 MiB), so the CD the server sees is the
//! ISO followed by zeros; the harness extends its copy of the ISO, sparse, to the drive's size,
//! and these tests are what check that the zeros do not disturb El Torito.
//!
//! Measured here (QEMU in software emulation, 2 cores, `-machine pc`, one boot at a time): under
//! SeaBIOS iPXE reported about 6 s after QEMU started; under OVMF, which boots the ISO's EFI El
//! Torito entry from the IDE CD (`BdsDxe: starting Boot0001 "UEFI QEMU DVD-ROM QM00003"`), about
//! 17 s.

use crate::common;

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::boot::{boot_tools, start_loopback, Firmware, Qemu, DEBIAN_IPXE_ISO};

/// A boot that has not reached iPXE by then has failed (about 17 s under UEFI in software
/// emulation, 6 s under BIOS; the margin is for two boots at a time on a loaded 2-core machine).
const BOOT_TIMEOUT: Duration = Duration::from_secs(150);

/// A server as CloudSigma holds it: its boot CD, its data disk and the identity the cloud gave it.
#[derive(Debug, Clone)]
pub struct CdServer {
    /// The ISO image as uploaded (the file is read, never changed).
    pub iso: PathBuf,
    /// The drive's size as the cloud reports it: the ISO's copy is extended to it, sparse, with
    /// zeros, since CloudSigma rounds uploaded drives up to at least 512 MiB. At least the ISO's
    /// own length.
    pub iso_size: u64,
    /// The data disk (sparse, raw), kept in `dir` across boots as a stopped server keeps it.
    pub data_disk_bytes: u64,
    /// The server's uuid, which QEMU gives as the SMBIOS UUID.
    pub uuid: String,
    /// The NICs' MACs in the order the cloud lists them; the first is the boot NIC.
    pub macs: Vec<String>,
}

/// What iPXE presented at one boot, and how long after QEMU started it did.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// iPXE's `${uuid}`.
    pub uuid: String,
    /// iPXE's `${net0/mac}`.
    pub mac: String,
    /// iPXE's `${platform}`: `pcbios` or `efi`.
    pub platform: String,
    pub took: Duration,
}

/// Copies `from` to `to` sparse (blocks of zeros are skipped, not written), then sets its length
/// to `size`: a drive the cloud holds larger than the file uploaded, zeros after it.
fn sparse_copy_extended(from: &Path, to: &Path, size: u64) {
    let mut src =
        std::fs::File::open(from).unwrap_or_else(|e| panic!("the ISO {}: {e}", from.display()));
    let len = src.metadata().unwrap().len();
    assert!(
        size >= len,
        "the drive ({size} bytes) is smaller than the ISO {} ({len} bytes)",
        from.display()
    );
    if let Ok(there) = std::fs::metadata(to) {
        use std::os::unix::fs::MetadataExt;
        let iso = src.metadata().unwrap();
        assert!(
            (there.dev(), there.ino()) != (iso.dev(), iso.ino()),
            "{} would be copied onto itself",
            from.display()
        );
    }
    let mut dst = std::fs::File::create(to).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = src.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        if buf[..n].iter().all(|&b| b == 0) {
            dst.seek(SeekFrom::Current(n as i64)).unwrap();
        } else {
            dst.write_all(&buf[..n]).unwrap();
        }
    }
    dst.set_len(size).unwrap();
}

/// The first `<stem>-<n>.log` in `dir` not yet there: each boot in the same directory keeps its
/// own console.
fn next_console(dir: &Path, stem: &str) -> PathBuf {
    (1..)
        .map(|n| dir.join(format!("{stem}-{n}.log")))
        .find(|p| !p.exists())
        .unwrap()
}

/// Boots `server` as CloudSigma would, under SeaBIOS ([`Firmware::Bios`]) or OVMF
/// ([`Firmware::Uefi`]) on QEMU's `pc` machine, and returns what iPXE presented: the ISO (copied
/// into `dir` and extended to `iso_size`) on an IDE CD with `bootindex=1`, a raw data disk of
/// `data_disk_bytes` on virtio-blk with `bootindex=2`, one virtio-net NIC per MAC without a ROM
/// of its own (only the ISO's iPXE drives them), each on a user-mode network of its own, the
/// first's DHCP boot file the loopback script that has iPXE report `${uuid}`, `${net0/mac}` and
/// `${platform}`. QEMU is stopped once iPXE has reported; panics with the console's end if it
/// does not within [`BOOT_TIMEOUT`].
///
/// Called again with the same `dir`, the server restarts as after a stop and a start: the same
/// data disk and (under UEFI) the same NVRAM; the ISO is copied afresh.
pub async fn boot_and_record(server: &CdServer, firmware: Firmware, dir: &Path) -> Recorded {
    boot_tools();
    assert!(
        firmware != Firmware::SecureBoot,
        "CloudSigma's boot is modelled under SeaBIOS and OVMF without Secure Boot"
    );
    assert!(!server.macs.is_empty(), "a server has at least one NIC");
    let cd = dir.join("cd.iso");
    sparse_copy_extended(&server.iso, &cd, server.iso_size);
    let disk = dir.join("data-disk.raw");
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&disk)
        .unwrap()
        .set_len(server.data_disk_bytes)
        .unwrap();

    let lb = start_loopback(Vec::new()).await;
    let serial = next_console(dir, "serial");
    let mut cmd = Qemu::command(&server.uuid, &serial);
    cmd.args(["-machine", "pc"]);
    if let Some(code) = firmware.ovmf_code() {
        let vars = dir.join("OVMF_VARS.fd");
        if !vars.exists() {
            firmware.new_vars(dir);
        }
        cmd.arg("-drive")
            .arg(format!(
                "if=pflash,format=raw,unit=0,readonly=on,file={code}"
            ))
            .arg("-drive")
            .arg(format!(
                "if=pflash,format=raw,unit=1,file={}",
                vars.display()
            ));
    }
    cmd.arg("-drive")
        .arg(format!(
            "if=none,media=cdrom,id=cd0,format=raw,readonly=on,file={}",
            cd.display()
        ))
        .args(["-device", "ide-cd,drive=cd0,bootindex=1"])
        .arg("-drive")
        .arg(format!(
            "if=none,id=disk0,format=raw,file={}",
            disk.display()
        ))
        .args(["-device", "virtio-blk-pci,drive=disk0,bootindex=2"]);
    for (i, mac) in server.macs.iter().enumerate() {
        let netdev = if i == 0 {
            format!("user,id=net0,bootfile={}", lb.guest_url("boot.ipxe"))
        } else {
            format!("user,id=net{i}")
        };
        // romfile= : no boot ROM of the NIC's own, so only the ISO's iPXE can drive it.
        cmd.arg("-netdev")
            .arg(netdev)
            .arg("-device")
            .arg(format!("virtio-net-pci,netdev=net{i},mac={mac},romfile="));
    }
    let mut qemu = Qemu::spawn(cmd, &serial);
    let what = format!(
        "{firmware:?} boot of {} from an IDE CD",
        server.iso.display()
    );
    let took = qemu.wait_for_reports(&lb, 1, BOOT_TIMEOUT, &what).await;
    let console = qemu.console();
    qemu.stop().await;
    let reports = lb.reports();
    assert_eq!(
        reports.len(),
        1,
        "one report per boot: {reports:?}\n{console}"
    );
    let r = &reports[0];
    assert!(r.user_agent.starts_with("iPXE/"), "{}", r.user_agent);
    Recorded {
        uuid: r.uuid.clone(),
        mac: r.mac.clone(),
        platform: r.platform.clone(),
        took,
    }
}

/// Debian's iPXE ISO as CloudSigma would hold it after an upload: rounded up to 512 MiB.
fn debian_iso_server(uuid: &str, macs: &[&str]) -> CdServer {
    CdServer {
        iso: PathBuf::from(DEBIAN_IPXE_ISO),
        iso_size: 536_870_912,
        data_disk_bytes: 10 << 30,
        uuid: uuid.to_string(),
        macs: macs.iter().map(|m| m.to_string()).collect(),
    }
}

/// Written past the test harness's capture, so that every run (CI's too) shows the timings.
fn print_time(what: &str, took: Duration) {
    let _ = writeln!(
        std::io::stderr(),
        "boot test, CloudSigma CD-ROM, {what} in {:.1} s",
        took.as_secs_f64()
    );
}

fn assert_identity(r: &Recorded, server: &CdServer, platform: &str) {
    assert_eq!(
        r.uuid,
        server.uuid.to_lowercase(),
        "iPXE's ${{uuid}} is the server's"
    );
    assert_eq!(
        r.mac,
        server.macs[0].to_lowercase(),
        "iPXE's ${{net0/mac}} is the first NIC's"
    );
    assert_eq!(r.platform, platform);
}

#[tokio::test]
async fn bios_boots_the_ipxe_iso_from_an_ide_cd_with_the_given_identity() {
    let server = debian_iso_server(
        "3f2b8c1e-6d4a-4e0b-9a71-5c2d8e4f1a60",
        &["52:54:00:5a:c1:01", "52:54:00:5a:c1:02"],
    );
    let dir = tempfile::tempdir().unwrap();
    let r = boot_and_record(&server, Firmware::Bios, dir.path()).await;
    print_time(
        "BIOS with Debian's ipxe.iso extended to 512 MiB: iPXE reported",
        r.took,
    );
    assert_identity(&r, &server, "pcbios");
    // The CD the guest saw: the drive's size, the zeros after the ISO not written.
    use std::os::unix::fs::MetadataExt;
    let cd = std::fs::metadata(dir.path().join("cd.iso")).unwrap();
    assert_eq!(cd.len(), 536_870_912);
    assert!(
        cd.blocks() * 512 < 16 << 20,
        "sparse: {} blocks",
        cd.blocks()
    );
}

#[tokio::test]
async fn uefi_boots_the_ipxe_iso_from_an_ide_cd_with_the_given_identity() {
    let server = debian_iso_server(
        "9c4e1d7a-2b5f-4c83-8e16-0a7b3d9f2c45",
        &["52:54:00:5a:c2:01", "52:54:00:5a:c2:02"],
    );
    let dir = tempfile::tempdir().unwrap();
    let r = boot_and_record(&server, Firmware::Uefi, dir.path()).await;
    print_time(
        "UEFI (OVMF) with Debian's ipxe.iso extended to 512 MiB: iPXE reported",
        r.took,
    );
    assert_identity(&r, &server, "efi");
}

/// A restart through stop and start: QEMU ends and starts again on the same drives, NVRAM and
/// identity, and iPXE presents the same identity both times.
#[tokio::test]
async fn uefi_boots_the_ipxe_iso_again_after_a_stop_and_start_with_the_same_identity() {
    let server = debian_iso_server(
        "5e8a0f3c-7d21-4b9e-a6c4-1f0e2d3b4a59",
        &["52:54:00:5a:c3:01"],
    );
    let dir = tempfile::tempdir().unwrap();
    let first = boot_and_record(&server, Firmware::Uefi, dir.path()).await;
    let second = boot_and_record(&server, Firmware::Uefi, dir.path()).await;
    print_time(
        &format!(
            "UEFI (OVMF), stop and start: first boot {:.1} s, iPXE reported again",
            first.took.as_secs_f64()
        ),
        second.took,
    );
    for r in [&first, &second] {
        assert_identity(r, &server, "efi");
    }
}
