//! Schema fuzzing: schemathesis generates requests from Cycle's own IAL OpenAPI and sends them
//! to a running bridge (bare answers, the shapes that OpenAPI documents). No generated input may
//! get a 5xx, and every answer must match the documented schema for its status. Skipped, with a
//! message, when ../shared (where Cycle's OpenAPI is kept) is absent; schemathesis is installed
//! into target/ by scripts/python-tools.sh.

use crate::common;

use common::harness::{test_settings, Harness};
use common::{quick_sim_config, shared_dir};
use crusoe_ial::ial::{Envelope, IalOptions};

#[tokio::test]
async fn generated_requests_never_get_a_5xx_and_answers_match_cycles_openapi() {
    let Some(shared) = shared_dir() else {
        eprintln!("skipped: ../shared is absent, so Cycle's IAL OpenAPI is not here to fuzz from");
        return;
    };
    let spec = shared.join("reference/cycle-ial/openapi/api.yml");
    let root = env!("CARGO_MANIFEST_DIR");
    let install = tokio::process::Command::new("bash")
        .arg(format!("{root}/scripts/python-tools.sh"))
        .arg("schemathesis")
        .output()
        .await
        .unwrap();
    assert!(
        install.status.success(),
        "could not install schemathesis: {}",
        String::from_utf8_lossy(&install.stderr)
    );
    let schemathesis = String::from_utf8(install.stdout)
        .unwrap()
        .trim()
        .to_string();

    let options = IalOptions {
        envelope: Envelope::Bare,
        ..Default::default()
    };
    let h = Harness::start_with(quick_sim_config(), test_settings(), options).await;
    // schemathesis keeps a cache in its working directory: keep it under target/.
    let run = tokio::process::Command::new(&schemathesis)
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .arg("run")
        .arg(&spec)
        .args(["--url", &h.url])
        .args(["--checks", "not_a_server_error,response_schema_conformance"])
        .args([
            "--max-examples",
            "30",
            "--generation-deterministic",
            "--no-color",
        ])
        .output()
        .await
        .unwrap();
    let report = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "schemathesis found failures:\n{report}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // It really sent requests: the summary counts the generated cases.
    let generated: u64 = report
        .lines()
        .find(|l| l.contains(" generated,"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(generated > 100, "too few cases ran:\n{report}");
}
