//! `crusoe-ial bench`: the bridge against the simulator on loopback, each its own process (so the
//! bridge's memory is its own), under a simulated Cycle fleet: catalogue reads, N servers
//! provisioned at once and polled on Cycle's interval, per-poll and coalesced status reads side by
//! side, and a memory run with many servers in flight.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

mod catalog;
mod cloudsigma;
mod unknown;

pub use unknown::{Phase, UnknownNamesResult};

#[derive(Debug, Args, Clone)]
pub struct BenchArgs {
    /// A small, fast run (for tests): few servers, short intervals.
    #[arg(long)]
    pub quick: bool,
    /// Servers provisioned at once and polled, in each status mode.
    #[arg(long, default_value_t = 1000)]
    pub servers: usize,
    /// Servers held in flight for the memory measurement.
    #[arg(long, default_value_t = 10_000)]
    pub memory_servers: usize,
    /// Cycle's provision-status interval, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    pub poll_interval_ms: u64,
    /// How long the simulated Crusoe takes to create a VM, in milliseconds (real GPU VMs take
    /// minutes; 30 s keeps each server in flight for several polls).
    #[arg(long, default_value_t = 30_000)]
    pub op_delay_ms: u64,
    /// The bridge's `bridge.status.refresh_ms` (default: 2/5 of the poll interval, at most 2000,
    /// which is the shipped default at Cycle's 5 s).
    #[arg(long)]
    pub refresh_ms: Option<u64>,
    /// Latency the simulator adds to every call, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub sim_latency_ms: u64,
    /// The simulator reads list-VMs' `names` as one exact name (a reading no Crusoe client rules
    /// out), so the bridge cannot batch status reads by name.
    #[arg(long)]
    pub names_match_one: bool,
    /// Seconds of catalogue load.
    #[arg(long, default_value_t = 5)]
    pub catalog_secs: u64,
    /// Concurrent Cycle connections while provisioning.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Connections loading the catalogue endpoints (each sends its next request when the last is
    /// answered, so latency grows with this number once the cores are busy).
    #[arg(long, default_value_t = 16)]
    pub catalog_connections: usize,
    /// Distinct names of servers that do not exist, polled beside real servers (`unknown-names`).
    #[arg(long, default_value_t = 2000)]
    pub unknown_names: usize,
    /// Run one part only.
    #[arg(long, value_enum)]
    pub only: Option<Part>,
    /// Print the results as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// The bridge's Cycloid sink: `off`, or on with Cycloid `down` (nothing listens), `slow` (a
    /// simulated Cycloid answering after 30 s, beyond the sink's 5 s timeout) or `up` (a
    /// simulated Cycloid answering at once): what the sink costs Cycle's calls.
    #[arg(long, value_enum, default_value_t = CycloidMode::Off)]
    pub cycloid: CycloidMode,
    /// The environment that points the bridges at the Cycloid of `cycloid`, set by `run`.
    #[arg(skip)]
    cycloid_env: Vec<(String, String)>,
}

/// The bench's parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// Catalogue reads.
    Catalog,
    /// A fleet provisioned and polled, per poll and coalesced.
    Fleets,
    /// Many servers in flight.
    Memory,
    /// A storm of polls for servers that do not exist.
    UnknownNames,
    /// A fleet provisioned and polled on the CloudSigma backend and its simulator.
    #[value(name = "cloudsigma")]
    CloudSigma,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CycloidMode {
    Off,
    Down,
    Slow,
    Up,
}

impl BenchArgs {
    fn refresh_ms(&self) -> u64 {
        self.refresh_ms
            .unwrap_or((self.poll_interval_ms * 2 / 5).clamp(50, 2000))
    }

    fn effective(&self) -> Self {
        if !self.quick {
            return self.clone();
        }
        Self {
            servers: self.servers.min(20),
            memory_servers: self.memory_servers.min(50),
            poll_interval_ms: self.poll_interval_ms.min(200),
            refresh_ms: self.refresh_ms.map(|ms| ms.min(80)),
            op_delay_ms: self.op_delay_ms.min(300),
            catalog_secs: self.catalog_secs.min(1),
            concurrency: self.concurrency.min(8),
            catalog_connections: self.catalog_connections.min(4),
            unknown_names: self.unknown_names.min(40),
            ..self.clone()
        }
    }
}

const ACCESS: &str = "benchAccessKey0000000A";
const SECRET: &str = "HrbZ3VTUb2YNAq53Md1EsA";
const PROJECT: &str = "b0b0b0b0-0000-4000-8000-000000000001";
const MODEL: &str = "s1a.80x";
const LOCATION: &str = "us-east1-a";

#[derive(Debug, Default, Serialize)]
pub struct Latencies {
    pub requests: u64,
    pub errors: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

fn summarise(mut ms: Vec<f64>, errors: u64, elapsed: Duration) -> Latencies {
    ms.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| {
        ms.get(((ms.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    Latencies {
        requests: ms.len() as u64 + errors,
        errors,
        per_second: (ms.len() as u64 + errors) as f64 / elapsed.as_secs_f64().max(1e-9),
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        max_ms: ms.last().copied().unwrap_or(0.0),
    }
}

#[derive(Debug, Serialize)]
pub struct FleetResult {
    pub mode: String,
    pub servers: usize,
    pub provisioned: usize,
    pub provision: Latencies,
    pub status: Latencies,
    pub crusoe_calls_while_polling: u64,
    pub crusoe_calls_per_poll: f64,
    pub report_delay_p50_ms: f64,
    pub report_delay_max_ms: f64,
    /// Polls answered `provisioned: false` although the VM was already running when the poll was
    /// sent: what answering from a view costs Cycle, against a read made for the poll.
    pub stale_answers: u64,
    /// The most such polls any one server got (each costs that server one poll interval).
    pub stale_answers_max_per_server: u64,
    pub bridge_peak_rss_mb: f64,
}

#[derive(Debug, Serialize)]
pub struct MemoryResult {
    pub servers_in_flight: usize,
    pub polls: u64,
    pub errors: u64,
    pub bridge_peak_rss_mb: f64,
}

/// What was run: every part, or the one asked for with `--only`.
#[derive(Debug, Serialize)]
pub struct Report {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locations: Option<Latencies>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_models: Option<Latencies>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fleets: Vec<FleetResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_names: Option<UnknownNamesResult>,
}

struct Proc {
    child: Child,
    addr: String,
}

fn exe() -> PathBuf {
    std::env::current_exe().expect("the running binary's path")
}

async fn start_sim(args: &BenchArgs, op_delay_ms: u64) -> Result<Proc, String> {
    let mut command = Command::new(exe());
    command
        .args([
            "simulate",
            "--listen",
            "127.0.0.1:0",
            "--key",
            &format!("{ACCESS}:{SECRET}:{PROJECT}"),
        ])
        .args([
            "--op-delay-ms",
            &op_delay_ms.to_string(),
            "--latency-ms",
            &args.sim_latency_ms.to_string(),
        ])
        .args(args.names_match_one.then_some("--names-match-one"));
    start(command, "simulator", Pipe::Stdout, |line| {
        let endpoint = line.strip_prefix("export CRUSOE_API_ENDPOINT=")?;
        Some(
            endpoint
                .trim_start_matches("http://")
                .trim_end_matches("/v1")
                .to_string(),
        )
    })
    .await
}

/// Which of a child's outputs says where it listens.
enum Pipe {
    Stdout,
    Stderr,
}

/// Spawns `command` (killed when dropped) and waits for the line of its `pipe` that `find` turns
/// into the address it listens on.
async fn start(
    mut command: Command,
    what: &str,
    pipe: Pipe,
    find: impl Fn(&str) -> Option<String>,
) -> Result<Proc, String> {
    let (out, err) = match pipe {
        Pipe::Stdout => (Stdio::piped(), Stdio::null()),
        Pipe::Stderr => (Stdio::null(), Stdio::piped()),
    };
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start the {what}: {e}"))?;
    let addr = match pipe {
        Pipe::Stdout => await_line(child.stdout.take().expect("piped"), find).await,
        Pipe::Stderr => await_line(child.stderr.take().expect("piped"), find).await,
    };
    match addr {
        Some(addr) => Ok(Proc { child, addr }),
        None => Err(format!("the {what} did not say where it listens")),
    }
}

/// Reads a child's `pipe` until `find` accepts a line, then keeps draining it: a closed or full
/// pipe would stop the child at its next line.
async fn await_line(
    pipe: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    find: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    let mut lines = BufReader::new(pipe).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(found) = find(&line) {
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Some(found);
        }
    }
    None
}

async fn start_bridge(
    sim: &Proc,
    coalesce: bool,
    refresh_ms: u64,
    cycloid_env: &[(String, String)],
) -> Result<Proc, String> {
    static STARTED: AtomicU64 = AtomicU64::new(0);
    let n = STARTED.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("crusoe-ial-bench-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let config = dir.join("config.toml");
    // One /16 subnet holds the memory run's servers; no firewall rules (whose creation would wait
    // on the memory run's never-ending operations); limits sized for a fleet, and no per-tenant
    // rate limit: the harness is one hub sending the whole load. The simulator boots no VM, so
    // the iPXE image's address is a stand-in that nothing fetches.
    std::fs::write(
        &config,
        format!("max_in_flight = 4096\n[bridge.boot]\nipxe_url = \"http://127.0.0.1:9/stand-in-ipxe.efi\"\n[bridge.network]\nsubnet_prefix = 16\ningress_tcp_ports = []\n[bridge.status]\nrefresh_ms = {refresh_ms}\n[bridge.rate_limit]\nper_second = 0\n"),
    )
    .map_err(|e| e.to_string())?;
    // Port 0, bound by the bridge itself, which names it in its "serving" line: a port picked
    // here and freed for the bridge could be taken by another process meanwhile.
    let mut command = Command::new(exe());
    command
        .args([
            "--config",
            config.to_str().unwrap_or_default(),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("CRUSOE_API_ENDPOINT", format!("http://{}/v1", sim.addr))
        .env(
            "IAL_STATUS_READS",
            if coalesce { "coalesced" } else { "per-poll" },
        )
        .env("RUST_LOG", "error,crusoe_ial::serve=info")
        .env("IAL_LOG_FORMAT", "json")
        .env("HOME", &dir)
        .envs(cycloid_env.iter().map(|(k, v)| (k, v)));
    start(command, "bridge", Pipe::Stderr, |line| {
        crate::serve::listening_on(line).map(|a| a.to_string())
    })
    .await
}

/// Peak resident memory of a process, from /proc (Linux).
fn peak_rss_mb(child: &Child) -> f64 {
    let Some(pid) = child.id() else { return 0.0 };
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_string)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn auth() -> Value {
    json!({"api_key": ACCESS, "secret": SECRET, "namespace": PROJECT, "cycle": {"hub_id": "65f1e2d3c4b5a69788796a5b", "hub_name": "bench"}})
}

struct Cycle {
    http: reqwest::Client,
    base: String,
    auth: Value,
    model: &'static str,
    location: &'static str,
}

impl Cycle {
    async fn call(&self, path: &str, request: Value) -> Result<Value, String> {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&json!({"auth": self.auth, "request": request}))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let body: Value = resp.json().await.map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(body["data"].clone())
        } else {
            Err(format!("{status}: {}", body["error"]["detail"]))
        }
    }
}

async fn sim_calls(sim: &Proc) -> u64 {
    let v: Value = match reqwest::get(format!("http://{}/_sim/calls", sim.addr)).await {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(_) => Value::Null,
    };
    v["total"].as_u64().unwrap_or(0)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Provisions `n` servers at once (bounded concurrency), returning the server ids and latencies.
async fn provision_all(
    cycle: &Arc<Cycle>,
    prefix: &str,
    n: usize,
    concurrency: usize,
    config: &Value,
) -> (Vec<String>, Latencies) {
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..n {
        let (cycle, sem, config) = (Arc::clone(cycle), Arc::clone(&sem), config.clone());
        let cycle_id = format!("{prefix}{i:0>8}");
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await;
            let t = Instant::now();
            let answer = cycle
                .call(
                    "/v1/infrastructure/server/provision",
                    json!({"hostname": format!("bench-{i}"), "model_id": cycle.model, "location_id": cycle.location, "location_configuration": config,
                           "cycle": {"server_id": cycle_id, "model_class": "s1a", "model_category": "cpu", "model_id": "m", "location_id": "l"}}),
                )
                .await;
            (answer.map(|a| a["server_id"].as_str().unwrap_or_default().to_string()), t.elapsed().as_secs_f64() * 1000.0)
        }));
    }
    let (mut ids, mut ms, mut errors) = (Vec::new(), Vec::new(), 0);
    for t in tasks {
        match t.await {
            Ok((Ok(id), took)) => {
                ids.push(id);
                ms.push(took);
            }
            Ok((Err(e), _)) => {
                if errors == 0 {
                    eprintln!("bench: first provision error: {e}");
                }
                errors += 1;
            }
            Err(_) => errors += 1,
        }
    }
    (ids, summarise(ms, errors, started.elapsed()))
}

struct PollOutcome {
    latencies: Latencies,
    provisioned_at_ms: BTreeMap<String, u64>,
    /// For each poll answered `provisioned: false`: the server, and when the poll was sent.
    not_yet: Vec<(String, u64)>,
    polls: u64,
}

#[derive(Default)]
struct Record {
    ms: Vec<f64>,
    errors: u64,
    provisioned_at_ms: BTreeMap<String, u64>,
    not_yet: Vec<(String, u64)>,
}

/// Polls every server on Cycle's interval (first polls spread over one interval) until each is
/// provisioned, or, with `rounds`, for that many polls each.
async fn poll_all(
    cycle: &Arc<Cycle>,
    ids: &[String],
    interval: Duration,
    config: &Value,
    rounds: Option<u32>,
    deadline: Duration,
) -> PollOutcome {
    let started = Instant::now();
    let record = Arc::new(Mutex::new(Record::default()));
    let polls = Arc::new(AtomicU64::new(0));
    let n = ids.len().max(1) as u64;
    let mut tasks = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let (cycle, record, polls, config, id) = (
            Arc::clone(cycle),
            Arc::clone(&record),
            Arc::clone(&polls),
            config.clone(),
            id.clone(),
        );
        let offset = interval.mul_f64(i as f64 / n as f64);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(offset).await;
            let mut next = Instant::now();
            let mut done = 0;
            loop {
                let (t, sent_ms) = (Instant::now(), now_ms());
                let answer = cycle
                    .call("/v1/infrastructure/server/provision-status", json!({"server_id": id, "location_id": cycle.location, "location_configuration": config, "extra": {}}))
                    .await;
                polls.fetch_add(1, Ordering::Relaxed);
                let took = t.elapsed().as_secs_f64() * 1000.0;
                let provisioned = {
                    let mut r = record.lock().unwrap_or_else(|e| e.into_inner());
                    match answer {
                        Ok(v) => {
                            r.ms.push(took);
                            let yes = v["provisioned"] == true;
                            if yes {
                                r.provisioned_at_ms.entry(id.clone()).or_insert_with(now_ms);
                            } else {
                                r.not_yet.push((id.clone(), sent_ms));
                            }
                            yes
                        }
                        Err(_) => {
                            r.errors += 1;
                            false
                        }
                    }
                };
                done += 1;
                let finished = match rounds {
                    Some(r) => done >= r,
                    None => provisioned,
                };
                if finished || started.elapsed() > deadline {
                    break;
                }
                next += interval;
                tokio::time::sleep_until(next.into()).await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = started.elapsed();
    let r = std::mem::take(&mut *record.lock().unwrap_or_else(|e| e.into_inner()));
    PollOutcome {
        latencies: summarise(r.ms, r.errors, elapsed),
        provisioned_at_ms: r.provisioned_at_ms,
        not_yet: r.not_yet,
        polls: polls.load(Ordering::Relaxed),
    }
}

async fn configure(cycle: &Cycle) -> Result<Value, String> {
    cycle
        .call("/v1/location/configure", json!({"location_id": cycle.location, "version": "", "configuration_current": {}, "cycle": {"location_id": "l"}}))
        .await
        .map(|v| v["configuration_latest"].clone())
}

fn client(args: &BenchArgs) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency.max(64))
        .timeout(Duration::from_secs(120))
        .build()
        .expect("an HTTP client")
}

async fn fleet(args: &BenchArgs, coalesce: bool) -> Result<FleetResult, String> {
    let sim = start_sim(args, args.op_delay_ms).await?;
    let bridge = start_bridge(&sim, coalesce, args.refresh_ms(), &args.cycloid_env).await?;
    let cycle = Arc::new(Cycle {
        http: client(args),
        base: format!("http://{}", bridge.addr),
        auth: auth(),
        model: MODEL,
        location: LOCATION,
    });
    let config = configure(&cycle).await?;
    let (ids, provision) = provision_all(
        &cycle,
        if coalesce { "c" } else { "n" },
        args.servers,
        args.concurrency,
        &config,
    )
    .await;
    let before = sim_calls(&sim).await;
    let interval = Duration::from_millis(args.poll_interval_ms);
    let outcome = poll_all(
        &cycle,
        &ids,
        interval,
        &config,
        None,
        Duration::from_millis(args.op_delay_ms) + interval * 20,
    )
    .await;
    let calls = sim_calls(&sim).await.saturating_sub(before);
    let inventory: Value = reqwest::get(format!("http://{}/_sim/inventory", sim.addr))
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let running_since: BTreeMap<&str, u64> = inventory["projects"][0]["vms"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|vm| {
            Some((
                vm["name"].as_str()?,
                vm["sim"]["running_since_unix_ms"].as_u64()?,
            ))
        })
        .collect();
    let mut delays: Vec<f64> = running_since
        .iter()
        .filter_map(|(name, running)| {
            let seen = outcome.provisioned_at_ms.get(*name)?;
            Some(seen.saturating_sub(*running) as f64)
        })
        .collect();
    delays.sort_by(|a, b| a.total_cmp(b));
    let (stale_answers, stale_answers_max_per_server) =
        stale_answers(&outcome.not_yet, &running_since);
    Ok(FleetResult {
        mode: if coalesce { "coalesced" } else { "per-poll" }.into(),
        servers: args.servers,
        provisioned: outcome.provisioned_at_ms.len(),
        provision,
        crusoe_calls_per_poll: calls as f64 / outcome.polls.max(1) as f64,
        crusoe_calls_while_polling: calls,
        status: outcome.latencies,
        report_delay_p50_ms: delays.get(delays.len() / 2).copied().unwrap_or(0.0),
        report_delay_max_ms: delays.last().copied().unwrap_or(0.0),
        stale_answers,
        stale_answers_max_per_server,
        bridge_peak_rss_mb: peak_rss_mb(&bridge.child),
    })
}

/// Counts the `provisioned: false` answers to polls sent after the VM was running, in all and
/// for the worst server. Both clocks are this machine's wall clock in whole milliseconds, so a
/// poll counts only when sent at least a millisecond after the simulator's time of running.
fn stale_answers(not_yet: &[(String, u64)], running_since: &BTreeMap<&str, u64>) -> (u64, u64) {
    let mut per_server: BTreeMap<&str, u64> = BTreeMap::new();
    for (id, sent) in not_yet {
        if running_since
            .get(id.as_str())
            .is_some_and(|running| sent > running)
        {
            *per_server.entry(id).or_default() += 1;
        }
    }
    (
        per_server.values().sum(),
        per_server.values().copied().max().unwrap_or(0),
    )
}

/// A simulator whose VMs take far longer than the run, a coalescing bridge on it, Cycle's side
/// and a configured location: every server provisioned stays in flight.
async fn held_in_flight(args: &BenchArgs) -> Result<(Proc, Proc, Arc<Cycle>, Value), String> {
    let sim = start_sim(args, 3_600_000).await?;
    let bridge = start_bridge(&sim, true, args.refresh_ms(), &args.cycloid_env).await?;
    let cycle = Arc::new(Cycle {
        http: client(args),
        base: format!("http://{}", bridge.addr),
        auth: auth(),
        model: MODEL,
        location: LOCATION,
    });
    let config = configure(&cycle).await?;
    Ok((sim, bridge, cycle, config))
}

async fn memory(args: &BenchArgs) -> Result<MemoryResult, String> {
    // VMs take far longer than the run: every server stays in flight.
    let (_sim, bridge, cycle, config) = held_in_flight(args).await?;
    let (ids, provision) =
        provision_all(&cycle, "m", args.memory_servers, args.concurrency, &config).await;
    let interval = Duration::from_millis(args.poll_interval_ms);
    let outcome = poll_all(&cycle, &ids, interval, &config, Some(2), interval * 10).await;
    Ok(MemoryResult {
        servers_in_flight: ids.len(),
        polls: outcome.polls,
        errors: outcome.latencies.errors + provision.errors,
        bridge_peak_rss_mb: peak_rss_mb(&bridge.child),
    })
}

/// Where the bridges' sink sends, for `mode`; the simulated Cycloid runs in this process.
async fn cycloid_for(
    mode: CycloidMode,
) -> Result<(Vec<(String, String)>, Option<cycloid_sim::RunningCycloid>), String> {
    const ORG: &str = "bench-org";
    const KEY: &str = "bench-cycloid-key";
    let (url, running) = match mode {
        CycloidMode::Off => return Ok((Vec::new(), None)),
        CycloidMode::Down => {
            let closed = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            let url = format!("http://{}", closed.local_addr().map_err(|e| e.to_string())?);
            (url, None)
        }
        CycloidMode::Slow | CycloidMode::Up => {
            let cy = cycloid_sim::RunningCycloid::start(cycloid_sim::CycloidSim::new(ORG, KEY))
                .await
                .map_err(|e| format!("cannot start the Cycloid simulator: {e}"))?;
            if mode == CycloidMode::Slow {
                cy.sim
                    .set_behaviour(cycloid_sim::Behaviour::Slow(Duration::from_secs(30)));
            }
            (cy.url(), Some(cy))
        }
    };
    let env = [("CY_ORG", ORG), ("CY_API_KEY", KEY), ("CY_API_URL", &url)]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Ok((env, running))
}

pub async fn run(args: BenchArgs) -> Result<Report, String> {
    let mut args = args.effective();
    let (env, _cycloid) = cycloid_for(args.cycloid).await?;
    args.cycloid_env = env;
    let runs = |part: Part| args.only.is_none_or(|only| only == part);
    let mut report = Report {
        locations: None,
        server_models: None,
        fleets: Vec::new(),
        memory: None,
        unknown_names: None,
    };
    if runs(Part::Catalog) {
        let sim = start_sim(&args, args.op_delay_ms).await?;
        let bridge = start_bridge(&sim, true, args.refresh_ms(), &args.cycloid_env).await?;
        let body = serde_json::to_vec(&json!({"auth": auth(), "request": null}))
            .map_err(|e| e.to_string())?;
        let [locations, server_models] = catalog::load(
            &bridge.addr,
            body.into(),
            args.catalog_connections,
            Duration::from_secs(args.catalog_secs),
        )
        .await?;
        report.locations = Some(locations);
        report.server_models = Some(server_models);
    }
    if runs(Part::Fleets) {
        report.fleets = vec![fleet(&args, false).await?, fleet(&args, true).await?];
    }
    if runs(Part::Memory) {
        report.memory = Some(memory(&args).await?);
    }
    if runs(Part::UnknownNames) {
        report.unknown_names = Some(unknown::run(&args).await?);
    }
    if runs(Part::CloudSigma) {
        report.fleets.push(cloudsigma::fleet(&args).await?);
    }
    Ok(report)
}

/// The report as Markdown tables.
pub fn markdown(r: &Report, args: &BenchArgs) -> String {
    let a = args.effective();
    let mut out = String::new();
    out.push_str(&format!(
        "Settings: {} servers per fleet, {} held for memory, poll interval {} ms, coalesced refresh {} ms, VM creation {} ms, simulator latency {} ms{}, {} connections provisioning, {} s of catalogue load on {} connections, Cycloid sink {:?}.\n\n",
        a.servers, a.memory_servers, a.poll_interval_ms, a.refresh_ms(), a.op_delay_ms, a.sim_latency_ms,
        if a.names_match_one { ", `names` matching one name" } else { "" },
        a.concurrency, a.catalog_secs, a.catalog_connections, a.cycloid
    ));
    if r.locations.is_some() || !r.fleets.is_empty() {
        out.push_str("| endpoint | mode | requests | errors | req/s | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|---|---|\n");
    }
    let row = |out: &mut String, name: &str, mode: &str, l: &Latencies| {
        out.push_str(&format!(
            "| {name} | {mode} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} |\n",
            l.requests, l.errors, l.per_second, l.p50_ms, l.p99_ms, l.max_ms
        ));
    };
    if let (Some(locations), Some(models)) = (&r.locations, &r.server_models) {
        row(&mut out, "locations (cached)", "-", locations);
        row(&mut out, "server-models (cached)", "-", models);
    }
    for f in &r.fleets {
        row(&mut out, "provision", &f.mode, &f.provision);
        row(&mut out, "provision-status", &f.mode, &f.status);
    }
    if !r.fleets.is_empty() {
        out.push_str("\n| status mode | servers provisioned | polls | Crusoe calls while polling | calls per poll | report delay p50 ms | report delay max ms | stale answers (most for one server) | bridge peak RSS MB |\n|---|---|---|---|---|---|---|---|---|\n");
        for f in &r.fleets {
            out.push_str(&format!(
                "| {} | {}/{} | {} | {} | {:.3} | {:.0} | {:.0} | {} ({}) | {:.1} |\n",
                f.mode,
                f.provisioned,
                f.servers,
                f.status.requests,
                f.crusoe_calls_while_polling,
                f.crusoe_calls_per_poll,
                f.report_delay_p50_ms,
                f.report_delay_max_ms,
                f.stale_answers,
                f.stale_answers_max_per_server,
                f.bridge_peak_rss_mb
            ));
        }
    }
    if let Some(m) = &r.memory {
        out.push_str(&format!(
            "\nMemory: {} servers in flight (coalesced), {} polls, {} errors, bridge peak RSS {:.1} MB.\n",
            m.servers_in_flight, m.polls, m.errors, m.bridge_peak_rss_mb
        ));
    }
    if let Some(u) = &r.unknown_names {
        out.push_str(&format!(
            "\nUnknown names: {} names that no server has, polled {} times each beside {} real servers in flight.\n\n| phase | unknown polls | real polls | Crusoe calls | of which list-VMs | real poll p50 ms | real poll max ms | unknown poll p50 ms | unknown poll max ms |\n|---|---|---|---|---|---|---|---|---|\n",
            u.unknown_names, u.rounds, u.real_servers
        ));
        for (name, p) in [
            ("real servers alone", &u.control),
            ("with the unknown names", &u.storm),
        ] {
            out.push_str(&format!(
                "| {name} | {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |\n",
                p.unknown_polls,
                p.real_polls,
                p.crusoe_calls,
                p.list_vms_calls,
                p.real_poll.p50_ms,
                p.real_poll.max_ms,
                p.unknown_poll.p50_ms,
                p.unknown_poll.max_ms
            ));
        }
        out.push_str(&format!(
            "\nCrusoe calls per unknown-name poll: {:.3}.\n",
            u.crusoe_calls_per_unknown_poll
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_answer_is_a_false_answer_to_a_poll_sent_after_the_vm_ran() {
        let running: BTreeMap<&str, u64> = [("a", 150), ("b", 50), ("c", 400)].into();
        let not_yet = |polls: &[(&str, u64)]| -> Vec<(String, u64)> {
            polls.iter().map(|(id, at)| (id.to_string(), *at)).collect()
        };
        // Before running, in the same millisecond, or a server the simulator never ran: not stale.
        assert_eq!(
            stale_answers(
                &not_yet(&[("a", 100), ("b", 50), ("c", 300), ("z", 999)]),
                &running
            ),
            (0, 0)
        );
        assert_eq!(
            stale_answers(&not_yet(&[("a", 151), ("a", 200), ("b", 51)]), &running),
            (3, 2)
        );
    }
}
