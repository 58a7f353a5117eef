//! The documentation cannot drift from the code or from itself: its configuration examples are
//! loaded by the real configuration code, the reference's table of environment variables
//! (docs/configuration.md) is checked against the table the loader reads them through, the
//! README keeps the two commands `.ci/run` relies on, and every relative link between the
//! documents (a file, and a heading where one is named) resolves.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};

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

/// Every document whose links are checked: the operator's, the project's own and the crates'.
fn linked_docs() -> Vec<String> {
    let mut docs = operator_docs();
    docs.extend(
        ["SECURITY.md", "ARCHITECTURE.md", "BENCHMARKS.md"]
            .iter()
            .map(|d| d.to_string()),
    );
    let mut crates: Vec<_> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path().join("README.md"))
        .filter(|p| p.is_file())
        .collect();
    crates.sort();
    docs.extend(crates.iter().map(|p| relative_name(p)));
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
            let built = Config::load(&sources).and_then(|c| crusoe_ial::serve::check_bridge(&c));
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

/// A variable's name (ours, Crusoe's, CloudSigma's terraform provider's or Cycloid's CLI's); not a prefix such as the `CRUSOE_*` of prose.
fn is_variable(word: &str) -> bool {
    (word.starts_with("IAL_")
        || word.starts_with("CRUSOE_")
        || word.starts_with("CLOUDSIGMA_")
        || word.starts_with("CY_"))
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
    let missing = not_in(&read_by_loader, &documented);
    assert!(
        missing.is_empty(),
        "read but not in docs/configuration.md's table: {missing:?}"
    );
    let unread = not_in(&documented, &read_by_loader);
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

// ---------------------------------------------------------------------------------------------
// Links

/// `text` with every code span replaced by spaces of the same length, so that nothing quoted is
/// taken for a link. Backslash escapes are blanked too. A span may cross lines within a block.
fn without_code_spans(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if i + 1 < bytes.len() && bytes[i + 1].is_ascii_punctuation() => {
                out[i] = b' ';
                out[i + 1] = b' ';
                i += 2;
            }
            b'`' => {
                let run = bytes[i..].iter().take_while(|&&b| b == b'`').count();
                // The closing run: the same number of backticks, not part of a longer run.
                let mut j = i + run;
                let mut close = None;
                while j < bytes.len() {
                    if bytes[j] == b'`' {
                        let len = bytes[j..].iter().take_while(|&&b| b == b'`').count();
                        if len == run {
                            close = Some(j);
                            break;
                        }
                        j += len;
                    } else {
                        j += 1;
                    }
                }
                match close {
                    Some(j) => {
                        for b in &mut out[i..j + run] {
                            if *b != b'\n' {
                                *b = b' ';
                            }
                        }
                        i = j + run;
                    }
                    None => i += run,
                }
            }
            _ => i += 1,
        }
    }
    String::from_utf8(out).expect("only ASCII bytes were replaced")
}

/// Fenced code blocks' lines become empty; the rest is split into blocks at blank lines, each
/// with its code spans blanked.
fn prose_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut block = String::new();
    let mut fence: Option<String> = None;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        if let Some(marker) = &fence {
            if trimmed.starts_with(marker.as_str())
                && trimmed.trim_start_matches(['`', '~']).trim().is_empty()
            {
                fence = None;
            }
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            let ch = trimmed.as_bytes()[0];
            let len = trimmed.bytes().take_while(|&b| b == ch).count();
            fence = Some(trimmed[..len].to_string());
            blocks.push(std::mem::take(&mut block));
            continue;
        }
        if trimmed.is_empty() {
            blocks.push(std::mem::take(&mut block));
        } else {
            block.push_str(line);
            block.push('\n');
        }
    }
    blocks.push(block);
    blocks
        .iter()
        .filter(|b| !b.is_empty())
        .map(|b| without_code_spans(b))
        .collect()
}

/// The destinations of a block's inline links and images (`[text](dest "title")`) and of its
/// link reference definitions (`[label]: dest`).
fn link_destinations(block: &str) -> Vec<String> {
    let bytes = block.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'[' {
            i += 1;
            continue;
        }
        // The matching `]`, brackets nesting.
        let mut depth = 0;
        let mut j = i;
        let mut close = None;
        while j < bytes.len() {
            match bytes[j] {
                b'[' => depth += 1,
                b']' => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(j);
                        break;
                    }
                }
                _ => {}
            }
            j += 1;
        }
        let Some(close) = close else {
            i += 1;
            continue;
        };
        let rest = &block[close + 1..];
        let at_line_start = block[..i].rsplit('\n').next().unwrap().trim().is_empty();
        if let Some(inner) = rest.strip_prefix('(') {
            found.push(destination(inner, true));
            i = close + 1;
        } else if let Some(def) = rest.strip_prefix(':').filter(|_| at_line_start) {
            found.push(destination(def.trim_start(), false));
            i = close + 1;
        } else {
            // Not a link: look inside the brackets for one.
            i += 1;
        }
    }
    found
}

/// A destination at the start of `text`: `<...>`, or up to whitespace (and, inline, up to the
/// `)` that balances the opening one).
fn destination(text: &str, inline: bool) -> String {
    let text = text.trim_start();
    if let Some(inner) = text.strip_prefix('<') {
        return inner.split('>').next().unwrap().to_string();
    }
    let mut depth = 0;
    let mut end = text.len();
    for (k, c) in text.char_indices() {
        match c {
            c if c.is_whitespace() => {
                end = k;
                break;
            }
            '(' if inline => depth += 1,
            ')' if inline => {
                if depth == 0 {
                    end = k;
                    break;
                }
                depth -= 1;
            }
            _ => {}
        }
    }
    text[..end].to_string()
}

/// GitHub's anchor for a heading's text: the rendered text (a link's text, not its address),
/// lower case, without anything but letters, digits, `_`, `-` and spaces, each space a `-`.
fn github_anchor(heading: &str) -> String {
    // A link in a heading renders as its text.
    let mut text = String::new();
    let mut rest = heading;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        match after.find("](") {
            Some(mid) if after[mid + 2..].contains(')') => {
                text.push_str(&rest[..open]);
                text.push_str(&after[..mid]);
                let tail = &after[mid + 2..];
                rest = &tail[tail.find(')').unwrap() + 1..];
            }
            _ => {
                text.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    text.push_str(rest);
    text.trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '_' || *c == '-' || *c == ' ')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors GitHub gives a Markdown document's headings (ATX and setext), a repeated one
/// suffixed `-1`, `-2`, ... as GitHub does.
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut found = BTreeSet::new();
    let mut add = |heading: &str| {
        let base = github_anchor(heading);
        let mut anchor = base.clone();
        while found.contains(&anchor) {
            let n = seen.entry(base.clone()).or_insert(0);
            *n += 1;
            anchor = format!("{base}-{n}");
        }
        found.insert(anchor);
    };
    let mut in_fence: Option<char> = None;
    let mut previous: Option<&str> = None;
    for line in markdown.lines() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let trimmed = line.trim();
        if let Some(ch) = in_fence {
            if trimmed.starts_with(ch) && trimmed.chars().all(|c| c == ch) && trimmed.len() >= 3 {
                in_fence = None;
            }
            previous = None;
            continue;
        }
        if indent < 4 && (trimmed.starts_with("```") || trimmed.starts_with("~~~")) {
            in_fence = trimmed.chars().next();
            previous = None;
            continue;
        }
        let hashes = trimmed.bytes().take_while(|&b| b == b'#').count();
        if indent < 4
            && (1..=6).contains(&hashes)
            && (trimmed.len() == hashes || trimmed.as_bytes()[hashes] == b' ')
        {
            let text = trimmed[hashes..].trim();
            // An optional closing sequence of `#`s.
            let text = match text.trim_end_matches('#') {
                t if t.is_empty() || t.ends_with(' ') => t.trim_end(),
                _ => text,
            };
            add(text);
            previous = None;
            continue;
        }
        let setext = indent < 4
            && !trimmed.is_empty()
            && (trimmed.bytes().all(|b| b == b'=') || trimmed.bytes().all(|b| b == b'-'));
        match previous {
            Some(text) if setext => {
                add(text);
                previous = None;
            }
            _ => {
                let paragraph_line = !trimmed.is_empty()
                    && indent < 4
                    && !["|", "-", "*", "+", ">", "<"]
                        .iter()
                        .any(|p| trimmed.starts_with(p))
                    && !trimmed.starts_with(|c: char| c.is_ascii_digit());
                previous = paragraph_line.then_some(trimmed);
            }
        }
    }
    found
}

/// Whether `destination` leaves the repository: a scheme (`https:`, `mailto:`) or `//host`.
fn is_external(destination: &str) -> bool {
    if destination.starts_with("//") {
        return true;
    }
    match destination.find(':') {
        Some(colon) => {
            let scheme = &destination[..colon];
            !scheme.is_empty()
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
                && !scheme.contains('/')
        }
        None => false,
    }
}

fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Why a relative `destination` in the document `from` (repository-relative) does not resolve,
/// if it does not.
fn broken(from: &str, destination: &str) -> Option<String> {
    let (path, anchor) = match destination.split_once('#') {
        Some((p, a)) => (p, Some(a)),
        None => (destination, None),
    };
    let path = percent_decoded(path.split('?').next().unwrap());
    let target = if path.is_empty() {
        PathBuf::from(from)
    } else if let Some(from_root) = path.strip_prefix('/') {
        PathBuf::from(from_root)
    } else {
        Path::new(from).parent().unwrap().join(&path)
    };
    // Normalise without touching the file system, refusing to climb out of the repository.
    let mut normal = PathBuf::new();
    for part in target.components() {
        match part {
            Component::Normal(p) => normal.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                if !normal.pop() {
                    return Some("leaves the repository".into());
                }
            }
            Component::RootDir | Component::Prefix(_) => {}
        }
    }
    let full = root().join(&normal);
    if !full.exists() {
        return Some(format!("{} does not exist", normal.display()));
    }
    let anchor = match anchor {
        None | Some("") => return None,
        Some(a) => percent_decoded(a),
    };
    if full.extension().is_some_and(|e| e == "md") {
        let headings = anchors(&std::fs::read_to_string(&full).unwrap());
        if !headings.contains(&anchor) {
            return Some(format!(
                "{} has no heading #{anchor}; it has {headings:?}",
                normal.display()
            ));
        }
        None
    } else {
        // GitHub's line anchors in a source file: #L10, #L10-L20.
        let line = |l: &str| {
            l.strip_prefix('L')
                .is_some_and(|n| n.parse::<u32>().is_ok())
        };
        let lines_ok = match anchor.split_once('-') {
            Some((a, b)) => line(a) && line(b),
            None => line(&anchor),
        };
        (!lines_ok).then(|| format!("#{anchor} is not a line anchor of {}", normal.display()))
    }
}

/// Every relative link in `markdown` (the document `from`) that does not resolve, with why.
fn broken_links(from: &str, markdown: &str) -> (usize, Vec<String>) {
    let mut checked = 0;
    let mut problems = Vec::new();
    for block in prose_blocks(markdown) {
        for dest in link_destinations(&block) {
            if dest.is_empty() || is_external(&dest) {
                continue;
            }
            checked += 1;
            if let Some(why) = broken(from, &dest) {
                problems.push(format!("{from}: ({dest}): {why}"));
            }
        }
    }
    (checked, problems)
}

#[test]
fn every_relative_link_in_the_documentation_resolves() {
    let mut checked = 0;
    let mut problems = Vec::new();
    let docs = linked_docs();
    for doc in &docs {
        let (n, p) = broken_links(doc, &read(doc));
        checked += n;
        problems.extend(p);
    }
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
    // The README links to every document under docs/, so none is an orphan.
    let readme = read("README.md");
    let linked: BTreeSet<String> = prose_blocks(&readme)
        .iter()
        .flat_map(|b| link_destinations(b))
        .map(|d| d.split('#').next().unwrap().to_string())
        .collect();
    for doc in docs.iter().filter(|d| d.starts_with("docs/")) {
        assert!(linked.contains(doc), "the README does not link to {doc}");
    }
    assert!(checked >= 40, "only {checked} relative links were found");
}

#[test]
fn the_link_check_finds_what_is_broken_and_reads_headings_as_github_does() {
    assert_eq!(
        github_anchor("Cycloid: each server's story"),
        "cycloid-each-servers-story"
    );
    assert_eq!(
        github_anchor("Boot mode `ipxe-image`: an iPXE boot image per location"),
        "boot-mode-ipxe-image-an-ipxe-boot-image-per-location"
    );
    assert_eq!(github_anchor("Leftovers: `gc`"), "leftovers-gc");
    assert_eq!(github_anchor("A [linked](x.md) one"), "a-linked-one");
    assert_eq!(github_anchor("Before / after"), "before--after");
    let doc =
        "# Title\n\n## Title\n\nSetext\n------\n\n```md\n# not a heading\n[x](nowhere.md)\n```\n";
    assert_eq!(
        anchors(doc),
        ["title", "title-1", "setext"]
            .into_iter()
            .map(String::from)
            .collect()
    );
    let text = "See [here](README.md#the-two-commands), [there](docs/missing.md), \
                [gone](#no-such-heading), `[quoted](nowhere.md)`, [web](https://example.com/x.md) \
                and [sub](docs/configuration.md#environment-variables-and-file-keys).\n\n\
                [def]: SECURITY.md#no-such-section\n";
    let (checked, problems) = broken_links("README.md", text);
    assert_eq!(checked, 5, "{problems:?}");
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(problems[0].contains("docs/missing.md does not exist"));
    assert!(problems[1].contains("no heading #no-such-heading"));
    assert!(problems[2].contains("no heading #no-such-section"));
    assert!(broken("docs/boot.md", "../../outside.md").is_some());
}

/// The variables of `a` that `b` does not have.
fn not_in<'a>(
    a: &'a BTreeMap<String, Option<String>>,
    b: &BTreeMap<String, Option<String>>,
) -> Vec<&'a String> {
    a.keys().filter(|v| !b.contains_key(*v)).collect()
}
