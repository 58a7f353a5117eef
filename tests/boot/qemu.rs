//! Proof by a real boot: the startup script the bridge gives a server in the ipxe mode, run for
//! real against a disk image file standing in for the VM's boot disk, makes a disk that QEMU boots
//! into iPXE (UEFI with OVMF and Debian's `ipxe.efi`; BIOS with SeaBIOS and Debian's `ipxe.iso`),
//! where iPXE presents exactly the `uuid` and `mac_addr` that provision-status reported, at the
//! first boot and again after a reset. And the script's refusals: a bad download never touches
//! the disk.
//!
//! QEMU, OVMF, iPXE and the script's tools are installed by `scripts/boot-tools.sh`; when that
//! cannot install them, these tests fail rather than skip.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::boot::{
    boot_tools, render, sha256_hex, start_loopback, with_input, Firmware, Loopback, Machine, Qemu,
    DEBIAN_IPXE_EFI, DEBIAN_IPXE_ISO,
};
use common::harness::Harness;
use common::quick_sim_config;
use crusoe_sim::SimConfig;
use serde_json::Value;

/// A boot that has not reached iPXE by then has failed (about 15 s under UEFI in software
/// emulation, 7 s under BIOS, on the 2-core machines CI runs on).
const BOOT_TIMEOUT: Duration = Duration::from_secs(150);
const DISK_MIB: u64 = 256;

async fn loopback() -> Loopback {
    let efi = std::fs::read(DEBIAN_IPXE_EFI).unwrap();
    start_loopback(vec![
        ("flaky-ipxe.efi".to_string(), efi.clone()),
        ("mislabelled.iso".to_string(), efi),
        (
            "portal.efi".to_string(),
            format!("<html>{}</html>", "sign in ".repeat(4096)).into_bytes(),
        ),
        ("tiny.efi".to_string(), b"MZ".to_vec()),
    ])
    .await
}

/// The tools installed, the loopback serving images, and a fresh boot disk in a directory of its
/// own, for a script to run against.
async fn ready_to_run() -> (Loopback, tempfile::TempDir, PathBuf) {
    boot_tools();
    let dir = tempfile::tempdir().unwrap();
    let disk = fresh_boot_disk(dir.path());
    (loopback().await, dir, disk)
}

/// A disk image standing in for a fresh VM's boot disk: sparse, with a partition table shaped
/// like Ubuntu's cloud images (BIOS boot, EFI system, root from 111 MiB to the end).
fn fresh_boot_disk(dir: &Path) -> PathBuf {
    let disk = dir.join("boot-disk.img");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(DISK_MIB << 20)
        .unwrap();
    let table = b"label: gpt\nstart=2048, size=8192, type=21686148-6449-6E6F-744E-656564454649\nstart=10240, size=217088, type=U\nstart=227328, type=L\n";
    let sfdisk = with_input(
        std::process::Command::new("sfdisk").args(["--quiet", disk.to_str().unwrap()]),
        table,
    );
    assert!(sfdisk.status.success());
    disk
}

struct ScriptRun {
    ok: bool,
    output: String,
    took: Duration,
}

/// Runs a startup script as Crusoe would, but with the one variable that points it at `disk`
/// instead of the disk holding this machine's `/`.
async fn run_script(script: &str, disk: &Path) -> ScriptRun {
    run_script_with_path(script, disk, &std::env::var("PATH").unwrap_or_default()).await
}

async fn run_script_with_path(script: &str, disk: &Path, search_path: &str) -> ScriptRun {
    assert!(
        disk.is_file(),
        "the target must be an image file, never a device"
    );
    let path = disk.with_extension("sh");
    std::fs::write(&path, script).unwrap();
    let started = Instant::now();
    let out = tokio::process::Command::new("bash")
        .arg(&path)
        .env_clear()
        .env("PATH", search_path)
        .env("CRUSOE_IAL_TARGET", disk)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    ScriptRun {
        ok: out.status.success(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        took: started.elapsed(),
    }
}

fn ipxe_settings(url: String, sha256: Option<String>) -> crusoe_ial::config::BridgeSettings {
    let mut s = common::harness::test_settings();
    s.boot.ipxe_url = Some(url);
    s.boot.ipxe_sha256 = sha256;
    s
}

/// The whole path for one firmware: provision through the bridge (the simulator sending upper-case
/// MACs), run the script the VM got, boot the disk twice, and compare what iPXE presents with
/// what provision-status said.
async fn boots_into_ipxe_with_the_reported_identity(firmware: Firmware) {
    boot_tools();
    let lb = loopback().await;
    let (image, debian_file, platform) = match firmware {
        Firmware::Uefi | Firmware::SecureBoot => ("ipxe.efi", DEBIAN_IPXE_EFI, "efi"),
        Firmware::Bios => ("ipxe.iso", DEBIAN_IPXE_ISO, "pcbios"),
    };
    let sha = sha256_hex(&std::fs::read(debian_file).unwrap());
    let h = Harness::start(
        SimConfig {
            upper_case_macs: true,
            ..quick_sim_config()
        },
        ipxe_settings(lb.url(&format!("image/{image}")), Some(sha)),
    )
    .await;
    let status = h.provision_ready("c1a.4x", "us-east1-a").await.status;
    let (uuid, mac) = (
        status["auth"]["uuid"].as_str().unwrap().to_string(),
        status["auth"]["mac_addr"].as_str().unwrap().to_string(),
    );
    let vm: Value = h.project()["vms"][0].clone();
    let crusoe_mac = vm["network_interfaces"][0]["mac_address"].as_str().unwrap();
    assert_eq!(
        crusoe_mac,
        crusoe_mac.to_uppercase(),
        "the simulator sends upper case"
    );
    assert_eq!(
        mac,
        crusoe_mac.to_lowercase(),
        "the bridge reports iPXE's spelling"
    );
    let script = vm["sim"]["startup_script"].as_str().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let disk = fresh_boot_disk(dir.path());
    let run = run_script(script, &disk).await;
    assert!(run.ok, "the startup script failed:\n{}", run.output);
    assert!(
        run.output
            .contains("the boot disk now holds only Cycle's iPXE"),
        "{}",
        run.output
    );

    let vars = firmware.new_vars(dir.path());
    let mut qemu = Qemu::start(&Machine {
        firmware,
        vars: vars.as_deref(),
        disk: &disk,
        uuid: vm["id"].as_str().unwrap(),
        mac: crusoe_mac,
        bootfile: Some(lb.guest_url("boot.ipxe")),
        kernel: None,
        fw_cfg: Vec::new(),
        exit_at_reboot: false,
        serial: dir.path().join("serial.log"),
    });
    let first = qemu
        .wait_for_reports(&lb, 1, BOOT_TIMEOUT, "the first boot")
        .await;
    qemu.reset().await;
    let second = qemu
        .wait_for_reports(&lb, 2, BOOT_TIMEOUT, "the boot after a reset")
        .await;
    let console = qemu.console();
    qemu.stop().await;
    // Written past the test harness's capture, so that every run (CI's too) shows the timings.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "boot test, {firmware:?} with Debian's {image}: script {:.2} s; first boot reached iPXE in {:.1} s; after a reset in {:.1} s",
        run.took.as_secs_f64(),
        first.as_secs_f64(),
        second.as_secs_f64()
    );

    let reports = lb.reports();
    assert_eq!(
        reports.len(),
        2,
        "one report per boot: {reports:?}\n{console}"
    );
    for r in &reports {
        assert_eq!(r.uuid, uuid, "iPXE's ${{uuid}} is provision-status's uuid");
        assert_eq!(
            r.mac, mac,
            "iPXE's ${{net0/mac}} is provision-status's mac_addr"
        );
        assert_eq!(r.platform, platform);
        assert!(r.user_agent.starts_with("iPXE/"), "{}", r.user_agent);
    }
}

#[tokio::test]
async fn uefi_boots_the_converted_disk_into_ipxe_with_the_reported_identity_at_every_boot() {
    boots_into_ipxe_with_the_reported_identity(Firmware::Uefi).await;
}

#[tokio::test]
async fn bios_boots_the_converted_disk_into_ipxe_with_the_reported_identity_at_every_boot() {
    boots_into_ipxe_with_the_reported_identity(Firmware::Bios).await;
}

#[tokio::test]
async fn a_bad_download_leaves_the_boot_disk_untouched_and_says_why() {
    boot_tools();
    let lb = loopback().await;
    let efi_sha = sha256_hex(&std::fs::read(DEBIAN_IPXE_EFI).unwrap());
    let cases = [
        (lb.url("image/missing.efi"), None, "downloading"),
        (lb.url("image/ipxe.efi"), Some("0".repeat(64)), "sha256 is"),
        (lb.url("image/portal.efi"), None, "not an EFI executable"),
        (lb.url("image/tiny.efi"), None, "too small"),
        (lb.url("image/ipxe.iso"), Some(efi_sha.clone()), "sha256 is"),
        // An .efi served where an .iso is expected.
        (
            lb.url("image/mislabelled.iso"),
            None,
            "not an ISO 9660 image",
        ),
    ];
    for (url, sha, why) in cases {
        let dir = tempfile::tempdir().unwrap();
        let disk = fresh_boot_disk(dir.path());
        let before = std::fs::read(&disk).unwrap();
        let run = run_script(&render(url.clone(), sha), &disk).await;
        assert!(!run.ok, "{url}: the script succeeded:\n{}", run.output);
        assert!(
            run.output.contains(why),
            "{url}: expected {why:?}:\n{}",
            run.output
        );
        assert!(
            run.output.contains("The boot disk was not changed"),
            "{url}:\n{}",
            run.output
        );
        assert!(
            std::fs::read(&disk).unwrap() == before,
            "{url}: the disk was written"
        );
    }
}

#[tokio::test]
async fn a_transient_failure_of_the_image_server_is_retried() {
    let (lb, _dir, disk) = ready_to_run().await;
    let run = run_script(&render(lb.url("image/flaky-ipxe.efi"), None), &disk).await;
    assert!(run.ok, "{}", run.output);
    assert_eq!(lb.hits("flaky-ipxe.efi"), 2, "one 503, then the image");
}

#[test]
fn the_startup_script_passes_shellcheck_in_both_formats() {
    boot_tools();
    for url in [
        "https://cdn.example/ipxe.efi",
        "https://cdn.example/ipxe.iso",
    ] {
        let script = render(url.to_string(), Some("a".repeat(64)));
        let out = with_input(
            std::process::Command::new("shellcheck").args(["--shell=bash", "-"]),
            script.as_bytes(),
        );
        assert!(
            out.status.success(),
            "{url}:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// A package holding several of the commands the script needs is asked for once: the script
/// needs both `mmd` and `mcopy`, from mtools.
#[tokio::test]
async fn a_missing_package_is_installed_once_for_all_its_commands() {
    let (lb, dir, disk) = ready_to_run().await;
    // Every command the script runs, but mtools' two, and an apt-get that says what it was asked.
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for tool in [
        "bash",
        "curl",
        "sha256sum",
        "od",
        "dd",
        "cmp",
        "sfdisk",
        "mkfs.vfat",
        "stat",
        "tr",
        "cut",
        "date",
        "mktemp",
        "rm",
        "tee",
        "grep",
        "sed",
        "awk",
        "head",
        "tail",
        "cat",
        "sleep",
        "sync",
        "mkdir",
        "id",
    ] {
        let found = std::process::Command::new("bash")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .unwrap();
        let target = String::from_utf8_lossy(&found.stdout).trim().to_string();
        assert!(!target.is_empty(), "{tool} is on this machine");
        std::os::unix::fs::symlink(target, bin.join(tool)).unwrap();
    }
    let asked = dir.path().join("apt-get.log");
    std::fs::write(
        bin.join("apt-get"),
        format!("#!/bin/bash\necho \"$*\" >> {}\n", asked.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(bin.join("apt-get"), std::fs::Permissions::from_mode(0o755)).unwrap();

    let run = run_script_with_path(
        &render(lb.url("image/ipxe.efi"), None),
        &disk,
        bin.to_str().unwrap(),
    )
    .await;
    assert_eq!(
        run.output
            .matches("installing mtools (not on this image)")
            .count(),
        1,
        "{}",
        run.output
    );
    let installs: Vec<String> = std::fs::read_to_string(&asked)
        .unwrap()
        .lines()
        .filter(|l| l.contains("install"))
        .map(str::to_string)
        .collect();
    assert_eq!(installs.len(), 1, "{installs:?}");
    assert_eq!(installs[0].matches("mtools").count(), 1, "{installs:?}");
}
