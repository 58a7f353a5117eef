//! How a server boots: image or custom image, the SSH key Crusoe requires, and the bash
//! `startup_script`. Crusoe has no iPXE or ISO boot, so in the `ipxe` mode the script turns the
//! VM's boot disk into an iPXE-only disk holding Cycle's iPXE image (DESIGN.md, decision 7); in the
//! `script` mode it is the operator's own template.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::error::BridgeError;
use super::settings::{BootMode, BootSettings};

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

/// The startup script of the `ipxe` mode (DESIGN.md, decision 7). `{{ipxe_*}}` are filled once from
/// the operator's settings, `{{server_name}}` per server.
pub const IPXE_TEMPLATE: &str = include_str!("ipxe_boot.sh");

/// Values for the template, each checked before use.
pub struct BootVars<'a> {
    pub hostname: &'a str,
    pub server_name: &'a str,
    pub cycle_server_id: &'a str,
    pub hub_id: &'a str,
    pub location: &'a str,
    pub model: &'a str,
}

/// How the `ipxe` mode's script writes Cycle's image: raw, or into an EFI system partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpxeFormat {
    Iso,
    Efi,
}

impl IpxeFormat {
    pub fn name(self) -> &'static str {
        match self {
            Self::Iso => "iso",
            Self::Efi => "efi",
        }
    }
}

/// Cycle's iPXE image as the operator configured it, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpxeImage {
    pub url: String,
    pub sha256: Option<String>,
    pub format: IpxeFormat,
}

const URL_FIELD: &str = "bridge.boot.ipxe_url";
const SHA_FIELD: &str = "bridge.boot.ipxe_sha256";

impl IpxeImage {
    /// The image of the settings; the error names the setting and what to put there.
    pub fn from_settings(settings: &BootSettings) -> Result<Self, (String, String)> {
        let fail = |field: &str, why: String| Err((field.to_string(), why));
        let Some(raw) = settings
            .ipxe_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        else {
            return fail(
                URL_FIELD,
                "boot mode ipxe needs the address of Cycle's iPXE image, an .iso or an .efi (Cycle publishes both, linked from its IAL guide: https://ipxe-images.platform-cdn.cycle.io/); set bridge.boot.ipxe_url or IAL_IPXE_URL, or set bridge.boot.mode = \"script\" with your own startup_script_template".into(),
            );
        };
        let url = url::Url::parse(raw)
            .map_err(|e| (URL_FIELD.to_string(), format!("is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return fail(URL_FIELD, "must be an http:// or https:// URL".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return fail(
                URL_FIELD,
                "must not carry credentials: every server's startup script would show them".into(),
            );
        }
        let text = url.as_str().to_string();
        // The script holds it between single quotes; nothing else can end the quoting.
        // The script holds it between single quotes, and `{{` would read as a placeholder.
        if text.contains(['\'', '{', '}']) || !text.is_ascii() || text.len() > 2048 {
            return fail(
                URL_FIELD,
                "must be ASCII, at most 2048 characters, without a single quote or braces".into(),
            );
        }
        let path = url.path().to_ascii_lowercase();
        let format = if path.ends_with(".iso") {
            IpxeFormat::Iso
        } else if path.ends_with(".efi") {
            IpxeFormat::Efi
        } else {
            return fail(
                URL_FIELD,
                "must name an .iso (written to the boot disk as it is) or an .efi (put in an EFI system partition)".into(),
            );
        };
        let sha256 = match settings.ipxe_sha256.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(hex) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(hex.to_ascii_lowercase())
            }
            Some(_) => return fail(SHA_FIELD, "must be 64 hexadecimal digits".into()),
        };
        Ok(Self {
            url: text,
            sha256,
            format,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Boot {
    /// In the `ipxe` mode, the image every server's script downloads.
    ipxe: Option<IpxeImage>,
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
        let field = || "bridge.boot.startup_script_template".to_string();
        let (template, ipxe) = match (settings.mode, &settings.startup_script_template) {
            (BootMode::Ipxe, Some(_)) => {
                return Err((
                    field(),
                    "is used only by boot mode script; boot mode ipxe renders its own script"
                        .into(),
                ))
            }
            (BootMode::Ipxe, None) => {
                let image = IpxeImage::from_settings(settings)?;
                let template = IPXE_TEMPLATE
                    .replace("{{ipxe_url}}", &image.url)
                    .replace("{{ipxe_sha256}}", image.sha256.as_deref().unwrap_or(""))
                    .replace("{{ipxe_format}}", image.format.name());
                (template, Some(image))
            }
            (BootMode::Script, None) => {
                return Err((
                    field(),
                    "boot mode script needs the path of your startup-script template (or use boot mode ipxe)".into(),
                ))
            }
            (BootMode::Script, Some(path)) => {
                if settings.ipxe_url.is_some() || settings.ipxe_sha256.is_some() {
                    return Err((
                        URL_FIELD.into(),
                        "is used only by boot mode ipxe; boot mode script runs your template"
                            .into(),
                    ));
                }
                let template = std::fs::read_to_string(path).map_err(|e| {
                    (field(), format!("cannot read {}: {e}", path.display()))
                })?;
                (template, None)
            }
        };
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
            ipxe,
            template,
            ssh_public_key,
            image: custom_image
                .is_none()
                .then(|| settings.image.trim().to_string()),
            custom_image,
        })
    }

    /// What an operator should hear at start-up about these settings.
    pub fn warning(&self) -> Option<String> {
        let image = self.ipxe.as_ref()?;
        (image.url.starts_with("http://") && image.sha256.is_none()).then(|| {
            format!(
                "{URL_FIELD} is plain http and {SHA_FIELD} is not set: anyone on the path between a server and {} can replace the image it boots",
                image.url
            )
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

    const SHA: &str = "67C7F1F8E062968209CA055283CA782F21FAF6A18F55DD19848601BBAF8ED7AA";

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

    fn ipxe(url: &str, sha: Option<&str>) -> BootSettings {
        BootSettings {
            ipxe_url: Some(url.into()),
            ipxe_sha256: sha.map(str::to_string),
            ..Default::default()
        }
    }

    fn script_mode(template: &str) -> (tempfile::TempDir, BootSettings) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sh");
        std::fs::write(&path, template).unwrap();
        let settings = BootSettings {
            mode: BootMode::Script,
            startup_script_template: Some(path),
            ..Default::default()
        };
        (dir, settings)
    }

    #[test]
    fn the_ipxe_script_carries_the_image_and_the_server_and_nothing_else_to_fill() {
        let boot = Boot::new(&ipxe(
            "https://images.example/cycle/ipxe.EFI?v=2",
            Some(SHA),
        ))
        .unwrap();
        let script = boot.render(&vars("node-1.example")).unwrap();
        assert!(script.starts_with(SHEBANG));
        assert!(script.contains("readonly IPXE_URL='https://images.example/cycle/ipxe.EFI?v=2'"));
        assert!(script.contains(&format!("readonly IPXE_SHA256='{}'", SHA.to_lowercase())));
        assert!(script.contains("readonly IPXE_FORMAT='efi'"));
        assert!(script.contains("readonly SERVER='cycle-abc'"));
        assert!(!script.contains("{{"), "every placeholder filled");
        assert!(boot.warning().is_none());

        let iso = Boot::new(&ipxe("http://10.0.0.5/ipxe.iso", None)).unwrap();
        let script = iso.render(&vars("n")).unwrap();
        assert!(script.contains("readonly IPXE_FORMAT='iso'"));
        assert!(script.contains("readonly IPXE_SHA256=''"));
        assert!(
            iso.warning().unwrap().contains("plain http"),
            "an unpinned plain-http image is worth a warning"
        );
    }

    #[test]
    fn the_ipxe_mode_names_the_setting_when_its_image_is_missing_or_wrong() {
        let missing = Boot::new(&BootSettings::default()).unwrap_err();
        assert_eq!(missing.0, "bridge.boot.ipxe_url");
        assert!(missing.1.contains("IAL_IPXE_URL") && missing.1.contains(".iso or an .efi"));
        for (url, why) in [
            ("ipxe.efi", "not a URL"),
            ("ftp://host/ipxe.efi", "http"),
            ("https://user:pw@host/ipxe.efi", "credentials"),
            ("https://host/ipxe.img", ".iso"),
            ("https://host/ipxe", ".iso"),
            ("https://host/x'$(reboot)'.efi?a='", "single quote"),
            ("https://host/ipxe.efi?x={{hostname}}", "braces"),
        ] {
            let err = Boot::new(&ipxe(url, None)).unwrap_err();
            assert_eq!(err.0, "bridge.boot.ipxe_url", "{url}");
            assert!(err.1.contains(why), "{url}: {}", err.1);
        }
        let err = Boot::new(&ipxe("https://host/ipxe.efi", Some("abc"))).unwrap_err();
        assert_eq!(err.0, "bridge.boot.ipxe_sha256");
    }

    #[test]
    fn settings_of_the_other_mode_are_refused_rather_than_ignored() {
        let mut both = ipxe("https://host/ipxe.efi", None);
        both.startup_script_template = Some("/etc/boot.sh".into());
        assert_eq!(
            Boot::new(&both).unwrap_err().0,
            "bridge.boot.startup_script_template"
        );
        let (_dir, mut script) = script_mode("#!/bin/bash\necho {{hostname}}\n");
        script.ipxe_url = Some("https://host/ipxe.efi".into());
        assert_eq!(Boot::new(&script).unwrap_err().0, "bridge.boot.ipxe_url");
        let no_template = BootSettings {
            mode: BootMode::Script,
            ..Default::default()
        };
        assert!(Boot::new(&no_template)
            .unwrap_err()
            .1
            .contains("needs the path"));
    }

    #[test]
    fn an_operator_template_renders_every_value() {
        let (_dir, settings) = script_mode(
            "#!/bin/bash\nhostnamectl set-hostname '{{hostname}}'\necho {{server_name}} {{cycle_server_id}} {{hub_id}} {{location}} {{model}}\n",
        );
        let boot = Boot::new(&settings).unwrap();
        assert!(boot.ipxe.is_none());
        let script = boot.render(&vars("node-1.example")).unwrap();
        assert!(script.contains("set-hostname 'node-1.example'"));
        assert!(script.contains("echo cycle-abc abc hub1 us-east1-a c1a.16x"));
    }

    #[test]
    fn values_that_could_run_shell_are_refused() {
        let (_dir, settings) = script_mode("#!/bin/bash\necho {{hostname}}\n");
        let boot = Boot::new(&settings).unwrap();
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
        let load = |text: &str| {
            let (_dir, settings) = script_mode(text);
            Boot::new(&settings).map(drop)
        };
        assert!(load("#!/bin/sh\necho\n")
            .unwrap_err()
            .1
            .contains("#!/bin/bash"));
        assert!(load("#!/bin/bash\necho \u{e9}\n")
            .unwrap_err()
            .1
            .contains("ASCII"));
        assert!(load(&format!("#!/bin/bash\n{}", "#".repeat(MAX_SCRIPT_BYTES))).is_err());
        assert!(load("#!/bin/bash\necho {{secret}}\n")
            .unwrap_err()
            .1
            .contains("unknown placeholder"));
        assert!(load("#!/bin/bash\necho {{hostname}}\n").is_ok());
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
        let mut bad = ipxe("https://host/ipxe.efi", None);
        bad.ssh_public_key = Some("not a key".into());
        assert_eq!(Boot::new(&bad).unwrap_err().0, "bridge.boot.ssh_public_key");
        let mut custom = ipxe("https://host/ipxe.efi", None);
        custom.custom_image = Some("e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b".into());
        let boot = Boot::new(&custom).unwrap();
        assert!(
            boot.image.is_none() && boot.custom_image.is_some(),
            "a custom image wins"
        );
    }
}
