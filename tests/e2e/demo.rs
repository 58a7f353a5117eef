//! `crusoe-ial demo`, as a newcomer runs it: a passing lifecycle and exit 0, or the failing step
//! named and exit 1.

use std::process::Stdio;

use crate::common::BIN;

async fn demo(args: &[&str]) -> (i32, String) {
    let out = tokio::process::Command::new(BIN)
        .arg("demo")
        .args(["--op-delay-ms", "30"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test]
async fn the_demo_plays_a_whole_lifecycle_and_passes() {
    let (code, out) = demo(&[]).await;
    assert_eq!(code, 0, "{out}");
    for step in [
        "verify",
        "locations",
        "server models",
        "configure location",
        "provision",
        "boot script",
        "poll provision-status",
        "allocate IP",
        "release IP",
        "restart",
        "decommission",
    ] {
        assert!(
            out.lines()
                .any(|l| l.trim_start().starts_with(&format!("ok  {step}"))),
            "{step} missing:\n{out}"
        );
    }
    assert!(out.contains("demo passed: 11 steps"), "{out}");
    assert!(
        out.contains("boot mode         ipxe, Cycle's iPXE image stood in by http://127.0.0.1:"),
        "{out}"
    );
    assert!(out.contains("nothing left behind"));
}

#[tokio::test]
async fn the_demo_survives_injected_faults() {
    let (code, out) = demo(&[
        "--server-error-rate",
        "0.1",
        "--rate-limit-rate",
        "0.1",
        "--latency-ms",
        "5",
        "--seed",
        "9",
    ])
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("faults            10% 5xx, 10% 429"), "{out}");
}

#[tokio::test]
async fn a_failing_demo_names_its_step_and_exits_1() {
    let (code, out) = demo(&["--server-error-rate", "1.0"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("demo FAILED at step \"verify\""), "{out}");
    assert!(out.contains("503"), "{out}");
}

#[tokio::test]
async fn with_cycloid_the_demo_shows_the_servers_story_in_order() {
    let (code, out) = demo(&["--cycloid"]).await;
    assert_eq!(code, 0, "{out}");
    let timeline = out
        .split("  timeline\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no timeline:\n{out}"));
    let titles: Vec<&str> = timeline
        .lines()
        .take_while(|l| !l.starts_with("  inventory"))
        .filter(|l| {
            l.starts_with("    info") || l.starts_with("    warn") || l.starts_with("    err")
        })
        .map(|l| l[10..].trim())
        .collect();
    let expected = [
        "accepted for provisioning",
        "provisioned",
        "allocated to",
        "released",
        "restarted",
        "decommissioned",
    ];
    assert_eq!(titles.len(), expected.len(), "{out}");
    for (title, part) in titles.iter().zip(expected) {
        assert!(
            title.contains(part),
            "{title} is not the {part} event:\n{out}"
        );
    }
    assert!(
        out.contains("POST   /organizations/demo-org/inventory/resources  -> 200"),
        "{out}"
    );
    assert!(
        out.contains("DELETE /organizations/demo-org/inventory/resources/1  -> 204"),
        "{out}"
    );
    assert!(out.contains("inventory now: 0 resources"), "{out}");
}

#[tokio::test]
async fn on_cloudsigma_the_demo_plays_the_lifecycle_and_cycloid_hears_of_cloudsigma() {
    let (code, out) = demo(&["--backend", "cloudsigma", "--cycloid"]).await;
    assert_eq!(code, 0, "{out}");
    for step in [
        "verify",
        "configure location",
        "provision",
        "poll provision-status",
        "boot chain",
        "allocate IP",
        "release IP",
        "restart",
        "decommission",
    ] {
        assert!(
            out.lines()
                .any(|l| l.trim_start().starts_with(&format!("ok  {step}"))),
            "{step} missing:\n{out}"
        );
    }
    assert!(out.contains("demo passed: 11 steps"), "{out}");
    assert!(out.contains("uploaded as CD-ROM"), "{out}");
    let timeline = out
        .split("  timeline\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no timeline:\n{out}"));
    assert!(
        timeline.contains("CloudSigma") && !timeline.contains("Crusoe"),
        "the story names the backend it ran on:\n{timeline}"
    );
    assert!(out.contains("inventory now: 0 resources"), "{out}");
}
