//! The README's configuration examples are loaded by the real configuration code, so the
//! documentation cannot drift from what the service accepts.

use std::collections::HashMap;

use crusoe_ial::config::{Config, Sources};

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
            listen_flag: None,
            tls_flags: (None, None),
        };
        let built =
            Config::load(&sources).and_then(|c| crusoe_ial::serve::build_bridge(&c).map(drop));
        if let Err(e) = built {
            panic!("README example is not a configuration serve accepts: {e}\n{block}");
        }
    }
}

#[test]
fn every_environment_variable_the_code_reads_is_documented() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for (var, _) in crusoe_ial::config::ENV_VARS
        .iter()
        .chain(crusoe_ial::bridge::settings::ENV_VARS)
    {
        assert!(
            readme.contains(&format!("`{var}`")),
            "{var} is not in the README"
        );
    }
}
