//! The boot chain for real, on a live Linux: a Debian VM laid out like Ubuntu's cloud image
//! (`scripts/test-vm.sh`) boots, runs the startup script the bridge rendered for a server as
//! Crusoe runs startup scripts (as root, in /, after the network is up), the script rewrites the
//! disk that holds its own `/` and reboots, and the same disk then boots Cycle's iPXE, which
//! reports the `uuid`, `mac_addr` and platform provision-status answered. Under UEFI (.efi), BIOS
//! (.iso) and Secure Boot (OVMF with Microsoft's keys, Linux started by Debian's signed shim and
//! grub). And the refusals, on the live system: each leaves Linux running, the reason on the
//! serial console, and every byte the script could have written as it was.
//!
//! Each VM runs in a qcow2 overlay of the cached disk, so a run's writes are its own and can be
//! read back by position (`qemu-img map`). Every QEMU run has a hard timeout and is stopped by its
//! pid; each phase's time is printed.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::boot::{
    boot_tools, render, sha256_hex, start_loopback, test_vm, with_input, Firmware, Loopback,
    Machine, Qemu, DEBIAN_IPXE_EFI, DEBIAN_IPXE_ISO,
};
use common::harness::Harness;
use common::quick_sim_config;
use crusoe_sim::SimConfig;
use serde_json::Value;

/// Linux to its startup unit took 30-37 s here in software emulation, the script 8-13 s more;
/// the margin is for a loaded CI machine.
const LINUX_TIMEOUT: Duration = Duration::from_secs(300);
const IPXE_TIMEOUT: Duration = Duration::from_secs(150);
/// Where the root partition starts: everything the script may write lies before it, or in the
/// disk's last 33 sectors.
const ROOT_START: u64 = 227_328 * 512;

fn phase(test: &str, what: &str, took: Duration) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "live boot test, {test}: {what} in {:.1} s",
        took.as_secs_f64()
    );
}

/// One VM: an overlay of the test VM's disk in a directory of its own, and its NVRAM.
struct Vm {
    dir: tempfile::TempDir,
    image: PathBuf,
    disk: PathBuf,
    vars: Option<PathBuf>,
    firmware: Firmware,
}

impl Vm {
    fn new(firmware: Firmware) -> Self {
        Self::on(firmware, &test_vm().join("disk.raw"))
    }

    fn on(firmware: Firmware, base: &Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let disk = dir.path().join("disk.qcow2");
        let made = std::process::Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
            .arg(base)
            .arg(&disk)
            .status()
            .unwrap();
        assert!(made.success(), "qemu-img create");
        let vars = firmware.new_vars(dir.path());
        Self {
            image: test_vm(),
            dir,
            disk,
            vars,
            firmware,
        }
    }

    /// Boots Linux with `scripts` for its runner (and its `flags`): from the disk through shim
    /// and grub under Secure Boot, as Crusoe's images boot; otherwise with the kernel given to
    /// QEMU, which boots the same root. QEMU exits when the guest reboots.
    fn boot_linux(&self, uuid: &str, mac: &str, scripts: &[String], flags: &[&str]) -> Qemu {
        let mut fw_cfg = Vec::new();
        for (i, script) in scripts.iter().enumerate() {
            let file = self.dir.path().join(format!("script-{}.sh", i + 1));
            std::fs::write(&file, script).unwrap();
            fw_cfg.push((format!("opt/crusoe/script-{}", i + 1), file));
        }
        for flag in flags {
            let file = self.dir.path().join(flag);
            std::fs::write(&file, "1").unwrap();
            fw_cfg.push((format!("opt/crusoe/{flag}"), file));
        }
        let kernel = (self.firmware != Firmware::SecureBoot)
            .then(|| (self.image.join("vmlinuz"), self.image.join("initrd.img")));
        Qemu::start(&Machine {
            kernel,
            fw_cfg,
            exit_at_reboot: true,
            ..self.machine(uuid, mac, "linux.log")
        })
    }

    /// Boots the disk alone, as Crusoe boots the VM again: iPXE, if the script made it.
    fn boot_disk(&self, uuid: &str, mac: &str, lb: &Loopback) -> Qemu {
        Qemu::start(&Machine {
            bootfile: Some(lb.guest_url("boot.ipxe")),
            ..self.machine(uuid, mac, "second-boot.log")
        })
    }

    /// This VM's machine with the identity given, booting its disk, its console in `serial`.
    fn machine<'a>(&'a self, uuid: &'a str, mac: &'a str, serial: &str) -> Machine<'a> {
        Machine {
            firmware: self.firmware,
            vars: self.vars.as_deref(),
            disk: &self.disk,
            uuid,
            mac,
            bootfile: None,
            kernel: None,
            fw_cfg: Vec::new(),
            exit_at_reboot: false,
            serial: self.dir.path().join(serial),
        }
    }

    /// The ranges of the disk this VM's run has written, from the overlay's own clusters.
    fn written(&self) -> Vec<(u64, u64)> {
        let out = std::process::Command::new("qemu-img")
            .args(["map", "--output=json"])
            .arg(&self.disk)
            .output()
            .unwrap();
        assert!(out.status.success(), "qemu-img map");
        let map: Value = serde_json::from_slice(&out.stdout).unwrap();
        map.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["depth"] == 0 && e["data"] == true)
            .map(|e| {
                let start = e["start"].as_u64().unwrap();
                (start, start + e["length"].as_u64().unwrap())
            })
            .collect()
    }

    /// Whether any byte the script could write (everything before the root partition, and the
    /// last 33 sectors) was written: Linux itself writes only its root file system (/boot/efi
    /// is mounted read-only in the test VM).
    fn script_area_written(&self) -> Vec<(u64, u64)> {
        let size = std::fs::metadata(self.image.join("disk.raw"))
            .unwrap()
            .len();
        self.written()
            .into_iter()
            .filter(|(start, end)| *start < ROOT_START || *end > size - 33 * 512)
            .collect()
    }
}

/// A server provisioned through the bridge in boot mode ipxe with `image`: the identity
/// provision-status reported, the VM's id and MAC as Crusoe reports them, and its script.
struct Provisioned {
    uuid: String,
    mac: String,
    vm_id: String,
    crusoe_mac: String,
    script: String,
    _bridge: Harness,
}

async fn provision(lb: &Loopback, image: &str, sha256: Option<String>) -> Provisioned {
    let mut settings = common::harness::test_settings();
    settings.boot.ipxe_url = Some(lb.guest_url(&format!("image/{image}")));
    settings.boot.ipxe_sha256 = sha256;
    let h = Harness::start(
        SimConfig {
            upper_case_macs: true,
            ..quick_sim_config()
        },
        settings,
    )
    .await;
    let status = h.provision_ready("c1a.4x", "us-east1-a").await.status;
    let vm = h.project()["vms"][0].clone();
    Provisioned {
        uuid: status["auth"]["uuid"].as_str().unwrap().to_string(),
        mac: status["auth"]["mac_addr"].as_str().unwrap().to_string(),
        vm_id: vm["id"].as_str().unwrap().to_string(),
        crusoe_mac: vm["network_interfaces"][0]["mac_address"]
            .as_str()
            .unwrap()
            .to_string(),
        script: vm["sim"]["startup_script"].as_str().unwrap().to_string(),
        _bridge: h,
    }
}

fn file_sha(path: &str) -> String {
    sha256_hex(&std::fs::read(path).unwrap())
}

/// The console lines the script printed (`crusoe-ial[<server>] <time> ...`), without the
/// journal's prefix.
fn script_lines(console: &str) -> Vec<String> {
    console
        .lines()
        .filter_map(|l| {
            l.find("crusoe-ial[")
                .map(|at| l[at..].trim_end().to_string())
        })
        .collect()
}

/// Provision, boot Linux, let the script rewrite its own disk and reboot, boot the disk again and
/// compare what iPXE presents with what provision-status reported.
async fn comes_back_as_ipxe(firmware: Firmware) {
    boot_tools();
    let test = format!("{firmware:?}");
    let (image, debian, platform) = match firmware {
        Firmware::Bios => ("ipxe.iso", DEBIAN_IPXE_ISO, "pcbios"),
        _ => ("ipxe.efi", DEBIAN_IPXE_EFI, "efi"),
    };
    let lb = start_loopback(Vec::new()).await;
    let server = provision(&lb, image, Some(file_sha(debian))).await;
    let vm = Vm::new(firmware);
    // Under UEFI, a boot entry as Ubuntu's installer leaves it, first in BootOrder.
    let flags: &[&str] = if firmware == Firmware::Uefi {
        &["stale-boot-entry"]
    } else {
        &[]
    };
    let mut linux = vm.boot_linux(
        &server.vm_id,
        &server.crusoe_mac,
        std::slice::from_ref(&server.script),
        flags,
    );
    let took = linux.wait_exit(LINUX_TIMEOUT, "the first boot").await;
    let console = linux.serial();
    phase(&test, "Linux booted, ran the script and rebooted", took);
    let lines = script_lines(&console);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("the boot disk now holds only Cycle's iPXE")),
        "{console}"
    );
    let mut seen = std::collections::HashSet::new();
    let twice: Vec<&String> = lines.iter().filter(|l| !seen.insert(*l)).collect();
    assert!(
        twice.is_empty(),
        "each line once on the console: {twice:#?}"
    );
    if firmware == Firmware::Uefi {
        assert!(
            console.contains("made boot entry ubuntu"),
            "the stale entry was made: {console}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("removed the firmware's boot entry") && l.contains("(ubuntu)")),
            "{console}"
        );
    }

    let mut again = vm.boot_disk(&server.vm_id, &server.crusoe_mac, &lb);
    let took = again
        .wait_for_reports(&lb, 1, IPXE_TIMEOUT, "the boot after the script")
        .await;
    let console = again.serial();
    again.stop().await;
    phase(&test, "the disk booted into iPXE, which reported", took);
    let reports = lb.reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].uuid, server.uuid, "iPXE's ${{uuid}}");
    assert_eq!(reports[0].mac, server.mac, "iPXE's ${{net0/mac}}");
    assert_eq!(reports[0].platform, platform);
    assert!(
        !console.contains("\"ubuntu\""),
        "the firmware no longer tries the old entry: {console}"
    );
}

#[tokio::test]
async fn under_uefi_linux_rewrites_its_own_disk_and_comes_back_as_ipxe() {
    comes_back_as_ipxe(Firmware::Uefi).await;
}

#[tokio::test]
async fn under_bios_linux_rewrites_its_own_disk_and_comes_back_as_ipxe() {
    comes_back_as_ipxe(Firmware::Bios).await;
}

/// Runs `scripts` on a live Linux that must refuse each (Linux stays up), and checks that each
/// printed its reason and nothing the script could write was written.
async fn refused(vm: &Vm, test: &str, scripts: &[(String, &str)], flags: &[&str]) {
    let started = Instant::now();
    let mut linux = vm.boot_linux(
        "5d9a3a6e-0c4f-4a51-9a3e-2f0bdf1a7c01",
        "02:00:00:aa:bb:cc",
        &scripts.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>(),
        flags,
    );
    linux
        .wait_console("crusoe-runner: done", LINUX_TIMEOUT, test)
        .await;
    let console = linux.serial();
    linux.stop().await;
    phase(
        test,
        "Linux booted and refused every script",
        started.elapsed(),
    );
    let lines = script_lines(&console);
    for (i, (_, why)) in scripts.iter().enumerate() {
        assert!(
            console.contains(&format!("script {} exited with status 1", i + 1)),
            "script {} failed: {console}",
            i + 1
        );
        let failed: Vec<&String> = lines.iter().filter(|l| l.contains("FAILED")).collect();
        assert!(
            failed.iter().any(|l| l.contains(why)
                && l.contains("The boot disk was not changed and this VM stays in Linux")),
            "script {}: expected {why:?} in {failed:#?}\n{console}",
            i + 1
        );
    }
    assert_eq!(
        vm.script_area_written(),
        Vec::<(u64, u64)>::new(),
        "{test}: nothing before the root partition nor in the last sectors was written"
    );
}

#[tokio::test]
async fn under_uefi_a_bad_image_and_a_busy_boot_efi_are_refused_and_the_disk_is_untouched() {
    boot_tools();
    let lb = start_loopback(Vec::new()).await;
    let efi = lb.guest_url("image/ipxe.efi");
    refused(
        &Vm::new(Firmware::Uefi),
        "UEFI refusals",
        &[
            (render(efi.clone(), Some("0".repeat(64))), "sha256 is"),
            // With a process holding /boot/efi (the flag below), the right image.
            (
                render(efi, Some(file_sha(DEBIAN_IPXE_EFI))),
                "/boot/efi cannot be unmounted",
            ),
        ],
        &["hold-boot-efi"],
    )
    .await;
}

/// The test VM's disk with an MBR instead of its GPT: the EFI system partition, and root running
/// to the disk's very last sector, where a backup GPT would be.
fn mbr_disk(dir: &Path) -> PathBuf {
    let disk = dir.join("mbr.raw");
    let copied = std::process::Command::new("cp")
        .args(["--sparse=always"])
        .arg(test_vm().join("disk.raw"))
        .arg(&disk)
        .status()
        .unwrap();
    assert!(copied.success());
    let sfdisk = with_input(
        std::process::Command::new("sfdisk")
            .args(["--quiet", "--wipe", "never"])
            .arg(&disk),
        b"label: dos\nstart=227328, type=83\nstart=10240, size=217088, type=ef\n",
    );
    assert!(sfdisk.status.success());
    disk
}

#[tokio::test]
async fn under_bios_the_wrong_format_and_a_root_reaching_the_disks_end_are_refused() {
    boot_tools();
    let lb = start_loopback(Vec::new()).await;
    let base = tempfile::tempdir().unwrap();
    let vm = Vm::on(Firmware::Bios, &mbr_disk(base.path()));
    refused(
        &vm,
        "BIOS refusals",
        &[
            (
                render(lb.guest_url("image/ipxe.efi"), None),
                "an .efi image cannot boot a BIOS VM",
            ),
            (
                render(
                    lb.guest_url("image/ipxe.iso"),
                    Some(file_sha(DEBIAN_IPXE_ISO)),
                ),
                "inside the disk's last 33 sectors",
            ),
        ],
        &[],
    )
    .await;
}

#[tokio::test]
async fn under_secure_boot_only_an_image_the_firmware_trusts_is_written() {
    boot_tools();
    let vm_dir = test_vm();
    let shim = std::fs::read(vm_dir.join("shimx64.efi")).unwrap();
    let grub = std::fs::read(vm_dir.join("grubx64.efi")).unwrap();
    let lb = start_loopback(vec![
        ("trusted.efi".to_string(), shim.clone()),
        ("debian-signed.efi".to_string(), grub),
    ])
    .await;
    // Debian's unsigned iPXE, and grub signed by Debian's key (which only shim trusts) are
    // refused; shim, signed by Microsoft's UEFI CA, which the firmware's db holds, is written.
    let scripts = [
        render(lb.guest_url("image/ipxe.efi"), None),
        render(lb.guest_url("image/debian-signed.efi"), None),
        render(lb.guest_url("image/trusted.efi"), Some(sha256_hex(&shim))),
    ];
    let vm = Vm::new(Firmware::SecureBoot);
    let mut linux = vm.boot_linux(
        "5d9a3a6e-0c4f-4a51-9a3e-2f0bdf1a7c02",
        "02:00:00:aa:bb:cd",
        &scripts,
        &[],
    );
    let took = linux
        .wait_exit(LINUX_TIMEOUT, "Linux under Secure Boot")
        .await;
    let console = linux.serial();
    phase(
        "Secure Boot",
        "shim, grub and Linux booted, two images refused, one written",
        took,
    );
    assert!(
        console.contains("Secure Boot is on"),
        "Linux ran under Secure Boot: {console}"
    );
    let lines = script_lines(&console);
    let failed: Vec<&String> = lines.iter().filter(|l| l.contains("FAILED")).collect();
    assert_eq!(failed.len(), 2, "{failed:#?}\n{console}");
    assert!(failed[0].contains("not signed"), "{failed:#?}");
    assert!(failed[1].contains("does not trust"), "{failed:#?}");
    assert!(
        failed
            .iter()
            .all(|l| l.contains("The boot disk was not changed")),
        "{failed:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("the boot disk now holds only Cycle's iPXE")),
        "{console}"
    );
    // The firmware itself starts the written image: shim runs (and, alone on the disk, finds no
    // grub to start), where an untrusted one would have been refused.
    let mut again = vm.boot_disk(
        "5d9a3a6e-0c4f-4a51-9a3e-2f0bdf1a7c02",
        "02:00:00:aa:bb:cd",
        &lb,
    );
    let took = again
        .wait_console("grubx64.efi", IPXE_TIMEOUT, "the boot after the script")
        .await;
    let console = again.serial();
    again.stop().await;
    phase(
        "Secure Boot",
        "the firmware started the written image",
        took,
    );
    assert!(!console.contains("Access Denied"), "{console}");
}
