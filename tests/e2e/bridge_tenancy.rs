//! Two tenants on one bridge: credentials for project A never see or touch project B, whether
//! the catalogue is cached or not.

use crate::common;

use common::harness::{test_settings, Harness, Ready};
use common::{project_inventory, quick_sim_config};
use crusoe_sim::KeyPair;
use serde_json::{json, Value};

const MODELS: &str = "/v1/infrastructure/provider/server-models";

fn auth_of(key: &KeyPair) -> Value {
    json!({"api_key": key.access_key_id, "secret": key.secret_key, "namespace": key.project_id, "cycle": {"hub_name": "b", "hub_id": "77a1b2c3d4e5f60718293a4b"}})
}

#[tokio::test]
async fn one_tenant_never_sees_or_touches_another() {
    let h = Harness::start(quick_sim_config(), test_settings()).await;
    let b = KeyPair::generate();
    h.sim.sim.add_key(&b);
    let b_auth = auth_of(&b);

    // A provisions a server.
    let Ready {
        config, server_id, ..
    } = h.provision_ready("c1a.16x", "us-east1-a").await;

    // B, with the same server id, sees nothing and deletes nothing of A's.
    let (status, body) = h
        .cycle_as(
            &b_auth,
            "/v1/infrastructure/server/provision-status",
            Harness::status_request(&server_id, "us-east1-a", &config, &json!({})),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = h
        .cycle_as(
            &b_auth,
            "/v1/infrastructure/server/restart",
            Harness::server_ref(&server_id, "us-east1-a"),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        Harness::data(
            h.cycle_as(
                &b_auth,
                "/v1/infrastructure/server/decommission",
                Harness::server_ref(&server_id, "us-east1-a")
            )
            .await
        ),
        json!(true),
        "nothing of that name in B's project"
    );
    assert_eq!(h.count("vms"), 1, "A's VM is untouched");
    // B's configure makes B's own network, in B's project, never reusing A's.
    let b_config = Harness::data(
        h.cycle_as(
            &b_auth,
            "/v1/location/configure",
            json!({"location_id": "us-east1-a", "version": "", "configuration_current": {}, "cycle": {"location_id": "x"}}),
        )
        .await,
    )["configuration_latest"]
        .clone();
    assert_ne!(b_config["vpc_network_id"], config["vpc_network_id"]);
    let b_project = project_inventory(&h.sim, &b.project_id);
    assert!(b_project["vpc_networks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["id"] == b_config["vpc_network_id"]));
    assert!(b_project["vms"].as_array().unwrap().is_empty());
    // A's configuration used with B's credentials names a subnet B cannot use.
    let (status, body) = h
        .cycle_as(
            &b_auth,
            "/v1/infrastructure/server/provision",
            Harness::provision_request(
                "0123456789abcdef01234567",
                "c1a.16x",
                "us-east1-a",
                &config,
            ),
        )
        .await;
    assert!((400..500).contains(&status), "{body}");
    assert!(project_inventory(&h.sim, &b.project_id)["vms"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_cached_catalogue_never_answers_a_caller_with_other_or_wrong_credentials() {
    let h = Harness::start(quick_sim_config(), test_settings()).await;
    // A fills the cache.
    Harness::data(h.cycle(MODELS, Value::Null).await);
    Harness::data(
        h.cycle("/v1/infrastructure/provider/locations", Value::Null)
            .await,
    );
    let cached_calls = h.sim.sim.calls();
    Harness::data(h.cycle(MODELS, Value::Null).await);
    assert_eq!(
        h.sim.sim.calls(),
        cached_calls,
        "A's second listing is served from the cache"
    );

    // Same access key, wrong secret: Crusoe is asked, and refuses.
    let mut wrong = h.auth.clone();
    wrong["secret"] = json!("AAAAAAAAAAAAAAAAAAAAAA");
    let (status, body) = h.cycle_as(&wrong, MODELS, Value::Null).await;
    assert_eq!(status, 401, "{body}");
    // Same key pair, another project it does not own.
    let mut other = h.auth.clone();
    other["namespace"] = json!("0b0b0b0b-0000-4000-8000-000000000000");
    let (status, body) = h.cycle_as(&other, MODELS, Value::Null).await;
    assert_eq!(status, 403, "{body}");
    // Another tenant gets its own answer, fetched for it.
    let b = KeyPair::generate();
    h.sim.sim.add_key(&b);
    let before = h.sim.sim.calls().values().sum::<u64>();
    Harness::data(h.cycle_as(&auth_of(&b), MODELS, Value::Null).await);
    assert!(
        h.sim.sim.calls().values().sum::<u64>() > before,
        "B's catalogue was fetched with B's key"
    );
}
