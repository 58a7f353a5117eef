//! The deployment files stay true to the code: the example config loads, the Kubernetes manifests
//! probe endpoints the server serves and run two replicas as the image's user, and the dashboard
//! queries only metrics the bridge exports.

use std::collections::HashMap;

use crusoe_ial::config::{Config, Sources};
use serde_json::Value;

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What `serve` does with a config file: load it and build the bridge. The iPXE image's address
/// comes from the environment, as the examples tell the operator to set it.
fn serve_accepts(file: std::path::PathBuf, home: &std::path::Path) -> Result<Config, String> {
    let env = HashMap::from([(
        "IAL_IPXE_URL".to_string(),
        "https://images.example/ipxe.efi".to_string(),
    )]);
    let config = Config::load(&Sources {
        file: Some(file),
        env,
        home: Some(home.into()),
        ..Default::default()
    })
    .map_err(|e| e.to_string())?;
    crusoe_ial::serve::check_bridge(&config).map_err(|e| e.to_string())?;
    Ok(config)
}

#[test]
fn the_example_config_loads() {
    let home = tempfile::tempdir().unwrap();
    let config = serve_accepts(root().join("deploy/config.example.toml"), home.path())
        .unwrap_or_else(|e| panic!("deploy/config.example.toml: {e}"));
    assert_eq!(config.listen.port(), 8080);
    let text = std::fs::read_to_string(root().join("deploy/config.example.toml")).unwrap();
    assert!(
        text.contains("ipxe_url"),
        "the example says where Cycle's iPXE image goes"
    );
}

#[test]
fn the_kubernetes_manifests_match_the_server() {
    let text = std::fs::read_to_string(root().join("deploy/kubernetes/crusoe-ial.yaml")).unwrap();
    let docs: Vec<serde_yaml_ng::Value> = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    let kind = |k: &str| {
        docs.iter()
            .find(|d| d["kind"].as_str() == Some(k))
            .unwrap_or_else(|| panic!("no {k}"))
    };
    let deployment = kind("Deployment");
    assert_eq!(deployment["spec"]["replicas"].as_u64(), Some(2));
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["readinessProbe"]["httpGet"]["path"].as_str(),
        Some("/readyz")
    );
    assert_eq!(
        container["livenessProbe"]["httpGet"]["path"].as_str(),
        Some("/healthz")
    );
    assert_eq!(
        deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"].as_u64(),
        Some(65532)
    );
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("USER 65532:65532"),
        "the manifest's user is the image's"
    );
    // The ConfigMap's config is a valid configuration.
    let config = kind("ConfigMap")["data"]["config.toml"]
        .as_str()
        .unwrap()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(&file, config).unwrap();
    serve_accepts(file, dir.path()).unwrap();
    kind("Service");
    // The Secret examples name only variables the code reads, and the Deployment names them.
    let known: Vec<&str> = crusoe_ial::config::ENV_VARS
        .iter()
        .map(|v| v.name)
        .collect();
    let deployment =
        std::fs::read_to_string(root().join("deploy/kubernetes/crusoe-ial.yaml")).unwrap();
    for name in ["crusoe-ial-server-held", "crusoe-ial-cycloid"] {
        let file = format!(
            "deploy/kubernetes/{}.example.yaml",
            name.replace("crusoe-ial-", "secret-")
        );
        let secret = std::fs::read_to_string(root().join(&file)).unwrap();
        let secret: serde_yaml_ng::Value = serde_yaml_ng::from_str(&secret).unwrap();
        assert_eq!(secret["metadata"]["name"], name, "{file}");
        assert!(
            deployment.contains(&format!("secretRef: {{name: {name}}}")),
            "{name}"
        );
        for key in secret["stringData"].as_mapping().unwrap().keys() {
            assert!(
                known.contains(&key.as_str().unwrap()),
                "{key:?} in {file} is not read by the bridge"
            );
        }
    }
}

#[test]
fn the_dashboard_queries_only_exported_metrics() {
    let text =
        std::fs::read_to_string(root().join("deploy/grafana/crusoe-ial-dashboard.json")).unwrap();
    let dashboard: Value = serde_json::from_str(&text).unwrap();
    use crusoe_ial::backends::crusoe::metrics as c;
    use crusoe_ial::telemetry::metrics as m;
    let exported = [
        m::IAL_REQUESTS,
        m::IAL_DURATION,
        c::CRUSOE_CALLS,
        c::CRUSOE_DURATION,
        c::CRUSOE_RETRIES,
        c::OPERATION_WAITS,
        c::OPERATION_WAIT_DURATION,
        m::SERVERS_IN_FLIGHT,
        m::CYCLOID_DELIVERED,
        m::CYCLOID_DROPPED,
    ];
    let mut used = std::collections::BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let names: Vec<&str> = expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| {
                    w.starts_with("ial_") || w.starts_with("crusoe_") || w.starts_with("bridge_")
                })
                .collect();
            assert!(!names.is_empty(), "{expr}");
            for name in names {
                let base = name.trim_end_matches("_bucket");
                assert!(exported.contains(&base), "{name} is not exported");
                used.insert(base);
            }
        }
    }
    assert_eq!(
        used.len(),
        exported.len(),
        "every exported metric has a panel: {used:?}"
    );
}
