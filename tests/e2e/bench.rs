//! `crusoe-ial bench --quick`: the harness counts what it claims (polls, Crusoe calls, servers in
//! flight). Timing is measured by the full run written to BENCHMARKS.md, not asserted here.

use serde_json::Value;

use crate::common::run_bin;

#[tokio::test]
async fn the_quick_bench_counts_polls_calls_and_servers_correctly() {
    let out = run_bin(&["bench", "--quick", "--json"], &[]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r: Value = serde_json::from_str(&out.stdout).unwrap();

    for endpoint in ["locations", "server_models"] {
        assert!(r[endpoint]["requests"].as_u64().unwrap() > 0, "{endpoint}");
        assert_eq!(r[endpoint]["errors"], 0, "{endpoint}");
    }
    let fleets = r["fleets"].as_array().unwrap();
    assert_eq!(fleets.len(), 3, "per-poll, coalesced, and CloudSigma's");
    for f in fleets {
        assert_eq!(f["provisioned"], f["servers"], "{f}");
        assert_eq!(f["provision"]["requests"], f["servers"]);
        assert_eq!(f["provision"]["errors"], 0);
        assert_eq!(f["status"]["errors"], 0);
        let polls = f["status"]["requests"].as_u64().unwrap();
        assert!(
            polls >= f["servers"].as_u64().unwrap(),
            "every server polled at least once"
        );
        let calls = f["crusoe_calls_while_polling"].as_u64().unwrap();
        let per_poll = f["crusoe_calls_per_poll"].as_f64().unwrap();
        assert!(
            (per_poll - calls as f64 / polls as f64).abs() < 1e-9,
            "the ratio is calls over polls"
        );
    }
    for f in fleets {
        let (stale, worst) = (
            f["stale_answers"].as_u64().unwrap(),
            f["stale_answers_max_per_server"].as_u64().unwrap(),
        );
        assert!(worst <= stale && (stale == 0) == (worst == 0), "{f}");
    }
    let (naive, coalesced) = (&fleets[0], &fleets[1]);
    assert_eq!(naive["mode"], "per-poll");
    assert_eq!(
        naive["stale_answers"], 0,
        "a read made for the poll never misses a VM that was running when the poll was sent: {naive}"
    );
    assert_eq!(
        naive["crusoe_calls_while_polling"], naive["status"]["requests"],
        "per-poll mode reads Crusoe exactly once per poll"
    );
    assert_eq!(coalesced["mode"], "coalesced");
    assert!(
        coalesced["crusoe_calls_per_poll"].as_f64().unwrap()
            < naive["crusoe_calls_per_poll"].as_f64().unwrap(),
        "coalescing reads less: {coalesced}"
    );
    let cloudsigma = &fleets[2];
    assert_eq!(cloudsigma["mode"], "cloudsigma");
    assert!(
        cloudsigma["crusoe_calls_per_poll"].as_f64().unwrap() >= 1.0,
        "a CloudSigma poll reads the server: {cloudsigma}"
    );
    let u = &r["unknown_names"];
    let (names, rounds, real) = (
        u["unknown_names"].as_u64().unwrap(),
        u["rounds"].as_u64().unwrap(),
        u["real_servers"].as_u64().unwrap(),
    );
    assert_eq!(names, 40, "{u}");
    assert_eq!(u["control"]["unknown_polls"], 0, "{u}");
    assert_eq!(u["storm"]["unknown_polls"], names * rounds, "{u}");
    for phase in ["control", "storm"] {
        assert_eq!(u[phase]["real_polls"], real * rounds, "{u}");
    }
    let extra = u["storm"]["crusoe_calls"].as_u64().unwrap() as f64
        - u["control"]["crusoe_calls"].as_u64().unwrap() as f64;
    assert!(
        (u["crusoe_calls_per_unknown_poll"].as_f64().unwrap()
            - extra.max(0.0) / (names * rounds) as f64)
            .abs()
            < 1e-9,
        "the ratio is the storm's extra calls over its unknown polls: {u}"
    );
    let memory = &r["memory"];
    assert_eq!(memory["servers_in_flight"], 50);
    assert_eq!(memory["polls"], 100, "two polls each");
    assert_eq!(memory["errors"], 0);
    assert!(
        memory["bridge_peak_rss_mb"].as_f64().unwrap() > 1.0,
        "the bridge's own memory was read"
    );
}
