//! The client against wiremock: each call's method, path, headers, body and query as Cycloid's
//! CLI sends them, and each kind of answer mapped to the right error.

use std::time::Duration;

use cycloid_sdk::*;
use secrecy::SecretString;
use serde_json::{json, Map};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "cy-contract-key-123";

fn client(server: &MockServer) -> CycloidClient {
    CycloidClient::new(
        reqwest::Client::builder()
            .timeout(Duration::from_millis(500))
            .build()
            .unwrap(),
        server.uri().parse().unwrap(),
        Organization::parse("acme").unwrap(),
        SecretString::from(KEY),
    )
}

fn event() -> NewEvent {
    NewEvent {
        kind: EventType::Custom,
        title: "Server up".into(),
        message: "it runs".into(),
        severity: Severity::Info,
        tags: vec![Tag::new("hub", "h1").unwrap()],
        icon: None,
        color: None,
    }
}

#[tokio::test]
async fn an_event_is_posted_to_the_organisation_with_the_bearer_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/organizations/acme/events"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_json(
            json!({"type": "Custom", "title": "Server up", "message": "it runs",
                               "severity": "info", "tags": [{"key": "hub", "value": "h1"}]}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {}})))
        .expect(1)
        .mount(&server)
        .await;
    client(&server).send_event(&event()).await.unwrap();
}

#[tokio::test]
async fn filters_keep_their_brackets_literal_and_encode_what_would_split_a_pair() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/organizations/acme/inventory"))
        .and(|r: &Request| {
            r.url.query()
                == Some("resources_provider[eq]=crusoe&cycle_server_id[eq]=a%26b%3Dc%20d")
        })
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"id": 7, "provider": "crusoe", "type": "c1a.4x", "name": "cycle-x", "keywords": [],
                      "custom_attributes": {"cycle_server_id": "a&b=c d"}}],
            "filters": {}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let found = client(&server)
        .inventory()
        .find(&[
            Filter::eq("resources_provider", "crusoe"),
            Filter::eq("cycle_server_id", "a&b=c d"),
        ])
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, 7);
    assert_eq!(found[0].name.as_deref(), Some("cycle-x"));
}

#[tokio::test]
async fn a_created_resource_is_read_from_the_data_envelope_and_an_unreadable_one_is_none() {
    let server = MockServer::start().await;
    let mut attrs = Map::new();
    attrs.insert("cycle_server_id".into(), "s1".into());
    let resource = NewInventoryResource {
        provider: "crusoe".into(),
        kind: "c1a.4x".into(),
        name: "cycle-s1".into(),
        label: "node".into(),
        custom_attributes: attrs,
        cpu: Some(4),
        memory: Some(16384),
        storage: None,
    };
    Mock::given(method("POST"))
        .and(path("/organizations/acme/inventory/resources"))
        .and(body_json(json!({"provider": "crusoe", "type": "c1a.4x", "name": "cycle-s1", "label": "node",
                               "custom_attributes": {"cycle_server_id": "s1"}, "cpu": 4, "memory": 16384})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"id": 42, "name": "cycle-s1"}})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let made = client(&server).inventory().create(&resource).await.unwrap();
    assert_eq!(made.map(|r| r.id), Some(42));
    // Cycloid's reference shows no success body for this call: whatever comes, the work is done.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>ok</html>"))
        .mount(&server)
        .await;
    assert_eq!(
        client(&server).inventory().create(&resource).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn delete_says_whether_the_resource_was_there() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/organizations/acme/inventory/resources/7"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/organizations/acme/inventory/resources/8"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"errors": [{"code": "not_found", "message": "gone"}]})),
        )
        .mount(&server)
        .await;
    let c = client(&server);
    assert!(c.inventory().delete(7).await.unwrap());
    assert!(!c.inventory().delete(8).await.unwrap());
}

#[tokio::test]
async fn each_failure_is_classified_and_no_message_shows_the_key() {
    let server = MockServer::start().await;
    let cases: Vec<(u16, &str, bool)> = vec![
        (401, "refused", false),
        (403, "refused", false),
        (422, "rejected", false),
        (429, "throttled", true),
        (500, "unavailable", true),
        (503, "unavailable", true),
    ];
    for (status, kind, transient) in cases {
        server.reset().await;
        let mut answer = ResponseTemplate::new(status).set_body_json(
            json!({"errors": [{"code": "x", "message": "tags.0.value is invalid"}]}),
        );
        if status == 429 {
            answer = answer.insert_header("retry-after", "3");
        }
        Mock::given(method("POST"))
            .respond_with(answer)
            .mount(&server)
            .await;
        let e = client(&server).send_event(&event()).await.unwrap_err();
        assert_eq!(e.kind(), kind, "{status}");
        assert_eq!(e.is_transient(), transient, "{status}");
        assert!(!e.to_string().contains(KEY) && !format!("{e:?}").contains(KEY));
        if status == 422 {
            assert!(e.to_string().contains("tags.0.value is invalid"), "{e}");
        }
        if let CycloidError::Throttled { retry_after } = e {
            assert_eq!(retry_after, Some(Duration::from_secs(3)));
        }
    }
    // Slow: a timeout is a transport failure, worth retrying.
    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    let e = client(&server).send_event(&event()).await.unwrap_err();
    assert_eq!(e.kind(), "unreachable");
    assert!(e.is_transient());
    // A list answer that is not Cycloid's is garbage, not an empty inventory.
    server.reset().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>"))
        .mount(&server)
        .await;
    let e = client(&server).inventory().find(&[]).await.unwrap_err();
    assert_eq!(e.kind(), "garbage");
    assert!(format!("{:?}", client(&server)).contains("redacted"));
    assert!(!format!("{:?}", client(&server)).contains(KEY));
}
