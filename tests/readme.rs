//! The documentation cannot drift from the code or from itself: its configuration examples are
//! loaded by the real configuration code, the reference's table of environment variables
//! (docs/configuration.md) is checked against the table the loader reads them through, the
//! README keeps the two commands `.ci/run` relies on.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crusoe_ial::config::{Config, Sources, ENV_VARS};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// The Markdown files under `dir`, at any depth, sorted.
fn markdown_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            found.extend(markdown_under(&path));
        } else if path.extension().is_some_and(|e| e == "md") {
            found.push(path);
        }
    }
    found
}

/// The operator's documentation, repository-relative: the README and everything under docs/.
fn operator_docs() -> Vec<String> {
    let mut docs = vec!["README.md".to_string()];
    for path in markdown_under(&root().join("docs")) {
        docs.push(relative_name(&path));
    }
    docs
}

fn relative_name(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

fn toml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```toml") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

#[test]
fn every_toml_example_in_the_documentation_is_a_valid_configuration() {
    assert!(
        toml_blocks(&read("docs/configuration.md")).len() >= 2,
        "the configuration reference shows configuration examples"
    );
    // The examples may name a profile of Crusoe's own config file, as an operator would have it.
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".crusoe")).unwrap();
    std::fs::write(
        home.path().join(".crusoe/config"),
        "[default]\naccess_key_id = \"DEFAULTKEY\"\nsecret_key = \"HrbZ3VTUb2YNAq53Md1EsA\"\n\n[production]\naccess_key_id = \"PRODKEY\"\nsecret_key = \"HrbZ3VTUb2YNAq53Md1EsA\"\n",
    )
    .unwrap();
    for doc in operator_docs() {
        for block in toml_blocks(&read(&doc)) {
            let file = home.path().join("example.toml");
            std::fs::write(&file, &block).unwrap();
            // A block shows part of a configuration; where it sets no iPXE image, the environment does.
            let mut env = HashMap::new();
            if !block.contains("ipxe_url") {
                env.insert(
                    "IAL_IPXE_URL".to_string(),
                    "https://images.example/ipxe.efi".to_string(),
                );
            }
            let sources = Sources {
                file: Some(file),
                env,
                home: Some(home.path().into()),
                ..Default::default()
            };
            let built =
                Config::load(&sources).and_then(|c| crusoe_ial::serve::build_bridge(&c).map(drop));
            if let Err(e) = built {
                panic!("{doc}: example is not a configuration serve accepts: {e}\n{block}");
            }
        }
    }
}

/// The words in backticks of `cell`.
fn quoted(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

/// A variable's name (ours, Crusoe's or Cycloid's CLI's); not a prefix such as the `CRUSOE_*` of prose.
fn is_variable(word: &str) -> bool {
    (word.starts_with("IAL_") || word.starts_with("CRUSOE_") || word.starts_with("CY_"))
        && !word.ends_with('_')
        && word
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// The section of docs/configuration.md that lists every variable.
const VARIABLES_SECTION: &str = "\n## Environment variables and file keys\n";

/// The reference's table of variables, under "## Environment variables and file keys" in
/// docs/configuration.md: each variable and the file key of its row (`None` for "environment
/// only").
fn documented_variables(reference: &str) -> BTreeMap<String, Option<String>> {
    let section = reference
        .split(VARIABLES_SECTION)
        .nth(1)
        .expect("docs/configuration.md has an \"Environment variables and file keys\" section");
    let section = section.split("\n## ").next().unwrap();
    let mut documented = BTreeMap::new();
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (vars, keys) = (quoted(cells[1]), quoted(cells[2]));
        assert!(vars.iter().all(|v| is_variable(v)), "{row}");
        if keys.is_empty() {
            assert!(cells[2].contains("environment only"), "{row}");
        } else {
            assert_eq!(keys.len(), vars.len(), "one key per variable: {row}");
        }
        for (i, var) in vars.iter().enumerate() {
            let key = keys.get(i).map(|k| k.to_string());
            assert!(
                documented.insert(var.to_string(), key).is_none(),
                "{var} twice"
            );
        }
    }
    documented
}

#[test]
fn the_configuration_reference_documents_exactly_the_environment_variables_the_loader_reads() {
    let documented = documented_variables(&read("docs/configuration.md"));
    let read_by_loader: BTreeMap<String, Option<String>> = ENV_VARS
        .iter()
        .map(|v| {
            let key = v.form.in_file().then(|| v.key.to_string());
            (v.name.to_string(), key)
        })
        .collect();
    let missing: Vec<_> = read_by_loader
        .keys()
        .filter(|v| !documented.contains_key(*v))
        .collect();
    assert!(
        missing.is_empty(),
        "read but not in docs/configuration.md's table: {missing:?}"
    );
    let unread: Vec<_> = documented
        .keys()
        .filter(|v| !read_by_loader.contains_key(*v))
        .collect();
    assert!(
        unread.is_empty(),
        "in docs/configuration.md's table but not read: {unread:?}"
    );
    for (var, key) in &read_by_loader {
        assert_eq!(
            &documented[var], key,
            "docs/configuration.md's file key of {var}"
        );
    }
    // Nor does the prose of any of the operator's documents name a variable that is not read.
    for doc in operator_docs() {
        let text = read(&doc);
        let named: BTreeSet<&str> = text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| is_variable(w))
            .collect();
        let unread: Vec<_> = named
            .iter()
            .filter(|v| !read_by_loader.contains_key(**v))
            .collect();
        assert!(
            unread.is_empty(),
            "{doc} names variables not read: {unread:?}"
        );
    }
}

#[test]
fn the_variables_the_issue_found_missing_are_read_and_documented() {
    let documented = documented_variables(&read("docs/configuration.md"));
    for var in ["IAL_ENVELOPE", "IAL_TLS_CERT", "IAL_TLS_KEY"] {
        assert!(ENV_VARS.iter().any(|v| v.name == var), "{var} is read");
        assert!(documented.contains_key(var), "{var} is documented");
    }
}

#[test]
fn the_readme_keeps_the_two_commands_and_ci_runs_the_test_one() {
    let readme = read("README.md");
    for command in [
        "cargo run --release -- demo",
        "cargo test --workspace --locked",
    ] {
        assert!(
            readme.contains(&format!("```sh\n{command}\n```")),
            "the README shows `{command}` on its own"
        );
    }
    let ci = read(".ci/run");
    assert_eq!(
        ci.lines().rfind(|l| !l.trim().is_empty()),
        Some("cargo test --workspace --locked"),
        ".ci/run ends with the README's test command"
    );
}
