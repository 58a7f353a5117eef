//! What the boot tests share: the tools they install, a loopback server standing in for the
//! iPXE image's host and for the script Cycle embeds in its image (which has iPXE report the
//! identity it presents), and QEMU, started on a disk with a hard timeout and stopped by its pid.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use crusoe_ial::backends::crusoe::settings::BootSettings;
use crusoe_ial::backends::crusoe::{Boot, BootVars};
use sha2::{Digest, Sha256};

use super::harness::{CYCLE_SERVER, HUB};

pub const DEBIAN_IPXE_EFI: &str = "/usr/lib/ipxe/ipxe.efi";
pub const DEBIAN_IPXE_ISO: &str = "/usr/lib/ipxe/ipxe.iso";
const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";
/// OVMF built with Secure Boot, and its variables with Microsoft's keys enrolled (Debian's ovmf).
const OVMF_CODE_SECBOOT: &str = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd";
const OVMF_VARS_MS: &str = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd";

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs one of the project's scripts and returns its standard output; panics with its errors.
fn project_script(name: &str) -> String {
    let out = std::process::Command::new(root().join("scripts").join(name))
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run scripts/{name}: {e}"));
    assert!(
        out.status.success(),
        "scripts/{name} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Installs what the boot tests need, once per test process; panics with the reason when it
/// cannot (they fail, never skip).
pub fn boot_tools() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        project_script("boot-tools.sh");
    });
}

/// The Debian VM of `scripts/test-vm.sh`, built once and cached on the machine: its directory,
/// holding `disk.raw`, `vmlinuz`, `initrd.img`, `shimx64.efi` and `grubx64.efi`.
pub fn test_vm() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let started = Instant::now();
        let dir = PathBuf::from(project_script("test-vm.sh"));
        eprintln!(
            "live boot test: the test VM was ready in {:.1} s ({})",
            started.elapsed().as_secs_f64(),
            dir.display()
        );
        dir
    })
    .clone()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What iPXE sent to the script Cycle would embed in its image.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub uuid: String,
    pub mac: String,
    pub platform: String,
    pub user_agent: String,
}

#[derive(Clone, Default)]
pub struct Loopback {
    pub port: u16,
    /// A second port serving the same: each boot reports to another port than the boot before.
    other_port: u16,
    scripts_served: Arc<Mutex<u32>>,
    images: Arc<HashMap<String, Vec<u8>>>,
    hits: Arc<Mutex<HashMap<String, u32>>>,
    reports: Arc<Mutex<Vec<Report>>>,
}

impl Loopback {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    /// The same, as QEMU's guests reach it.
    pub fn guest_url(&self, path: &str) -> String {
        format!("http://10.0.2.2:{}/{path}", self.port)
    }

    pub fn reports(&self) -> Vec<Report> {
        self.reports.lock().unwrap().clone()
    }

    pub fn hits(&self, name: &str) -> u32 {
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

/// Serves Debian's iPXE builds as `ipxe.efi` and `ipxe.iso`, and `more` images by name, under
/// `/image/`; `/boot.ipxe` and `/report` for iPXE.
pub async fn start_loopback(more: Vec<(String, Vec<u8>)>) -> Loopback {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut images = HashMap::from([
        (
            "ipxe.efi".to_string(),
            std::fs::read(DEBIAN_IPXE_EFI).unwrap(),
        ),
        (
            "ipxe.iso".to_string(),
            std::fs::read(DEBIAN_IPXE_ISO).unwrap(),
        ),
    ]);
    images.extend(more);
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

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Firmware {
    /// OVMF, Secure Boot off.
    Uefi,
    /// SeaBIOS.
    Bios,
    /// OVMF with Secure Boot on and Microsoft's keys enrolled.
    SecureBoot,
}

impl Firmware {
    pub fn is_uefi(self) -> bool {
        self != Firmware::Bios
    }

    /// OVMF's code for this firmware (read-only flash); none for SeaBIOS, QEMU's own.
    pub fn ovmf_code(self) -> Option<&'static str> {
        match self {
            Firmware::Bios => None,
            Firmware::Uefi => Some(OVMF_CODE),
            Firmware::SecureBoot => Some(OVMF_CODE_SECBOOT),
        }
    }

    /// A fresh copy of this firmware's variables (its NVRAM), to keep across a VM's boots.
    pub fn new_vars(self, dir: &Path) -> Option<PathBuf> {
        let template = match self {
            Firmware::Bios => return None,
            Firmware::Uefi => OVMF_VARS,
            Firmware::SecureBoot => OVMF_VARS_MS,
        };
        let vars = dir.join("OVMF_VARS.fd");
        std::fs::copy(template, &vars).unwrap();
        Some(vars)
    }
}

/// One boot of a VM.
pub struct Machine<'a> {
    pub firmware: Firmware,
    /// Its NVRAM (UEFI): [`Firmware::new_vars`], the same file at every boot.
    pub vars: Option<&'a Path>,
    /// Raw, or qcow2 when it ends in `.qcow2`.
    pub disk: &'a Path,
    /// Its SMBIOS UUID and its NIC's MAC: the VM's id and MAC as Crusoe reports them.
    pub uuid: &'a str,
    pub mac: &'a str,
    /// DHCP's boot file, which iPXE fetches.
    pub bootfile: Option<String>,
    /// Linux's kernel and initrd from outside the disk, root on the disk's `cloudimg-rootfs`.
    pub kernel: Option<(PathBuf, PathBuf)>,
    /// Files handed to the guest through fw_cfg, by name.
    pub fw_cfg: Vec<(String, PathBuf)>,
    /// QEMU exits when the guest reboots.
    pub exit_at_reboot: bool,
    /// Where the serial console is written.
    pub serial: PathBuf,
}

pub struct Qemu {
    child: tokio::process::Child,
    monitor: PathBuf,
    serial: PathBuf,
    started: Instant,
}

impl Qemu {
    /// QEMU as every boot test runs it, before its machine's devices: no default devices, no
    /// display, software emulation, 1 GiB and one core, `uuid` its SMBIOS UUID, the serial
    /// console written to `serial` (emptied first) and the monitor on a socket beside it. Add the
    /// machine, then [`Qemu::spawn`].
    pub fn command(uuid: &str, serial: &Path) -> tokio::process::Command {
        let monitor = serial.with_extension("monitor.sock");
        let _ = std::fs::remove_file(serial);
        let mut cmd = tokio::process::Command::new("qemu-system-x86_64");
        cmd.args(["-nodefaults", "-no-user-config", "-display", "none"])
            // Software emulation: where /dev/kvm exists here it is nested and fails mid-boot.
            .args(["-accel", "tcg", "-m", "1024", "-smp", "1"])
            .args(["-uuid", uuid])
            .arg("-serial")
            .arg(format!("file:{}", serial.display()))
            .arg("-monitor")
            .arg(format!("unix:{},server=on,wait=off", monitor.display()));
        cmd
    }

    /// Starts `cmd`, made by [`Qemu::command`] with the same `serial`; killed when dropped.
    pub fn spawn(mut cmd: tokio::process::Command, serial: &Path) -> Self {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("qemu-system-x86_64 starts");
        Self {
            child,
            monitor: serial.with_extension("monitor.sock"),
            serial: serial.to_path_buf(),
            started: Instant::now(),
        }
    }

    pub fn start(m: &Machine) -> Self {
        let format = if m.disk.extension().is_some_and(|e| e == "qcow2") {
            "qcow2"
        } else {
            "raw"
        };
        let mut cmd = Self::command(m.uuid, &m.serial);
        cmd.arg("-drive")
            .arg(format!(
                "file={},format={format},if=none,id=disk0",
                m.disk.display()
            ))
            .args(["-device", "virtio-blk-pci,drive=disk0,bootindex=1"])
            .arg("-netdev")
            .arg(match &m.bootfile {
                Some(file) => format!("user,id=net0,bootfile={file}"),
                None => "user,id=net0".into(),
            })
            // romfile= : the NIC carries no boot ROM of its own, so only the disk can start iPXE.
            .arg("-device")
            .arg(format!("virtio-net-pci,netdev=net0,mac={},romfile=", m.mac));
        if m.exit_at_reboot {
            cmd.arg("-no-reboot");
        }
        if let Some((kernel, initrd)) = &m.kernel {
            cmd.arg("-kernel")
                .arg(kernel)
                .arg("-initrd")
                .arg(initrd)
                .args([
                    "-append",
                    "root=LABEL=cloudimg-rootfs ro console=ttyS0 systemd.show_status=0",
                ]);
        }
        for (name, file) in &m.fw_cfg {
            cmd.arg("-fw_cfg")
                .arg(format!("name={name},file={}", file.display()));
        }
        if let Some(code) = m.firmware.ovmf_code() {
            let vars = m.vars.expect("a UEFI machine keeps its NVRAM");
            if m.firmware == Firmware::SecureBoot {
                // The Secure Boot build keeps its variables in SMM, out of the OS's reach.
                cmd.args(["-machine", "q35,smm=on"])
                    .args(["-global", "driver=cfi.pflash01,property=secure,value=on"]);
            } else {
                cmd.args(["-machine", "q35"]);
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
        Self::spawn(cmd, &m.serial)
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The serial console so far.
    pub fn serial(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.serial).unwrap_or_default()).into_owned()
    }

    /// Waits until the guest ends QEMU (a reboot, with [`Machine::exit_at_reboot`]); panics
    /// with the console's end after `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration, what: &str) -> Duration {
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(_) => self.started.elapsed(),
            Err(_) => {
                let console = self.console();
                let _ = self.child.kill().await;
                panic!("{what}: QEMU still ran after {timeout:?}:\n{console}");
            }
        }
    }

    /// Waits until the console shows `text`; panics with its end after `timeout`.
    pub async fn wait_console(&mut self, text: &str, timeout: Duration, what: &str) -> Duration {
        while self.started.elapsed() < timeout {
            if self.serial().contains(text) {
                return self.started.elapsed();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{what}: QEMU exited ({status}) before {text:?}:\n{}",
                    self.console()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let console = self.console();
        let _ = self.child.kill().await;
        panic!("{what}: {text:?} not seen within {timeout:?}:\n{console}");
    }

    /// Waits until iPXE has reported `count` times; panics with the console's end otherwise.
    pub async fn wait_for_reports(
        &mut self,
        lb: &Loopback,
        count: usize,
        timeout: Duration,
        what: &str,
    ) -> Duration {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if lb.reports().len() >= count {
                return started.elapsed();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("QEMU exited ({status}) before {what}:\n{}", self.console());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let console = self.console();
        let _ = self.child.kill().await;
        panic!("{what} did not reach iPXE within {timeout:?}:\n{console}");
    }

    /// A hard reset, as Crusoe's RESET (the bridge's restart) does. The monitor drops a command
    /// whose connection closes before it is read, so this waits for the prompt that follows it.
    pub async fn reset(&self) {
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

    pub fn console(&self) -> String {
        let text = self.serial();
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

    /// Stops QEMU by its pid.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// The script the bridge renders for a server in boot mode ipxe with Cycle's image at `url`
/// (checked against `sha256` when given), for the tests that run it without a provision.
pub fn render(url: String, sha256: Option<String>) -> String {
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
            hub_id: HUB,
            location: "us-east1-a",
            model: "c1a.4x",
        })
        .unwrap()
        .expect("the ipxe mode gives every server a script")
}

/// Runs `command` with `input` on its standard input: its output, once it has exited.
pub fn with_input(command: &mut std::process::Command, input: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}
