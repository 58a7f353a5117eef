//! The core driving a backend it was not written for: an in-memory cloud shaped like CloudSigma
//! (servers are created stopped and must be started, a location's state is an uploaded drive),
//! so that what the core promises every backend is checked without Crusoe.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use secrecy::SecretString;
use serde_json::json;

use super::backend::Presented;
use super::catalogue::{Catalogue, CatalogueLocation, Model};
use super::settings::RateLimitSettings;
use super::*;

static FAKE: BackendInfo = BackendInfo {
    name: "fake",
    display: "Fake",
    model_noun: "Fake server size",
    account_attribute: "fake_account",
    credentials: ["the Fake user", "the Fake password", "the Fake location"],
};

#[derive(Debug)]
struct FakeAccount(String);

impl Account for FakeAccount {
    fn scope(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    Stopped,
    Running,
}

#[derive(Default)]
struct Fake {
    servers: Mutex<BTreeMap<String, State>>,
    locations_ensured: Mutex<Vec<Option<LocationState>>>,
}

fn model(id: &str, memory_gb: i64) -> Model {
    Model {
        id: id.into(),
        description: id.into(),
        class: id.into(),
        cpu_cores: 4,
        cpu_type: "x86_64".into(),
        memory_gb,
        memory_type: "RAM".into(),
        disk_gb: 0,
        disk_type: "SSD".into(),
        gpus: 0,
        gpu_type: String::new(),
        gpu_vram_gb: None,
        hourly_usd: Some(0.1),
        offered_in: BTreeSet::from(["zone-1".to_string()]),
        hypervisor: Err("the fake cloud runs no nested VMs".into()),
    }
}

impl Backend for Fake {
    type Account = FakeAccount;

    fn info(&self) -> &'static BackendInfo {
        &FAKE
    }

    fn account(&self, presented: Presented<'_>) -> Result<FakeAccount, CoreError> {
        Ok(FakeAccount(presented.namespace.to_string()))
    }

    fn operator_account(&self) -> Option<FakeAccount> {
        Some(FakeAccount("operator".into()))
    }

    async fn verify(&self, caller: &Caller<FakeAccount>) -> Result<bool, CoreError> {
        Ok(caller.account.0 != "nobody")
    }

    async fn readiness(&self) -> Result<(), String> {
        Ok(())
    }

    async fn catalogue(&self, _: &Caller<FakeAccount>) -> Result<Arc<Catalogue>, CoreError> {
        Ok(Arc::new(Catalogue {
            locations: vec![CatalogueLocation {
                id: "zone-1".into(),
                info: None,
            }],
            models: vec![model("small", 2), model("big", 16)],
        }))
    }

    async fn ensure_location(
        &self,
        _: &Caller<FakeAccount>,
        _: &ConfigureLocation,
        current: Option<LocationState>,
    ) -> Result<LocationState, CoreError> {
        self.locations_ensured.lock().unwrap().push(current);
        Ok(LocationState {
            version: "fake-1".into(),
            data: json!({"iso_drive": "drive-1"}).as_object().unwrap().clone(),
        })
    }

    async fn create_server(
        &self,
        _: &Caller<FakeAccount>,
        plan: &ProvisionPlan,
    ) -> Result<Extra, CoreError> {
        self.servers
            .lock()
            .unwrap()
            .entry(plan.name.clone())
            .or_insert(State::Stopped);
        Ok(json!({"size": plan.model.as_ref().unwrap().id})
            .as_object()
            .unwrap()
            .clone())
    }

    async fn observe_server(
        &self,
        _: &Caller<FakeAccount>,
        name: &str,
        request: &ProvisionStatus,
    ) -> Result<Observed, CoreError> {
        let mut servers = self.servers.lock().unwrap();
        let extra = request.extra.clone().unwrap_or_default();
        match servers.get_mut(name) {
            None => Err(CoreError::NotFound(format!("no server {name}"))),
            Some(state @ State::Stopped) => {
                *state = State::Running;
                Ok(Observed::Pending { extra })
            }
            Some(State::Running) => Ok(Observed::Ready {
                auth: ServerAuth {
                    uuid: Some("9a5e0d2c-0000-4000-8000-000000000001".into()),
                    initial_ips: Some(vec!["192.0.2.7".into()]),
                    mac_addr: Some("02:00:00:00:00:07".into()),
                },
                extra,
            }),
        }
    }

    async fn restart_server(&self, _: &Caller<FakeAccount>, name: &str) -> Result<(), CoreError> {
        match self.servers.lock().unwrap().get(name) {
            Some(_) => Ok(()),
            None => Err(CoreError::NotFound(format!("no server {name}"))),
        }
    }

    async fn delete_server(&self, _: &Caller<FakeAccount>, name: &str) -> Result<(), CoreError> {
        self.servers.lock().unwrap().remove(name);
        Ok(())
    }

    async fn allocate_ip(
        &self,
        _: &Caller<FakeAccount>,
        name: &str,
        _: &AllocateIp,
    ) -> Result<AllocateIpResponse, CoreError> {
        Err(CoreError::Conflict(format!(
            "{name} has no address to give"
        )))
    }

    async fn release_ip(&self, _: &Caller<FakeAccount>, _: &ReleaseIp) -> Result<(), CoreError> {
        Ok(())
    }
}

fn core(credentials: CredentialsMode) -> Core<Fake> {
    Core::new(
        CoreSettings {
            credentials,
            bridge_token: Some(SecretString::from("a-bridge-token-of-16+")),
            allowed_locations: Vec::new(),
            rate_limit: RateLimitSettings::default(),
        },
        Fake::default(),
    )
    .unwrap()
}

fn auth() -> Option<Auth> {
    let mut auth = Auth::default();
    auth.api_key = Some("user".into());
    auth.secret = Some("password".into());
    auth.namespace = Some("zone-1-account".into());
    Some(auth)
}

fn call<T>(request: serde_json::Value) -> Call<T>
where
    T: serde::de::DeserializeOwned,
{
    Call {
        auth: auth(),
        request: serde_json::from_value(request).unwrap(),
    }
}

fn provision(
    server_id: &str,
    model_id: &str,
    features: serde_json::Value,
) -> Call<ProvisionServer> {
    call(json!({
        "hostname": "h", "model_id": model_id, "location_id": "zone-1",
        "model_features": features, "cycle": {"server_id": server_id}
    }))
}

#[tokio::test]
async fn a_server_created_stopped_is_started_by_a_poll_and_reported_once_it_runs() {
    let core = core(CredentialsMode::PassThrough);
    let answer = Provider::provision(
        &core,
        provision("65f1e2d3c4b5a69788796a01", "big", json!(null)),
    )
    .await
    .unwrap();
    assert_eq!(answer.server_id, "cycle-65f1e2d3c4b5a69788796a01");
    assert_eq!(answer.extra["size"], "big");
    let poll = || {
        Provider::provision_status(
            &core,
            call(json!({"server_id": "cycle-65f1e2d3c4b5a69788796a01", "extra": {"size": "big"}})),
        )
    };
    let first = poll().await.unwrap();
    assert!(!first.provisioned, "stopped: started, not yet running");
    assert_eq!(
        first.extra["size"], "big",
        "extra travels back to the backend"
    );
    let second = poll().await.unwrap();
    assert!(second.provisioned);
    assert_eq!(second.auth.mac_addr.as_deref(), Some("02:00:00:00:00:07"));
    assert!(
        Provider::decommission(&core, call(json!({"server_id": answer.server_id})))
            .await
            .unwrap()
    );
    let gone = poll().await.unwrap_err();
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn cycles_input_rules_hold_whatever_the_backend_and_speak_of_it() {
    let core = core(CredentialsMode::PassThrough);
    for (request, pointer, says) in [
        (
            provision(&"0".repeat(24), "big", json!(null)),
            "/request/cycle/server_id",
            "zero ObjectID",
        ),
        (
            provision("65f1e2d3c4b5a69788796a02", "huge", json!(null)),
            "/request/model_id",
            "not a Fake server size",
        ),
        (
            provision("65f1e2d3c4b5a69788796a03", "small", json!(null)),
            "/request/model_id",
            "cannot run CycleOS",
        ),
        (
            provision(
                "65f1e2d3c4b5a69788796a04",
                "big",
                json!({"hypervisor": true}),
            ),
            "/request/model_features/hypervisor",
            "the fake cloud runs no nested VMs",
        ),
    ] {
        let err = Provider::provision(&core, request).await.unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(err.pointer.as_deref(), Some(pointer), "{err}");
        assert!(err.detail.contains(says), "{err}");
    }
    assert!(
        core.backend().servers.lock().unwrap().is_empty(),
        "nothing was created"
    );
}

#[tokio::test]
async fn credentials_are_named_as_the_backend_reads_them_and_the_token_guards_server_held_mode() {
    let core_pt = core(CredentialsMode::PassThrough);
    let mut missing = auth();
    missing.as_mut().unwrap().secret = None;
    let err = core_pt.caller(missing.as_ref()).unwrap_err();
    assert!(
        err.to_string().contains("the Fake password as Secret"),
        "{err}"
    );

    let held = core(CredentialsMode::ServerHeld);
    let mut token = Auth::default();
    token.api_key = Some("a-bridge-token-of-16+".into());
    assert_eq!(held.caller(Some(&token)).unwrap().account.0, "operator");
    token.api_key = Some("a-bridge-token-of-16-".into());
    assert!(matches!(
        held.caller(Some(&token)),
        Err(CoreError::Unauthorized(_))
    ));
    let verified = Provider::verify(&held, None).await.unwrap();
    assert!(!verified.valid, "no token is no valid credential");
}

#[tokio::test]
async fn a_locations_state_is_the_backends_own_versioned_and_handed_back_to_it() {
    let core = core(CredentialsMode::PassThrough);
    let first = Provider::configure_location(&core, call(json!({"location_id": "zone-1"})))
        .await
        .unwrap();
    assert_eq!(first.version.as_deref(), Some("fake-1"));
    assert_eq!(first.configuration_latest["iso_drive"], "drive-1");
    Provider::configure_location(
        &core,
        call(json!({"location_id": "zone-1", "version": "fake-1",
            "configuration_current": first.configuration_latest})),
    )
    .await
    .unwrap();
    let seen = core.backend().locations_ensured.lock().unwrap().clone();
    assert_eq!(seen[0], None);
    assert_eq!(seen[1].as_ref().unwrap().version, "fake-1");
    let elsewhere = Provider::configure_location(&core, call(json!({"location_id": "zone-9"})))
        .await
        .unwrap_err();
    assert_eq!(elsewhere.pointer.as_deref(), Some("/request/location_id"));
}

#[tokio::test]
async fn the_catalogue_is_rendered_for_cycle_with_the_backends_name() {
    let core = core(CredentialsMode::PassThrough);
    let locations = Provider::locations(&core, auth())
        .await
        .unwrap()
        .decode()
        .unwrap();
    assert_eq!(locations.locations[0].annotations["provider"], "fake");
    let models = Provider::server_models(&core, auth())
        .await
        .unwrap()
        .decode()
        .unwrap();
    let compatible: Vec<_> = models
        .models
        .iter()
        .map(|m| (m.name.as_str(), m.compatible))
        .collect();
    assert_eq!(compatible, [("small", false), ("big", true)]);
    assert_eq!(models.models[1].pricing.hourly, 100);
}
