//! `crusoe-ial demo --backend cloudsigma`: the CloudSigma simulator and the bridge on loopback,
//! and Cycle's side of a whole lifecycle played against the bridge over HTTP.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::Digest;

use super::demo::{
    brief_list, show_cycloid, start_cycloid, step, Cycle, DemoArgs, StepFailed, CYCLE_SERVER, HUB,
};
use crate::backends::cloudsigma::config::{cloudsigma_config, RawCloudSigma};
use crate::backends::cloudsigma::settings::IpPoolSettings;
use crate::config::BridgeSettings;
use crate::ial::IalOptions;
use cloudsigma_sim::{Faults, RunningSim, SimConfig};

const LOCATION: &str = "zrh";
const MODEL: &str = "cs-2c-4g";
/// Debian's iPXE ISO when the machine has it (package `ipxe`), else a stand-in: the simulator
/// boots nothing, the QEMU test (`tests/boot/cd_rom.rs`) boots the real one.
const DEBIAN_IPXE_ISO: &str = "/usr/lib/ipxe/ipxe.iso";
const STAND_IN: &[u8] =
    b"crusoe-ial demo: a stand-in for Cycle's iPXE ISO, which the simulator never boots\n";

struct Image {
    url: String,
    sha256: String,
    len: usize,
}

async fn serve_image() -> std::io::Result<(Image, tokio::task::JoinHandle<()>)> {
    let bytes: Vec<u8> = std::fs::read(DEBIAN_IPXE_ISO).unwrap_or_else(|_| STAND_IN.to_vec());
    let sha256 = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let len = bytes.len();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/ipxe.iso", listener.local_addr()?);
    let app = axum::Router::new().route(
        "/ipxe.iso",
        axum::routing::get(move || {
            let bytes = bytes.clone();
            async move { bytes }
        }),
    );
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((Image { url, sha256, len }, task))
}

fn fail(step: &'static str, why: impl Into<String>) -> StepFailed {
    StepFailed {
        step,
        why: why.into(),
    }
}

/// What the simulator holds for the demo's account.
fn account(sim: &RunningSim) -> Value {
    sim.sim.inventory()["accounts"][0].clone()
}

async fn lifecycle(
    c: &Cycle,
    sim: &RunningSim,
    image: &Image,
    steps: &mut usize,
) -> Result<(), StepFailed> {
    step(steps, "verify", async {
        let v = c.call("verify", "/v1/auth/verify", Value::Null).await?;
        (v["valid"] == true)
            .then(|| (v.clone(), "credentials valid in zrh".to_string()))
            .ok_or_else(|| fail("verify", format!("valid is {}", v["valid"])))
    })
    .await?;
    step(steps, "locations", async {
        let v = c
            .call(
                "locations",
                "/v1/infrastructure/provider/locations",
                Value::Null,
            )
            .await?;
        let brief = brief_list(&v["locations"], "/provider/location_id");
        Ok((v, brief))
    })
    .await?;
    step(steps, "server models", async {
        let v = c
            .call(
                "server models",
                "/v1/infrastructure/provider/server-models",
                Value::Null,
            )
            .await?;
        let models = v["models"].as_array().cloned().unwrap_or_default();
        let first = models.first().cloned().unwrap_or_default();
        Ok((
            v,
            format!(
                "{} sizes, e.g. {} at {} mils/h",
                models.len(),
                first["name"].as_str().unwrap_or("?"),
                first["pricing"]["hourly"]
            ),
        ))
    })
    .await?;
    let config = step(steps, "configure location", async {
        let v = c
            .call(
                "configure location",
                "/v1/location/configure",
                json!({"location_id": LOCATION, "version": "", "configuration_current": {}, "cycle": {"location_id": "64a1b2c3d4e5f60718293a4b"}}),
            )
            .await?;
        let latest = v["configuration_latest"].clone();
        let iso = latest["iso_drive_uuid"].as_str().unwrap_or("?").to_string();
        let held = account(sim)["drives"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|d| d["uuid"] == iso.as_str())
            .cloned()
            .ok_or_else(|| fail("configure location", format!("no drive {iso} in the simulator")))?;
        if held["media"] != "cdrom" || held["content_sha256"] != image.sha256.as_str() {
            return Err(fail(
                "configure location",
                format!("drive {iso} is not the ISO as a CD-ROM: {held}"),
            ));
        }
        Ok((
            latest,
            format!("{LOCATION}: iPXE ISO ({} bytes) uploaded as CD-ROM {iso}", image.len),
        ))
    })
    .await?;
    let provisioned = step(steps, "provision", {
        let config = config.clone();
        async move {
            let v = c
                .call(
                    "provision",
                    "/v1/infrastructure/server/provision",
                    json!({
                        "hostname": "demo-node-1", "model_id": MODEL, "location_id": LOCATION, "zone_id": null,
                        "model_features": {}, "provision_options": {}, "location_configuration": config,
                        "cycle": {"server_id": CYCLE_SERVER, "model_class": "cloudsigma", "model_category": "cpu", "model_id": "6a1b2c3d4e5f60718293a4b5", "location_id": "64a1b2c3d4e5f60718293a4b"}
                    }),
                )
                .await?;
            let brief = format!(
                "server_id {} ({MODEL} in {LOCATION}, created stopped, started)",
                v["server_id"].as_str().unwrap_or("?")
            );
            Ok((v, brief))
        }
    })
    .await?;
    let server_id = provisioned["server_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let status_request = json!({
        "server_id": server_id, "location_id": LOCATION, "location_configuration": config, "extra": provisioned["extra"],
        "cycle": {"server_id": CYCLE_SERVER, "model_class": "cloudsigma", "model_category": "cpu", "model_id": "m", "location_id": "l"}
    });
    let status = step(steps, "poll provision-status", async {
        let started = Instant::now();
        let mut polls = 0;
        let mut request = status_request.clone();
        loop {
            polls += 1;
            let v = c
                .call(
                    "poll provision-status",
                    "/v1/infrastructure/server/provision-status",
                    request.clone(),
                )
                .await?;
            if v["provisioned"] == true {
                let a = &v["auth"];
                let brief = format!(
                    "provisioned after {polls} polls: uuid {}, mac {}, ip {}",
                    a["uuid"].as_str().unwrap_or("?"),
                    a["mac_addr"].as_str().unwrap_or("?"),
                    a["initial_ips"][0].as_str().unwrap_or("?")
                );
                return Ok((v, brief));
            }
            request["extra"] = v["extra"].clone();
            if started.elapsed() > Duration::from_secs(120) {
                return Err(fail(
                    "poll provision-status",
                    "not provisioned within 120 s",
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await?;
    step(steps, "boot chain", async {
        let servers = account(sim)["servers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let server = servers
            .iter()
            .find(|s| s["name"] == server_id.as_str())
            .ok_or_else(|| fail("boot chain", "the simulator holds no such server"))?;
        let drives = server["drives"].as_array().cloned().unwrap_or_default();
        let first = drives
            .iter()
            .find(|d| d["boot_order"] == 1)
            .ok_or_else(|| fail("boot chain", "no drive boots first"))?;
        if first["device"] != "ide" || first["drive"]["uuid"] != config["iso_drive_uuid"] {
            return Err(fail(
                "boot chain",
                format!("the first boot device is not the ISO on IDE: {first}"),
            ));
        }
        if status["auth"]["uuid"] != server["uuid"] {
            return Err(fail("boot chain", "the reported uuid is not the server's"));
        }
        Ok((
            Value::Null,
            format!(
                "boots the iPXE ISO (IDE CD-ROM, boot order 1) then its {} on virtio",
                drives
                    .iter()
                    .find(|d| d["device"] == "virtio")
                    .map_or("?", |_| "data disk")
            ),
        ))
    })
    .await?;
    let ip = step(steps, "allocate IP", async {
        let v = c
            .call(
                "allocate IP",
                "/v1/infrastructure/ip/allocate",
                json!({
                    "kind": "ipv4", "server_id": server_id, "location_id": LOCATION, "zone_id": null, "location_configuration": config,
                    "cycle": {"pool_id": null, "server_id": CYCLE_SERVER, "server_model_class": "cloudsigma", "server_model_category": "cpu", "location_id": "l"}
                }),
            )
            .await?;
        let brief = format!("{} (an IP subscription, in the bridge's pool)", v["cidr"].as_str().unwrap_or("?"));
        Ok((v, brief))
    })
    .await?;
    step(steps, "release IP", async {
        let v = c
            .call(
                "release IP",
                "/v1/infrastructure/ip/release",
                json!({"kind": "ipv4", "ip_id": ip["ip_id"], "ip_assignment_id": ip["ip_assignment_id"], "cidr": ip["cidr"]}),
            )
            .await?;
        Ok((v, "back in the pool (subscriptions cannot be cancelled)".to_string()))
    })
    .await?;
    let server_ref = json!({
        "server_id": server_id, "hostname": "demo-node-1", "model_id": MODEL, "location_id": LOCATION, "extra": {},
        "cycle": {"server_id": CYCLE_SERVER, "model_class": "cloudsigma", "model_category": "cpu", "model_id": "m", "location_id": "l"}
    });
    let starts_before = server_starts(sim, &server_id);
    step(steps, "restart", async {
        let v = c
            .call(
                "restart",
                "/v1/infrastructure/server/restart",
                server_ref.clone(),
            )
            .await?;
        Ok((v, "stopped, then started".to_string()))
    })
    .await?;
    if server_starts(sim, &server_id) <= starts_before {
        return Err(fail("restart", "the server was not started again"));
    }
    step(steps, "decommission", async {
        let v = c
            .call(
                "decommission",
                "/v1/infrastructure/server/decommission",
                server_ref,
            )
            .await?;
        Ok((v, "server and data drive deleted, ISO kept".to_string()))
    })
    .await?;
    let held = account(sim);
    let left: Vec<String> = held["servers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| format!("server {}", s["name"]))
        .chain(
            held["drives"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| d["media"] != "cdrom")
                .map(|d| format!("drive {}", d["name"])),
        )
        .collect();
    if !left.is_empty() {
        return Err(fail(
            "final check",
            format!("left in the simulator: {}", left.join(", ")),
        ));
    }
    Ok(())
}

fn server_starts(sim: &RunningSim, name: &str) -> u64 {
    account(sim)["servers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["name"] == name)
        .and_then(|s| s["starts"].as_u64())
        .unwrap_or(0)
}

pub async fn run(args: DemoArgs) -> ExitCode {
    let faults = Faults {
        server_error_rate: args.server_error_rate,
        latency_ms: args.latency_ms,
        ..Default::default()
    };
    let sim = match RunningSim::start(
        SimConfig {
            seed: args.seed,
            transition: Duration::from_millis(args.op_delay_ms),
            faults,
            ..Default::default()
        },
        "127.0.0.1:0".parse().expect("literal address"),
    )
    .await
    {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("crusoe-ial demo: cannot start the CloudSigma simulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (image, image_server) = match serve_image().await {
        Ok(served) => served,
        Err(e) => {
            eprintln!("crusoe-ial demo: cannot serve the iPXE ISO: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut settings = BridgeSettings::default();
    settings.boot.ipxe_url = Some(image.url.clone());
    settings.boot.ipxe_sha256 = Some(image.sha256.clone());
    let cycloid = match start_cycloid(args.cycloid, &mut settings).await {
        Ok(cy) => cy,
        Err(code) => return code,
    };
    let config = cloudsigma_config(RawCloudSigma {
        api_endpoint: Some(sim.endpoint_template()),
        locations: Some(vec![LOCATION.into()]),
        wait_secs: Some(30),
        ips: Some(IpPoolSettings {
            buy: true,
            ..Default::default()
        }),
        ..Default::default()
    })
    .expect("the demo's CloudSigma settings");
    let app = match crate::serve::app(&crate::serve::AppSettings {
        client: Default::default(),
        server_held: None,
        bridge: settings,
        ial: IalOptions::default(),
        cloudsigma: Some(config),
    }) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("crusoe-ial demo: cannot build the bridge: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match crate::serve::bind(args.listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("crusoe-ial demo: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    let bridge_url = format!("http://{}", listener.local_addr().expect("bound"));
    let server = tokio::spawn(crate::serve::serve_on(
        listener,
        app,
        None,
        std::future::pending(),
        Duration::ZERO,
    ));
    println!("crusoe-ial demo: Cycle's side of a server's whole life on CloudSigma, against the bridge over HTTP");
    println!("  CloudSigma simulator {}", sim.endpoint(LOCATION));
    println!("  bridge               {bridge_url}");
    println!(
        "  iPXE ISO             {} ({} bytes, sha256 {}...)",
        image.url,
        image.len,
        &image.sha256[..12]
    );
    println!();
    let account = &sim.accounts[0];
    let auth = json!({
        "api_key": account.username, "secret": account.password, "namespace": account.location,
        "cycle": {"hub_name": "demo", "hub_id": HUB}
    });
    let cycle = Cycle {
        http: reqwest::Client::new(),
        base: bridge_url.clone(),
        auth: auth.clone(),
    };
    let started = Instant::now();
    let mut steps = 0;
    let outcome = lifecycle(&cycle, &sim, &image, &mut steps).await;
    let calls: u64 = sim.sim.calls().values().sum();
    if let Some(cy) = &cycloid {
        show_cycloid(cy).await;
    }
    println!();
    let code = match outcome {
        Ok(()) => {
            println!(
                "demo passed: {steps} steps in {:.1}s, {calls} CloudSigma calls, nothing left behind but the location's ISO and the pooled IPs",
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(failed) => {
            println!("demo FAILED at step \"{}\": {}", failed.step, failed.why);
            ExitCode::FAILURE
        }
    };
    if args.keep_running {
        let body = json!({"auth": auth, "request": null});
        println!();
        println!("Both keep running until Ctrl-C. Try:");
        println!("  curl -s -X POST {bridge_url}/v1/auth/verify -H 'content-type: application/json' -d '{body}'");
        println!("  curl -s {}/inventory", sim.admin());
        crate::shutdown::signal().await;
    }
    server.abort();
    image_server.abort();
    sim.stop().await;
    code
}
