//! Crusoe carries out a create and the answer is lost on the way back (the simulator cuts the
//! connection after doing the work). The client does not resend a create blindly, as Crusoe's
//! terraform provider never retries a POST; the bridge looks the name up first. However many
//! answers are lost, each resource exists once.

mod common;

use common::harness::{test_settings, Harness, CYCLE_SERVER};
use common::quick_sim_config;
use crusoe_ial::sim::{Faults, SimConfig};
use serde_json::{json, Value};

fn named<'a>(items: &'a Value, prefix: &str) -> Vec<&'a str> {
    items
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["name"].as_str())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

#[tokio::test]
async fn creates_whose_answers_are_lost_make_each_resource_once() {
    let h = Harness::start(
        SimConfig {
            faults: Faults {
                lost_answer_rate: 0.3,
                ..Default::default()
            },
            seed: 11,
            ..quick_sim_config()
        },
        test_settings(),
    )
    .await;
    let server = h.provision_ready("c1a.4x", "us-east1-a").await;
    let allocate = json!({
        "kind": "ipv4", "server_id": server.server_id, "location_id": "us-east1-a", "zone_id": null,
        "location_configuration": server.config,
        "cycle": {"pool_id": null, "server_id": CYCLE_SERVER, "server_model_class": "c1a", "server_model_category": "cpu", "location_id": "l"}
    });
    let ip = Harness::data(h.cycle("/v1/infrastructure/ip/allocate", allocate).await);
    assert!(ip["cidr"].as_str().unwrap().ends_with("/32"));

    let lost: u64 = h
        .sim
        .sim
        .calls()
        .iter()
        .filter(|(k, _)| k.starts_with("lost answer"))
        .map(|(_, n)| n)
        .sum();
    assert!(lost >= 5, "the test lost {lost} answers; it needs several");
    let p = h.project();
    let hub = "cycle-hub-";
    assert_eq!(
        named(&p["vpc_networks"], hub).len(),
        1,
        "{}",
        p["vpc_networks"]
    );
    assert_eq!(
        named(&p["vpc_subnets"], hub).len(),
        1,
        "{}",
        p["vpc_subnets"]
    );
    assert_eq!(
        named(&p["firewall_rules"], hub).len(),
        1,
        "{}",
        p["firewall_rules"]
    );
    let vm = server.server_id.as_str();
    assert_eq!(named(&p["vms"], vm).len(), 1, "{}", p["vms"]);
    assert_eq!(
        named(&p["disks"], &format!("{vm}-data")).len(),
        1,
        "{}",
        p["disks"]
    );
    assert_eq!(
        named(&p["load_balancers"], vm).len(),
        1,
        "{}",
        p["load_balancers"]
    );
}
