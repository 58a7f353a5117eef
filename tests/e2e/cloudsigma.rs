//! The CloudSigma backend end to end: the bridge served as `serve` serves it, on the CloudSigma
//! simulator (`crates/cloudsigma-sim`), called over HTTP as Cycle calls it, with Cycle's iPXE ISO
//! served on loopback. Each test asserts what Cycle or an operator would notice: every answer
//! against Cycle's OpenAPI and Go types, the identity a booted server presents, what boots it,
//! what is left (and billed) in the account, and the errors Cycle is shown.

use crate::common;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cloudsigma_sim::{Account, Faults, RunningSim, Sim, SimConfig};
use common::harness::{cycle_refuses, element, serve_cloudsigma, Harness, CYCLE_LOCATION, HUB};
use crusoe_ial::backends::cloudsigma::config::{cloudsigma_config, RawCloudSigma};
use crusoe_ial::backends::cloudsigma::settings::IpPoolSettings;
use crusoe_ial::config::BridgeSettings;
use serde_json::{json, Value};
use sha2::Digest;
use tokio::task::JoinHandle;

const ZRH: &str = "zrh";
const MODEL: &str = "cs-2c-4g";
const GIB: u64 = 1 << 30;
/// CycleOS needs 45 GB or more (`../shared/reference/cycle-ial/IAL.md`).
const CYCLEOS_DISK: u64 = 45 * GIB;

const VERIFY: &str = "/v1/auth/verify";
const LOCATIONS: &str = "/v1/infrastructure/provider/locations";
const MODELS: &str = "/v1/infrastructure/provider/server-models";
const CONFIGURE: &str = "/v1/location/configure";
const PROVISION: &str = "/v1/infrastructure/server/provision";
const STATUS: &str = "/v1/infrastructure/server/provision-status";
const RESTART: &str = "/v1/infrastructure/server/restart";
const DECOMMISSION: &str = "/v1/infrastructure/server/decommission";
const ALLOCATE: &str = "/v1/infrastructure/ip/allocate";
const RELEASE: &str = "/v1/infrastructure/ip/release";

/// Debian's iPXE ISO when the machine has it (package `ipxe`), else a stand-in: the simulator
/// boots nothing (`tests/boot/cd_rom.rs` boots the real one in QEMU).
const DEBIAN_IPXE_ISO: &str = "/usr/lib/ipxe/ipxe.iso";

/// The method of each route in Cycle's OpenAPI.
fn method_of(path: &str) -> &'static str {
    match path {
        LOCATIONS | MODELS | STATUS => "get",
        _ => "post",
    }
}

/// A Cycle server id (24 hexadecimal digits), one per `n`.
fn cycle_id(n: u32) -> String {
    format!("5f1e2d3c4b5a69788796{n:04x}")
}

/// Cycle's iPXE ISO, served on loopback.
struct Iso {
    url: String,
    sha256: String,
    task: JoinHandle<()>,
}

async fn serve_iso() -> Iso {
    let bytes: Vec<u8> = std::fs::read(DEBIAN_IPXE_ISO)
        .unwrap_or_else(|_| b"a stand-in for Cycle's iPXE ISO, never booted here\n".to_vec());
    let sha256 = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ipxe.iso", listener.local_addr().unwrap());
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
    Iso { url, sha256, task }
}

fn auth_of(account: &Account, namespace: &str) -> Value {
    json!({
        "api_key": account.username,
        "secret": account.password,
        "namespace": namespace,
        "cycle": {"hub_name": "test hub", "hub_id": HUB}
    })
}

/// Every answer's status, by route, as Cycle saw them, and the first error detail of each.
#[derive(Default)]
struct Statuses {
    counts: Mutex<BTreeMap<&'static str, BTreeMap<u16, u32>>>,
    details: Mutex<BTreeMap<(&'static str, u16), String>>,
}

impl Statuses {
    fn count(&self, path: &'static str, status: u16, body: &Value) {
        *self
            .counts
            .lock()
            .unwrap()
            .entry(path)
            .or_default()
            .entry(status)
            .or_default() += 1;
        if status != 200 {
            self.details
                .lock()
                .unwrap()
                .entry((path, status))
                .or_insert_with(|| {
                    format!("{} {}", body["error"]["code"], body["error"]["detail"])
                });
        }
    }

    fn get(&self) -> BTreeMap<&'static str, BTreeMap<u16, u32>> {
        self.counts.lock().unwrap().clone()
    }

    fn details(&self) -> BTreeMap<(&'static str, u16), String> {
        self.details.lock().unwrap().clone()
    }
}

/// The simulator, the bridge on it in pass-through mode, and a Cycle that calls the bridge with
/// the simulator's account and keeps every successful answer to check against Cycle's schemas.
struct Cs {
    sim: RunningSim,
    url: String,
    bridge: JoinHandle<()>,
    iso: Iso,
    http: reqwest::Client,
    account: Account,
    auth: Value,
    answers: Mutex<Vec<(&'static str, Value)>>,
    statuses: Statuses,
}

/// The simulator as most tests want it: quick transitions, no faults.
fn quick_sim() -> SimConfig {
    SimConfig {
        transition: Duration::from_millis(40),
        seed: 7,
        ..Default::default()
    }
}

/// The operator's pool settings with buying off: the pool holds what the operator puts in it.
fn not_buying(raw: RawCloudSigma) -> RawCloudSigma {
    RawCloudSigma {
        ips: Some(IpPoolSettings::default()),
        ..raw
    }
}

impl Cs {
    async fn start(sim: SimConfig, raw: impl FnOnce(RawCloudSigma) -> RawCloudSigma) -> Self {
        let sim = RunningSim::start(sim, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("the simulator starts");
        let iso = serve_iso().await;
        let account = sim.accounts[0].clone();
        let (url, bridge) = Self::serve(&sim, &iso, raw).await;
        let auth = auth_of(&account, &account.location);
        Self {
            sim,
            url,
            bridge,
            iso,
            http: reqwest::Client::new(),
            account,
            auth,
            answers: Mutex::default(),
            statuses: Statuses::default(),
        }
    }

    /// A bridge on `sim`, with the tests' CloudSigma settings as `raw` changes them.
    async fn serve(
        sim: &RunningSim,
        iso: &Iso,
        raw: impl FnOnce(RawCloudSigma) -> RawCloudSigma,
    ) -> (String, JoinHandle<()>) {
        // Buying addresses on: every server's boot NIC takes one of the pool's.
        let config = cloudsigma_config(raw(RawCloudSigma {
            api_endpoint: Some(sim.endpoint_template()),
            locations: Some(vec![sim.accounts[0].location.clone()]),
            wait_secs: Some(20),
            ips: Some(IpPoolSettings {
                buy: true,
                ..Default::default()
            }),
            ..Default::default()
        }))
        .expect("the tests' CloudSigma settings");
        serve_cloudsigma(Self::bridge_settings(iso), config).await
    }

    /// Another replica of the bridge on the same simulator, with its own settings: its URL and
    /// its task.
    async fn replica(
        &self,
        raw: impl FnOnce(RawCloudSigma) -> RawCloudSigma,
    ) -> (String, JoinHandle<()>) {
        Self::serve(&self.sim, &self.iso, raw).await
    }

    fn bridge_settings(iso: &Iso) -> BridgeSettings {
        let mut settings = BridgeSettings::default();
        settings.boot.ipxe_url = Some(iso.url.clone());
        settings.boot.ipxe_sha256 = Some(iso.sha256.clone());
        settings
    }

    /// One call as Cycle makes it, once: the status and the body.
    async fn call_as(&self, auth: &Value, path: &'static str, request: Value) -> (u16, Value) {
        self.call_at(&self.url, auth, path, request).await
    }

    /// One call as Cycle makes it, once, to the bridge at `url`.
    async fn call_at(
        &self,
        url: &str,
        auth: &Value,
        path: &'static str,
        request: Value,
    ) -> (u16, Value) {
        let resp = self
            .http
            .post(format!("{url}{path}"))
            .json(&json!({"auth": auth, "request": request}))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        self.statuses.count(path, status, &body);
        if status == 200 {
            assert_eq!(body["error"], Value::Null, "{path}: {body}");
            self.answers
                .lock()
                .unwrap()
                .push((path, body["data"].clone()));
        }
        (status, body)
    }

    async fn call(&self, path: &'static str, request: Value) -> (u16, Value) {
        self.call_as(&self.auth, path, request).await
    }

    /// The payload of a call that must succeed the first time.
    async fn ok(&self, path: &'static str, request: Value) -> Value {
        let (status, body) = self.call(path, request).await;
        assert_eq!(status, 200, "{path}: {body}");
        body["data"].clone()
    }

    /// A call made again after any failure, as Cycle does, until it succeeds: its payload.
    async fn until_ok(&self, path: &'static str, request: Value) -> Value {
        let mut last = (0, Value::Null);
        for _ in 0..80 {
            last = self.call(path, request.clone()).await;
            if last.0 == 200 {
                return last.1["data"].clone();
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{path} never succeeded; last answer {}: {}", last.0, last.1);
    }

    /// A call made again while it answers 503 or 504, the answers the bridge means to be retried:
    /// the last answer.
    async fn retried(&self, path: &'static str, request: Value) -> (u16, Value) {
        let mut answer = self.call(path, request.clone()).await;
        for _ in 0..60 {
            if !matches!(answer.0, 503 | 504) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            answer = self.call(path, request.clone()).await;
        }
        answer
    }

    async fn configure(&self) -> Value {
        self.ok(CONFIGURE, Harness::configure_request(ZRH)).await["configuration_latest"].clone()
    }

    /// Polls provision-status as Cycle does, sending what provision returned as `extra` each time,
    /// until provisioned. `retry_any`: every failed poll is followed by the next (the chaos test);
    /// otherwise only 503 and 504 are, and any other error fails the test.
    async fn poll_ready(
        &self,
        server_id: &str,
        config: &Value,
        extra: &Value,
        retry_any: bool,
    ) -> Value {
        let request = Harness::status_request(server_id, ZRH, config, extra);
        let started = Instant::now();
        let mut polls = 0;
        loop {
            polls += 1;
            let (status, body) = self.call(STATUS, request.clone()).await;
            match status {
                200 if body["data"]["provisioned"] == true => return body["data"].clone(),
                200 | 503 | 504 => {}
                _ if retry_any => {}
                _ => panic!(
                    "provision-status of {server_id} answered {status} after {polls} polls: {body}"
                ),
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{server_id} not provisioned after {polls} polls in 60 s; last answer {status}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    }

    /// Configure, provision and poll until provisioned: the configuration, the server id, and
    /// provision-status's last answer.
    async fn provision_ready(&self, n: u32) -> (Value, String, Value) {
        let config = self.configure().await;
        let provisioned = self
            .ok(
                PROVISION,
                Harness::provision_request(&cycle_id(n), MODEL, ZRH, &config),
            )
            .await;
        let server_id = provisioned["server_id"].as_str().unwrap().to_string();
        let status = self
            .poll_ready(&server_id, &config, &provisioned["extra"], false)
            .await;
        (config, server_id, status)
    }

    /// Fails the test with whatever Cycle's schemas or Go types refuse in a successful answer.
    fn assert_cycle_takes_every_answer(&self) {
        let answers = self.answers.lock().unwrap();
        let refused: Vec<String> = answers
            .iter()
            .flat_map(|(path, data)| cycle_refuses(path, method_of(path), data))
            .collect();
        assert!(refused.is_empty(), "{refused:#?}");
        let paths: std::collections::BTreeSet<&str> = answers.iter().map(|(p, _)| *p).collect();
        eprintln!(
            "checked {} answers on {} routes against Cycle's OpenAPI and Go types",
            answers.len(),
            paths.len()
        );
    }

    /// What the simulator holds for the test's account.
    fn held(&self) -> Value {
        held_by(&self.sim.sim, &self.account.username)
    }

    fn servers(&self) -> Vec<Value> {
        list(&self.held()["servers"])
    }

    fn drives(&self) -> Vec<Value> {
        list(&self.held()["drives"])
    }

    fn server(&self, name: &str) -> Option<Value> {
        self.servers().into_iter().find(|s| s["name"] == name)
    }

    fn drive(&self, uuid: &str) -> Option<Value> {
        self.drives().into_iter().find(|d| d["uuid"] == uuid)
    }

    fn subscriptions(&self) -> Vec<Value> {
        list(&self.held()["subscriptions"])
    }

    fn ip(&self, address: &str) -> Value {
        list(&self.held()["ips"])
            .into_iter()
            .find(|ip| ip["uuid"] == address)
            .unwrap_or_else(|| panic!("no address {address} in the account"))
    }

    /// The simulator's count of calls to one route (`POST /drives/upload/`).
    fn calls(&self, route: &str) -> u64 {
        self.sim.sim.calls().get(route).copied().unwrap_or(0)
    }

    /// The account's servers' data drives (attached on virtio), with the drives they are.
    fn data_drives_of(&self, server: &Value) -> Vec<Value> {
        list(&server["drives"])
            .iter()
            .filter(|a| a["device"] == "virtio")
            .filter_map(|a| self.drive(a["drive"]["uuid"].as_str().unwrap()))
            .collect()
    }

    /// A raw CloudSigma call as the account's owner, beside the bridge (what an operator does in
    /// CloudSigma's panel or with curl).
    async fn cloudsigma(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .request(method, format!("{}{path}", self.sim.endpoint(ZRH)))
            .basic_auth(&self.account.username, Some(&self.account.password))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }
}

impl Drop for Cs {
    fn drop(&mut self) {
        self.bridge.abort();
        self.iso.task.abort();
    }
}

fn list(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

fn held_by(sim: &Sim, username: &str) -> Value {
    sim.inventory()["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["username"] == username)
        .cloned()
        .expect("the account is in the simulator")
}

fn names_held_twice(items: &[Value]) -> Vec<String> {
    let mut count: HashMap<&str, u32> = HashMap::new();
    for i in items {
        *count.entry(i["name"].as_str().unwrap_or("")).or_default() += 1;
    }
    count
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(name, n)| format!("{name} x{n}"))
        .collect()
}

/// Looks at the simulator every few milliseconds while a test runs, and remembers every
/// duplicate name (servers, drives) and every drive the bridge marked for deletion (`meta`
/// `deleting`) that a server was given, or was started with, after it was marked.
struct Watcher {
    stop: Arc<AtomicBool>,
    task: JoinHandle<(u64, Vec<String>)>,
}

/// What the watcher saw so far.
#[derive(Default)]
struct Looks {
    looks: u64,
    wrong: Vec<String>,
    /// Each marked drive, with the servers holding it when it was first seen marked.
    marked: HashMap<String, std::collections::HashSet<String>>,
    /// (server, drive) pairs seen with the server stopped and the drive marked.
    stopped_marked: std::collections::HashSet<(String, String)>,
}

impl Looks {
    fn look(&mut self, sim: &Sim, username: &str) {
        self.looks += 1;
        let held = held_by(sim, username);
        let servers = list(&held["servers"]);
        let drives = list(&held["drives"]);
        for dup in names_held_twice(&servers) {
            self.wrong.push(format!("servers: {dup}"));
        }
        for dup in names_held_twice(&drives) {
            self.wrong.push(format!("drives: {dup}"));
        }
        for d in drives.iter().filter(|d| !d["meta"]["deleting"].is_null()) {
            let drive = d["uuid"].as_str().unwrap_or_default().to_string();
            let holders: Vec<&Value> = servers
                .iter()
                .filter(|s| {
                    list(&s["drives"])
                        .iter()
                        .any(|a| a["drive"]["uuid"] == drive.as_str())
                })
                .collect();
            let first = self.marked.entry(drive.clone()).or_insert_with(|| {
                holders
                    .iter()
                    .map(|s| s["uuid"].as_str().unwrap_or_default().to_string())
                    .collect()
            });
            for s in holders {
                let server = s["uuid"].as_str().unwrap_or_default().to_string();
                let status = s["status"].as_str().unwrap_or_default();
                if !first.contains(&server) {
                    self.wrong.push(format!(
                        "server {} ({server}, {status}) was given drive {drive}, marked for deletion",
                        s["name"]
                    ));
                }
                let pair = (server.clone(), drive.clone());
                if status == "stopped" {
                    self.stopped_marked.insert(pair);
                } else if matches!(status, "starting" | "running")
                    && self.stopped_marked.contains(&pair)
                {
                    self.wrong.push(format!(
                        "server {} ({server}) was started holding drive {drive}, marked for deletion",
                        s["name"]
                    ));
                }
            }
        }
    }
}

impl Watcher {
    /// Takes a first look at once, then every few milliseconds.
    fn start(sim: Arc<Sim>, username: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let mut looks = Looks::default();
        looks.look(&sim, &username);
        let task = tokio::spawn(async move {
            while !flag.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(5)).await;
                looks.look(&sim, &username);
            }
            looks.wrong.dedup();
            (looks.looks, looks.wrong)
        });
        Self { stop, task }
    }

    /// How many looks were taken, and what was seen wrong.
    async fn finish(self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap()
    }
}

/// Every address left in the account is one of the pool's (paid for, reusable) and lent to no
/// one: none is a server's, none was bought and then lost track of.
fn assert_pool_only(cs: &Cs) {
    for ip in list(&cs.held()["ips"]) {
        assert!(
            !ip["subscription"].is_null(),
            "a server's address left: {ip}"
        );
        assert_eq!(
            ip["meta"]["managed_by"], "cycle-ial-bridge",
            "an address bought that the pool does not know: {ip}"
        );
        assert!(
            ip["meta"]["cycle_ip_for"]
                .as_str()
                .is_none_or(str::is_empty),
            "an address still lent after its server was decommissioned: {ip}"
        );
        assert!(ip["server"].is_null(), "{ip}");
    }
}

// ---- 1. the whole lifecycle ------------------------------------------------------------------

async fn whole_lifecycle(upper_case_macs: bool) {
    let cs = Cs::start(
        SimConfig {
            upper_case_macs,
            ..quick_sim()
        },
        |raw| raw,
    )
    .await;

    assert_eq!(cs.ok(VERIFY, Value::Null).await, json!({"valid": true}));

    let locations = cs.ok(LOCATIONS, Value::Null).await;
    let zrh = element(&locations["locations"], "/provider/location_id", ZRH);
    assert_eq!(zrh["compatible"], true, "{zrh}");
    assert_eq!(zrh["abbreviation"], "ZRH", "{zrh}");
    assert_eq!(
        list(&locations["locations"]).len(),
        1,
        "the account lives in zrh only: {locations}"
    );

    let models = cs.ok(MODELS, Value::Null).await;
    let model = element(&models["models"], "/provider/model_id", MODEL);
    assert_eq!(model["compatible"], true, "{model}");
    assert!(
        list(&model["provider"]["locations"]).contains(&json!(ZRH)),
        "{model}"
    );
    assert!(model["pricing"]["hourly"].as_i64().unwrap() > 0, "{model}");

    // Location configure: Cycle's ISO uploaded as a CD-ROM, once.
    let configured = cs.ok(CONFIGURE, Harness::configure_request(ZRH)).await;
    assert_eq!(configured["configured"], true);
    let config = configured["configuration_latest"].clone();
    let iso_uuid = config["iso_drive_uuid"].as_str().unwrap().to_string();
    let iso = cs
        .drive(&iso_uuid)
        .expect("the ISO drive is in the account");
    assert_eq!(iso["media"], "cdrom", "{iso}");
    assert_eq!(iso["content_sha256"], cs.iso.sha256.as_str(), "{iso}");
    // Again as Cycle does (with what it was answered), and as a replica that knows nothing.
    let again = cs
        .ok(
            CONFIGURE,
            json!({"location_id": ZRH, "version": configured["version"], "configuration_current": config, "cycle": {"location_id": CYCLE_LOCATION}}),
        )
        .await;
    assert_eq!(again["configuration_latest"], config);
    let fresh = cs.ok(CONFIGURE, Harness::configure_request(ZRH)).await;
    assert_eq!(
        fresh["configuration_latest"]["iso_drive_uuid"],
        iso_uuid.as_str()
    );
    assert_eq!(
        cs.calls("POST /drives/upload/"),
        1,
        "the ISO is uploaded once"
    );

    // Provision, and provision-status until provisioned (every answer kept for the schemas).
    let id = cycle_id(1);
    let provisioned = cs
        .ok(
            PROVISION,
            Harness::provision_request(&id, MODEL, ZRH, &config),
        )
        .await;
    let server_id = provisioned["server_id"].as_str().unwrap().to_string();
    assert_eq!(server_id, format!("cycle-{id}"));
    let status = cs
        .poll_ready(&server_id, &config, &provisioned["extra"], false)
        .await;
    let server = cs.server(&server_id).expect("the server is in the account");
    assert_eq!(server["status"], "running", "{server}");
    let auth = &status["auth"];
    let uuid = server["uuid"].as_str().unwrap();
    assert_eq!(auth["uuid"], uuid.to_ascii_lowercase(), "{status}");
    let mac = server["nics"][0]["mac"].as_str().unwrap();
    if upper_case_macs {
        assert_eq!(
            mac,
            mac.to_ascii_uppercase(),
            "the simulator's MAC is upper case"
        );
    }
    assert_eq!(auth["mac_addr"], mac.to_ascii_lowercase(), "{status}");
    let runtime_ip = server["nics"][0]["runtime"]["ip_v4"]["uuid"].clone();
    assert!(runtime_ip.is_string(), "{server}");
    assert_eq!(auth["initial_ips"], json!([runtime_ip]), "{status}");

    // What boots: the ISO first, on IDE, as a CD-ROM; then the data drive on virtio.
    let attached = list(&server["drives"]);
    let first = attached
        .iter()
        .min_by_key(|a| a["boot_order"].as_u64().unwrap_or(u64::MAX))
        .unwrap();
    assert_eq!(first["boot_order"], 1, "{server}");
    assert_eq!(first["device"], "ide", "{first}");
    assert_eq!(first["drive"]["uuid"], iso_uuid.as_str(), "{first}");
    assert_eq!(cs.drive(&iso_uuid).unwrap()["media"], "cdrom");
    let data = cs.data_drives_of(&server);
    assert_eq!(data.len(), 1, "{server}");
    assert_eq!(data[0]["media"], "disk", "{}", data[0]);
    assert!(
        data[0]["size"].as_u64().unwrap() >= CYCLEOS_DISK,
        "the data drive is under 45 GiB: {}",
        data[0]
    );

    // An address, and back.
    let ip = cs
        .ok(
            ALLOCATE,
            Harness::allocate_request(&server_id, ZRH, &config),
        )
        .await;
    let address = ip["ip_id"].as_str().unwrap();
    assert!(ip["cidr"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{address}/")));
    assert!(!cs.ip(address)["subscription"].is_null());
    assert_eq!(
        cs.ok(RELEASE, Harness::release_request(&ip)).await,
        json!(true)
    );

    // Restart: the server is started again.
    let starts = |cs: &Cs| cs.server(&server_id).unwrap()["starts"].as_u64().unwrap();
    let before = starts(&cs);
    assert_eq!(
        cs.ok(RESTART, Harness::server_ref(&server_id, ZRH)).await,
        json!(true)
    );
    assert!(
        starts(&cs) > before,
        "restart did not start the server again"
    );
    // It comes back with the address Cycle was told.
    let deadline = Instant::now() + Duration::from_secs(10);
    let back = loop {
        let s = cs.server(&server_id).unwrap();
        if s["status"] == "running" || Instant::now() > deadline {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(back["status"], "running", "{back}");
    assert_eq!(
        json!([back["nics"][0]["runtime"]["ip_v4"]["uuid"]]),
        auth["initial_ips"],
        "after a restart the server's address is not the one Cycle was told: {back}"
    );

    // Decommission: nothing left but the ISO, uploaded once.
    let gone = Harness::server_ref(&server_id, ZRH);
    assert_eq!(cs.ok(DECOMMISSION, gone.clone()).await, json!(true));
    assert_eq!(
        cs.ok(DECOMMISSION, gone).await,
        json!(true),
        "a server already gone is decommissioned"
    );
    assert!(cs.servers().is_empty(), "{:#?}", cs.servers());
    let disks: Vec<Value> = cs
        .drives()
        .into_iter()
        .filter(|d| d["media"] != "cdrom")
        .collect();
    assert!(disks.is_empty(), "drives left: {disks:#?}");
    let iso = cs
        .drive(&iso_uuid)
        .expect("the ISO stays for the next server");
    assert_eq!(iso["media"], "cdrom");
    assert_eq!(cs.drives().len(), 1, "{:#?}", cs.drives());
    assert_pool_only(&cs);
    assert_eq!(
        cs.calls("POST /drives/upload/"),
        1,
        "the ISO is uploaded once"
    );

    cs.assert_cycle_takes_every_answer();
}

#[tokio::test]
async fn a_whole_lifecycle_boots_the_iso_reports_the_servers_identity_and_leaves_only_the_iso() {
    whole_lifecycle(false).await;
}

#[tokio::test]
async fn a_whole_lifecycle_reports_upper_case_macs_in_lower_case() {
    whole_lifecycle(true).await;
}

#[tokio::test]
async fn an_iso_upload_slower_than_the_wait_is_continued_by_the_next_configure_not_made_again() {
    // CloudSigma takes the upload in longer than the bridge waits: configure answers 504, "retry
    // and the bridge continues with it", and Cycle calls it again.
    let cs = Cs::start(
        SimConfig {
            transition: Duration::from_millis(1500),
            ..quick_sim()
        },
        |raw| RawCloudSigma {
            wait_secs: Some(1),
            ..raw
        },
    )
    .await;
    let mut statuses = Vec::new();
    let mut configured = None;
    for _ in 0..8 {
        let (status, body) = cs.call(CONFIGURE, Harness::configure_request(ZRH)).await;
        statuses.push(status);
        if status == 200 {
            configured = Some(body["data"].clone());
            break;
        }
        assert_eq!(status, 504, "{body}");
    }
    let uploads = cs.calls("POST /drives/upload/");
    let drives: Vec<String> = cs
        .drives()
        .iter()
        .map(|d| format!("{} ({}, {})", d["name"], d["media"], d["status"]))
        .collect();
    let configured = configured.unwrap_or_else(|| {
        panic!(
            "configure answered {statuses:?}; CloudSigma received {uploads} uploads and holds \
             {} drives: {drives:#?}",
            drives.len()
        )
    });
    assert_eq!(uploads, 1, "{drives:#?}");
    assert_eq!(drives.len(), 1, "{drives:#?}");
    let iso = configured["configuration_latest"]["iso_drive_uuid"]
        .as_str()
        .unwrap();
    assert_eq!(cs.drive(iso).unwrap()["media"], "cdrom");
}

// ---- 2. chaos --------------------------------------------------------------------------------

/// One server's life with Cycle calling each step again until it succeeds: the address it was
/// lent.
async fn chaos_life(cs: &Cs, n: u32) -> String {
    let config = cs
        .until_ok(CONFIGURE, Harness::configure_request(ZRH))
        .await["configuration_latest"]
        .clone();
    let provisioned = cs
        .until_ok(
            PROVISION,
            Harness::provision_request(&cycle_id(n), MODEL, ZRH, &config),
        )
        .await;
    let server_id = provisioned["server_id"].as_str().unwrap().to_string();
    cs.poll_ready(&server_id, &config, &provisioned["extra"], true)
        .await;
    let ip = cs
        .until_ok(
            ALLOCATE,
            Harness::allocate_request(&server_id, ZRH, &config),
        )
        .await;
    cs.until_ok(RELEASE, Harness::release_request(&ip)).await;
    cs.until_ok(RESTART, Harness::server_ref(&server_id, ZRH))
        .await;
    cs.until_ok(DECOMMISSION, Harness::server_ref(&server_id, ZRH))
        .await;
    ip["ip_id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn with_a_quarter_of_answers_lost_nothing_is_made_twice_and_nothing_billable_is_left() {
    const SERVERS: u32 = 6;
    let cs = Cs::start(
        SimConfig {
            seed: 2025,
            faults: Faults {
                lost_answer_rate: 0.25,
                server_error_rate: 0.05,
                ..Default::default()
            },
            ..quick_sim()
        },
        |raw| RawCloudSigma {
            wait_secs: Some(30),
            ..raw
        },
    )
    .await;
    let watcher = Watcher::start(cs.sim.sim.clone(), cs.account.username.clone());
    let started = Instant::now();
    let addresses = futures::future::join_all((0..SERVERS).map(|n| chaos_life(&cs, 100 + n))).await;
    let elapsed = started.elapsed();
    let (looks, wrong) = watcher.finish().await;

    let calls = cs.sim.sim.calls();
    let lost: u64 = calls
        .iter()
        .filter(|(k, _)| k.starts_with("lost answer"))
        .map(|(_, n)| n)
        .sum();
    let api_calls: u64 = calls
        .iter()
        .filter(|(k, _)| !k.starts_with("lost answer"))
        .map(|(_, n)| n)
        .sum();
    let subscriptions = cs.subscriptions();
    let held = cs.held();
    let ips = list(&held["ips"]);
    let drives = cs.drives();
    eprintln!(
        "chaos: {SERVERS} servers in {:.1}s; {api_calls} CloudSigma calls, {lost} answers lost; \
         {looks} looks at the account; Cycle's answers by route and status: {:?}; \
         addresses lent {addresses:?}; {} IP subscriptions; {} addresses; {} drives; {} ISO uploads",
        elapsed.as_secs_f64(),
        cs.statuses.get(),
        subscriptions.len(),
        ips.len(),
        drives.len(),
        cs.calls("POST /drives/upload/"),
    );
    for ((path, status), detail) in cs.statuses.details() {
        eprintln!("  first {status} of {path}: {detail}");
    }
    assert!(
        lost >= 10,
        "the test lost only {lost} answers; it needs more"
    );

    assert!(wrong.is_empty(), "seen while the servers lived: {wrong:#?}");
    assert!(cs.servers().is_empty(), "servers left: {:#?}", cs.servers());
    let disks: Vec<&Value> = drives.iter().filter(|d| d["media"] != "cdrom").collect();
    assert!(disks.is_empty(), "drives left: {disks:#?}");
    let isos: Vec<&Value> = drives.iter().filter(|d| d["media"] == "cdrom").collect();
    assert_eq!(isos.len(), 1, "one ISO for the location: {isos:#?}");
    assert_pool_only(&cs);
    // At most one address bought per successful provision (its boot address) and one per
    // successful allocation.
    assert!(
        subscriptions.len() <= 2 * SERVERS as usize,
        "{} IP subscriptions for {SERVERS} provisions and {SERVERS} allocations: {subscriptions:#?}",
        subscriptions.len()
    );
    cs.assert_cycle_takes_every_answer();
}

// ---- 3. start failures -----------------------------------------------------------------------

/// Provision, then provision-status as Cycle polls it, until an answer that is not a 200 or the
/// server is provisioned (`None`), at most `polls` times.
async fn first_error(cs: &Cs, n: u32, polls: u32) -> Option<(u16, Value)> {
    let config = cs.configure().await;
    let (status, body) = cs
        .call(
            PROVISION,
            Harness::provision_request(&cycle_id(n), MODEL, ZRH, &config),
        )
        .await;
    if status != 200 {
        return Some((status, body));
    }
    let request = Harness::status_request(
        body["data"]["server_id"].as_str().unwrap(),
        ZRH,
        &config,
        &body["data"]["extra"],
    );
    for _ in 0..polls {
        let (status, answer) = cs.call(STATUS, request.clone()).await;
        if status != 200 {
            return Some((status, answer));
        }
        if answer["data"]["provisioned"] == true {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    None
}

#[tokio::test]
async fn without_capacity_cycle_is_told_out_of_stock() {
    let cs = Cs::start(quick_sim(), |raw| raw).await;
    cs.sim.sim.set_capacity(ZRH, Some(0));
    let (status, body) = first_error(&cs, 1, 50)
        .await
        .expect("a server was provisioned without capacity");
    eprintln!("without capacity: {status} {body}");
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "409.out-of-stock", "{body}");
}

#[tokio::test]
async fn without_funds_cycle_is_told_to_add_funds() {
    // Buying the boot address, then, with an address pooled beforehand, starting the server:
    // CloudSigma answers 402 to both without funds.
    for pooled in [false, true] {
        let cs = Cs::start(quick_sim(), if pooled { not_buying } else { |raw| raw }).await;
        if pooled {
            let config = cs.configure().await;
            operator_pools_an_address(&cs, "managed_by", &config).await;
        }
        cs.sim.sim.set_balance(&cs.account.username, "0").unwrap();
        let (status, body) = first_error(&cs, 1, 50)
            .await
            .expect("a server was provisioned without funds");
        eprintln!("without funds (address pooled before: {pooled}): {status} {body}");
        assert!((400..500).contains(&status), "{status}: {body}");
        let said = format!("{} {}", body["error"]["title"], body["error"]["detail"]).to_lowercase();
        assert!(said.contains("funds"), "{body}");
    }
}

#[tokio::test]
async fn starts_that_keep_falling_back_to_stopped_end_in_an_error_naming_them() {
    let cs = Cs::start(
        SimConfig {
            faults: Faults {
                start_failure_rate: 1.0,
                ..Default::default()
            },
            ..quick_sim()
        },
        |raw| raw,
    )
    .await;
    // Cycle sends back in every provision-status the `extra` that provision answered
    // (../shared/reference/cycle-ial/IAL.md, ProvisionStatus), never the one a provision-status
    // answered. start_attempts is 3 by default: a few polls more than that must be enough.
    let answer = first_error(&cs, 1, 40).await;
    let starts = cs
        .server(&format!("cycle-{}", cycle_id(1)))
        .map(|s| s["starts"].clone());
    let (status, body) = answer.unwrap_or_else(|| {
        panic!(
            "40 polls of provision-status (with provision's extra, as Cycle sends it) answered \
             provisioned: false every time; the simulator counted {starts:?} starts"
        )
    });
    eprintln!("after repeated failed starts: {status} {body}");
    assert!((400..600).contains(&status), "{status}: {body}");
    let detail = body["error"]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("started"), "{body}");
}

// ---- 4. provisions after a decommission, after a failure -------------------------------------

#[tokio::test]
async fn a_provision_right_after_a_decommission_of_the_same_server_makes_a_working_server() {
    // Slow transitions. A replica that waits less than they take decommissions: it answers 504
    // (retry) while CloudSigma is still deleting the server, and the provision comes then.
    let cs = Cs::start(
        SimConfig {
            transition: Duration::from_millis(1500),
            ..quick_sim()
        },
        |raw| raw,
    )
    .await;
    let (hasty, _hasty_task) = cs
        .replica(|raw| RawCloudSigma {
            wait_secs: Some(1),
            ..raw
        })
        .await;
    let config = cs.configure().await;
    let id = cycle_id(1);
    let provision = Harness::provision_request(&id, MODEL, ZRH, &config);
    let (status, body) = cs.retried(PROVISION, provision.clone()).await;
    assert_eq!(status, 200, "{body}");
    let server_id = body["data"]["server_id"].as_str().unwrap().to_string();
    cs.poll_ready(&server_id, &config, &body["data"]["extra"], false)
        .await;
    let old = cs.server(&server_id).unwrap()["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let watcher = Watcher::start(cs.sim.sim.clone(), cs.account.username.clone());

    // Decommission until CloudSigma was asked to delete the server (or it is gone).
    let mut decommission = (0, Value::Null);
    for _ in 0..20 {
        decommission = cs
            .call_at(
                &hasty,
                &cs.auth,
                DECOMMISSION,
                Harness::server_ref(&server_id, ZRH),
            )
            .await;
        if decommission.0 == 200 || cs.calls("DELETE /servers/{uuid}/") > 0 {
            break;
        }
    }
    let still_listed = cs.servers().iter().any(|s| s["uuid"] == old.as_str());
    eprintln!(
        "decommission answered {}: {}; the old server is {}",
        decommission.0,
        decommission.1,
        if still_listed { "still listed" } else { "gone" }
    );

    let (status, body) = cs.retried(PROVISION, provision).await;
    eprintln!("the provision after it answered {status}: {body}");
    assert_eq!(status, 200, "{body}");
    let extra = body["data"]["extra"].clone();
    let ready = cs.poll_ready(&server_id, &config, &extra, false).await;
    let (_, wrong) = watcher.finish().await;

    let server = cs.server(&server_id).expect("a server");
    assert_ne!(server["uuid"], old.as_str(), "the decommissioned server");
    assert_eq!(ready["auth"]["uuid"], server["uuid"], "{ready}");
    assert_eq!(server["status"], "running", "{server}");
    let data = cs.data_drives_of(&server);
    assert_eq!(data.len(), 1, "{server}");
    assert!(data[0]["meta"]["deleting"].is_null(), "{}", data[0]);
    assert!(wrong.is_empty(), "{wrong:#?}");
    let named = |n: &str| cs.drives().iter().filter(|d| d["name"] == n).count();
    assert_eq!(named(&format!("{server_id}-data")), 1, "{:#?}", cs.drives());
}

#[tokio::test]
async fn a_provision_after_a_failed_one_makes_a_working_server_with_its_data_drive() {
    let cs = Cs::start(quick_sim(), |raw| raw).await;
    let config = cs.configure().await;
    let watcher = Watcher::start(cs.sim.sim.clone(), cs.account.username.clone());
    cs.sim.sim.set_capacity(ZRH, Some(0));
    // A: fails, and Cycle provisions again. B: fails, Cycle decommissions it, then provisions.
    let (a, b) = (cycle_id(1), cycle_id(2));
    for id in [&a, &b] {
        let (status, body) = cs
            .call(
                PROVISION,
                Harness::provision_request(id, MODEL, ZRH, &config),
            )
            .await;
        assert_eq!(status, 409, "{body}");
    }
    assert_eq!(
        cs.ok(
            DECOMMISSION,
            Harness::server_ref(&format!("cycle-{b}"), ZRH)
        )
        .await,
        json!(true)
    );
    cs.sim.sim.set_capacity(ZRH, None);
    for id in [&a, &b] {
        let provisioned = cs
            .ok(
                PROVISION,
                Harness::provision_request(id, MODEL, ZRH, &config),
            )
            .await;
        let server_id = provisioned["server_id"].as_str().unwrap().to_string();
        let ready = cs
            .poll_ready(&server_id, &config, &provisioned["extra"], false)
            .await;
        let server = cs.server(&server_id).unwrap();
        assert_eq!(ready["auth"]["uuid"], server["uuid"]);
        let data = cs.data_drives_of(&server);
        assert_eq!(data.len(), 1, "{server}");
        assert!(data[0]["meta"]["deleting"].is_null(), "{}", data[0]);
        assert!(data[0]["size"].as_u64().unwrap() >= CYCLEOS_DISK);
    }
    let (_, wrong) = watcher.finish().await;
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(cs.servers().len(), 2, "{:#?}", cs.servers());
    let disks = cs
        .drives()
        .into_iter()
        .filter(|d| d["media"] == "disk")
        .count();
    assert_eq!(disks, 2, "{:#?}", cs.drives());
    cs.assert_cycle_takes_every_answer();
}

// ---- 5. credentials --------------------------------------------------------------------------

#[tokio::test]
async fn a_wrong_password_is_not_valid() {
    let cs = Cs::start(quick_sim(), |raw| raw).await;
    let mut auth = cs.auth.clone();
    auth["secret"] = json!("not-the-password");
    let (status, body) = cs.call_as(&auth, VERIFY, Value::Null).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({"valid": false}));
    assert_eq!(cs.ok(VERIFY, Value::Null).await, json!({"valid": true}));
}

#[tokio::test]
async fn an_account_of_fra_presented_for_zrh_is_not_valid_there() {
    let fra = Account::generate("fra");
    let cs = Cs::start(
        SimConfig {
            accounts: vec![fra.clone()],
            ..quick_sim()
        },
        |raw| RawCloudSigma {
            locations: Some(vec![ZRH.into(), "fra".into()]),
            ..raw
        },
    )
    .await;
    let in_zrh = auth_of(&fra, ZRH);
    let (status, body) = cs.call_as(&in_zrh, VERIFY, Value::Null).await;
    assert_eq!(
        (status, body["data"].clone()),
        (200, json!({"valid": false})),
        "{body}"
    );
    let (status, body) = cs.call_as(&in_zrh, LOCATIONS, Value::Null).await;
    if status == 200 {
        eprintln!("locations with fra's account in zrh: 200, {}", body["data"]);
        assert_eq!(body["data"]["locations"], json!([]), "{body}");
    } else {
        eprintln!("locations with fra's account in zrh: {status}, {body}");
        assert!((400..500).contains(&status), "{status}: {body}");
    }
    // In its own location, the same account is valid.
    let (status, body) = cs.call_as(&auth_of(&fra, "fra"), VERIFY, Value::Null).await;
    assert_eq!(
        (status, body["data"].clone()),
        (200, json!({"valid": true})),
        "{body}"
    );
}

#[tokio::test]
async fn in_server_held_mode_the_operators_account_serves_cycle_with_the_bridge_token_only() {
    const TOKEN: &str = "bridge-token-of-at-least-16";
    let sim = RunningSim::start(quick_sim(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let iso = serve_iso().await;
    let operator = sim.accounts[0].clone();
    let env: HashMap<String, String> = [
        ("IAL_BACKEND", "cloudsigma".to_string()),
        ("IAL_CREDENTIALS", "server-held".into()),
        ("IAL_BRIDGE_TOKEN", TOKEN.into()),
        ("IAL_IPXE_URL", iso.url.clone()),
        ("IAL_IPXE_SHA256", iso.sha256.clone()),
        ("CLOUDSIGMA_API_ENDPOINT", sim.endpoint_template()),
        ("CLOUDSIGMA_USERNAME", operator.username.clone()),
        ("CLOUDSIGMA_PASSWORD", operator.password.clone()),
        ("CLOUDSIGMA_LOCATION", operator.location.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    // The rest in the operator's file: the pool may buy the boot addresses.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bridge.toml");
    std::fs::write(&file, "[cloudsigma.ips]\nbuy = true\n").unwrap();
    let config = crusoe_ial::config::Config::load(&crusoe_ial::config::Sources {
        env,
        file: Some(file),
        ..Default::default()
    })
    .expect("the operator's CLOUDSIGMA_* variables load");
    let (url, bridge) =
        common::harness::serve_app(&crusoe_ial::serve::AppSettings::from_config(&config)).await;
    let http = reqwest::Client::new();
    let call = |auth: Value, path: &'static str, request: Value| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let r = http
                .post(format!("{url}{path}"))
                .json(&json!({"auth": auth, "request": request}))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let ready = http.get(format!("{url}/readyz")).send().await.unwrap();
    assert_eq!(
        ready.status(),
        200,
        "CloudSigma accepts the operator's account"
    );
    // Cycle sends the bridge token alone: no CloudSigma secret travels.
    let token = json!({"api_key": TOKEN, "cycle": {"hub_name": "h", "hub_id": HUB}});
    let (status, body) = call(token.clone(), VERIFY, Value::Null).await;
    assert_eq!(
        (status, body["data"].clone()),
        (200, json!({"valid": true})),
        "{body}"
    );
    let (status, body) = call(token.clone(), LOCATIONS, Value::Null).await;
    assert_eq!(status, 200, "{body}");
    element(&body["data"]["locations"], "/provider/location_id", ZRH);
    let (status, body) = call(token.clone(), CONFIGURE, Harness::configure_request(ZRH)).await;
    assert_eq!(status, 200, "{body}");
    let latest = body["data"]["configuration_latest"].clone();
    let held = held_by(&sim.sim, &operator.username);
    assert!(
        list(&held["drives"])
            .iter()
            .any(|d| d["uuid"] == latest["iso_drive_uuid"]),
        "the ISO is in the operator's account"
    );
    // A server, in the operator's account.
    let (status, body) = call(
        token.clone(),
        PROVISION,
        Harness::provision_request(&cycle_id(1), MODEL, ZRH, &latest),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let server_id = body["data"]["server_id"].as_str().unwrap().to_string();
    let poll = Harness::status_request(&server_id, ZRH, &latest, &body["data"]["extra"]);
    let started = Instant::now();
    let ready = loop {
        let (status, body) = call(token.clone(), STATUS, poll.clone()).await;
        assert_eq!(status, 200, "{body}");
        if body["data"]["provisioned"] == true {
            break body["data"].clone();
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{body}");
        tokio::time::sleep(Duration::from_millis(40)).await;
    };
    let held = held_by(&sim.sim, &operator.username);
    let server = element(&held["servers"], "/name", &server_id);
    assert_eq!(ready["auth"]["uuid"], server["uuid"], "{ready}");
    let wrong = json!({"api_key": "bridge-token-of-at-least-17", "cycle": {"hub_name": "h", "hub_id": HUB}});
    let (status, body) = call(wrong.clone(), VERIFY, Value::Null).await;
    assert_eq!(
        (status, body["data"].clone()),
        (200, json!({"valid": false})),
        "{body}"
    );
    let (status, body) = call(wrong, LOCATIONS, Value::Null).await;
    assert_eq!(status, 401, "{body}");
    bridge.abort();
    iso.task.abort();
}

// ---- 6. the address pool ---------------------------------------------------------------------

/// What an operator does to put an address into the bridge's pool, as docs/cloudsigma.md says
/// (or as `advice` says, when it names the bridge's tag rather than the `meta`): buys an IP
/// subscription in CloudSigma and marks the address. The address.
async fn operator_pools_an_address(cs: &Cs, advice: &str, config: &Value) -> String {
    let bought = cs
        .cloudsigma(
            reqwest::Method::POST,
            "subscriptions/",
            json!({"objects": [{"resource": "ip", "amount": 1, "period": "1 month", "auto_renew": false}]}),
        )
        .await;
    let address = bought["objects"][0]["subscribed_object"]
        .as_str()
        .unwrap()
        .to_string();
    let pooled = if advice.contains("tag") && !advice.contains("managed_by") {
        json!({"meta": {}, "tags": [config["tag_uuid"]]})
    } else {
        json!({"meta": {"managed_by": "cycle-ial-bridge"}})
    };
    cs.cloudsigma(reqwest::Method::PUT, &format!("ips/{address}/"), pooled)
        .await;
    address
}

#[tokio::test]
async fn with_buying_off_an_empty_pool_answers_409_saying_how_to_fill_it_and_that_works() {
    let cs = Cs::start(quick_sim(), not_buying).await;
    // The operator pools one address, which the server's boot NIC takes.
    let config = cs.configure().await;
    let boot = operator_pools_an_address(&cs, "managed_by", &config).await;
    let (config, server_id, status) = cs.provision_ready(1).await;
    assert_eq!(status["auth"]["initial_ips"], json!([boot]), "{status}");
    let allocate = Harness::allocate_request(&server_id, ZRH, &config);
    let (status, body) = cs.call(ALLOCATE, allocate.clone()).await;
    assert_eq!(status, 409, "{body}");
    let detail = body["error"]["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    eprintln!("allocate with an empty pool: {status} {detail}");
    assert!(detail.contains("cloudsigma.ips.buy"), "{body}");
    assert_eq!(cs.subscriptions().len(), 1, "nothing bought by the bridge");

    // The operator does what the answer says.
    let address = operator_pools_an_address(&cs, &detail, &config).await;
    let (status, body) = cs.call(ALLOCATE, allocate).await;
    assert_eq!(
        status, 200,
        "having followed the 409's advice ({detail:?}), allocate answers: {body}"
    );
    assert_eq!(body["data"]["ip_id"], address.as_str());
    assert_eq!(cs.subscriptions().len(), 2, "nothing bought by the bridge");
    cs.assert_cycle_takes_every_answer();
}

#[tokio::test]
async fn an_address_bought_returns_to_the_pool_at_release_and_is_lent_again_without_buying() {
    let cs = Cs::start(quick_sim(), |raw| raw).await;
    let (config, server_id, _) = cs.provision_ready(1).await;
    let bought = cs.subscriptions().len();
    let allocate = Harness::allocate_request(&server_id, ZRH, &config);
    let ip = cs.ok(ALLOCATE, allocate.clone()).await;
    let address = ip["ip_id"].as_str().unwrap().to_string();
    assert_eq!(cs.subscriptions().len(), bought + 1, "one address bought");
    assert_eq!(
        cs.ok(RELEASE, Harness::release_request(&ip)).await,
        json!(true)
    );
    let held = cs.ip(&address);
    assert!(
        held["meta"]["cycle_ip_for"]
            .as_str()
            .is_none_or(str::is_empty),
        "released but still lent: {held}"
    );
    // Another of Cycle's pools on the same server: the same address, no second subscription.
    let mut other = allocate.clone();
    other["cycle"]["pool_id"] = json!("66a1b2c3d4e5f60718293a4c");
    let again = cs.ok(ALLOCATE, other).await;
    assert_eq!(again["ip_id"], address.as_str());
    assert_eq!(
        cs.subscriptions().len(),
        bought + 1,
        "{:#?}",
        cs.subscriptions()
    );
    cs.assert_cycle_takes_every_answer();
}

#[tokio::test]
async fn decommission_returns_the_servers_addresses_to_the_pool() {
    let cs = Cs::start(quick_sim(), |raw| raw).await;
    let (config, first, status) = cs.provision_ready(1).await;
    let boot = status["auth"]["initial_ips"][0]
        .as_str()
        .unwrap()
        .to_string();
    let ip = cs
        .ok(ALLOCATE, Harness::allocate_request(&first, ZRH, &config))
        .await;
    let extra = ip["ip_id"].as_str().unwrap().to_string();
    let bought = cs.subscriptions().len();
    assert_eq!(
        cs.ok(DECOMMISSION, Harness::server_ref(&first, ZRH)).await,
        json!(true)
    );
    for address in [&boot, &extra] {
        let held = cs.ip(address);
        assert!(
            held["meta"]["cycle_ip_for"]
                .as_str()
                .is_none_or(str::is_empty)
                && held["server"].is_null(),
            "decommissioned, but its address is still lent: {held}"
        );
    }
    // The next server and its allocation take both, and nothing is bought.
    let (_, second, status) = cs.provision_ready(2).await;
    let again = cs
        .ok(ALLOCATE, Harness::allocate_request(&second, ZRH, &config))
        .await;
    let mut reused = vec![
        status["auth"]["initial_ips"][0]
            .as_str()
            .unwrap()
            .to_string(),
        again["ip_id"].as_str().unwrap().to_string(),
    ];
    reused.sort();
    let mut before = vec![boot, extra];
    before.sort();
    assert_eq!(reused, before);
    assert_eq!(
        cs.subscriptions().len(),
        bought,
        "{:#?}",
        cs.subscriptions()
    );
    cs.assert_cycle_takes_every_answer();
}
