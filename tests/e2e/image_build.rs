//! `crusoe-ial image build` against the simulator, and servers of boot mode `ipxe-image`: the
//! build makes the image once (a second build finds it), deletes its builder on every path out
//! (success, Crusoe faults, failed operations, a builder that never powers off), `gc` finds the
//! builder an interrupted build leaves; provision boots the project's image with no script, and
//! without one answers 422 naming the command, having created nothing.

use crate::common;

use std::time::Duration;

use common::harness::{test_settings, Harness, CLIENT_ATTEMPTS, CYCLE_SERVER};
use common::{
    crusoe_env, exit_within, fast_settings, project_inventory, quick_sim_config, run_bin,
    send_signal, spawn_bin, start_sim, vm_request, Ran, PROJECT,
};
use crusoe_ial::backends::crusoe::boot_images::{builder_name, image_name};
use crusoe_ial::backends::crusoe::image_build::{self, BuildSpec, Built};
use crusoe_ial::backends::crusoe::settings::BootMode;
use crusoe_ial::backends::crusoe::IpxeImage;
use crusoe_sdk::types::*;
use crusoe_sdk::CrusoeClient;
use crusoe_sim::{Faults, RunningSim, SimConfig};
use serde_json::Value;

const SHA: &str = "67c7f1f8e062968209ca055283ca782f21faf6a18f55dd19848601bbaf8ed7aa";
const URL: &str = "https://ipxe.example/cycle/ipxe.efi";
const LOCATION: &str = "us-east1-a";

fn client(sim: &RunningSim) -> CrusoeClient {
    let mut settings = fast_settings(&sim.endpoint());
    settings.retry.max_attempts = CLIENT_ATTEMPTS;
    CrusoeClient::new(settings, common::credentials()).unwrap()
}

fn spec() -> BuildSpec {
    BuildSpec {
        location: LOCATION.into(),
        ipxe: IpxeImage::new(URL, Some(SHA)).unwrap(),
        builder_type: None,
        subnet: None,
        public_image: "ubuntu22.04:latest".into(),
        ssh_public_key: crusoe_ial::backends::crusoe::generated_ssh_key(),
        shutoff_deadline: Duration::from_secs(10),
        operation_timeout: Duration::from_secs(10),
        poll_interval: Duration::from_millis(10),
    }
}

fn count(sim: &RunningSim, kind: &str) -> usize {
    project_inventory(sim, PROJECT)[kind]
        .as_array()
        .unwrap()
        .len()
}

fn vms_created(sim: &RunningSim) -> u64 {
    sim.sim
        .calls()
        .get("POST /v1/projects/{project_id}/compute/vms/instances")
        .copied()
        .unwrap_or(0)
}

#[tokio::test]
async fn a_build_makes_the_image_from_a_converted_disk_once_and_leaves_no_builder() {
    let sim = start_sim(quick_sim_config()).await;
    let c = client(&sim);
    let project = c.project(PROJECT);
    let mut seen_script = None;
    let mut lines = Vec::new();
    let built = {
        let mut progress = |line: String| {
            // While the builder runs, what it was given to run.
            if line.starts_with("waiting for") && seen_script.is_none() {
                seen_script = project_inventory(&sim, PROJECT)["vms"][0]["sim"]["startup_script"]
                    .as_str()
                    .map(str::to_string);
            }
            lines.push(line);
        };
        image_build::build(&project, &test_settings().crusoe(), &spec(), &mut progress)
            .await
            .unwrap()
    };
    let Built::Made(image) = built else {
        panic!("{built:?}")
    };
    assert_eq!(image.name, image_name(SHA, LOCATION));
    assert_eq!(image.locations, vec![LOCATION.to_string()]);
    assert_eq!(count(&sim, "vms"), 0, "the builder is deleted");
    assert_eq!(count(&sim, "custom_images"), 1);
    let script = seen_script.expect("the builder was seen running");
    assert_eq!(
        script,
        IpxeImage::new(URL, Some(SHA))
            .unwrap()
            .script(crusoe_ial::backends::crusoe::Finish::PowerOff)
            .replace("{{server_name}}", &builder_name(SHA, LOCATION)),
        "the builder runs the ipxe mode's conversion, ending in a power-off"
    );
    assert!(lines.iter().any(|l| l.contains("c1a.")), "{lines:?}");

    let created = vms_created(&sim);
    let again = image_build::build(&project, &test_settings().crusoe(), &spec(), &mut |_| {})
        .await
        .unwrap();
    assert_eq!(again, Built::Found(image));
    assert_eq!(vms_created(&sim), created, "a second build creates nothing");
}

#[tokio::test]
async fn a_build_survives_crusoe_faults_and_leaves_one_image_and_no_builder() {
    let sim = start_sim(SimConfig {
        faults: Faults {
            server_error_rate: 0.2,
            rate_limit_rate: 0.1,
            ..Default::default()
        },
        seed: 7,
        ..quick_sim_config()
    })
    .await;
    let c = client(&sim);
    let built = image_build::build(
        &c.project(PROJECT),
        &test_settings().crusoe(),
        &spec(),
        &mut |_| {},
    )
    .await
    .unwrap();
    assert!(matches!(built, Built::Made(_)), "{built:?}");
    assert_eq!(count(&sim, "vms"), 0);
    assert_eq!(count(&sim, "custom_images"), 1);
}

#[tokio::test]
async fn a_builder_that_never_powers_off_fails_the_build_by_its_deadline_and_is_deleted() {
    // Its startup script failed: the power-off never comes.
    let sim = start_sim(SimConfig {
        faults: Faults {
            stuck_guest_rate: 1.0,
            ..Default::default()
        },
        ..quick_sim_config()
    })
    .await;
    let c = client(&sim);
    let mut slow = spec();
    slow.shutoff_deadline = Duration::from_millis(300);
    let err = image_build::build(
        &c.project(PROJECT),
        &test_settings().crusoe(),
        &slow,
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert!(err.0.contains("did not power off within"), "{err}");
    assert!(err.0.contains("serial-console"), "{err}");
    assert!(err.0.contains("the builder was deleted"), "{err}");
    assert_eq!(count(&sim, "vms"), 0);
    assert_eq!(count(&sim, "custom_images"), 0);
}

#[tokio::test]
async fn a_failed_operation_fails_the_build_with_crusoes_reason_and_leaves_nothing() {
    let sim = start_sim(SimConfig {
        faults: Faults {
            operation_failure_rate: 1.0,
            ..Default::default()
        },
        ..quick_sim_config()
    })
    .await;
    let c = client(&sim);
    let err = image_build::build(
        &c.project(PROJECT),
        &test_settings().crusoe(),
        &spec(),
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert!(err.0.contains("creating builder"), "{err}");
    assert!(err.0.contains("internal_error"), "{err}");
    assert_eq!(count(&sim, "vms"), 0);
    assert_eq!(count(&sim, "custom_images"), 0);
}

#[tokio::test]
async fn gc_finds_the_builder_an_interrupted_build_left() {
    let sim = start_sim(quick_sim_config()).await;
    let project = client(&sim).project(PROJECT);
    let request = CreateVmRequest {
        image: None,
        ..vm_request(&builder_name(SHA, LOCATION), "c1a.4x")
    };
    let op = project.vms().create(&request).await.unwrap();
    op.wait(Duration::from_secs(5)).await.unwrap();
    let orphans = crusoe_ial::backends::crusoe::gc::find(&project)
        .await
        .unwrap();
    assert_eq!(orphans.len(), 1, "{orphans:?}");
    assert!(orphans[0].to_string().contains("image builder"));
    crusoe_ial::backends::crusoe::gc::delete(&project, &orphans, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(count(&sim, "vms"), 0);
}

async fn cli(sim: &RunningSim, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let endpoint = sim.endpoint();
    let out = run_bin(
        &[&["image"], args].concat(),
        &[&crusoe_env(&endpoint), env].concat(),
    )
    .await;
    (out.code, out.all())
}

#[tokio::test]
async fn the_image_commands_build_list_and_delete_and_a_build_computes_the_hash_it_needs() {
    let sim = start_sim(quick_sim_config()).await;
    // Cycle's image stood in by bytes on loopback: the build downloads them for their hash.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ipxe.efi", listener.local_addr().unwrap());
    let bytes: &'static [u8] = b"MZ stand-in for Cycle's iPXE";
    let app = axum::Router::new().route(
        "/ipxe.efi",
        axum::routing::get(move || async move { bytes }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let sha: String = {
        use sha2::Digest;
        sha2::Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let name = image_name(&sha, LOCATION);

    let (code, out) = cli(&sim, &["build", "--location", LOCATION], &[]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("--ipxe-url"), "{out}");

    let (code, out) = cli(
        &sim,
        &["build", "--location", LOCATION, "--ipxe-url", &url],
        &[],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("sha256 {sha}")), "{out}");
    assert!(out.contains(&format!("made {name}")), "{out}");
    assert!(
        out.contains("waiting for"),
        "a progress line while it waits: {out}"
    );

    let (code, out) = cli(
        &sim,
        &["build", "--location", LOCATION],
        &[("IAL_IPXE_URL", &url), ("IAL_IPXE_SHA256", &sha)],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("exists already"), "{out}");

    let (code, out) = cli(&sim, &["list"], &[]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&name) && out.contains("1 boot images"),
        "{out}"
    );
    let (code, out) = cli(&sim, &["delete", "scratch-image"], &[]).await;
    assert_eq!(code, 1, "only its own images: {out}");
    let (code, out) = cli(&sim, &["delete", &name], &[]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("deleted 1 image"), "{out}");
    assert_eq!(count(&sim, "custom_images"), 0);
    assert_eq!(count(&sim, "vms"), 0);
}

fn ipxe_image_settings() -> crusoe_ial::config::BridgeSettings {
    let mut s = test_settings();
    s.boot.mode = BootMode::IpxeImage;
    s.boot.ipxe_url = None;
    s.boot.ipxe_sha256 = Some(SHA.into());
    s
}

#[tokio::test]
async fn in_ipxe_image_mode_a_server_boots_the_projects_image_or_provision_says_how_to_make_it() {
    let h = Harness::start(quick_sim_config(), ipxe_image_settings()).await;
    let config = h.configure(LOCATION).await["configuration_latest"].clone();
    let request = Harness::provision_request(CYCLE_SERVER, "c1a.4x", LOCATION, &config);
    let (status, answer) = h
        .cycle("/v1/infrastructure/server/provision", request.clone())
        .await;
    assert_eq!(status, 422, "{answer}");
    let detail = answer["error"]["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("crusoe-ial image build --location {LOCATION}")),
        "{detail}"
    );
    assert_eq!(h.billable(), (0, 0, 0), "nothing was created");

    let c = client(&h.sim);
    let Built::Made(image) = image_build::build(
        &c.project(PROJECT),
        &test_settings().crusoe(),
        &spec(),
        &mut |_| {},
    )
    .await
    .unwrap() else {
        panic!("a new project has no image")
    };
    let ready = h.provision_ready("c1a.4x", LOCATION).await;
    assert_eq!(ready.status["provisioned"], true);
    let vm = h.project()["vms"][0].clone();
    assert_eq!(
        vm["sim"]["image"],
        image.id.as_str(),
        "created from the boot image"
    );
    assert_eq!(
        vm["sim"]["startup_script"],
        Value::Null,
        "no Linux, no script"
    );
    assert_eq!(vm["sim"]["install_crusoe_watch_agent"], false);
}

#[tokio::test]
async fn an_interrupted_build_deletes_its_builder_before_it_exits() {
    let sim = start_sim(SimConfig {
        faults: Faults {
            stuck_guest_rate: 1.0,
            ..Default::default()
        },
        ..quick_sim_config()
    })
    .await;
    let endpoint = sim.endpoint();
    let build = ["image", "build", "--location", LOCATION, "--ipxe-url", URL];
    let (child, _home) = spawn_bin(
        &[&build[..], &["--ipxe-sha256", SHA, "--timeout-secs", "120"]].concat(),
        &crusoe_env(&endpoint),
    );
    let running = async {
        loop {
            if project_inventory(&sim, PROJECT)["vms"][0]["state"] == "STATE_RUNNING" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), running)
        .await
        .expect("the builder runs");
    send_signal(&child, "INT");
    let out: Ran = exit_within(
        child,
        Duration::from_secs(30),
        "the build exits after an interrupt",
    )
    .await
    .into();
    let text = out.all();
    assert_eq!(out.code, 1, "{text}");
    assert!(
        text.contains("interrupted; the builder was deleted"),
        "{text}"
    );
    assert_eq!(count(&sim, "vms"), 0);
    assert_eq!(count(&sim, "custom_images"), 0);
}
