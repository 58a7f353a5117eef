//! Crusoe failing: with a fifth of its calls answered 5xx or 429 and added latency, the lifecycle
//! completes with no duplicate and nothing leaked (Cycle calling again where an answer says to
//! retry); without stock, or when Crusoe fails the creation, Cycle gets a clear error and nothing
//! billable remains.

use crate::common;

use common::harness::{test_settings, Harness, CYCLE_SERVER};
use common::quick_sim_config;
use crusoe_sim::{Faults, SimConfig};
use serde_json::{json, Value};

#[tokio::test]
async fn the_lifecycle_completes_through_crusoe_failures_without_duplicates_or_leaks() {
    let h = Harness::start(
        SimConfig {
            seed: 42,
            ..quick_sim_config()
        },
        test_settings(),
    )
    .await;
    h.sim
        .sim
        .set_faults(Faults {
            server_error_rate: 0.1,
            rate_limit_rate: 0.1,
            latency_ms: 5,
            ..Default::default()
        })
        .unwrap();

    let config = Harness::data(
        h.cycle_retried(
            "/v1/location/configure",
            Harness::configure_request("us-east1-a"),
        )
        .await,
    )["configuration_latest"]
        .clone();
    let mut servers = Vec::new();
    for i in 0..3 {
        let cycle_id = format!("{CYCLE_SERVER}{i}");
        let answer = Harness::data(
            h.cycle_retried(
                "/v1/infrastructure/server/provision",
                Harness::provision_request(&cycle_id, "c1a.4x", "us-east1-a", &config),
            )
            .await,
        );
        servers.push((
            answer["server_id"].as_str().unwrap().to_string(),
            answer["extra"].clone(),
        ));
    }
    let mut peak_vms = 0;
    for (id, extra) in &servers {
        h.wait_provisioned(id, "us-east1-a", &config, extra).await;
        peak_vms = peak_vms.max(h.count("vms"));
        let allocate = Harness::allocate_request(id, "us-east1-a", &config);
        let ip = h.cycle_retried("/v1/infrastructure/ip/allocate", allocate);
        let ip = Harness::data(ip.await);
        assert!(ip["cidr"].as_str().unwrap().ends_with("/32"));
        let server = Harness::server_ref(id, "us-east1-a");
        let restarted = h.cycle_retried("/v1/infrastructure/server/restart", server);
        assert_eq!(Harness::data(restarted.await), json!(true));
    }
    assert_eq!(peak_vms, 3, "one VM per server, never a duplicate");
    assert_eq!(h.count("load_balancers"), 3);
    for (id, _) in &servers {
        let server = Harness::server_ref(id, "us-east1-a");
        let gone = h.cycle_retried("/v1/infrastructure/server/decommission", server);
        assert_eq!(Harness::data(gone.await), json!(true));
    }
    assert_eq!(h.billable(), (0, 0, 0), "nothing leaked");
    let failed = h.sim.sim.calls().values().sum::<u64>();
    assert!(failed > 50, "the run made {failed} Crusoe calls");
}

#[tokio::test]
async fn out_of_stock_is_a_clear_409_and_creates_nothing() {
    let h = Harness::start(quick_sim_config(), test_settings()).await;
    let config = h.configure("eu-iceland1-a").await["configuration_latest"].clone();
    let before = h.billable();
    // H100s are out of stock in Iceland in the simulator.
    let (status, answer) = h
        .cycle(
            "/v1/infrastructure/server/provision",
            Harness::provision_request(
                CYCLE_SERVER,
                "h100-80gb-sxm-ib.8x",
                "eu-iceland1-a",
                &config,
            ),
        )
        .await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "409.out-of-stock");
    let detail = answer["error"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("h100-80gb-sxm-ib.8x") && detail.contains("eu-iceland1-a"),
        "{detail}"
    );
    assert_eq!(h.billable(), before, "nothing created");
}

#[tokio::test]
async fn a_creation_crusoe_fails_is_reported_with_its_cause_and_leaves_nothing_billable() {
    let h = Harness::start(quick_sim_config(), test_settings()).await;
    let config = h.configure("us-east1-a").await["configuration_latest"].clone();
    let provisioned = h
        .provision(CYCLE_SERVER, "c1a.4x", "us-east1-a", &config)
        .await;
    // The VM creation was accepted; make Crusoe fail it, as it does when stock runs out meanwhile.
    // (Creation already started, so fail the next one: provision again after a decommission.)
    let id = provisioned["server_id"].as_str().unwrap().to_string();
    Harness::data(h.server_call("decommission", &id, "us-east1-a").await);
    let fail_every_operation = || {
        let faults = Faults {
            operation_failure_rate: 1.0,
            ..Default::default()
        };
        h.sim.sim.set_faults(faults).unwrap()
    };
    fail_every_operation();
    // The data disk's creation fails too under this fault: provision says so, and keeps nothing.
    let (status, answer) = h
        .cycle(
            "/v1/infrastructure/server/provision",
            Harness::provision_request(CYCLE_SERVER, "c1a.16x", "us-east1-a", &config),
        )
        .await;
    assert_eq!(status, 502, "{answer}");
    assert_eq!(answer["error"]["code"], "502.provider-failed");
    assert!(
        Harness::detail(&answer).contains("internal_error"),
        "{answer}"
    );
    assert_eq!(h.billable(), (0, 0, 0));

    // A model with its own disk needs none: the VM creation itself fails, seen at the next poll.
    fail_every_operation();
    let provisioned = h
        .provision(CYCLE_SERVER, "s1a.80x", "us-east1-a", &config)
        .await;
    let mut last: (u16, Value) = (0, Value::Null);
    for _ in 0..100 {
        last = h
            .cycle(
                "/v1/infrastructure/server/provision-status",
                Harness::status_request(&id, "us-east1-a", &config, &provisioned["extra"]),
            )
            .await;
        if last.0 != 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(last.0, 502, "{}", last.1);
    let detail = last.1["error"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("internal_error") && detail.contains("Nothing billable"),
        "{detail}"
    );
    assert_eq!(h.billable(), (0, 0, 0));
}

/// Crusoe refusing to delete a running VM, and answering 409 to a deletion in the second after a
/// VM's state changed (the packer plugin's two readings): decommission still ends with nothing.
#[tokio::test]
async fn decommission_succeeds_when_crusoe_wants_vms_stopped_and_conflicts_right_after_a_change() {
    let h = Harness::start(quick_sim_config(), test_settings()).await;
    let server = h.provision_ready("c1a.4x", "us-east1-a").await;
    h.sim
        .sim
        .set_faults(Faults {
            delete_needs_stopped_vm: true,
            delete_conflict_after_change_ms: 1500,
            ..Default::default()
        })
        .unwrap();
    let done = Harness::data(
        h.server_call("decommission", &server.server_id, "us-east1-a")
            .await,
    );
    assert_eq!(done, json!(true));
    assert_eq!(h.billable(), (0, 0, 0), "{}", h.project());
    let calls = h.sim.sim.calls();
    assert!(
        calls["PATCH /projects/{project_id}/compute/vms/instances/{vm_id}"] >= 1,
        "the running VM was stopped first: {calls:?}"
    );
    assert!(
        calls["DELETE /projects/{project_id}/compute/vms/instances/{vm_id}"] >= 3,
        "refused running, refused right after stopping, then deleted: {calls:?}"
    );
    assert!(h.retries().is_empty(), "{:?}", h.retries());
}
