//! The bridge and the simulator in this process, the bridge served as `serve` serves it, and a
//! "Cycle" that calls it over HTTP with the wrapper. This Cycle calls again only where Cycle does
//! (see [`Harness::cycle_retried`] and [`Harness::wait_provisioned`]), and counts each time, so a
//! test sees every other answer and can tell how many were retried.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use crusoe_ial::config::BridgeSettings;
use crusoe_ial::ial::IalOptions;
use crusoe_ial::serve::{self, AppSettings};
use crusoe_sim::{RunningSim, SimConfig};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use super::{
    fast_settings, project_inventory, quick_sim_config, start_sim, ACCESS_KEY, PROJECT, SECRET,
};

pub const HUB: &str = "65f1e2d3c4b5a69788796a5b";
pub const CYCLE_SERVER: &str = "5f1e2d3c4b5a69788796a5b4";
pub const CYCLE_LOCATION: &str = "64a1b2c3d4e5f60718293a4b";
/// Attempts the bridge's Crusoe client makes per call: enough to ride out the fault tests' 20 %
/// failure rate.
pub const CLIENT_ATTEMPTS: u32 = 8;

/// What [`Harness::provision_ready`] went through.
pub struct Ready {
    pub config: Value,
    pub server_id: String,
    /// provision's answer.
    pub provisioned: Value,
    /// provision-status's answer once provisioned.
    pub status: Value,
}

pub struct Harness {
    pub sim: RunningSim,
    pub settings: BridgeSettings,
    pub options: IalOptions,
    pub url: String,
    server: Option<JoinHandle<()>>,
    http: reqwest::Client,
    pub auth: Value,
    /// Calls made again, by path.
    retried: Mutex<BTreeMap<String, u32>>,
}

/// Stands in for Cycle's iPXE image in tests that do not boot: the simulator runs no startup
/// script, so nothing fetches it (`tests/boot/qemu.rs` serves and boots a real one).
pub const STAND_IN_IPXE_URL: &str = "http://127.0.0.1:9/stand-in-ipxe.efi";

/// Settings for tests: short timeouts, a stand-in iPXE image, everything else as shipped.
pub fn test_settings() -> BridgeSettings {
    let mut s = BridgeSettings::default();
    s.boot.ipxe_url = Some(STAND_IN_IPXE_URL.into());
    s.timeouts.provision_secs = 10;
    s.timeouts.restart_secs = 10;
    s.timeouts.decommission_secs = 15;
    s.timeouts.allocate_secs = 10;
    s.timeouts.release_secs = 10;
    s.timeouts.configure_secs = 10;
    s
}

pub fn default_auth() -> Value {
    json!({
        "api_key": ACCESS_KEY,
        "secret": SECRET,
        "namespace": PROJECT,
        "cycle": {"hub_name": "test hub", "hub_id": HUB}
    })
}

/// A bridge on `sim` in pass-through mode, served as `serve` serves it; its URL and its task
/// (aborted to stop it).
pub async fn serve_bridge(
    sim: &RunningSim,
    settings: BridgeSettings,
    options: IalOptions,
) -> (String, JoinHandle<()>) {
    let mut client = fast_settings(&sim.endpoint());
    client.retry.max_attempts = CLIENT_ATTEMPTS;
    serve_app(&AppSettings {
        client,
        server_held: None,
        bridge: settings,
        ial: options,
        cloudsigma: None,
    })
    .await
}

/// What `serve` builds from `settings`, served on a listener bound before it starts; its URL and
/// its task (aborted to stop it).
pub async fn serve_app(settings: &AppSettings) -> (String, JoinHandle<()>) {
    let app = serve::app(settings).expect("valid settings");
    let listener = serve::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        serve::serve_on(listener, app, None, std::future::pending(), Duration::ZERO)
            .await
            .unwrap();
    });
    (url, task)
}

/// The element of the JSON array `list` whose value at `pointer` is `value`; panics when there is
/// none.
pub fn element<'a>(list: &'a Value, pointer: &str, value: &str) -> &'a Value {
    list.as_array()
        .into_iter()
        .flatten()
        .find(|e| e.pointer(pointer).and_then(Value::as_str) == Some(value))
        .unwrap_or_else(|| panic!("no element with {pointer} = {value} in {list}"))
}

/// Whether this Cycle calls again after this answer. Cycle's guide documents one repeated call:
/// provision-status, polled every 5-10 s until provisioned (`../shared/reference/cycle-ial/IAL.md`).
/// The answers the bridge means to be retried are 503 (Crusoe unavailable, the bridge overloaded)
/// and 504 (the work continues where it stopped): docs/backends/crusoe.md, "When Cycle reports an
/// error". Every other answer, 409, 500 and 502 among them, is the test's to see.
fn cycle_calls_again(status: u16) -> bool {
    matches!(status, 503 | 504)
}

impl Harness {
    pub async fn start(sim: SimConfig, settings: BridgeSettings) -> Self {
        Self::start_with(sim, settings, IalOptions::default()).await
    }

    pub async fn start_with(sim: SimConfig, settings: BridgeSettings, options: IalOptions) -> Self {
        let sim = start_sim(sim).await;
        let (url, task) = serve_bridge(&sim, settings.clone(), options).await;
        Self {
            sim,
            settings,
            options,
            url,
            server: Some(task),
            http: reqwest::Client::new(),
            auth: default_auth(),
            retried: Mutex::default(),
        }
    }

    /// The calls this Cycle made again, by path (see [`cycle_calls_again`]): empty unless an
    /// answer said to retry. A test without faults asserts it is empty, so that no intermittent
    /// 503 or 504 passes unseen.
    pub fn retries(&self) -> BTreeMap<String, u32> {
        self.retried.lock().unwrap().clone()
    }

    fn count_retry(&self, path: &str) {
        *self
            .retried
            .lock()
            .unwrap()
            .entry(path.to_string())
            .or_default() += 1;
    }

    /// A new bridge, with nothing of the old one's memory: as after a crash or on another replica.
    pub async fn restart_bridge(&mut self) {
        if let Some(task) = self.server.take() {
            task.abort();
        }
        let (url, task) = serve_bridge(&self.sim, self.settings.clone(), self.options).await;
        self.url = url;
        self.server = Some(task);
    }

    /// One raw call: status and JSON body (a string when the body is not JSON).
    pub async fn raw(&self, method: &str, path: &str, body: Option<Vec<u8>>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.url));
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// A bridge whose status view is refreshed every `refresh_ms`, on a simulator whose list-VMs
    /// `names` filter matches one exact name only when `names_match_one`.
    pub async fn start_coalescing(refresh_ms: u64, names_match_one: bool) -> Self {
        let mut settings = test_settings();
        settings.status.coalesce = true;
        settings.status.refresh_ms = refresh_ms;
        let sim = SimConfig {
            names_match_one,
            ..quick_sim_config()
        };
        Self::start(sim, settings).await
    }

    /// A call as Cycle makes it: `{auth, request}`, POST, once; whatever the answer, it is the
    /// test's.
    pub async fn cycle(&self, path: &str, request: Value) -> (u16, Value) {
        self.cycle_as(&self.auth, path, request).await
    }

    pub async fn cycle_as(&self, auth: &Value, path: &str, request: Value) -> (u16, Value) {
        let body = serde_json::to_vec(&json!({"auth": auth, "request": request})).unwrap();
        self.raw("POST", path, Some(body)).await
    }

    /// A call Cycle makes again while the answer says to retry (503, 504), as when a job that
    /// failed so is run again: for tests whose Crusoe fails on purpose. Each repeat is counted in
    /// [`Harness::retries`]; after ten answers the last is the test's.
    pub async fn cycle_retried(&self, path: &str, request: Value) -> (u16, Value) {
        let mut answer = self.cycle(path, request.clone()).await;
        for _ in 1..10 {
            if !cycle_calls_again(answer.0) {
                break;
            }
            self.count_retry(path);
            tokio::time::sleep(Duration::from_millis(50)).await;
            answer = self.cycle(path, request.clone()).await;
        }
        answer
    }

    /// The payload of a successful enveloped answer; panics with the error otherwise.
    pub fn data(answer: (u16, Value)) -> Value {
        assert_eq!(answer.0, 200, "{}", answer.1);
        assert_eq!(answer.1["error"], Value::Null, "{}", answer.1);
        answer.1["data"].clone()
    }

    /// The detail of an error answer, which says what went wrong (empty if there is none).
    pub fn detail(answer: &Value) -> &str {
        answer["error"]["detail"].as_str().unwrap_or_default()
    }

    /// The payload of a successful answer, in whichever envelope mode the bridge runs.
    pub fn payload(&self, answer: (u16, Value)) -> Value {
        match self.options.envelope {
            crusoe_ial::ial::Envelope::Wrapped => Self::data(answer),
            crusoe_ial::ial::Envelope::Bare => {
                assert_eq!(answer.0, 200, "{}", answer.1);
                answer.1
            }
        }
    }

    pub async fn configure(&self, location: &str) -> Value {
        self.payload(
            self.cycle("/v1/location/configure", Self::configure_request(location))
                .await,
        )
    }

    /// Location configure's first call: no version, no configuration yet.
    pub fn configure_request(location: &str) -> Value {
        json!({"location_id": location, "version": "", "configuration_current": {}, "cycle": {"location_id": CYCLE_LOCATION}})
    }

    pub fn provision_request(
        cycle_server: &str,
        model: &str,
        location: &str,
        config: &Value,
    ) -> Value {
        json!({
            "hostname": format!("node-{cycle_server}"),
            "model_id": model,
            "location_id": location,
            "zone_id": null,
            "model_features": {"raid": null, "hypervisor": null, "extra": null},
            "provision_options": {},
            "location_configuration": config,
            "cycle": {
                "server_id": cycle_server,
                "model_class": "c1a",
                "model_category": "cpu",
                "model_id": "6a1b2c3d4e5f60718293a4b5",
                "location_id": CYCLE_LOCATION
            }
        })
    }

    pub fn status_request(server_id: &str, location: &str, config: &Value, extra: &Value) -> Value {
        json!({
            "server_id": server_id,
            "location_id": location,
            "zone_id": null,
            "model_features": {},
            "provision_options": {},
            "location_configuration": config,
            "extra": extra,
            "cycle": {"server_id": CYCLE_SERVER, "model_class": "c1a", "model_category": "cpu", "model_id": "m", "location_id": CYCLE_LOCATION}
        })
    }

    /// Polls provision-status until provisioned, as Cycle does (faster). A poll answered 503 or
    /// 504 is followed by the next, as Cycle's would be, and counted in [`Harness::retries`];
    /// any other error fails the test.
    pub async fn wait_provisioned(
        &self,
        server_id: &str,
        location: &str,
        config: &Value,
        extra: &Value,
    ) -> Value {
        let path = "/v1/infrastructure/server/provision-status";
        for _ in 0..200 {
            let answer = self
                .cycle(
                    path,
                    Self::status_request(server_id, location, config, extra),
                )
                .await;
            if cycle_calls_again(answer.0) {
                self.count_retry(path);
            } else {
                let data = self.payload(answer);
                if data["provisioned"] == true {
                    return data;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{server_id} was not provisioned in time");
    }

    /// Cycle's provision of `cycle_server` on `model` in a location configured as `config`, which
    /// must succeed: its answer's payload.
    pub async fn provision(
        &self,
        cycle_server: &str,
        model: &str,
        location: &str,
        config: &Value,
    ) -> Value {
        self.payload(
            self.cycle(
                "/v1/infrastructure/server/provision",
                Self::provision_request(cycle_server, model, location, config),
            )
            .await,
        )
    }

    /// A server as Cycle gets one: the location configured, `CYCLE_SERVER` provisioned on
    /// `model`, and provision-status polled until it is provisioned.
    pub async fn provision_ready(&self, model: &str, location: &str) -> Ready {
        let config = self.configure(location).await["configuration_latest"].clone();
        self.provision_ready_in(CYCLE_SERVER, model, location, config)
            .await
    }

    /// [`Harness::provision_ready`] for `cycle_server`, in a location already configured as
    /// `config`.
    pub async fn provision_ready_in(
        &self,
        cycle_server: &str,
        model: &str,
        location: &str,
        config: Value,
    ) -> Ready {
        let provisioned = self.provision(cycle_server, model, location, &config).await;
        let server_id = provisioned["server_id"].as_str().unwrap().to_string();
        let status = self
            .wait_provisioned(&server_id, location, &config, &provisioned["extra"])
            .await;
        Ready {
            config,
            server_id,
            provisioned,
            status,
        }
    }

    /// IP allocate's request: an IPv4 address for `server_id`, from no pool.
    pub fn allocate_request(server_id: &str, location: &str, config: &Value) -> Value {
        json!({"kind": "ipv4", "server_id": server_id, "location_id": location, "location_configuration": config,
               "cycle": {"pool_id": null, "server_id": CYCLE_SERVER, "server_model_class": "c1a", "server_model_category": "cpu", "location_id": CYCLE_LOCATION}})
    }

    /// IP release's request for what allocate answered, as Cycle may send it: without the server
    /// (the replica that allocated the address knows it).
    pub fn release_request(ip: &Value) -> Value {
        json!({"kind": "ipv4", "ip_id": ip["ip_id"], "ip_assignment_id": ip["ip_assignment_id"], "cidr": ip["cidr"]})
    }

    /// Cycle's call on one server (`restart`, `decommission`), once.
    pub async fn server_call(&self, action: &str, server_id: &str, location: &str) -> (u16, Value) {
        self.cycle(
            &format!("/v1/infrastructure/server/{action}"),
            Self::server_ref(server_id, location),
        )
        .await
    }

    pub fn server_ref(server_id: &str, location: &str) -> Value {
        json!({
            "server_id": server_id,
            "hostname": "node",
            "model_id": "c1a.4x",
            "location_id": location,
            "zone_id": null,
            "extra": {},
            "cycle": {"server_id": CYCLE_SERVER, "model_class": "c1a", "model_category": "cpu", "model_id": "m", "location_id": CYCLE_LOCATION}
        })
    }

    /// The simulator's project, as its inspection endpoint shows it.
    pub fn project(&self) -> Value {
        project_inventory(&self.sim, PROJECT)
    }

    pub fn count(&self, kind: &str) -> usize {
        self.project()[kind].as_array().unwrap().len()
    }

    /// VMs, disks and load balancers: what a server costs.
    pub fn billable(&self) -> (usize, usize, usize) {
        (
            self.count("vms"),
            self.count("disks"),
            self.count("load_balancers"),
        )
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(task) = self.server.take() {
            task.abort();
        }
    }
}

/// What Cycle would refuse in the payload `data` of a successful answer to `method path`: what its
/// Go types' decoding and validation refuse ([`super::cycle_go`]), and what breaks the 200 schema
/// of its OpenAPI (when `../shared` holds it). Empty when Cycle takes the answer.
pub fn cycle_refuses(path: &str, method: &str, data: &Value) -> Vec<String> {
    let mut found: Vec<String> = super::cycle_go::violations(path, data)
        .into_iter()
        .map(|v| format!("{method} {path} (Go types): {v}"))
        .collect();
    if let Some(shared) = super::shared_dir() {
        let spec = super::openapi::CycleSpec::load(&shared.join("reference/cycle-ial/openapi"));
        let (schema, file) = spec.response(path, method);
        found.extend(
            spec.violations(&schema, &file, data)
                .into_iter()
                .map(|v| format!("{method} {path} (OpenAPI): {v}")),
        );
    }
    found
}

/// A bridge on CloudSigma, as `serve` builds it from `bridge` and `cloudsigma`: its URL and its
/// task (aborted to stop it).
pub async fn serve_cloudsigma(
    bridge: BridgeSettings,
    cloudsigma: crusoe_ial::backends::cloudsigma::CloudSigmaConfig,
) -> (String, JoinHandle<()>) {
    serve_app(&AppSettings {
        client: Default::default(),
        server_held: None,
        bridge,
        ial: IalOptions::default(),
        cloudsigma: Some(cloudsigma),
    })
    .await
}
