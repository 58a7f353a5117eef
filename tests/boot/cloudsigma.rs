//! The CloudSigma backend's boot, for real: a server provisioned through the bridge against the
//! CloudSigma simulator, then exactly what the simulator holds for it (the uploaded ISO's bytes on
//! an IDE CD-ROM, a data disk of its drive's size, the server's uuid and its NICs' MACs) booted in
//! QEMU. iPXE must present the identity provision-status answered, and boot again after a restart
//! through the bridge (a stop and a start on CloudSigma).

use crate::cd_rom::{boot_and_record, CdServer};
use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::boot::{Firmware, DEBIAN_IPXE_ISO};
use crusoe_ial::backends::cloudsigma::config::{cloudsigma_config, RawCloudSigma};
use crusoe_ial::config::BridgeSettings;
use crusoe_ial::ial::IalOptions;
use serde_json::{json, Value};

const LOCATION: &str = "zrh";
const CYCLE_ID: &str = "5f1e2d3c4b5a69788796a5b4";

struct Provisioned {
    sim: cloudsigma_sim::RunningSim,
    bridge: String,
    auth: Value,
    server_id: String,
    status: Value,
    _serving: Vec<tokio::task::JoinHandle<()>>,
}

async fn call(bridge: &str, auth: &Value, path: &str, request: Value) -> Value {
    let answer = common::post_json(
        &format!("{bridge}{path}"),
        &json!({"auth": auth, "request": request}),
    )
    .await;
    assert!(answer["error"].is_null(), "{path}: {answer}");
    answer["data"].clone()
}

/// Serves Debian's iPXE ISO as Cycle's, a simulator and a bridge on it, and provisions one server
/// until provision-status says it is ready.
async fn provision() -> Provisioned {
    common::boot::boot_tools();
    let iso = std::fs::read(DEBIAN_IPXE_ISO).expect("Debian's ipxe.iso (scripts/boot-tools.sh)");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let iso_url = format!("http://{}/ipxe.iso", listener.local_addr().unwrap());
    let iso = Arc::new(iso);
    let app = axum::Router::new().route(
        "/ipxe.iso",
        axum::routing::get(move || {
            let iso = Arc::clone(&iso);
            async move { iso.to_vec() }
        }),
    );
    let iso_server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let sim = cloudsigma_sim::RunningSim::start(
        cloudsigma_sim::SimConfig {
            transition: Duration::from_millis(200),
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let mut settings = BridgeSettings::default();
    settings.boot.ipxe_url = Some(iso_url);
    let config = cloudsigma_config(RawCloudSigma {
        api_endpoint: Some(sim.endpoint_template()),
        locations: Some(vec![LOCATION.into()]),
        // The boot NIC's static address is bought into the pool.
        ips: Some(crusoe_ial::backends::cloudsigma::settings::IpPoolSettings {
            buy: true,
            ..Default::default()
        }),
        ..Default::default()
    })
    .unwrap();
    let app = crusoe_ial::serve::app(&crusoe_ial::serve::AppSettings {
        client: Default::default(),
        server_held: None,
        bridge: settings,
        ial: IalOptions::default(),
        cloudsigma: Some(config),
    })
    .unwrap();
    let listener = crusoe_ial::serve::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let bridge = format!("http://{}", listener.local_addr().unwrap());
    let bridge_server = tokio::spawn(async move {
        let _ = crusoe_ial::serve::serve_on(
            listener,
            app,
            None,
            std::future::pending(),
            Duration::ZERO,
        )
        .await;
    });
    let account = sim.accounts[0].clone();
    let auth = json!({"api_key": account.username, "secret": account.password, "namespace": account.location,
                      "cycle": {"hub_id": "65f1e2d3c4b5a69788796a5b", "hub_name": "boot"}});
    let configured = call(
        &bridge,
        &auth,
        "/v1/location/configure",
        json!({"location_id": LOCATION, "version": "", "configuration_current": {}, "cycle": {"location_id": "l"}}),
    )
    .await;
    let config = configured["configuration_latest"].clone();
    let cycle = json!({"server_id": CYCLE_ID, "model_class": "cloudsigma", "model_category": "cpu", "model_id": "m", "location_id": "l"});
    let provisioned = call(
        &bridge,
        &auth,
        "/v1/infrastructure/server/provision",
        json!({"hostname": "boot-1", "model_id": "cs-2c-4g", "location_id": LOCATION, "location_configuration": config, "provision_options": {}, "cycle": cycle}),
    )
    .await;
    let server_id = provisioned["server_id"].as_str().unwrap().to_string();
    let mut extra = provisioned["extra"].clone();
    let status = loop {
        let v = call(
            &bridge,
            &auth,
            "/v1/infrastructure/server/provision-status",
            json!({"server_id": server_id, "location_id": LOCATION, "location_configuration": config, "extra": extra, "cycle": cycle}),
        )
        .await;
        if v["provisioned"] == true {
            break v;
        }
        extra = v["extra"].clone();
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    Provisioned {
        sim,
        bridge,
        auth,
        server_id,
        status,
        _serving: vec![iso_server, bridge_server],
    }
}

/// The server as the simulator holds it, and its boot CD written to `dir`: what QEMU boots.
fn held(p: &Provisioned, dir: &std::path::Path) -> (CdServer, Value) {
    let inventory = p.sim.sim.inventory();
    let account = &inventory["accounts"][0];
    let server = account["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == p.server_id.as_str())
        .cloned()
        .expect("the simulator holds the server");
    let drive = |order: u64| {
        let attached = server["drives"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["boot_order"] == order)
            .unwrap_or_else(|| panic!("no drive with boot order {order}: {server}"))
            .clone();
        let uuid = attached["drive"]["uuid"].as_str().unwrap().to_string();
        let held = account["drives"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["uuid"] == uuid.as_str())
            .cloned()
            .unwrap();
        (attached, held)
    };
    let (cd_attached, cd) = drive(1);
    assert_eq!(
        (cd_attached["device"].as_str(), cd["media"].as_str()),
        (Some("ide"), Some("cdrom")),
        "the first boot device is the ISO on an IDE CD-ROM"
    );
    let (disk_attached, disk) = drive(2);
    assert_eq!(disk_attached["device"], "virtio");
    let bytes = p
        .sim
        .sim
        .drive_content(cd["uuid"].as_str().unwrap())
        .expect("the simulator holds the uploaded ISO's bytes");
    assert_eq!(
        bytes,
        std::fs::read(DEBIAN_IPXE_ISO).unwrap(),
        "the bytes uploaded are Debian's ipxe.iso, as served"
    );
    let iso = dir.join("uploaded.iso");
    std::fs::write(&iso, &bytes).unwrap();
    let macs = server["nics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["mac"].as_str().unwrap().to_string())
        .collect();
    (
        CdServer {
            iso,
            iso_size: cd["size"].as_u64().unwrap(),
            data_disk_bytes: disk["size"].as_u64().unwrap(),
            uuid: server["uuid"].as_str().unwrap().to_string(),
            macs,
        },
        server,
    )
}

fn starts(p: &Provisioned) -> u64 {
    p.sim.sim.inventory()["accounts"][0]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == p.server_id.as_str())
        .and_then(|s| s["starts"].as_u64())
        .unwrap_or(0)
}

/// Straight to standard error, past the test runner's capture: CI's log shows every boot's time.
fn said(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

async fn boots_what_the_bridge_reported(firmware: Firmware, platform: &str) {
    let p = provision().await;
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = held(&p, dir.path());
    let auth = &p.status["auth"];
    let first = boot_and_record(&server, firmware, dir.path()).await;
    said(&format!(
        "cloudsigma {firmware:?}: first boot reached iPXE in {:.1}s",
        first.took.as_secs_f64()
    ));
    assert_eq!(Some(first.uuid.as_str()), auth["uuid"].as_str(), "uuid");
    assert_eq!(Some(first.mac.as_str()), auth["mac_addr"].as_str(), "mac");
    assert_eq!(first.platform, platform);

    let before = starts(&p);
    call(
        &p.bridge,
        &p.auth,
        "/v1/infrastructure/server/restart",
        json!({"server_id": p.server_id, "location_id": LOCATION}),
    )
    .await;
    assert_eq!(
        starts(&p),
        before + 1,
        "the restart started the server again"
    );
    let (again, _) = held(&p, dir.path());
    assert_eq!(
        (again.uuid.as_str(), &again.macs),
        (server.uuid.as_str(), &server.macs),
        "a stop and start keeps the server's identity"
    );
    let second = boot_and_record(&again, firmware, dir.path()).await;
    said(&format!(
        "cloudsigma {firmware:?}: after the restart, iPXE again in {:.1}s",
        second.took.as_secs_f64()
    ));
    assert_eq!(
        (
            second.uuid.as_str(),
            second.mac.as_str(),
            second.platform.as_str()
        ),
        (first.uuid.as_str(), first.mac.as_str(), platform)
    );
}

#[tokio::test]
async fn under_bios_a_provisioned_server_boots_the_uploaded_iso_with_the_reported_identity() {
    boots_what_the_bridge_reported(Firmware::Bios, "pcbios").await;
}

#[tokio::test]
async fn under_uefi_a_provisioned_server_boots_the_uploaded_iso_with_the_reported_identity() {
    boots_what_the_bridge_reported(Firmware::Uefi, "efi").await;
}
