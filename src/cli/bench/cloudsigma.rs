//! The bench's CloudSigma fleet: the CloudSigma simulator and a bridge with `backend =
//! "cloudsigma"`, each its own process, N servers provisioned at once and polled on Cycle's
//! interval. CloudSigma has no batched status read to coalesce: every poll is one read of the
//! server by name (and a start when it is stopped), which is what the figures show.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::process::Command;

use super::{
    client, configure, exe, peak_rss_mb, poll_all, provision_all, sim_calls, start, BenchArgs,
    Cycle, FleetResult, Pipe, Proc,
};

const USER: &str = "bench@example.com";
const PASSWORD: &str = "bench-password";
const LOCATION: &str = "zrh";
const MODEL: &str = "cs-2c-4g";
/// How long the simulated CloudSigma takes for each transition (a drive made, a server started):
/// CloudSigma's own clients poll every 3 to 5 s for these.
const TRANSITION_MS: u64 = 2000;

async fn start_sim(args: &BenchArgs) -> Result<Proc, String> {
    let mut command = Command::new(exe());
    command.args([
        "simulate",
        "--backend",
        "cloudsigma",
        "--listen",
        "127.0.0.1:0",
        "--key",
        &format!("{USER}:{PASSWORD}@{LOCATION}"),
        "--op-delay-ms",
        &TRANSITION_MS.to_string(),
        "--latency-ms",
        &args.sim_latency_ms.to_string(),
    ]);
    start(command, "CloudSigma simulator", Pipe::Stdout, |line| {
        let template = line.strip_prefix("export CLOUDSIGMA_API_ENDPOINT=")?;
        let template = template.trim_matches('\'');
        Some(
            template
                .trim_start_matches("http://")
                .split('/')
                .next()?
                .to_string(),
        )
    })
    .await
}

/// Serves a stand-in for Cycle's iPXE ISO: the simulator boots nothing.
async fn serve_stand_in() -> Result<(String, tokio::task::JoinHandle<()>), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let url = format!(
        "http://{}/ipxe.iso",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let app = axum::Router::new().route(
        "/ipxe.iso",
        axum::routing::get(|| async { vec![0u8; 1024 * 1024] }),
    );
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, task))
}

async fn start_bridge(sim: &Proc, iso_url: &str) -> Result<Proc, String> {
    let dir = std::env::temp_dir().join(format!(
        "crusoe-ial-bench-cloudsigma-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!("backend = \"cloudsigma\"\nmax_in_flight = 4096\n[bridge.boot]\nipxe_url = \"{iso_url}\"\n[bridge.rate_limit]\nper_second = 0\n[cloudsigma]\nlocations = [\"{LOCATION}\"]\napi_endpoint = \"http://{}/{{location}}/api/2.0/\"\nwait_secs = 120\n[cloudsigma.ips]\nbuy = true\n", sim.addr),
    )
    .map_err(|e| e.to_string())?;
    let mut command = Command::new(exe());
    command
        .args([
            "--config",
            config.to_str().unwrap_or_default(),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("RUST_LOG", "error,crusoe_ial::serve=info")
        .env("IAL_LOG_FORMAT", "json")
        .env("HOME", &dir)
        .stdin(Stdio::null());
    start(command, "bridge", Pipe::Stderr, |line| {
        crate::serve::listening_on(line).map(|a| a.to_string())
    })
    .await
}

pub async fn fleet(args: &BenchArgs) -> Result<FleetResult, String> {
    let sim = start_sim(args).await?;
    let (iso_url, iso_server) = serve_stand_in().await?;
    let bridge = start_bridge(&sim, &iso_url).await?;
    let cycle = Arc::new(Cycle {
        http: client(args),
        base: format!("http://{}", bridge.addr),
        auth: json!({"api_key": USER, "secret": PASSWORD, "namespace": LOCATION, "cycle": {"hub_id": "65f1e2d3c4b5a69788796a5b", "hub_name": "bench"}}),
        model: MODEL,
        location: LOCATION,
    });
    let config: Value = configure(&cycle).await?;
    let (ids, provision) =
        provision_all(&cycle, "s", args.servers, args.concurrency, &config).await;
    let before = sim_calls(&sim).await;
    let interval = Duration::from_millis(args.poll_interval_ms);
    let outcome = poll_all(
        &cycle,
        &ids,
        interval,
        &config,
        None,
        Duration::from_millis(TRANSITION_MS) + interval * 20,
    )
    .await;
    let calls = sim_calls(&sim).await.saturating_sub(before);
    iso_server.abort();
    Ok(FleetResult {
        mode: "cloudsigma".into(),
        servers: args.servers,
        provisioned: outcome.provisioned_at_ms.len(),
        provision,
        crusoe_calls_per_poll: calls as f64 / outcome.polls.max(1) as f64,
        crusoe_calls_while_polling: calls,
        status: outcome.latencies,
        report_delay_p50_ms: 0.0,
        report_delay_max_ms: 0.0,
        stale_answers: 0,
        stale_answers_max_per_server: 0,
        bridge_peak_rss_mb: peak_rss_mb(&bridge.child),
    })
}
