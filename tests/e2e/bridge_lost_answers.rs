//! Crusoe carries out a create and the answer is lost on the way back (the simulator cuts the
//! connection after doing the work). The client does not resend a create blindly, as Crusoe's
//! terraform provider never retries a POST; the bridge looks the name up first. However many
//! answers are lost, each resource exists once.

use crate::common;

use common::harness::{test_settings, Harness};
use common::quick_sim_config;
use crusoe_sim::{Faults, SimConfig};
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
    let allocate = Harness::allocate_request(&server.server_id, "us-east1-a", &server.config);
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

#[tokio::test]
async fn a_replica_that_finds_a_load_balancer_still_being_made_waits_for_it_instead_of_making_another(
) {
    // Slow operations: the second replica looks while the first one's load balancer has no
    // address yet.
    let h = Harness::start(
        SimConfig {
            op_delay: std::time::Duration::from_millis(600),
            ..quick_sim_config()
        },
        test_settings(),
    )
    .await;
    let server = h.provision_ready("c1a.4x", "us-east1-a").await;
    let (other_url, _other) =
        common::harness::serve_bridge(&h.sim, h.settings.clone(), h.options).await;
    let allocate = Harness::allocate_request(&server.server_id, "us-east1-a", &server.config);
    let body = json!({"auth": h.auth, "request": allocate});
    let post = |base: String| {
        let body = body.clone();
        async move {
            let resp = common::post(&format!("{base}/v1/infrastructure/ip/allocate"), &body).await;
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    let first = tokio::spawn(post(h.url.clone()));
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let second = post(other_url).await;
    let first = first.await.unwrap();
    assert_eq!(first.0, 200, "{}", first.1);
    assert_eq!(second.0, 200, "{}", second.1);
    assert_eq!(
        first.1["data"], second.1["data"],
        "both replicas answer the same address"
    );
    assert_eq!(
        h.count("load_balancers"),
        1,
        "{}",
        h.project()["load_balancers"]
    );
}
