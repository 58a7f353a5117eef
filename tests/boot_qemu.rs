//! Proof by a real boot: the startup script the bridge gives a server in the ipxe mode, run for
//! real against a disk image file standing in for the VM's boot disk, makes a disk that QEMU boots
//! into iPXE (UEFI with OVMF and Debian's `ipxe.efi`; BIOS with SeaBIOS and Debian's `ipxe.iso`),
//! where iPXE presents exactly the `uuid` and `mac_addr` that provision-status reported, at the
//! first boot and again after a reset. And the script's refusals: a bad download never touches
//! the disk.
//!
//! QEMU, OVMF, iPXE and the script's tools are installed by `scripts/boot-tools.sh`; when that
//! cannot install them, these tests fail rather than skip.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use common::harness::{Harness, CYCLE_SERVER};
use common::quick_sim_config;
use crusoe_ial::bridge::settings::BootSettings;
use crusoe_ial::bridge::{Boot, BootVars};
use crusoe_sim::SimConfig;
use serde_json::Value;
use sha2::{Digest, Sha256};

const DEBIAN_IPXE_EFI: &str = "/usr/lib/ipxe/ipxe.efi";
const DEBIAN_IPXE_ISO: &str = "/usr/lib/ipxe/ipxe.iso";
const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";
/// A boot that has not reached iPXE by then has failed (about 15 s under UEFI in software
/// emulation, 7 s under BIOS, on the 2-core machines CI runs on).
const BOOT_TIMEOUT: Duration = Duration::from_secs(150);
const DISK_MIB: u64 = 256;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Installs what the boot needs, once per test process; panics with the reason when it cannot.
fn boot_tools() {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    let outcome = INSTALLED.get_or_init(|| {
        let out = std::process::Command::new(root().join("scripts/boot-tools.sh"))
            .current_dir(root())
            .output()
            .map_err(|e| format!("cannot run scripts/boot-tools.sh: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "scripts/boot-tools.sh failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    });
    if let Err(why) = outcome {
        panic!("{why}");
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What iPXE sent to the script Cycle would embed in its image.
#[derive(Debug, Clone, PartialEq)]
struct Report {
    uuid: String,
    mac: String,
    platform: String,
    user_agent: String,
}

#[derive(Clone, Default)]
struct Loopback {
    port: u16,
    /// A second port serving the same: each boot reports to another port than the boot before.
    other_port: u16,
    scripts_served: Arc<Mutex<u32>>,
    images: Arc<HashMap<String, Vec<u8>>>,
    hits: Arc<Mutex<HashMap<String, u32>>>,
    reports: Arc<Mutex<Vec<Report>>>,
}

impl Loopback {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    /// The same, as QEMU's guests reach it.
    fn guest_url(&self, path: &str) -> String {
        format!("http://10.0.2.2:{}/{path}", self.port)
    }

    fn reports(&self) -> Vec<Report> {
        self.reports.lock().unwrap().clone()
    }

    fn hits(&self, name: &str) -> u32 {
        self.hits.lock().unwrap().get(name).copied().unwrap_or(0)
    }
}

async fn image(State(lb): State<Loopback>, UrlPath(name): UrlPath<String>) -> impl IntoResponse {
    let hit = {
        let mut hits = lb.hits.lock().unwrap();
        let n = hits.entry(name.clone()).or_default();
        *n += 1;
        *n
    };
    // `flaky-*` fails once, as a CDN may.
    if name.starts_with("flaky-") && hit == 1 {
        return (StatusCode::SERVICE_UNAVAILABLE, Vec::new());
    }
    match lb.images.get(&name) {
        Some(bytes) => (StatusCode::OK, bytes.clone()),
        None => (StatusCode::NOT_FOUND, b"not found".to_vec()),
    }
}

/// Stands in for the script Cycle embeds in its iPXE image: it has iPXE report the identity it
/// presents. From inside QEMU the host's loopback is 10.0.2.2.
///
/// Seen here: iPXE opens its connections from the same ports at every boot, and QEMU's user
/// network still held the connection of the report before a reset, so the report after it
/// stalled until it timed out. Reporting to another port at each boot keeps the two apart.
async fn boot_script(State(lb): State<Loopback>) -> String {
    let served = {
        let mut n = lb.scripts_served.lock().unwrap();
        *n += 1;
        *n
    };
    let port = if served % 2 == 1 {
        lb.port
    } else {
        lb.other_port
    };
    format!(
        "#!ipxe\nchain http://10.0.2.2:{port}/report?uuid=${{uuid}}&mac=${{net0/mac}}&platform=${{platform}}\n"
    )
}

async fn report(
    State(lb): State<Loopback>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> &'static str {
    let field = |k: &str| q.get(k).cloned().unwrap_or_default();
    lb.reports.lock().unwrap().push(Report {
        uuid: field("uuid"),
        mac: field("mac"),
        platform: field("platform"),
        user_agent: headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
    });
    // Keeps iPXE here (a shell waiting for input) instead of trying the next boot device.
    "#!ipxe\necho crusoe-ial test: identity recorded\nshell\n"
}

async fn start_loopback() -> Loopback {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let efi = std::fs::read(DEBIAN_IPXE_EFI).unwrap();
    let iso = std::fs::read(DEBIAN_IPXE_ISO).unwrap();
    let images = HashMap::from([
        ("ipxe.efi".to_string(), efi.clone()),
        ("ipxe.iso".to_string(), iso),
        ("flaky-ipxe.efi".to_string(), efi.clone()),
        ("mislabelled.iso".to_string(), efi),
        (
            "portal.efi".to_string(),
            format!("<html>{}</html>", "sign in ".repeat(4096)).into_bytes(),
        ),
        ("tiny.efi".to_string(), b"MZ".to_vec()),
    ]);
    let lb = Loopback {
        port: listener.local_addr().unwrap().port(),
        other_port: other.local_addr().unwrap().port(),
        images: Arc::new(images),
        ..Default::default()
    };
    let app = axum::Router::new()
        .route("/image/{name}", axum::routing::get(image))
        .route("/boot.ipxe", axum::routing::get(boot_script))
        .route("/report", axum::routing::get(report))
        // One request per connection, so that no connection is left open across a reset (see
        // `boot_script`); with kept-alive ones, the UEFI boot after a reset stalled here.
        .layer(axum::middleware::map_response(
            |mut r: axum::response::Response| async move {
                r.headers_mut().insert(
                    axum::http::header::CONNECTION,
                    axum::http::HeaderValue::from_static("close"),
                );
                r
            },
        ))
        .with_state(lb.clone());
    let same = app.clone();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    tokio::spawn(async move { axum::serve(other, same).await.unwrap() });
    lb
}

/// A disk image standing in for a fresh VM's boot disk: sparse, with a partition table shaped
/// like Ubuntu's cloud images (BIOS boot, EFI system, root from 111 MiB to the end).
fn fresh_boot_disk(dir: &Path) -> PathBuf {
    let disk = dir.join("boot-disk.img");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(DISK_MIB << 20)
        .unwrap();
    let mut sfdisk = std::process::Command::new("sfdisk")
        .args(["--quiet", disk.to_str().unwrap()])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    sfdisk
        .stdin
        .take()
        .unwrap()
        .write_all(b"label: gpt\nstart=2048, size=8192, type=21686148-6449-6E6F-744E-656564454649\nstart=10240, size=217088, type=U\nstart=227328, type=L\n")
        .unwrap();
    assert!(sfdisk.wait().unwrap().success());
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
        .env("PATH", std::env::var("PATH").unwrap_or_default())
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

#[derive(Debug, Clone, Copy, PartialEq)]
enum Firmware {
    Uefi,
    Bios,
}

struct Qemu {
    child: tokio::process::Child,
    monitor: PathBuf,
    serial: PathBuf,
}

impl Qemu {
    fn start(firmware: Firmware, disk: &Path, uuid: &str, mac: &str, bootfile: &str) -> Self {
        let dir = disk.parent().unwrap();
        let monitor = dir.join("monitor.sock");
        let serial = dir.join("serial.log");
        let mut cmd = tokio::process::Command::new("qemu-system-x86_64");
        cmd.args(["-nodefaults", "-no-user-config", "-display", "none"])
            // Software emulation: where /dev/kvm exists here it is nested and fails mid-boot.
            .args(["-accel", "tcg", "-m", "256", "-smp", "1"])
            .args(["-uuid", uuid])
            .arg("-serial")
            .arg(format!("file:{}", serial.display()))
            .arg("-monitor")
            .arg(format!("unix:{},server=on,wait=off", monitor.display()))
            .arg("-drive")
            .arg(format!(
                "file={},format=raw,if=none,id=disk0",
                disk.display()
            ))
            .args(["-device", "virtio-blk-pci,drive=disk0,bootindex=1"])
            .arg("-netdev")
            .arg(format!("user,id=net0,bootfile={bootfile}"))
            // romfile= : the NIC carries no boot ROM of its own, so only the disk can start iPXE.
            .arg("-device")
            .arg(format!("virtio-net-pci,netdev=net0,mac={mac},romfile="));
        if firmware == Firmware::Uefi {
            let vars = dir.join("OVMF_VARS.fd");
            std::fs::copy(OVMF_VARS, &vars).unwrap();
            cmd.args(["-machine", "q35"])
                .arg("-drive")
                .arg(format!(
                    "if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}"
                ))
                .arg("-drive")
                .arg(format!(
                    "if=pflash,format=raw,unit=1,file={}",
                    vars.display()
                ));
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("qemu-system-x86_64 starts");
        Self {
            child,
            monitor,
            serial,
        }
    }

    /// Waits until iPXE has reported `count` times; panics with the console's end otherwise.
    async fn wait_for_reports(&mut self, lb: &Loopback, count: usize, what: &str) -> Duration {
        let started = Instant::now();
        while started.elapsed() < BOOT_TIMEOUT {
            if lb.reports().len() >= count {
                return started.elapsed();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("QEMU exited ({status}) before {what}:\n{}", self.console());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{what} did not reach iPXE within {BOOT_TIMEOUT:?}:\n{}",
            self.console()
        );
    }

    /// A hard reset, as Crusoe's RESET (the bridge's restart) does. The monitor drops a command
    /// whose connection closes before it is read, so this waits for the prompt that follows it.
    async fn reset(&self) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut monitor = tokio::net::UnixStream::connect(&self.monitor)
            .await
            .unwrap();
        monitor.write_all(b"system_reset\n").await.unwrap();
        let mut seen = Vec::new();
        let prompts = |seen: &[u8]| seen.windows(6).filter(|w| w == b"(qemu)").count();
        tokio::time::timeout(Duration::from_secs(10), async {
            let mut buf = [0u8; 1024];
            while prompts(&seen) < 2 {
                let n = monitor.read(&mut buf).await.unwrap();
                assert!(n > 0, "the monitor closed");
                seen.extend_from_slice(&buf[..n]);
            }
        })
        .await
        .expect("the QEMU monitor took the reset");
    }

    fn console(&self) -> String {
        let text = std::fs::read(&self.serial).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let tail: String = text
            .chars()
            .rev()
            .take(12000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("--- serial console (end) ---\n{tail}")
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

fn ipxe_settings(url: String, sha256: Option<String>) -> crusoe_ial::bridge::BridgeSettings {
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
    let lb = start_loopback().await;
    let (image, debian_file, platform) = match firmware {
        Firmware::Uefi => ("ipxe.efi", DEBIAN_IPXE_EFI, "efi"),
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

    let mut qemu = Qemu::start(
        firmware,
        &disk,
        vm["id"].as_str().unwrap(),
        crusoe_mac,
        &lb.guest_url("boot.ipxe"),
    );
    let first = qemu.wait_for_reports(&lb, 1, "the first boot").await;
    qemu.reset().await;
    let second = qemu
        .wait_for_reports(&lb, 2, "the boot after a reset")
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

fn render(url: String, sha256: Option<String>) -> String {
    let settings = BootSettings {
        ipxe_url: Some(url),
        ipxe_sha256: sha256,
        ..Default::default()
    };
    Boot::new(&settings)
        .unwrap()
        .render(&BootVars {
            hostname: "node-1",
            server_name: "cycle-5f1e2d3c4b5a69788796a5b4",
            cycle_server_id: CYCLE_SERVER,
            hub_id: "65f1e2d3c4b5a69788796a5b",
            location: "us-east1-a",
            model: "c1a.4x",
        })
        .unwrap()
        .expect("the ipxe mode gives every server a script")
}

#[tokio::test]
async fn a_bad_download_leaves_the_boot_disk_untouched_and_says_why() {
    boot_tools();
    let lb = start_loopback().await;
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
    boot_tools();
    let lb = start_loopback().await;
    let dir = tempfile::tempdir().unwrap();
    let disk = fresh_boot_disk(dir.path());
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
        let mut check = std::process::Command::new("shellcheck")
            .args(["--shell=bash", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        check
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let out = check.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{url}:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
