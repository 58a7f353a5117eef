//! The layers of ARCHITECTURE.md, as the source shows them: the root's modules depend on each
//! other one way only, and Crusoe's SDK is used by the Crusoe backend alone (and by the commands
//! that are Crusoe's own).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Each file under `src/` with its code lines (comments left out).
fn sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files
        .into_iter()
        .map(|path| {
            let rel = path
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&path).unwrap();
            let code: Vec<&str> = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect();
            (rel, code.join("\n"))
        })
        .collect()
}

fn top_module(rel: &str) -> String {
    rel.split('/')
        .next()
        .unwrap()
        .trim_end_matches(".rs")
        .to_string()
}

/// Which root modules each root module names (`crate::<module>`).
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, code) in sources() {
        let from = top_module(&rel);
        if from == "lib" || from == "main" {
            continue;
        }
        let uses = graph.entry(from.clone()).or_default();
        for (i, _) in code.match_indices("crate::") {
            let name: String = code[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() && name != from {
                uses.insert(name);
            }
        }
    }
    graph
}

fn reaches(graph: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut next = vec![from.to_string()];
    while let Some(m) = next.pop() {
        for n in graph.get(&m).into_iter().flatten() {
            if n == to {
                return true;
            }
            if seen.insert(n.clone()) {
                next.push(n.clone());
            }
        }
    }
    false
}

#[test]
fn no_two_root_modules_depend_on_each_other() {
    let graph = graph();
    assert!(graph.contains_key("core") && graph.contains_key("backends"));
    let cycles: Vec<(String, String)> = graph
        .iter()
        .flat_map(|(a, uses)| uses.iter().map(move |b| (a.clone(), b.clone())))
        .filter(|(a, b)| reaches(&graph, b, a))
        .collect();
    assert!(
        cycles.is_empty(),
        "modules that reach back: {cycles:?}\n{graph:#?}"
    );
    for (module, forbidden) in [
        ("ial", "core"),
        ("core", "backends"),
        ("core", "config"),
        ("core", "cycloid"),
        ("backends", "config"),
    ] {
        assert!(
            !reaches(&graph, module, forbidden),
            "{module} reaches {forbidden}: {graph:#?}"
        );
    }
}

#[test]
fn crusoes_sdk_is_used_by_the_crusoe_backend_and_crusoes_own_commands_only() {
    let outside: Vec<String> = sources()
        .into_iter()
        .filter(|(_, code)| code.contains("crusoe_sdk"))
        .map(|(rel, _)| rel)
        .filter(|rel| {
            !rel.starts_with("backends/crusoe/") && rel != "cli/check.rs" && rel != "cli/image.rs"
        })
        .collect();
    assert!(outside.is_empty(), "crusoe_sdk used in {outside:?}");
}

#[test]
fn cloudsigmas_sdk_is_used_by_the_cloudsigma_backend_only_and_no_backend_uses_another() {
    let sources = sources();
    let outside: Vec<&String> = sources
        .iter()
        .filter(|(rel, code)| {
            code.contains("cloudsigma_sdk") && !rel.starts_with("backends/cloudsigma/")
        })
        .map(|(rel, _)| rel)
        .collect();
    assert!(outside.is_empty(), "cloudsigma_sdk used in {outside:?}");
    let crossing: Vec<&String> = sources
        .iter()
        .filter(|(rel, code)| {
            (rel.starts_with("backends/cloudsigma/")
                && (code.contains("backends::crusoe") || code.contains("crusoe_sdk")))
                || (rel.starts_with("backends/crusoe/")
                    && (code.contains("backends::cloudsigma") || code.contains("cloudsigma_sdk")))
        })
        .map(|(rel, _)| rel)
        .collect();
    assert!(
        crossing.is_empty(),
        "a backend reaches another in {crossing:?}"
    );
}
