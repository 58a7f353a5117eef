//! The README's configuration examples are loaded by the real configuration code, and its list
//! of environment variables is checked against the table the loader reads them through, so the
//! documentation cannot drift from what the service accepts.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crusoe_ial::config::{Config, Sources, ENV_VARS};

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
fn every_toml_example_in_the_readme_is_a_valid_configuration() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let blocks = toml_blocks(&readme);
    assert!(blocks.len() >= 2, "the README shows configuration examples");
    // The examples may name a profile of Crusoe's own config file, as an operator would have it.
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".crusoe")).unwrap();
    std::fs::write(
        home.path().join(".crusoe/config"),
        "[default]\naccess_key_id = \"DEFAULTKEY\"\nsecret_key = \"HrbZ3VTUb2YNAq53Md1EsA\"\n\n[production]\naccess_key_id = \"PRODKEY\"\nsecret_key = \"HrbZ3VTUb2YNAq53Md1EsA\"\n",
    )
    .unwrap();
    for block in blocks {
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
            panic!("README example is not a configuration serve accepts: {e}\n{block}");
        }
    }
}

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
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

/// The README's table of variables, under "## Configuration": each variable and the file key of
/// its row (`None` for "environment only").
fn documented_variables(readme: &str) -> BTreeMap<String, Option<String>> {
    let section = readme
        .split("\n## Configuration\n")
        .nth(1)
        .expect("the README has a Configuration section");
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
fn the_readme_documents_exactly_the_environment_variables_the_loader_reads() {
    let readme = readme();
    let documented = documented_variables(&readme);
    let read: BTreeMap<String, Option<String>> = ENV_VARS
        .iter()
        .map(|v| {
            let key = v.form.in_file().then(|| v.key.to_string());
            (v.name.to_string(), key)
        })
        .collect();
    let read_names: BTreeSet<&String> = read.keys().collect();
    let table_names: BTreeSet<&String> = documented.keys().collect();
    let missing: Vec<_> = read_names.difference(&table_names).collect();
    assert!(
        missing.is_empty(),
        "read but not in the README's table: {missing:?}"
    );
    let unread: Vec<_> = table_names.difference(&read_names).collect();
    assert!(
        unread.is_empty(),
        "in the README's table but not read: {unread:?}"
    );
    for (var, key) in &read {
        assert_eq!(&documented[var], key, "the README's file key of {var}");
    }
    // Nor does the prose name a variable that is not read.
    let named: BTreeSet<&str> = readme
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| is_variable(w))
        .collect();
    let unread: Vec<_> = named.iter().filter(|v| !read.contains_key(**v)).collect();
    assert!(
        unread.is_empty(),
        "the README names variables not read: {unread:?}"
    );
}

#[test]
fn the_variables_the_issue_found_missing_are_read_and_documented() {
    let documented = documented_variables(&readme());
    for var in ["IAL_ENVELOPE", "IAL_TLS_CERT", "IAL_TLS_KEY"] {
        assert!(ENV_VARS.iter().any(|v| v.name == var), "{var} is read");
        assert!(documented.contains_key(var), "{var} is documented");
    }
}
