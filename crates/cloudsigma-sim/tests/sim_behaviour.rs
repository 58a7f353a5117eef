//! The simulator through raw HTTP, as a CloudSigma client would see it.

use std::time::Duration;

use cloudsigma_sim::{Account, Faults, RunningSim, SimConfig};
use serde_json::{json, Value};

struct Env {
    sim: RunningSim,
    http: reqwest::Client,
    account: Account,
}

async fn start_with(config: SimConfig) -> Env {
    let sim = RunningSim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let account = sim.accounts[0].clone();
    Env {
        sim,
        http: reqwest::Client::new(),
        account,
    }
}

async fn start() -> Env {
    start_with(SimConfig {
        transition: Duration::from_millis(40),
        seed: 7,
        ..SimConfig::default()
    })
    .await
}

impl Env {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.sim.endpoint(&self.account.location), path)
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), self.url(path))
            .basic_auth(&self.account.username, Some(&self.account.password));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        assert!(resp.headers().contains_key("x-request-id"));
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> u16 {
        let mut req = self.http.request(
            method.parse().unwrap(),
            format!("{}{}", self.sim.admin(), path),
        );
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap().status().as_u16()
    }

    async fn drive(&self, name: &str, media: &str) -> String {
        let (s, v) = self
            .call(
                "POST",
                "drives/",
                Some(json!({"objects": [{"name": name, "size": 1073741824u64, "media": media}]})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["objects"][0]["status"], "creating");
        let uuid = v["objects"][0]["uuid"].as_str().unwrap().to_string();
        self.wait(&format!("drives/{uuid}/"), "unmounted").await;
        uuid
    }

    async fn server(&self, name: &str, drives: Value) -> Value {
        let (s, v) = self
            .call(
                "POST",
                "servers/",
                Some(json!({"objects": [{
                    "name": name, "cpu": 2000, "smp": 1, "mem": 1073741824u64,
                    "vnc_password": "secret", "drives": drives,
                    "nics": [{"model": "virtio", "ip_v4_conf": {"conf": "dhcp"}}],
                }]})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        v["objects"][0].clone()
    }

    async fn wait(&self, path: &str, status: &str) -> Value {
        for _ in 0..200 {
            let (s, v) = self.call("GET", path, None).await;
            assert_eq!(s, 200, "{v}");
            if v["status"] == status {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{path} never reached {status}");
    }

    async fn wait_gone(&self, path: &str) {
        for _ in 0..200 {
            if self.call("GET", path, None).await.0 == 404 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{path} never went away");
    }
}

#[tokio::test]
async fn server_is_created_stopped_with_a_mac() {
    let env = start().await;
    let s = env.server("cycle-a", json!([])).await;
    assert_eq!(s["status"], "stopped");
    assert!(s["runtime"].is_null());
    let mac = s["nics"][0]["mac"].as_str().unwrap();
    assert_eq!(mac.len(), 17);
    assert_eq!(mac, mac.to_ascii_lowercase());
    // Names are not unique: a second create with the same name makes a second server.
    env.server("cycle-a", json!([])).await;
    let (_, v) = env
        .call("GET", "servers/detail/?name=cycle-a&limit=0", None)
        .await;
    assert_eq!(v["meta"]["total_count"], 2);
    // A missing required field names itself.
    let (s, v) = env
        .call(
            "POST",
            "servers/",
            Some(json!({"objects": [{"name": "x", "cpu": 1000, "mem": 536870912u64}]})),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(v[0]["error_type"], "validation");
    assert_eq!(v[0]["error_point"], "vnc_password");
    // No final slash: not found.
    let (s, _) = env.call("GET", "servers", None).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn starting_twice_is_refused_and_running_gets_an_address() {
    let env = start().await;
    let disk = env.drive("data", "disk").await;
    let s = env
        .server(
            "cycle-b",
            json!([{"boot_order": 1, "dev_channel": "0:0", "device": "virtio", "drive": disk}]),
        )
        .await;
    let uuid = s["uuid"].as_str().unwrap();
    let action = format!("servers/{uuid}/action/?do=start");
    let (st, v) = env.call("POST", &action, Some(json!({}))).await;
    assert_eq!(st, 202, "{v}");
    assert_eq!(
        v,
        json!({"action": "start", "result": "success", "uuid": uuid})
    );
    let (st, v) = env.call("POST", &action, None).await;
    assert_eq!(st, 403, "{v}");
    assert_eq!(v[0]["error_type"], "permission");
    let running = env.wait(&format!("servers/{uuid}/"), "running").await;
    let ip = running["runtime"]["nics"][0]["ip_v4"]["uuid"]
        .as_str()
        .unwrap();
    assert_eq!(running["nics"][0]["runtime"]["interface_type"], "public");
    let (st, _) = env.call("GET", &format!("ips/{ip}/"), None).await;
    assert_eq!(st, 200);
    let (_, d) = env.call("GET", &format!("drives/{disk}/"), None).await;
    assert_eq!(d["status"], "mounted");
    let (st, v) = env.call("POST", &action, None).await;
    assert_eq!(st, 403);
    assert!(v[0]["error_message"].as_str().unwrap().contains("started"));
    // A drive on a running server cannot be deleted, nor can the server.
    assert_eq!(
        env.call("DELETE", &format!("drives/{disk}/"), None).await.0,
        403
    );
    assert_eq!(
        env.call("DELETE", &format!("servers/{uuid}/"), None)
            .await
            .0,
        403
    );
    // Stop twice: the second is refused.
    let stop = format!("servers/{uuid}/action/?do=stop");
    assert_eq!(env.call("POST", &stop, None).await.0, 202);
    env.wait(&format!("servers/{uuid}/"), "stopped").await;
    assert_eq!(env.call("POST", &stop, None).await.0, 403);
    let (st, _) = env
        .call("POST", &format!("servers/{uuid}/action/?do=dance"), None)
        .await;
    assert_eq!(st, 400);
}

#[tokio::test]
async fn put_on_a_running_server_ignores_cpu_but_renames() {
    let env = start().await;
    let s = env.server("cycle-c", json!([])).await;
    let uuid = s["uuid"].as_str().unwrap();
    env.call("POST", &format!("servers/{uuid}/action/?do=start"), None)
        .await;
    let mut running = env.wait(&format!("servers/{uuid}/"), "running").await;
    running["cpu"] = json!(4000);
    running["name"] = json!("renamed");
    let (st, v) = env
        .call("PUT", &format!("servers/{uuid}/"), Some(running))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["cpu"], 2000);
    assert_eq!(v["name"], "renamed");
    // Required fields are required even so.
    let (st, v) = env
        .call(
            "PUT",
            &format!("servers/{uuid}/"),
            Some(json!({"name": "x", "cpu": 2000})),
        )
        .await;
    assert_eq!(st, 400);
    assert_eq!(v[0]["error_point"], "mem");
}

#[tokio::test]
async fn recursive_delete_disks_keeps_the_cdrom_and_all_drives_takes_it() {
    let env = start().await;
    for (recurse, cdrom_survives) in [("disks", true), ("all_drives", false)] {
        let disk = env.drive("disk", "disk").await;
        let cd = env.drive("iso", "cdrom").await;
        let s = env
            .server(
                "cycle-d",
                json!([
                    {"boot_order": 1, "dev_channel": "0:0", "device": "ide", "drive": {"uuid": cd}},
                    {"boot_order": 2, "dev_channel": "0:0", "device": "virtio", "drive": disk},
                ]),
            )
            .await;
        let uuid = s["uuid"].as_str().unwrap();
        let (st, body) = env
            .call(
                "DELETE",
                &format!("servers/{uuid}/?recurse={recurse}"),
                None,
            )
            .await;
        assert_eq!(st, 204);
        assert_eq!(body, Value::String(String::new()));
        env.wait_gone(&format!("servers/{uuid}/")).await;
        env.wait_gone(&format!("drives/{disk}/")).await;
        let (st, _) = env.call("GET", &format!("drives/{cd}/"), None).await;
        if cdrom_survives {
            assert_eq!(st, 200);
        } else {
            env.wait_gone(&format!("drives/{cd}/")).await;
        }
    }
    let s = env.server("cycle-e", json!([])).await;
    let (st, v) = env
        .call(
            "DELETE",
            &format!(
                "servers/{}/?recurse=everything",
                s["uuid"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(st, 400);
    assert_eq!(v[0]["error_point"], "recurse");
}

#[tokio::test]
async fn lists_default_to_20_and_limit_0_gives_all() {
    let env = start().await;
    let objects: Vec<Value> = (0..25)
        .map(|i| json!({"name": format!("s{i}"), "cpu": 1000, "mem": 536870912u64, "vnc_password": "p"}))
        .collect();
    let (st, _) = env
        .call("POST", "servers/", Some(json!({"objects": objects})))
        .await;
    assert_eq!(st, 201);
    let (_, v) = env.call("GET", "servers/", None).await;
    assert_eq!(v["objects"].as_array().unwrap().len(), 20);
    assert_eq!(
        v["meta"],
        json!({"limit": 20, "offset": 0, "total_count": 25})
    );
    // The plain list is a summary.
    assert!(v["objects"][0].get("cpu").is_none());
    let (_, v) = env.call("GET", "servers/detail/?limit=0", None).await;
    assert_eq!(v["objects"].as_array().unwrap().len(), 25);
    assert_eq!(v["objects"][0]["cpu"], 1000);
    let (_, v) = env.call("GET", "servers/?limit=10&offset=20", None).await;
    assert_eq!(v["objects"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn credentials_of_another_location_get_401_without_json() {
    let env = start().await;
    assert_eq!(env.account.location, "zrh");
    let resp = env
        .http
        .get(format!("{}servers/", env.sim.endpoint("fra")))
        .basic_auth(&env.account.username, Some(&env.account.password))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert!(resp.headers().contains_key("www-authenticate"));
    let text = resp.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
    // A wrong password at home too; the right one works.
    let resp = env
        .http
        .get(env.url("profile/"))
        .basic_auth(&env.account.username, Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let (st, v) = env.call("GET", "profile/", None).await;
    assert_eq!(st, 200);
    assert_eq!(v["email"], env.account.username);
}

#[tokio::test]
async fn upload_keeps_the_bytes_and_rounds_the_size_up() {
    let env = start().await;
    let image: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let upload = format!(
        "{}drives/upload/ipxe.iso",
        env.sim.upload_endpoint(&env.account.location)
    );
    // Basic only: a bearer token is refused on the upload host.
    let resp = env
        .http
        .post(&upload)
        .bearer_auth(&env.account.password)
        .header("content-type", "application/octet-stream")
        .body(image.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let resp = env
        .http
        .post(&upload)
        .basic_auth(&env.account.username, Some(&env.account.password))
        .header("content-type", "application/octet-stream")
        .body(image.clone())
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let uuid = resp.text().await.unwrap().trim().to_string();
    let (st, d) = env.call("GET", &format!("drives/{uuid}/"), None).await;
    assert_eq!(st, 200);
    assert_eq!(d["status"], "uploading");
    let d = env.wait(&format!("drives/{uuid}/"), "unmounted").await;
    assert_eq!(d["size"], 536870912u64);
    assert_eq!(d["media"], "disk");
    let content = env
        .http
        .get(format!("{}/drives/{uuid}/content", env.sim.admin()))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(content.as_ref(), image.as_slice());
    assert_eq!(env.sim.sim.drive_content(&uuid).unwrap(), image);
    // Make it a CD-ROM, as the bridge does.
    let (st, d) = env
        .call(
            "PUT",
            &format!("drives/{uuid}/"),
            Some(json!({"name": "cycle-ipxe", "size": 536870912u64, "media": "cdrom"})),
        )
        .await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["media"], "cdrom");
}

#[tokio::test]
async fn subscriptions_cannot_be_deleted_and_ips_appear() {
    let env = start().await;
    let (st, v) = env
        .call(
            "POST",
            "subscriptions/",
            Some(json!({"objects": [{"resource": "ip", "amount": 1, "period": "1 month", "auto_renew": false}]})),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let sub = &v["objects"][0];
    assert_eq!(sub["auto_renew"], false);
    let id = sub["id"].as_str().unwrap();
    let address = sub["subscribed_object"].as_str().unwrap();
    let (st, ip) = env.call("GET", &format!("ips/{address}/"), None).await;
    assert_eq!(st, 200);
    assert_eq!(ip["subscription"]["id"].to_string(), id);
    assert_eq!(ip["netmask"], 24);
    for method in ["DELETE", "PUT"] {
        let (st, v) = env
            .call(method, &format!("subscriptions/{id}/"), Some(json!({})))
            .await;
        assert_eq!(st, 405, "{v}");
        assert!(v.is_array());
    }
    let (st, v) = env
        .call(
            "POST",
            &format!("subscriptions/{id}/action/?do=auto_renew"),
            None,
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(v["auto_renew"], true);
    // A static NIC on the owned IP, then the IP names its server.
    let (st, s) = env
        .call(
            "POST",
            "servers/",
            Some(json!([{
                "name": "st", "cpu": 1000, "mem": 536870912u64, "vnc_password": "p",
                "nics": [{"ip_v4_conf": {"conf": "static", "ip": address}, "model": "virtio"}],
            }])),
        )
        .await;
    assert_eq!(st, 201, "{s}");
    let (_, ip) = env.call("GET", &format!("ips/{address}/"), None).await;
    assert_eq!(ip["server"]["uuid"], s["objects"][0]["uuid"]);
    // dhcp with an ip is an error.
    let (st, _) = env
        .call(
            "POST",
            "servers/",
            Some(json!([{
                "name": "bad", "cpu": 1000, "mem": 536870912u64, "vnc_password": "p",
                "nics": [{"ip_v4_conf": {"conf": "dhcp", "ip": address}}],
            }])),
        )
        .await;
    assert_eq!(st, 400);
}

#[tokio::test]
async fn start_without_funds_is_402() {
    let env = start().await;
    let s = env.server("cycle-f", json!([])).await;
    let status = env
        .admin(
            "PUT",
            "/balance",
            Some(json!({"username": env.account.username, "balance": "0"})),
        )
        .await;
    assert_eq!(status, 204);
    let (st, v) = env
        .call(
            "POST",
            &format!("servers/{}/action/?do=start", s["uuid"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(st, 402, "{v}");
    assert!(v.is_array());
    let (_, b) = env.call("GET", "balance/", None).await;
    assert_eq!(b["balance"].as_str().unwrap().parse::<f64>().unwrap(), 0.0);
}

#[tokio::test]
async fn start_without_capacity_is_503() {
    let env = start().await;
    let s = env.server("cycle-g", json!([])).await;
    let uuid = s["uuid"].as_str().unwrap();
    let status = env
        .admin(
            "PUT",
            "/capacity",
            Some(json!({"location": "zrh", "servers": 0})),
        )
        .await;
    assert_eq!(status, 204);
    let (st, v) = env
        .call("POST", &format!("servers/{uuid}/action/?do=start"), None)
        .await;
    assert_eq!(st, 503, "{v}");
    assert!(v.is_array());
    let (_, v) = env.call("GET", &format!("servers/{uuid}/"), None).await;
    assert_eq!(v["status"], "stopped");
    env.admin(
        "PUT",
        "/capacity",
        Some(json!({"location": "zrh", "servers": null})),
    )
    .await;
    let (st, _) = env
        .call("POST", &format!("servers/{uuid}/action/?do=start"), None)
        .await;
    assert_eq!(st, 202);
}

#[tokio::test]
async fn a_lost_answer_still_does_the_work() {
    let env = start().await;
    let faults = Faults {
        lost_answer_rate: 1.0,
        ..Faults::default()
    };
    assert_eq!(
        env.admin(
            "PUT",
            "/faults",
            Some(serde_json::to_value(&faults).unwrap())
        )
        .await,
        200
    );
    let result = env
        .http
        .post(env.url("drives/"))
        .basic_auth(&env.account.username, Some(&env.account.password))
        .json(&json!({"objects": [{"name": "lost", "size": 1073741824u64, "media": "disk"}]}))
        .send()
        .await;
    let failed = match result {
        Err(_) => true,
        Ok(resp) => resp.bytes().await.is_err(),
    };
    assert!(failed, "the answer should have been lost");
    env.sim.sim.set_faults(Faults::default()).unwrap();
    let (_, v) = env
        .call("GET", "drives/detail/?name=lost&limit=0", None)
        .await;
    assert_eq!(v["meta"]["total_count"], 1);
    let calls: Value = env
        .http
        .get(format!("{}/calls", env.sim.admin()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(calls["by_endpoint"]["POST /drives/"], 1);
}

#[tokio::test]
async fn locations_point_back_at_the_simulator() {
    let env = start().await;
    let (st, v) = env.call("GET", "locations/?limit=0", None).await;
    assert_eq!(st, 200);
    let objs = v["objects"].as_array().unwrap();
    assert_eq!(objs.len(), 3);
    assert_eq!(objs[0]["id"], "ZRH");
    assert_eq!(objs[0]["api_endpoint"], env.sim.endpoint("zrh"));
    assert_eq!(objs[0]["upload_url"], env.sim.upload_endpoint("zrh"));
    let (st, v) = env.call("GET", "pricing/?limit=0", None).await;
    assert_eq!(st, 200);
    assert_eq!(v["current"]["cpu"], 5);
    assert!(v["objects"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["resource"] == "dssd" && r["currency"] == "USD" && r["level"] == 0));
    let (st, v) = env.call("GET", "capabilities/", None).await;
    assert_eq!(st, 200);
    assert_eq!(v["drives"]["dssd"]["size"]["min"], 536870912u64);
}

#[test]
fn accounts_parse() {
    let a = Account::parse("me@example.com:pw@FRA", "zrh").unwrap();
    assert_eq!(
        (
            a.username.as_str(),
            a.password.as_str(),
            a.location.as_str()
        ),
        ("me@example.com", "pw", "fra")
    );
    let a = Account::parse("me@example.com:p@ss:word", "zrh").unwrap();
    assert_eq!(
        (a.password.as_str(), a.location.as_str()),
        ("p@ss:word", "zrh")
    );
    assert!(Account::parse("nocolon", "zrh").is_err());
    assert!(!format!("{a:?}").contains("p@ss"));
}

#[tokio::test]
async fn tags_group_resources_and_filter_lists() {
    let env = start().await;
    let (st, v) = env
        .call(
            "POST",
            "tags/",
            Some(json!({"objects": [{"name": "cycle-ial"}]})),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let tag = v["objects"][0]["uuid"].as_str().unwrap().to_string();
    let (st, s) = env
        .call(
            "POST",
            "servers/",
            Some(json!({"objects": [{
                "name": "tagged", "cpu": 1000, "mem": 536870912u64, "vnc_password": "p",
                "tags": [tag],
            }]})),
        )
        .await;
    assert_eq!(st, 201, "{s}");
    assert_eq!(s["objects"][0]["tags"][0]["uuid"], tag.as_str());
    env.server("untagged", json!([])).await;
    let (_, v) = env
        .call("GET", &format!("servers/detail/?tag={tag}&limit=0"), None)
        .await;
    assert_eq!(v["meta"]["total_count"], 1);
    let (_, v) = env.call("GET", &format!("tags/{tag}/servers/"), None).await;
    assert_eq!(v["objects"][0]["name"], "tagged");
    let (_, v) = env.call("GET", &format!("tags/{tag}/"), None).await;
    assert_eq!(v["resources"][0]["res_type"], "servers");
    // An unknown tag on a resource is a validation error.
    let (st, v) = env
        .call(
            "POST",
            "drives/",
            Some(json!([{"name": "d", "size": 1073741824u64, "media": "disk",
                "tags": ["00000000-0000-0000-0000-000000000000"]}])),
        )
        .await;
    assert_eq!(st, 400);
    assert_eq!(v[0]["error_point"], "tags");
    assert_eq!(
        env.call("DELETE", &format!("tags/{tag}/"), None).await.0,
        204
    );
    assert_eq!(env.call("GET", &format!("tags/{tag}/"), None).await.0, 404);
}

#[tokio::test]
async fn bearer_tokens_work_on_the_api() {
    let env = start().await;
    let resp = env
        .http
        .get(env.url("balance/"))
        .bearer_auth(&env.account.password)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["currency"], "USD");
}

#[tokio::test]
async fn nics_are_matched_by_mac_on_put() {
    let env = start().await;
    let s = env.server("nics", json!([])).await;
    let uuid = s["uuid"].as_str().unwrap();
    let mac = s["nics"][0]["mac"].as_str().unwrap().to_string();
    let mut def = s.clone();
    // Keep the first NIC (now manual), add a second one.
    def["nics"] = json!([
        {"mac": mac, "model": "virtio", "ip_v4_conf": {"conf": "manual"}},
        {"model": "e1000", "ip_v4_conf": {"conf": "dhcp"}},
    ]);
    let (st, v) = env
        .call("PUT", &format!("servers/{uuid}/"), Some(def.clone()))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["nics"][0]["mac"], mac.as_str());
    assert_eq!(v["nics"][0]["ip_v4_conf"]["conf"], "manual");
    assert_ne!(v["nics"][1]["mac"], mac.as_str());
    // A MAC the server never had is an error.
    def["nics"] = json!([{"mac": "22:00:00:00:00:01", "ip_v4_conf": {"conf": "dhcp"}}]);
    let (st, v) = env
        .call("PUT", &format!("servers/{uuid}/"), Some(def))
        .await;
    assert_eq!(st, 400, "{v}");
    // vlan and an IP configuration on one NIC is an error.
    let (st, _) = env
        .call(
            "POST",
            "servers/",
            Some(
                json!([{"name": "v", "cpu": 1000, "mem": 536870912u64, "vnc_password": "p",
                "nics": [{"vlan": "10619300-edda-42ba-91e0-7e3df0689d00",
                          "ip_v4_conf": {"conf": "dhcp"}}]}]),
            ),
        )
        .await;
    assert_eq!(st, 400);
    // Per-core speed above the AMD maximum.
    let (st, v) = env
        .call(
            "POST",
            "servers/",
            Some(json!([{"name": "fast", "cpu": 8000, "mem": 536870912u64, "vnc_password": "p"}])),
        )
        .await;
    assert_eq!(st, 400);
    assert_eq!(v[0]["error_point"], "cpu");
}

#[tokio::test]
async fn a_failed_start_falls_back_to_stopped() {
    let env = start_with(SimConfig {
        transition: Duration::from_millis(40),
        faults: Faults {
            start_failure_rate: 1.0,
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await;
    let s = env.server("doomed", json!([])).await;
    let uuid = s["uuid"].as_str().unwrap();
    let (st, _) = env
        .call("POST", &format!("servers/{uuid}/action/?do=start"), None)
        .await;
    assert_eq!(st, 202);
    let (_, v) = env.call("GET", &format!("servers/{uuid}/"), None).await;
    assert_eq!(v["status"], "starting");
    env.wait(&format!("servers/{uuid}/"), "stopped").await;
    let inv = env.sim.sim.inventory();
    assert_eq!(inv["accounts"][0]["servers"][0]["starts"], 1);
    assert_eq!(inv["transitions_in_progress"], 0);
}
