//! How a server boots: image or custom image, the SSH key Crusoe requires, and the bash
//! `startup_script` rendered from the operator's template. Crusoe has no iPXE or ISO boot, so the
//! template is where an operator reaches CycleOS (DESIGN.md, decision 7).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::error::BridgeError;
use super::settings::BootSettings;

/// Crusoe's rules for a startup script.
pub const MAX_SCRIPT_BYTES: usize = 64 * 1024;
pub const SHEBANG: &str = "#!/bin/bash";

/// The placeholders a template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "hostname",
    "server_name",
    "cycle_server_id",
    "hub_id",
    "location",
    "model",
];

pub const DEFAULT_TEMPLATE: &str = r#"#!/bin/bash
# crusoe-ial default startup script. Crusoe runs it as root after the network is up, on every boot.
# Crusoe offers no iPXE or ISO boot: replace this with your CycleOS boot template
# (bridge.boot.startup_script_template). Placeholders: {{hostname}} {{server_name}}
# {{cycle_server_id}} {{hub_id}} {{location}} {{model}}, each limited to letters, digits, '.', '-'.
set -euo pipefail
hostnamectl set-hostname '{{hostname}}' || true
mkdir -p /etc/cycle
cat > /etc/cycle/identity <<'IDENTITY'
server_name={{server_name}}
cycle_server_id={{cycle_server_id}}
hub_id={{hub_id}}
location={{location}}
model={{model}}
IDENTITY
"#;

/// Values for the template, each checked before use.
pub struct BootVars<'a> {
    pub hostname: &'a str,
    pub server_name: &'a str,
    pub cycle_server_id: &'a str,
    pub hub_id: &'a str,
    pub location: &'a str,
    pub model: &'a str,
}

#[derive(Debug, Clone)]
pub struct Boot {
    template: String,
    pub ssh_public_key: String,
    pub image: Option<String>,
    pub custom_image: Option<String>,
}

/// Checks a script against Crusoe's rules: bash shebang, ASCII, under 64 KiB.
pub fn check_script(script: &str) -> Result<(), String> {
    if !script.starts_with(SHEBANG) {
        return Err(format!("must start with {SHEBANG}"));
    }
    if !script.is_ascii() {
        return Err("must be ASCII".into());
    }
    if script.len() >= MAX_SCRIPT_BYTES {
        return Err(format!(
            "must be under {MAX_SCRIPT_BYTES} bytes, is {}",
            script.len()
        ));
    }
    Ok(())
}

/// The `{{name}}` placeholders in a template.
fn placeholders(template: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                found.push(after[..end].trim());
                rest = &after[end + 2..];
            }
            None => break,
        }
    }
    found
}

/// A value that can stand anywhere in a bash script, quoted or not, without changing its meaning.
fn safe_value(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 253
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// An OpenSSH ed25519 public key whose private half is never kept: CycleOS does not use SSH, but
/// Crusoe requires a key on every VM.
pub fn generated_ssh_key() -> String {
    let seed: [u8; 32] = rand::random();
    let public = ed25519_dalek::SigningKey::from_bytes(&seed)
        .verifying_key()
        .to_bytes();
    let mut blob = Vec::with_capacity(51);
    for part in [&b"ssh-ed25519"[..], &public[..]] {
        blob.extend_from_slice(&(part.len() as u32).to_be_bytes());
        blob.extend_from_slice(part);
    }
    format!(
        "ssh-ed25519 {} crusoe-ial-no-private-key",
        STANDARD.encode(blob)
    )
}

fn check_ssh_key(key: &str) -> Result<(), String> {
    let mut parts = key.split_whitespace();
    let (Some(kind), Some(blob)) = (parts.next(), parts.next()) else {
        return Err("is not an OpenSSH public key (\"<type> <base64> [comment]\")".into());
    };
    if !(kind.starts_with("ssh-") || kind.starts_with("ecdsa-") || kind.starts_with("sk-")) {
        return Err(format!("has an unknown key type {kind:?}"));
    }
    if STANDARD.decode(blob).is_err() || key.contains(['\n', '\r']) {
        return Err("is not a single-line OpenSSH public key".into());
    }
    Ok(())
}

impl Boot {
    /// Loads and checks the operator's boot settings; the error names the setting.
    pub fn new(settings: &BootSettings) -> Result<Self, (String, String)> {
        let template = match &settings.startup_script_template {
            None => DEFAULT_TEMPLATE.to_string(),
            Some(path) => std::fs::read_to_string(path).map_err(|e| {
                (
                    "bridge.boot.startup_script_template".to_string(),
                    format!("cannot read {}: {e}", path.display()),
                )
            })?,
        };
        let field = || "bridge.boot.startup_script_template".to_string();
        check_script(&template).map_err(|why| (field(), why))?;
        if let Some(unknown) = placeholders(&template)
            .into_iter()
            .find(|p| !PLACEHOLDERS.contains(p))
        {
            return Err((
                field(),
                format!(
                    "unknown placeholder {{{{{unknown}}}}}; known: {}",
                    PLACEHOLDERS.join(", ")
                ),
            ));
        }
        let ssh_public_key = match &settings.ssh_public_key {
            Some(key) => {
                check_ssh_key(key.trim())
                    .map_err(|why| ("bridge.boot.ssh_public_key".to_string(), why))?;
                key.trim().to_string()
            }
            None => generated_ssh_key(),
        };
        let custom_image = settings
            .custom_image
            .clone()
            .filter(|s| !s.trim().is_empty());
        if settings.image.trim().is_empty() && custom_image.is_none() {
            return Err((
                "bridge.boot.image".into(),
                "an image or a custom image is needed".into(),
            ));
        }
        Ok(Self {
            template,
            ssh_public_key,
            image: custom_image
                .is_none()
                .then(|| settings.image.trim().to_string()),
            custom_image,
        })
    }

    /// The startup script for one server. A value that could change the script's meaning is
    /// refused rather than escaped.
    pub fn render(&self, vars: &BootVars<'_>) -> Result<String, BridgeError> {
        let pairs = [
            ("hostname", vars.hostname, "/request/hostname"),
            ("server_name", vars.server_name, "/request/cycle/server_id"),
            (
                "cycle_server_id",
                vars.cycle_server_id,
                "/request/cycle/server_id",
            ),
            ("hub_id", vars.hub_id, "/auth/cycle/hub_id"),
            ("location", vars.location, "/request/location_id"),
            ("model", vars.model, "/request/model_id"),
        ];
        let mut script = self.template.clone();
        for (name, value, pointer) in pairs {
            if !safe_value(value) {
                return Err(BridgeError::invalid(
                    format!("{pointer} may hold only letters, digits, '.' and '-' (it goes into the boot script)"),
                    pointer,
                ));
            }
            script = script.replace(&format!("{{{{{name}}}}}", name = name), value);
        }
        check_script(&script).map_err(|why| {
            BridgeError::invalid(format!("the rendered startup script {why}"), "/request")
        })?;
        Ok(script)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(hostname: &'a str) -> BootVars<'a> {
        BootVars {
            hostname,
            server_name: "cycle-abc",
            cycle_server_id: "abc",
            hub_id: "hub1",
            location: "us-east1-a",
            model: "c1a.16x",
        }
    }

    #[test]
    fn the_default_template_renders_every_value() {
        let boot = Boot::new(&BootSettings::default()).unwrap();
        let script = boot.render(&vars("node-1.example")).unwrap();
        assert!(script.starts_with(SHEBANG));
        assert!(script.contains("set-hostname 'node-1.example'"));
        assert!(script.contains("model=c1a.16x"));
        assert!(!script.contains("{{"));
    }

    #[test]
    fn values_that_could_run_shell_are_refused() {
        let boot = Boot::new(&BootSettings::default()).unwrap();
        for hostile in ["x'; rm -rf / #", "$(reboot)", "a b", "a\nb", "`id`", ""] {
            let err = boot.render(&vars(hostile)).unwrap_err();
            assert!(
                matches!(err, BridgeError::InvalidInput { .. }),
                "{hostile:?}"
            );
        }
    }

    #[test]
    fn templates_are_checked_against_crusoes_rules_and_known_placeholders() {
        let dir = tempfile::tempdir().unwrap();
        let write = |text: &str| {
            let path = dir.path().join("t.sh");
            std::fs::write(&path, text).unwrap();
            BootSettings {
                startup_script_template: Some(path),
                ..Default::default()
            }
        };
        assert!(Boot::new(&write("#!/bin/sh\necho\n"))
            .unwrap_err()
            .1
            .contains("#!/bin/bash"));
        assert!(Boot::new(&write("#!/bin/bash\necho é\n"))
            .unwrap_err()
            .1
            .contains("ASCII"));
        assert!(Boot::new(&write(&format!(
            "#!/bin/bash\n{}",
            "#".repeat(MAX_SCRIPT_BYTES)
        )))
        .is_err());
        assert!(Boot::new(&write("#!/bin/bash\necho {{secret}}\n"))
            .unwrap_err()
            .1
            .contains("unknown placeholder"));
        assert!(Boot::new(&write("#!/bin/bash\necho {{hostname}}\n")).is_ok());
    }

    #[test]
    fn a_generated_key_is_a_valid_openssh_ed25519_key_and_differs_each_time() {
        let a = generated_ssh_key();
        assert!(check_ssh_key(&a).is_ok(), "{a}");
        let blob = STANDARD
            .decode(a.split_whitespace().nth(1).unwrap())
            .unwrap();
        assert_eq!(blob.len(), 4 + 11 + 4 + 32);
        assert_ne!(a, generated_ssh_key());
    }

    #[test]
    fn an_operator_key_is_checked() {
        let bad = BootSettings {
            ssh_public_key: Some("not a key".into()),
            ..Default::default()
        };
        assert_eq!(Boot::new(&bad).unwrap_err().0, "bridge.boot.ssh_public_key");
        let custom = BootSettings {
            custom_image: Some("e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b".into()),
            ..Default::default()
        };
        let boot = Boot::new(&custom).unwrap();
        assert!(
            boot.image.is_none() && boot.custom_image.is_some(),
            "a custom image wins"
        );
    }
}
