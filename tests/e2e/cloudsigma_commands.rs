//! The commands an operator runs against a CloudSigma account, here the CloudSigma simulator as
//! its own process (`simulate --backend cloudsigma`): `check` reports the account, its funds, the
//! location's host and Cycle's ISO, and says what is not established; a wrong password is one
//! clear line; `gc` lists idle pooled addresses with their price.

use crate::common;

use std::time::Duration;

use common::{run_bin, spawn_bin};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

const USER: &str = "ops@example.com";
const PASSWORD: &str = "a-password-1";

async fn simulate() -> (tokio::process::Child, String, String) {
    let key = format!("{USER}:{PASSWORD}@zrh");
    let args = [
        "simulate",
        "--backend",
        "cloudsigma",
        "--listen",
        "127.0.0.1:0",
        "--op-delay-ms",
        "50",
        "--key",
        &key,
    ];
    let (mut child, _home) = spawn_bin(&args, &[]);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let done = line.starts_with("inspect:");
            seen.push(line);
            if done {
                break;
            }
        }
    })
    .await
    .expect("the simulator did not start");
    assert!(
        !seen.concat().contains(PASSWORD),
        "a given password is not echoed: {seen:?}"
    );
    let template = seen
        .iter()
        .find_map(|l| l.strip_prefix("export CLOUDSIGMA_API_ENDPOINT="))
        .unwrap_or_else(|| panic!("no endpoint printed: {seen:?}"))
        .trim_matches('\'')
        .to_string();
    assert!(template.contains("{location}"), "{template}");
    let admin = template.split("/{location}").next().unwrap().to_string() + "/_sim";
    (child, template, admin)
}

/// An ISO for `check` to find or name, served on loopback.
async fn serve_iso() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ipxe.iso", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/ipxe.iso",
        axum::routing::get(|| async { vec![7u8; 4096] }),
    );
    (
        url,
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }),
    )
}

#[tokio::test]
async fn check_reports_the_account_and_what_is_not_established() {
    let (_sim, template, _admin) = simulate().await;
    let (iso, _served) = serve_iso().await;
    let env = [
        ("IAL_BACKEND", "cloudsigma"),
        ("CLOUDSIGMA_API_ENDPOINT", template.as_str()),
        ("CLOUDSIGMA_USERNAME", USER),
        ("CLOUDSIGMA_PASSWORD", PASSWORD),
        ("CLOUDSIGMA_LOCATION", "zrh"),
        ("IAL_IPXE_URL", iso.as_str()),
    ];
    let ran = run_bin(&["check"], &env).await;
    assert_eq!(ran.code, 0, "{}", ran.all());
    for part in [
        "location:  zrh at http://",
        &format!("account:   {USER} (state "),
        "funds:     ",
        "ISO:       cycle-ipxe-",
        "SMBIOS UUID",
        "check passed",
    ] {
        assert!(ran.stdout.contains(part), "{part} missing:\n{}", ran.all());
    }
    assert!(!ran.all().contains(PASSWORD), "{}", ran.all());

    let wrong = [
        ("IAL_BACKEND", "cloudsigma"),
        ("CLOUDSIGMA_API_ENDPOINT", template.as_str()),
        ("CLOUDSIGMA_USERNAME", USER),
        ("CLOUDSIGMA_PASSWORD", "not-the-password"),
        ("CLOUDSIGMA_LOCATION", "zrh"),
        ("IAL_IPXE_URL", iso.as_str()),
    ];
    let ran = run_bin(&["check"], &wrong).await;
    ran.assert_failed_saying("rejected the credentials");
    assert!(!ran.all().contains("not-the-password"), "{}", ran.all());
}

#[tokio::test]
async fn gc_lists_the_pools_idle_addresses_with_their_price() {
    let (_sim, template, _admin) = simulate().await;
    let (iso, _served) = serve_iso().await;
    // An address bought and put into the bridge's pool, lent to nobody.
    let api = template.replace("{location}", "zrh");
    let http = reqwest::Client::new();
    let bought: Value = http
        .post(format!("{api}subscriptions/"))
        .basic_auth(USER, Some(PASSWORD))
        .json(&json!({"objects": [{"resource": "ip", "amount": 1, "period": "1 month", "auto_renew": false}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let address = bought["objects"][0]["subscribed_object"]
        .as_str()
        .unwrap_or_else(|| panic!("{bought}"))
        .to_string();
    let put = http
        .put(format!("{api}ips/{address}/"))
        .basic_auth(USER, Some(PASSWORD))
        .json(&json!({"meta": {"managed_by": "cycle-ial-bridge"}, "tags": []}))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.text().await.unwrap());
    let env = [
        ("IAL_BACKEND", "cloudsigma"),
        ("CLOUDSIGMA_API_ENDPOINT", template.as_str()),
        ("CLOUDSIGMA_USERNAME", USER),
        ("CLOUDSIGMA_PASSWORD", PASSWORD),
        ("CLOUDSIGMA_LOCATION", "zrh"),
        ("IAL_IPXE_URL", iso.as_str()),
    ];
    let ran = run_bin(&["gc"], &env).await;
    assert_eq!(ran.code, 0, "{}", ran.all());
    let report: Value =
        serde_json::from_str(&ran.stdout).unwrap_or_else(|e| panic!("{e}: {}", ran.stdout));
    let idle = report["locations"][0]["idle_ips"].as_array().unwrap();
    assert_eq!(idle.len(), 1, "{report}");
    assert_eq!(idle[0]["address"], address.as_str());
    assert!(idle[0]["price"].is_string(), "its price is shown: {report}");

    // A data drive the bridge made whose server is gone (a crash between the two deletions), and
    // one of the account's own drives: `--apply` deletes the first only.
    for (name, meta) in [
        (
            "cycle-aaaaaaaaaaaaaaaaaaaa0001-data",
            json!({"managed_by": "cycle-ial-bridge"}),
        ),
        ("customer-data", json!({})),
    ] {
        let made = http
            .post(format!("{api}drives/"))
            .basic_auth(USER, Some(PASSWORD))
            .json(&json!({"objects": [{"name": name, "size": 1073741824u64, "media": "disk", "meta": meta}]}))
            .send()
            .await
            .unwrap();
        assert!(made.status().is_success(), "{}", made.text().await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let listed = run_bin(&["gc"], &env).await;
    let report: Value = serde_json::from_str(&listed.stdout).unwrap();
    let orphans = report["locations"][0]["orphan_data_drives"]
        .as_array()
        .unwrap();
    assert_eq!(orphans.len(), 1, "{report}");
    assert_eq!(orphans[0]["name"], "cycle-aaaaaaaaaaaaaaaaaaaa0001-data");
    assert_eq!(
        report["locations"][0]["deleted_drives"],
        json!([]),
        "a dry run deletes nothing"
    );
    let applied = run_bin(&["gc", "--apply"], &env).await;
    assert_eq!(applied.code, 0, "{}", applied.all());
    let report: Value = serde_json::from_str(&applied.stdout).unwrap();
    assert_eq!(
        report["locations"][0]["deleted_drives"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "{report}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let drives: Value = http
        .get(format!("{api}drives/detail/?limit=0"))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = drives["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert_eq!(names, ["customer-data"], "{drives}");
}
