//! What the client puts on the wire and how it reads CloudSigma's answers: authentication,
//! paths, lists and their paging, filters, the `objects` wrapper, references in both forms,
//! deletions, actions and uploads.

mod common;

use std::collections::BTreeMap;

use base64::Engine as _;
use cloudsigma_sdk::types::*;
use cloudsigma_sdk::{Client, ClientSettings, ErrorKind};
use common::*;
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn expected_basic() -> String {
    let pair = format!("{USER}:{PASSWORD}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

#[tokio::test]
async fn basic_credentials_send_the_basic_header_json_accept_and_user_agent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api("profile/")))
        .and(header("authorization", expected_basic().as_str()))
        .and(header("accept", "application/json"))
        .and(header("user-agent", "cloudsigma-sdk-tests"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("profile.json")))
        .expect(1)
        .mount(&server)
        .await;
    let profile = client_for(&server).profile().await.unwrap();
    assert_eq!(profile.email, "ops@example.com");
    assert_eq!(profile.state.as_deref(), Some("TRIAL"));
    assert_eq!(profile.other["key_auth"], json!(false));
}

#[tokio::test]
async fn token_credentials_send_a_bearer_header() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api("balance/")))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"balance": 12.5, "currency": "EUR", "credit_limit": null})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let balance = client_with(&server, token()).balance().await.unwrap();
    assert_eq!(
        balance.balance, "12.5",
        "a numeric balance is read as its text"
    );
    assert_eq!(balance.currency, "EUR");
}

#[tokio::test]
async fn the_default_user_agent_names_the_sdk() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api("balance/")))
        .and(header("user-agent", cloudsigma_sdk::DEFAULT_USER_AGENT))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"balance": "1", "currency": "EUR"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let settings = ClientSettings {
        user_agent: cloudsigma_sdk::DEFAULT_USER_AGENT.into(),
        ..fast_settings(&server.uri())
    };
    assert!(cloudsigma_sdk::DEFAULT_USER_AGENT.starts_with("cloudsigma-sdk-rs/"));
    Client::new(settings, basic())
        .unwrap()
        .balance()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_base_without_trailing_slash_still_gets_paths_ending_in_slash() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api(&format!("servers/{SERVER_UUID}/"))))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("server_running.json")))
        .expect(1)
        .mount(&server)
        .await;
    let mut settings = fast_settings(&server.uri());
    settings.api_base = url::Url::parse(&format!("{}{BASE_PATH}", server.uri())).unwrap();
    let client = Client::new(settings, basic()).unwrap();
    assert!(client.api_base().as_str().ends_with("/api/2.0/"));
    let s = client.servers().get(SERVER_UUID).await.unwrap();
    assert_eq!(s.uuid, SERVER_UUID);
}

#[tokio::test]
async fn lists_send_limit_0_and_follow_offsets_while_total_count_says_more() {
    let server = MockServer::start().await;
    let drive = |n: u32| json!({"uuid": format!("d{n}"), "name": format!("disk-{n}"), "size": 1073741824u64, "media": "disk", "status": "unmounted"});
    Mock::given(method("GET"))
        .and(path(api("drives/detail/")))
        .and(query_param("limit", "0"))
        .and(query_param_is_missing("offset"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "meta": {"limit": 2, "offset": 0, "total_count": 3},
            "objects": [drive(1), drive(2)]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("drives/detail/")))
        .and(query_param("limit", "0"))
        .and(query_param("offset", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "meta": {"limit": 2, "offset": 2, "total_count": 3},
            "objects": [drive(3)]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let drives = client_for(&server)
        .drives()
        .list(&Filter::default())
        .await
        .unwrap();
    let names: Vec<_> = drives.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["disk-1", "disk-2", "disk-3"]);
}

#[tokio::test]
async fn a_host_that_ignores_offset_does_not_make_the_list_repeat_for_ever() {
    // The same page whatever the offset, with a total that says more: the second page adds no
    // new uuid, and the list ends there with each object once.
    let server = MockServer::start().await;
    let drive = |n: u32| json!({"uuid": format!("d{n}"), "name": format!("disk-{n}"), "size": 1073741824u64, "media": "disk", "status": "unmounted"});
    Mock::given(method("GET"))
        .and(path(api("drives/detail/")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "meta": {"limit": 0, "offset": 0, "total_count": 5},
            "objects": [drive(1), drive(2)]
        })))
        .expect(2)
        .mount(&server)
        .await;
    let drives = client_for(&server)
        .drives()
        .list(&Filter::default())
        .await
        .unwrap();
    let names: Vec<_> = drives.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["disk-1", "disk-2"]);
}

#[tokio::test]
async fn a_total_count_smaller_than_the_page_does_not_page_further() {
    // The documented /locations/ example says 16 and lists 17 (CLOUDSIGMA.md §1.2).
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api("locations/")))
        .and(query_param("limit", "0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "meta": {"limit": 0, "offset": 0, "total_count": 1},
            "objects": fixture("locations.json")["objects"]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let locations = client_for(&server).locations().await.unwrap();
    assert_eq!(locations.len(), 2);
    assert_eq!(locations[1].api_endpoint, "https://ruh.cld.v2.sa/api/2.0/");
    assert_eq!(locations[1].websocket_url, None);
}

#[tokio::test]
async fn server_filters_are_encoded_with_comma_ors_on_the_detail_list() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api("servers/detail/")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "meta": {"limit": 0, "offset": 0, "total_count": 1},
            "objects": [fixture("server_running.json")]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let filter = Filter {
        name: Some("cycle-s1".into()),
        uuids: vec!["a".into(), "b".into()],
        tag: Some("t1".into()),
    };
    let servers = client_for(&server).servers().list(&filter).await.unwrap();
    assert_eq!(servers.len(), 1);
    let (_, _, query) = &seen(&server).await[0];
    assert_eq!(query, "limit=0&name=cycle-s1&uuid=a,b&tag=t1");
}

#[tokio::test]
async fn a_comma_in_a_name_filter_is_escaped_so_it_does_not_split() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api("drives/detail/")))
        .and(query_param("name", "a\\,b"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"objects": []})))
        .expect(1)
        .mount(&server)
        .await;
    let got = client_for(&server)
        .drives()
        .list(&Filter::by_name("a,b"))
        .await
        .unwrap();
    assert!(got.is_empty());
}

fn new_server() -> NewServer {
    NewServer {
        name: "cycle-s1".into(),
        cpu: 4000,
        mem: 4 << 30,
        smp: 2,
        vnc_password: SecretString::from("vnc-fixture-secret"),
        drives: vec![
            NewServerDrive {
                boot_order: Some(1),
                dev_channel: "0:0".into(),
                device: "ide".into(),
                drive: DRIVE_UUID.into(),
            },
            NewServerDrive {
                boot_order: None,
                dev_channel: "0:0".into(),
                device: "virtio".into(),
                drive: "8e1f2a3b-4c5d-4e6f-9a01-b2c3d4e5f6a7".into(),
            },
        ],
        nics: vec![NewNic {
            model: "virtio".into(),
            ip_v4_conf: Some(NewIpConf {
                conf: "static".into(),
                ip: Some("203.0.113.10".into()),
            }),
        }],
        meta: BTreeMap::from([("managed_by".to_string(), "test".to_string())]),
        tags: vec!["5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f".into()],
    }
}

#[tokio::test]
async fn a_server_create_is_wrapped_in_objects_and_read_from_objects() {
    let server = MockServer::start().await;
    let expected = json!({"objects": [{
        "name": "cycle-s1", "cpu": 4000, "mem": 4294967296u64, "smp": 2,
        "vnc_password": "vnc-fixture-secret",
        "drives": [
            {"boot_order": 1, "dev_channel": "0:0", "device": "ide", "drive": DRIVE_UUID},
            {"dev_channel": "0:0", "device": "virtio", "drive": "8e1f2a3b-4c5d-4e6f-9a01-b2c3d4e5f6a7"}
        ],
        "nics": [{"model": "virtio", "ip_v4_conf": {"conf": "static", "ip": "203.0.113.10"}}],
        "meta": {"managed_by": "test"},
        "tags": ["5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f"]
    }]});
    let mut answer = fixture("server_running.json");
    answer["status"] = json!("stopped");
    answer["runtime"] = json!(null);
    Mock::given(method("POST"))
        .and(path(api("servers/")))
        .and(header("content-type", "application/json"))
        .and(body_json(&expected))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"objects": [answer]})))
        .expect(1)
        .mount(&server)
        .await;
    let made = client_for(&server)
        .servers()
        .create(&new_server())
        .await
        .unwrap();
    assert_eq!(made.uuid, SERVER_UUID);
    assert_eq!(made.status, "stopped");
    assert!(made.runtime.is_none());
    assert_eq!(made.first_mac().as_deref(), Some("22:aa:bb:cc:dd:01"));
}

#[tokio::test]
async fn drive_references_read_as_bare_uuids_and_as_objects() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api(&format!("servers/{SERVER_UUID}/"))))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("server_running.json")))
        .mount(&server)
        .await;
    let s = client_for(&server)
        .servers()
        .get(SERVER_UUID)
        .await
        .unwrap();
    assert_eq!(s.drives[0].drive.uuid, DRIVE_UUID);
    assert!(s.drives[0].drive.resource_uri.is_some());
    assert_eq!(
        s.drives[1].drive,
        ObjectRef::new("8e1f2a3b-4c5d-4e6f-9a01-b2c3d4e5f6a7")
    );
    let tags: Vec<_> = s.tags.iter().map(|t| t.uuid.as_str()).collect();
    assert_eq!(
        tags,
        [
            "5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f",
            "6d7e8f9a-0b1c-4d2e-9f3a-4b5c6d7e8f9a"
        ]
    );
    assert_eq!(s.ipv4_addresses(), ["203.0.113.10"]);
    assert_eq!(s.runtime.as_ref().unwrap().nics.len(), 1);
}

#[tokio::test]
async fn a_server_read_back_and_put_keeps_the_fields_it_does_not_model() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api(&format!("servers/{SERVER_UUID}/"))))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("server_running.json")))
        .mount(&server)
        .await;
    let client = client_for(&server);
    let mut s = client.servers().get(SERVER_UUID).await.unwrap();
    s.meta.insert("k".into(), "v".into());
    let body = serde_json::to_value(&s).unwrap();
    assert_eq!(
        body["vnc_password"], "fixture-vnc-secret",
        "PUT needs it back"
    );
    assert_eq!(body["cpu_type"], "amd");
    Mock::given(method("PUT"))
        .and(path(api(&format!("servers/{SERVER_UUID}/"))))
        .and(body_json(&body))
        .respond_with(ResponseTemplate::new(200).set_body_json(&body))
        .expect(1)
        .mount(&server)
        .await;
    let updated = client.servers().update(SERVER_UUID, &body).await.unwrap();
    assert_eq!(updated.meta["k"], "v");
}

#[tokio::test]
async fn a_server_delete_takes_recurse_and_accepts_204_with_an_empty_body() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(api(&format!("servers/{SERVER_UUID}/"))))
        .and(query_param("recurse", "disks"))
        .respond_with(ResponseTemplate::new(204).insert_header("content-type", "text/html"))
        .expect(1)
        .mount(&server)
        .await;
    client_for(&server)
        .servers()
        .delete(SERVER_UUID, Recurse::Disks)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_plain_delete_sends_no_recurse() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(api(&format!("drives/{DRIVE_UUID}/"))))
        .and(query_param_is_missing("recurse"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    client_for(&server)
        .drives()
        .delete(DRIVE_UUID)
        .await
        .unwrap();
}

#[tokio::test]
async fn actions_post_an_empty_object_with_do_in_the_query() {
    let server = MockServer::start().await;
    for action in ["start", "stop", "shutdown"] {
        Mock::given(method("POST"))
            .and(path(api(&format!("servers/{SERVER_UUID}/action/"))))
            .and(query_param("do", action))
            .and(header("content-type", "application/json"))
            .and(body_json(json!({})))
            .respond_with(
                ResponseTemplate::new(202).set_body_json(
                    json!({"action": action, "result": "success", "uuid": SERVER_UUID}),
                ),
            )
            .expect(1)
            .mount(&server)
            .await;
    }
    let client = client_for(&server);
    for action in [
        ServerAction::Start,
        ServerAction::Stop,
        ServerAction::Shutdown,
    ] {
        client.servers().action(SERVER_UUID, action).await.unwrap();
    }
}

#[tokio::test]
async fn uploads_go_to_the_upload_base_as_octets_of_exact_length_with_basic_auth() {
    let api_server = MockServer::start().await;
    let upload_server = MockServer::start().await;
    let image: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let uuid = "4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d";
    Mock::given(method("POST"))
        .and(path(api("drives/upload/")))
        .and(header("content-type", "application/octet-stream"))
        .and(header("content-length", "70000"))
        .and(header("authorization", expected_basic().as_str()))
        .and(wiremock::matchers::body_bytes(image.clone()))
        .respond_with(ResponseTemplate::new(201).set_body_string(format!("{uuid}\n")))
        .expect(1)
        .mount(&upload_server)
        .await;
    let mut settings = fast_settings(&api_server.uri());
    settings.upload_base =
        Some(url::Url::parse(&format!("{}{BASE_PATH}/", upload_server.uri())).unwrap());
    let client = Client::new(settings, basic()).unwrap();
    assert_eq!(client.drives().upload(image).await.unwrap(), uuid);
    assert!(
        seen(&api_server).await.is_empty(),
        "nothing goes to the API host"
    );
}

#[tokio::test]
async fn an_upload_answer_in_json_is_read_too() {
    let server = MockServer::start().await;
    let uuid = "4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d";
    Mock::given(method("POST"))
        .and(path(api("drives/upload/")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"objects": [{"uuid": uuid}]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    // An IP host takes no `direct.` prefix: the upload goes to the API base itself.
    let client = client_for(&server);
    assert_eq!(client.upload_base(), client.api_base());
    assert_eq!(client.drives().upload(vec![1, 2, 3]).await.unwrap(), uuid);
}

#[tokio::test]
async fn uploads_with_a_token_are_refused_before_any_request() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(201).set_body_string("x"))
        .expect(0)
        .mount(&server)
        .await;
    let err = client_with(&server, token())
        .drives()
        .upload(vec![0; 16])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("Basic"), "{err}");
    assert!(!err.to_string().contains(TOKEN));
}

#[tokio::test]
async fn drives_create_and_update_send_their_definitions() {
    let server = MockServer::start().await;
    let answer = json!({"uuid": DRIVE_UUID, "name": "cycle-s1-data", "size": 53687091200u64,
        "media": "disk", "status": "creating", "storage_type": "dssd", "mounted_on": null,
        "meta": {"n": 1}, "tags": [], "owner": {"uuid": "11111111-2222-4333-8444-555555555555"}});
    Mock::given(method("POST"))
        .and(path(api("drives/")))
        .and(body_json(
            json!({"objects": [{"name": "cycle-s1-data", "size": 53687091200u64,
            "media": "disk", "storage_type": "dssd", "meta": {}, "tags": []}]}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"objects": [answer]})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(api(&format!("drives/{DRIVE_UUID}/"))))
        .and(body_json(
            json!({"name": "cycle-ipxe", "size": 1048576, "media": "cdrom",
            "meta": {"sha": "ab"}, "tags": ["t"]}),
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"uuid": DRIVE_UUID,
            "name": "cycle-ipxe", "size": 1048576, "media": "cdrom", "status": "unmounted"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = client_for(&server);
    let made = client
        .drives()
        .create(&NewDrive {
            name: "cycle-s1-data".into(),
            size: 50 << 30,
            media: "disk".into(),
            storage_type: Some("dssd".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(made.status, "creating");
    assert!(made.mounted_on.is_empty(), "null reads as empty");
    assert_eq!(
        made.meta["n"], "1",
        "a non-string meta value is kept as text"
    );
    let updated = client
        .drives()
        .update(
            DRIVE_UUID,
            &DriveUpdate {
                name: "cycle-ipxe".into(),
                size: 1 << 20,
                media: "cdrom".into(),
                meta: BTreeMap::from([("sha".to_string(), "ab".to_string())]),
                tags: vec!["t".into()],
            },
        )
        .await
        .unwrap();
    assert!(updated.is_ready());
    assert_eq!(updated.media, "cdrom");
}

#[tokio::test]
async fn ips_list_get_and_update_meta_and_tags() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api("ips/detail/")))
        .and(query_param("limit", "0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("ips.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(api("ips/203.0.113.11/")))
        .and(body_json(json!({"meta": {"pool": "used"}, "tags": []})))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"uuid": "203.0.113.11", "meta": {"pool": "used"}, "subscription": {"id": "4322"}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let client = client_for(&server);
    let ips = client.ips().list().await.unwrap();
    assert_eq!(ips[0].subscription.as_ref().unwrap().id, "4321");
    assert_eq!(ips[0].netmask, Some(24));
    assert_eq!(ips[0].server.as_ref().unwrap().uuid, SERVER_UUID);
    assert!(ips[1].server.is_none() && ips[1].nameservers.is_empty());
    let updated = client
        .ips()
        .update(
            "203.0.113.11",
            &IpUpdate {
                meta: BTreeMap::from([("pool".to_string(), "used".to_string())]),
                tags: vec![],
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.subscription.unwrap().id, "4322");
}

#[tokio::test]
async fn subscriptions_list_filter_buy_and_toggle_auto_renew() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api("subscriptions/")))
        .and(query_param("limit", "0"))
        .and(query_param("resource", "ip"))
        .and(query_param("status", "active"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("subscriptions_created.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(api("subscriptions/")))
        .and(body_json(json!({"objects": [{"resource": "ip", "amount": 1, "period": "1 month", "auto_renew": false}]})))
        .respond_with(ResponseTemplate::new(201).set_body_json(fixture("subscriptions_created.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(api("subscriptions/4321/action/")))
        .and(query_param("do", "auto_renew"))
        .and(body_json(json!({"auto_renew": false})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    let client = client_for(&server);
    let listed = client
        .subscriptions()
        .list(&SubscriptionFilter {
            resource: Some("ip".into()),
            status: Some("active".into()),
        })
        .await
        .unwrap();
    assert_eq!(listed[0].subscribed_object.as_deref(), Some("203.0.113.11"));
    let bought = client
        .subscriptions()
        .create(&[NewSubscription {
            resource: "ip".into(),
            amount: 1,
            period: "1 month".into(),
            auto_renew: false,
        }])
        .await
        .unwrap();
    assert_eq!(bought[0].id, "4321");
    assert_eq!(bought[0].amount, "1");
    assert!(!bought[0].auto_renew);
    client
        .subscriptions()
        .set_auto_renew("4321", false)
        .await
        .unwrap();
}

#[tokio::test]
async fn tags_are_created_in_objects_and_read_with_mixed_resources() {
    let server = MockServer::start().await;
    let tag_uuid = "5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f";
    Mock::given(method("POST"))
        .and(path(api("tags/")))
        .and(body_json(
            json!({"objects": [{"name": "cycle-ial", "resources": [SERVER_UUID]}]}),
        ))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"objects": [fixture("tag.json")]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(api(&format!("tags/{tag_uuid}/"))))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("tag.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("tags/")))
        .and(query_param("limit", "0"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"meta": {"total_count": 1}, "objects": [fixture("tag.json")]}),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(api(&format!("tags/{tag_uuid}/"))))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let client = client_for(&server);
    let made = client
        .tags()
        .create("cycle-ial", &[SERVER_UUID.to_string()])
        .await
        .unwrap();
    assert_eq!(made.uuid, tag_uuid);
    let got = client.tags().get(tag_uuid).await.unwrap();
    assert_eq!(got.resources[0].res_type.as_deref(), Some("servers"));
    assert_eq!(got.resources[1].uuid, "203.0.113.10");
    assert_eq!(got.resources[1].res_type, None);
    assert_eq!(client.tags().list().await.unwrap().len(), 1);
    client.tags().delete(tag_uuid).await.unwrap();
}

#[tokio::test]
async fn capabilities_read_hosts_and_drive_sizes_written_as_floats() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api("capabilities/")))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("capabilities.json")))
        .mount(&server)
        .await;
    let caps = client_for(&server).capabilities().await.unwrap();
    assert_eq!(
        caps.hosts["amd"].cpu_per_smp,
        Range {
            min: 1000,
            max: 2500
        }
    );
    assert_eq!(caps.hosts["amd"].smp.max, 24);
    assert_eq!(caps.hypervisors["kvm"], ["amd"]);
    assert_eq!(caps.drives["dssd"].size.min, 536870912);
    assert_eq!(
        caps.drives["zadara"].size,
        Range {
            min: 1073741824,
            max: 2199023255552
        },
        "the deprecated min_size/max_size, one written as a float"
    );
    assert_eq!(caps.default_storage_type.as_deref(), Some("dssd"));
    assert!(caps.other.contains_key("currencies"));
}

#[tokio::test]
async fn capabilities_without_hosts_fall_back_to_the_deprecated_servers_block() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api("capabilities/")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"servers": {
            "cpu": {"min": 250, "max": 96000}, "cpu_per_smp": {"min": 1000, "max": 3000},
            "mem": {"min": 268435456, "max": 558345748480u64}, "smp": {"min": 1, "max": 32}}})))
        .mount(&server)
        .await;
    let caps = client_for(&server).capabilities().await.unwrap();
    assert_eq!(caps.hosts["amd"].cpu_per_smp.max, 3000);
}

#[tokio::test]
async fn pricing_is_fetched_whole_and_gives_prices_per_unit_per_second() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api("pricing/")))
        .and(query_param("limit", "0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("pricing.json")))
        .expect(1)
        .mount(&server)
        .await;
    let pricing = client_for(&server).pricing().await.unwrap();
    assert_eq!(pricing.current_level("cpu"), Some(3));
    let cpu = pricing.find("cpu", "usd", 0).unwrap();
    // 0.02 per GHz-hour = 0.02 / 3,600,000 per MHz-second.
    let per = cpu.per_unit_per_second().unwrap();
    assert!((per * 2000.0 * 3600.0 - 0.04).abs() < 1e-12, "{per}");
    assert_eq!(pricing.objects[2].id, Some(json!(12)));
    let broken = Price {
        multiplier: 0,
        ..cpu.clone()
    };
    assert_eq!(broken.per_unit_per_second(), None);
}

#[tokio::test]
async fn ids_that_would_change_the_path_are_refused_before_sending() {
    let server = MockServer::start().await;
    let err = client_for(&server)
        .servers()
        .get("../profile")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(seen(&server).await.is_empty());
}
