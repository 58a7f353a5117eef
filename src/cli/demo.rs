//! `crusoe-ial demo`: the simulator and the bridge on loopback, and Cycle's side of a whole
//! lifecycle played against the bridge over HTTP, step by step, with timings.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{json, Value};

use crate::backends::crusoe::config::{ClientSettings, RetryPolicy};
use crate::config::BridgeSettings;
use crate::ial::IalOptions;
use crusoe_sim::{Faults, RunningSim, SimConfig};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the simulator and the bridge running afterwards, to call them with curl.
    #[arg(long)]
    pub keep_running: bool,
    /// Address of the bridge.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// How long each simulated Crusoe operation takes, in milliseconds.
    #[arg(long, default_value_t = 400)]
    pub op_delay_ms: u64,
    /// Share of Crusoe calls answered 500/502/503.
    #[arg(long, default_value_t = 0.0)]
    pub server_error_rate: f64,
    /// Share of Crusoe calls answered 429.
    #[arg(long, default_value_t = 0.0)]
    pub rate_limit_rate: f64,
    /// Latency added to every Crusoe call, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Seed of the simulator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also tell a simulated Cycloid each step, and show its timeline and inventory requests.
    #[arg(long)]
    pub cycloid: bool,
    /// Which cloud's simulator the bridge drives: crusoe or cloudsigma.
    #[arg(long, default_value = "crusoe", value_parser = parse_backend)]
    pub backend: crate::backends::BackendName,
}

/// A backend by the name `backend` and `IAL_BACKEND` take.
pub fn parse_backend(name: &str) -> Result<crate::backends::BackendName, String> {
    use crate::backends::BackendName;
    [BackendName::Crusoe, BackendName::CloudSigma]
        .into_iter()
        .find(|b| b.name().eq_ignore_ascii_case(name.trim()))
        .ok_or_else(|| format!("{name:?} is not one of crusoe, cloudsigma"))
}

pub(crate) const CYCLOID_ORG: &str = "demo-org";

/// Waits for the sink to finish (the story is told after each answer), then prints what the
/// simulated Cycloid received.
pub(crate) async fn show_cycloid(cy: &cycloid_sim::RunningCycloid) {
    let mut last = usize::MAX;
    for _ in 0..50 {
        let n = cy.sim.received().len();
        if n == last && cy.sim.received().iter().all(|r| r.status != 0) {
            break;
        }
        last = n;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!();
    println!(
        "Cycloid (simulated, {}) organisation {CYCLOID_ORG}:",
        cy.url()
    );
    println!("  timeline");
    for e in cy.sim.events() {
        let tags: Vec<String> = e["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                format!(
                    "{}={}",
                    t["key"].as_str().unwrap_or(""),
                    t["value"].as_str().unwrap_or("")
                )
            })
            .collect();
        println!(
            "    {:<5} {}",
            e["severity"].as_str().unwrap_or(""),
            e["title"].as_str().unwrap_or("")
        );
        println!("          {}", e["message"].as_str().unwrap_or(""));
        println!("          tags: {}", tags.join(" "));
    }
    println!("  inventory requests");
    for r in cy
        .sim
        .received()
        .iter()
        .filter(|r| r.target.contains("/inventory"))
    {
        println!("    {:<6} {}  -> {}", r.method, r.target, r.status);
    }
    println!("  inventory now: {} resources", cy.sim.resources().len());
}

/// With `--cycloid`, a simulated Cycloid the bridge's `settings` then tell each step; the exit
/// code when it cannot start.
pub(crate) async fn start_cycloid(
    wanted: bool,
    settings: &mut BridgeSettings,
) -> Result<Option<cycloid_sim::RunningCycloid>, ExitCode> {
    if !wanted {
        return Ok(None);
    }
    let key = format!("demo-{}", uuid::Uuid::new_v4());
    match cycloid_sim::RunningCycloid::start(cycloid_sim::CycloidSim::new(CYCLOID_ORG, &key)).await
    {
        Ok(cy) => {
            settings.cycloid.organization = Some(CYCLOID_ORG.into());
            settings.cycloid.api_key = Some(key.into());
            settings.cycloid.url = cy.url();
            Ok(Some(cy))
        }
        Err(e) => {
            eprintln!("crusoe-ial demo: cannot start the Cycloid simulator: {e}");
            Err(ExitCode::FAILURE)
        }
    }
}

pub(crate) const HUB: &str = "65f1e2d3c4b5a69788796a5b";
pub(crate) const CYCLE_SERVER: &str = "5f1e2d3c4b5a69788796a5b4";
const LOCATION: &str = "us-east1-a";
const MODEL: &str = "c1a.4x";

pub(crate) struct Cycle {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) auth: Value,
}

#[derive(Debug)]
pub(crate) struct StepFailed {
    pub(crate) step: &'static str,
    pub(crate) why: String,
}

impl Cycle {
    /// One call as Cycle makes it; 5xx answers are retried a few times, as Cycle does.
    pub(crate) async fn call(
        &self,
        step: &'static str,
        path: &str,
        request: Value,
    ) -> Result<Value, StepFailed> {
        let fail = |why: String| StepFailed { step, why };
        let body = json!({"auth": self.auth, "request": request});
        let mut last = String::new();
        for attempt in 0..3 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
            }
            let resp = self
                .http
                .post(format!("{}{path}", self.base))
                .json(&body)
                .send()
                .await
                .map_err(|e| fail(format!("no answer from the bridge: {e}")))?;
            let status = resp.status();
            let answer: Value = resp
                .json()
                .await
                .map_err(|e| fail(format!("answer is not JSON: {e}")))?;
            if status.is_success() {
                return Ok(answer["data"].clone());
            }
            last = format!(
                "HTTP {status}: {}",
                answer["error"]["detail"].as_str().unwrap_or("no detail")
            );
            if !status.is_server_error() {
                break;
            }
        }
        Err(fail(last))
    }
}

/// Runs one step, prints it with its time and a brief answer, and counts it.
pub(crate) async fn step<Fut>(
    steps: &mut usize,
    name: &'static str,
    work: Fut,
) -> Result<Value, StepFailed>
where
    Fut: std::future::Future<Output = Result<(Value, String), StepFailed>>,
{
    *steps += 1;
    let started = Instant::now();
    let (value, brief) = work.await?;
    println!(
        "  ok  {:<22} {:>7.2}s  {brief}",
        name,
        started.elapsed().as_secs_f64()
    );
    Ok(value)
}

pub(crate) fn brief_list(items: &Value, key: &str) -> String {
    let all: Vec<&str> = items
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i.pointer(key))
        .filter_map(Value::as_str)
        .collect();
    let shown: Vec<&str> = all.iter().take(4).copied().collect();
    format!(
        "{} ({}{})",
        all.len(),
        shown.join(", "),
        if all.len() > 4 { ", ..." } else { "" }
    )
}

/// Stands in for Cycle's iPXE image: the simulator boots no VM, so no server downloads it, but
/// the demo checks that what a server would run names it and that it is served.
const STAND_IN_IMAGE: &[u8] =
    b"crusoe-ial demo: a stand-in for Cycle's iPXE image, which the simulator never boots\n";

struct StandIn {
    url: String,
    sha256: String,
}

/// Serves the stand-in image on loopback, as Cycle's CDN would serve the real one.
async fn serve_stand_in() -> std::io::Result<(StandIn, tokio::task::JoinHandle<()>)> {
    use sha2::Digest;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/stand-in-ipxe.efi", listener.local_addr()?);
    let app = axum::Router::new().route(
        "/stand-in-ipxe.efi",
        axum::routing::get(|| async { STAND_IN_IMAGE }),
    );
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let sha256 = sha2::Sha256::digest(STAND_IN_IMAGE)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((StandIn { url, sha256 }, task))
}

/// The startup script the simulator got for the server: the ipxe mode's, with the image pinned,
/// and the image where it says.
async fn check_boot_script(
    c: &Cycle,
    sim: &RunningSim,
    image: &StandIn,
) -> Result<(Value, String), StepFailed> {
    use sha2::Digest;
    let fail = |why: String| StepFailed {
        step: "boot script",
        why,
    };
    let inventory = sim.sim.inventory();
    let script = inventory["projects"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["vms"].as_array().into_iter().flatten())
        .find_map(|vm| vm["sim"]["startup_script"].as_str())
        .ok_or_else(|| fail("the simulator holds no VM with a startup script".into()))?
        .to_string();
    for expected in [
        format!("IPXE_URL='{}'", image.url),
        format!("IPXE_SHA256='{}'", image.sha256),
        "IPXE_FORMAT='efi'".to_string(),
    ] {
        if !script.contains(&expected) {
            return Err(fail(format!("the VM's startup script lacks {expected}")));
        }
    }
    let body = c
        .http
        .get(&image.url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| fail(format!("the image is not served: {e}")))?
        .bytes()
        .await
        .map_err(|e| fail(format!("the image is not served: {e}")))?;
    let got: String = sha2::Sha256::digest(&body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if got != image.sha256 {
        return Err(fail(format!("the served image's sha256 is {got}")));
    }
    Ok((
        Value::Null,
        format!(
            "ipxe mode: {} lines of bash write {} (sha256 {}...) as the boot disk, then reboot",
            script.lines().count(),
            image.url,
            &image.sha256[..12]
        ),
    ))
}

async fn lifecycle(
    c: &Cycle,
    sim: &RunningSim,
    image: &StandIn,
    steps: &mut usize,
) -> Result<(), StepFailed> {
    step(steps, "verify", async {
        let v = c.call("verify", "/v1/auth/verify", Value::Null).await?;
        let ok = v["valid"] == true;
        ok.then(|| (v.clone(), "credentials valid".to_string()))
            .ok_or(StepFailed {
                step: "verify",
                why: format!("valid is {}", v["valid"]),
            })
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
        let compatible = models.iter().filter(|m| m["compatible"] == true).count();
        Ok((
            v,
            format!("{} models, {compatible} can run CycleOS", models.len()),
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
            let brief = format!("{LOCATION}: subnet {} (version {})", v["configuration_latest"]["subnet_cidr"].as_str().unwrap_or("?"), v["version"].as_str().unwrap_or("?"));
            Ok((v["configuration_latest"].clone(), brief))
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
                            "cycle": {"server_id": CYCLE_SERVER, "model_class": "c1a", "model_category": "cpu", "model_id": "6a1b2c3d4e5f60718293a4b5", "location_id": "64a1b2c3d4e5f60718293a4b"}
                        }),
                    )
                    .await?;
                let brief = format!("server_id {} ({MODEL} in {LOCATION}, with a data disk)", v["server_id"].as_str().unwrap_or("?"));
                Ok((v, brief))
            }
        })
        .await?;
    step(steps, "boot script", check_boot_script(c, sim, image)).await?;
    let server_id = provisioned["server_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let status_request = json!({
        "server_id": server_id, "location_id": LOCATION, "location_configuration": config, "extra": provisioned["extra"],
        "cycle": {"server_id": CYCLE_SERVER, "model_class": "c1a", "model_category": "cpu", "model_id": "m", "location_id": "l"}
    });
    step(steps, "poll provision-status", async {
        let started = Instant::now();
        let tty = std::io::stdout().is_terminal();
        let mut polls = 0;
        loop {
            polls += 1;
            let v = c
                .call(
                    "poll provision-status",
                    "/v1/infrastructure/server/provision-status",
                    status_request.clone(),
                )
                .await?;
            if v["provisioned"] == true {
                if tty {
                    print!("\r{:<70}\r", "");
                }
                let a = &v["auth"];
                let brief = format!(
                    "provisioned after {polls} polls: uuid {}, mac {}, ip {}",
                    a["uuid"].as_str().unwrap_or("?"),
                    a["mac_addr"].as_str().unwrap_or("?"),
                    a["initial_ips"][0].as_str().unwrap_or("?")
                );
                return Ok((v, brief));
            }
            let line = format!(
                "      waiting for the VM ({}) ... {:.1}s",
                v["extra"]["vm_state"].as_str().unwrap_or("not listed yet"),
                started.elapsed().as_secs_f64()
            );
            if tty {
                print!("\r{line:<70}");
                let _ = std::io::stdout().flush();
            } else if polls % 10 == 1 {
                println!("{line}");
            }
            if started.elapsed() > Duration::from_secs(120) {
                return Err(StepFailed {
                    step: "poll provision-status",
                    why: "not provisioned within 120 s".into(),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await?;
    let ip_request = json!({
        "kind": "ipv4", "server_id": server_id, "location_id": LOCATION, "zone_id": null, "location_configuration": config,
        "cycle": {"pool_id": null, "server_id": CYCLE_SERVER, "server_model_class": "c1a", "server_model_category": "cpu", "location_id": "l"}
    });
    let ip = step(steps, "allocate IP", async {
        let v = c
            .call("allocate IP", "/v1/infrastructure/ip/allocate", ip_request)
            .await?;
        let brief = format!(
            "{} -> {} (load balancer)",
            v["cidr"].as_str().unwrap_or("?"),
            v["nat_private_ip"].as_str().unwrap_or("?")
        );
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
        Ok((v, "released".to_string()))
    })
    .await?;
    let server_ref = json!({
        "server_id": server_id, "hostname": "demo-node-1", "model_id": MODEL, "location_id": LOCATION, "extra": {},
        "cycle": {"server_id": CYCLE_SERVER, "model_class": "c1a", "model_category": "cpu", "model_id": "m", "location_id": "l"}
    });
    let restart = server_ref.clone();
    step(steps, "restart", async {
        let v = c
            .call("restart", "/v1/infrastructure/server/restart", restart)
            .await?;
        Ok((v, "reset and back".to_string()))
    })
    .await?;
    step(steps, "decommission", async {
        let v = c
            .call(
                "decommission",
                "/v1/infrastructure/server/decommission",
                server_ref,
            )
            .await?;
        Ok((v, "VM, data disk and addresses deleted".to_string()))
    })
    .await?;

    let inventory = sim.sim.inventory();
    let left: usize = inventory["projects"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            ["vms", "disks", "load_balancers"]
                .iter()
                .map(|k| p[*k].as_array().map_or(0, Vec::len))
                .sum::<usize>()
        })
        .sum();
    if left > 0 {
        return Err(StepFailed {
            step: "final check",
            why: format!("{left} VMs, disks or load balancers left in the simulator"),
        });
    }
    Ok(())
}

pub async fn run(args: DemoArgs) -> ExitCode {
    if args.backend == crate::backends::BackendName::CloudSigma {
        return super::demo_cloudsigma::run(args).await;
    }
    let faults = Faults {
        server_error_rate: args.server_error_rate,
        rate_limit_rate: args.rate_limit_rate,
        latency_ms: args.latency_ms,
        ..Default::default()
    };
    if let Err(e) = faults.validate() {
        eprintln!("crusoe-ial demo: {e}");
        return ExitCode::FAILURE;
    }
    let sim = match RunningSim::start(
        SimConfig {
            seed: args.seed,
            op_delay: Duration::from_millis(args.op_delay_ms),
            faults,
            ..Default::default()
        },
        "127.0.0.1:0".parse().expect("literal address"),
    )
    .await
    {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("crusoe-ial demo: cannot start the simulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (image, image_server) = match serve_stand_in().await {
        Ok(served) => served,
        Err(e) => {
            eprintln!("crusoe-ial demo: cannot serve the stand-in iPXE image: {e}");
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
    let key = sim.keys[0].clone();
    let client = ClientSettings {
        endpoint: url::Url::parse(&sim.endpoint()).expect("the simulator's URL"),
        attempt_timeout: Duration::from_secs(5),
        call_deadline: Duration::from_secs(10),
        retry: RetryPolicy {
            max_attempts: 4,
            ..Default::default()
        },
        user_agent: crate::USER_AGENT.into(),
        ..Default::default()
    };
    // What `serve` serves, on a listener of the demo's own.
    let app = match crate::serve::app(&crate::serve::AppSettings {
        client,
        server_held: None,
        bridge: settings,
        ial: IalOptions::default(),
        cloudsigma: None,
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

    println!(
        "crusoe-ial demo: Cycle's side of a server's whole life, against the bridge over HTTP"
    );
    println!("  Crusoe simulator  {}", sim.endpoint());
    println!("  bridge            {bridge_url}");
    if let Some(cy) = &cycloid {
        println!(
            "  Cycloid simulator {} (organisation {CYCLOID_ORG})",
            cy.url()
        );
    }
    println!(
        "  boot mode         ipxe, Cycle's iPXE image stood in by {} (the simulator boots no VM)",
        image.url
    );
    if args.server_error_rate + args.rate_limit_rate > 0.0 || args.latency_ms > 0 {
        println!(
            "  faults            {:.0}% 5xx, {:.0}% 429, +{} ms per Crusoe call",
            args.server_error_rate * 100.0,
            args.rate_limit_rate * 100.0,
            args.latency_ms
        );
    }
    println!();
    let auth = json!({
        "api_key": key.access_key_id, "secret": key.secret_key, "namespace": key.project_id,
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
                "demo passed: {} steps in {:.1}s, {calls} Crusoe calls, nothing left behind",
                steps,
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
        println!("  curl -s {bridge_url}/v1/infrastructure/provider/locations -H 'content-type: application/json' -d '{body}'");
        println!("  curl -s {}/inventory", sim.admin());
        println!("  curl -s -X PUT {}/faults -H 'content-type: application/json' -d '{{\"server_error_rate\": 0.2}}'", sim.admin());
        crate::shutdown::signal().await;
    }
    server.abort();
    image_server.abort();
    sim.stop().await;
    code
}
