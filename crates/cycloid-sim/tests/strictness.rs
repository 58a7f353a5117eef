//! The simulator refuses what Cycloid's reference says Cycloid refuses, so that a sink that
//! gets a path, a field, an enum or a tag wrong fails in tests.

use std::time::Duration;

use cycloid_sim::{Behaviour, CycloidSim, RunningCycloid};
use serde_json::{json, Value};

const KEY: &str = "sim-key";

async fn post(cy: &RunningCycloid, path: &str, key: Option<&str>, body: Value) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}{path}", cy.url()))
        .json(&body);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn get(cy: &RunningCycloid, target: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .get(format!("{}{target}", cy.url()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn event() -> Value {
    json!({"type": "Custom", "title": "t", "message": "m", "severity": "info", "tags": [{"key": "k", "value": "v"}]})
}

#[tokio::test]
async fn events_are_checked_field_by_field() {
    let cy = RunningCycloid::start(CycloidSim::new("acme", KEY))
        .await
        .unwrap();
    let ev = "/organizations/acme/events";
    assert_eq!(post(&cy, ev, Some(KEY), event()).await.0, 200);
    assert_eq!(post(&cy, ev, None, event()).await.0, 401);
    assert_eq!(post(&cy, ev, Some("other"), event()).await.0, 401);
    assert_eq!(
        post(&cy, "/organizations/other-org/events", Some(KEY), event())
            .await
            .0,
        403
    );
    assert_eq!(
        post(&cy, "/organizations/Bad_Org!/events", Some(KEY), event())
            .await
            .0,
        422
    );
    assert_eq!(
        post(&cy, "/organizations/acme/event", Some(KEY), event())
            .await
            .0,
        404
    );
    let broken: Vec<(&str, Value)> = vec![
        ("type", json!("custom")),
        ("severity", json!("warning")),
        ("title", json!("")),
        ("message", Value::Null),
        ("tags", json!({"k": "v"})),
        ("tags", json!([{"key": "k", "value": "a,b"}])),
        ("tags", json!([{"key": "", "value": "v"}])),
        ("tags", json!([{"key": "k"}])),
        ("color", json!("#ff0000")),
        ("icon", json!("x")),
    ];
    for (field, value) in broken {
        let mut e = event();
        e[field] = value.clone();
        let (status, body) = post(&cy, ev, Some(KEY), e).await;
        assert_eq!(status, 422, "{field}={value}: {body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(field),
            "{body}"
        );
    }
    assert_eq!(cy.sim.events().len(), 1, "only the valid event is kept");
}

#[tokio::test]
async fn resources_need_their_fields_and_are_found_by_literal_bracket_filters() {
    let cy = RunningCycloid::start(CycloidSim::new("acme", KEY))
        .await
        .unwrap();
    let res = "/organizations/acme/inventory/resources";
    let ok = json!({"provider": "crusoe", "type": "c1a.4x", "name": "cycle-1", "label": "node",
                    "cpu": 4, "custom_attributes": {"cycle_server_id": "s1"}});
    for missing in ["provider", "type", "name", "label"] {
        let mut r = ok.clone();
        r.as_object_mut().unwrap().remove(missing);
        assert_eq!(post(&cy, res, Some(KEY), r).await.0, 422, "{missing}");
    }
    let mut negative = ok.clone();
    negative["memory"] = json!(-1);
    assert_eq!(post(&cy, res, Some(KEY), negative).await.0, 422);
    let (status, made) = post(&cy, res, Some(KEY), ok).await;
    assert_eq!(status, 200);
    let id = made["data"]["id"].as_u64().unwrap();

    let (status, found) = get(
        &cy,
        "/organizations/acme/inventory?resources_provider[eq]=crusoe&cycle_server_id[eq]=s1",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(found["data"].as_array().unwrap().len(), 1);
    let (_, none) = get(&cy, "/organizations/acme/inventory?cycle_server_id[eq]=s2").await;
    assert!(none["data"].as_array().unwrap().is_empty());
    // Brackets percent-encoded are not what the CLI sends.
    let (status, _) = get(
        &cy,
        "/organizations/acme/inventory?cycle_server_id%5Beq%5D=s1",
    )
    .await;
    assert_eq!(status, 422);

    let del = |id: String| {
        let url = format!("{}{res}/{id}", cy.url());
        async move {
            reqwest::Client::new()
                .delete(url)
                .bearer_auth(KEY)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(del("x".into()).await, 422);
    assert_eq!(del(id.to_string()).await, 204);
    assert_eq!(del(id.to_string()).await, 404);
    assert!(cy.sim.resources().is_empty());
}

#[tokio::test]
async fn it_fails_throttles_slows_and_answers_garbage_on_demand() {
    let cy = RunningCycloid::start(CycloidSim::new("acme", KEY))
        .await
        .unwrap();
    let ev = "/organizations/acme/events";
    cy.sim.set_behaviour(Behaviour::Fail(503));
    assert_eq!(post(&cy, ev, Some(KEY), event()).await.0, 503);
    cy.sim.set_behaviour(Behaviour::Throttle);
    let resp = reqwest::Client::new()
        .post(format!("{}{ev}", cy.url()))
        .bearer_auth(KEY)
        .json(&event())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], "1");
    cy.sim.set_behaviour(Behaviour::Garbage);
    let (status, body) = post(&cy, ev, Some(KEY), event()).await;
    assert_eq!((status, body), (200, Value::Null), "not JSON");
    cy.sim
        .set_behaviour(Behaviour::Slow(Duration::from_millis(300)));
    let started = std::time::Instant::now();
    assert_eq!(post(&cy, ev, Some(KEY), event()).await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        cy.sim.events().len(),
        1,
        "only the normal answer kept an event"
    );
    assert_eq!(cy.sim.received().len(), 4);
}
