//! How a server boots (design decision 7 in ARCHITECTURE.md). Crusoe has no iPXE or ISO boot, so a server's own
//! boot disk becomes an iPXE-only disk holding Cycle's iPXE image: in the `ipxe` mode its first
//! boot, from the public image, runs a startup script that converts the disk and reboots; in the
//! `ipxe-image` mode it is created from a custom image of such a disk (`crusoe-ial image build`)
//! and runs no script; in the `script` mode it runs the operator's own template. Also the SSH key
//! Crusoe requires on every VM.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::settings::{BootMode, BootSettings};
use crate::core::error::CoreError;
use crate::setting_error::SettingError;

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

/// The conversion of a boot disk into an iPXE-only disk. `{{ipxe_*}}` and `{{finish*}}` are
/// filled from [`IpxeImage::script`], `{{server_name}}` per VM.
const IPXE_TEMPLATE: &str = include_str!("ipxe_boot.sh");

/// Values for the template, each checked before use.
pub struct BootVars<'a> {
    pub hostname: &'a str,
    pub server_name: &'a str,
    pub cycle_server_id: &'a str,
    pub hub_id: &'a str,
    pub location: &'a str,
    pub model: &'a str,
}

/// How the conversion writes Cycle's image: raw, or into an EFI system partition.
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

/// What the conversion does once the disk holds iPXE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// A server: boot into Cycle's iPXE.
    Reboot,
    /// An image builder: stop, so that the disk can be imaged.
    PowerOff,
}

impl Finish {
    fn name(self) -> &'static str {
        match self {
            Self::Reboot => "reboot",
            Self::PowerOff => "poweroff",
        }
    }

    /// Immediate, without unmounting: the root file system's disk is no longer Linux's.
    fn command(self) -> &'static str {
        match self {
            Self::Reboot => "echo b > /proc/sysrq-trigger",
            Self::PowerOff => "echo o > /proc/sysrq-trigger",
        }
    }
}

/// Cycle's iPXE image: where it is downloaded from, and its SHA-256 when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpxeImage {
    pub url: String,
    pub sha256: Option<String>,
    pub format: IpxeFormat,
}

pub const URL_FIELD: &str = "bridge.boot.ipxe_url";
pub const SHA_FIELD: &str = "bridge.boot.ipxe_sha256";

/// A checked `ipxe_sha256`: 64 hexadecimal digits, in lower case.
pub fn parse_sha256(hex: Option<&str>) -> Result<Option<String>, SettingError> {
    match hex.map(str::trim) {
        None | Some("") => Ok(None),
        Some(hex) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(Some(hex.to_ascii_lowercase()))
        }
        Some(_) => Err(SettingError::new(
            SHA_FIELD,
            "must be 64 hexadecimal digits",
        )),
    }
}

impl IpxeImage {
    /// The image of the settings; the error names the setting and what to put there.
    pub fn from_settings(settings: &BootSettings) -> Result<Self, SettingError> {
        let Some(raw) = settings
            .ipxe_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        else {
            return Err(SettingError::new(
                URL_FIELD,
                "boot mode ipxe needs the address of Cycle's iPXE image, an .iso or an .efi (Cycle publishes both, linked from its IAL guide: https://ipxe-images.platform-cdn.cycle.io/); set bridge.boot.ipxe_url or IAL_IPXE_URL, or set bridge.boot.mode = \"script\" with your own startup_script_template",
            ));
        };
        Self::new(raw, settings.ipxe_sha256.as_deref())
    }

    /// An image from its URL (`.iso` or `.efi`) and optional SHA-256.
    pub fn new(raw_url: &str, sha256: Option<&str>) -> Result<Self, SettingError> {
        let fail = |why: &str| Err(SettingError::new(URL_FIELD, why));
        let url = url::Url::parse(raw_url.trim())
            .map_err(|e| SettingError::new(URL_FIELD, format!("is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return fail("must be an http:// or https:// URL");
        }
        if !url.username().is_empty() || url.password().is_some() {
            return fail(
                "must not carry credentials: every server's startup script would show them",
            );
        }
        let text = url.as_str().to_string();
        // The script holds it between single quotes, and `{{` would read as a placeholder.
        if text.contains(['\'', '{', '}']) || !text.is_ascii() || text.len() > 2048 {
            return fail(
                "must be ASCII, at most 2048 characters, without a single quote or braces",
            );
        }
        let path = url.path().to_ascii_lowercase();
        let format = if path.ends_with(".iso") {
            IpxeFormat::Iso
        } else if path.ends_with(".efi") {
            IpxeFormat::Efi
        } else {
            return fail("must name an .iso (written to the boot disk as it is) or an .efi (put in an EFI system partition)");
        };
        Ok(Self {
            url: text,
            sha256: parse_sha256(sha256)?,
            format,
        })
    }

    /// The conversion for this image, `{{server_name}}` left to fill. The `ipxe` mode's servers
    /// and `image build`'s builder run this same script; only what it does at the end differs.
    pub fn script(&self, finish: Finish) -> String {
        IPXE_TEMPLATE
            .replace("{{ipxe_url}}", &self.url)
            .replace("{{ipxe_sha256}}", self.sha256.as_deref().unwrap_or(""))
            .replace("{{ipxe_format}}", self.format.name())
            .replace("{{finish}}", finish.name())
            .replace("{{finish_command}}", finish.command())
    }
}

/// What servers are created from.
#[derive(Debug, Clone)]
enum Source {
    /// The public image, with a startup script from this template (`ipxe` and `script` modes).
    PublicImage { image: String, template: String },
    /// The project's iPXE boot image for the location, made from a disk with this iPXE image's
    /// SHA-256 (`ipxe-image` mode).
    BootImage { sha256: String },
}

#[derive(Debug, Clone)]
pub struct Boot {
    source: Source,
    /// In the `ipxe` mode, the image every server's script downloads.
    ipxe: Option<IpxeImage>,
    pub ssh_public_key: String,
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

/// The SSH key of the settings, or a generated one.
pub fn ssh_public_key(settings: &BootSettings) -> Result<String, SettingError> {
    match &settings.ssh_public_key {
        Some(key) => {
            check_ssh_key(key.trim())
                .map_err(|why| SettingError::new("bridge.boot.ssh_public_key", why))?;
            Ok(key.trim().to_string())
        }
        None => Ok(generated_ssh_key()),
    }
}

const TEMPLATE_FIELD: &str = "bridge.boot.startup_script_template";

/// A template's own checks: Crusoe's rules and known placeholders only.
fn check_template(template: &str) -> Result<(), SettingError> {
    check_script(template).map_err(|why| SettingError::new(TEMPLATE_FIELD, why))?;
    match placeholders(template)
        .into_iter()
        .find(|p| !PLACEHOLDERS.contains(p))
    {
        Some(unknown) => Err(SettingError::new(
            TEMPLATE_FIELD,
            format!(
                "unknown placeholder {{{{{unknown}}}}}; known: {}",
                PLACEHOLDERS.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

impl Boot {
    /// Loads and checks the operator's boot settings; the error names the setting. Settings of
    /// another mode are refused rather than ignored.
    pub fn new(settings: &BootSettings) -> Result<Self, SettingError> {
        let refuse = |field: &str, used_by: &str| {
            Err(SettingError::new(
                field,
                format!("is used only by boot mode {used_by}"),
            ))
        };
        if settings.custom_image.is_some() {
            return Err(SettingError::new(
                "bridge.boot.custom_image",
                "is gone: a custom image belongs to one project, so one id cannot serve every tenant. Use bridge.boot.mode = \"ipxe-image\", which finds each project's iPXE boot image by name (made by `crusoe-ial image build`)",
            ));
        }
        let public = || {
            let image = settings.image.trim();
            if image.is_empty() {
                Err(SettingError::new(
                    "bridge.boot.image",
                    "a public image is needed",
                ))
            } else {
                Ok(image.to_string())
            }
        };
        let (source, ipxe) = match settings.mode {
            BootMode::Ipxe => {
                if settings.startup_script_template.is_some() {
                    return refuse(TEMPLATE_FIELD, "script");
                }
                let ipxe = IpxeImage::from_settings(settings)?;
                let template = ipxe.script(Finish::Reboot);
                check_template(&template)?;
                let source = Source::PublicImage {
                    image: public()?,
                    template,
                };
                (source, Some(ipxe))
            }
            BootMode::IpxeImage => {
                if settings.startup_script_template.is_some() {
                    return refuse(TEMPLATE_FIELD, "script");
                }
                let sha256 = parse_sha256(settings.ipxe_sha256.as_deref())?.ok_or_else(|| {
                    SettingError::new(
                        SHA_FIELD,
                        "boot mode ipxe-image needs the SHA-256 of Cycle's iPXE image: the boot images are found by it (crusoe-ial-ipxe-<first 12 hex>-<location>); `crusoe-ial image build` prints it",
                    )
                })?;
                if let Some(url) = settings
                    .ipxe_url
                    .as_deref()
                    .filter(|u| !u.trim().is_empty())
                {
                    IpxeImage::new(url, Some(&sha256))?;
                }
                (Source::BootImage { sha256 }, None)
            }
            BootMode::Script => {
                if settings.ipxe_url.is_some() {
                    return refuse(URL_FIELD, "ipxe or ipxe-image");
                }
                if settings.ipxe_sha256.is_some() {
                    return refuse(SHA_FIELD, "ipxe or ipxe-image");
                }
                let Some(path) = &settings.startup_script_template else {
                    return Err(SettingError::new(
                        TEMPLATE_FIELD,
                        "boot mode script needs the path of your startup-script template (or use boot mode ipxe)",
                    ));
                };
                let template = std::fs::read_to_string(path).map_err(|e| {
                    SettingError::new(
                        TEMPLATE_FIELD,
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                check_template(&template)?;
                let source = Source::PublicImage {
                    image: public()?,
                    template,
                };
                (source, None)
            }
        };
        Ok(Self {
            source,
            ipxe,
            ssh_public_key: ssh_public_key(settings)?,
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

    /// The public image servers are created from; `None` when they boot a custom image.
    pub fn public_image(&self) -> Option<&str> {
        match &self.source {
            Source::PublicImage { image, .. } => Some(image),
            Source::BootImage { .. } => None,
        }
    }

    /// In the `ipxe-image` mode, the SHA-256 that names the boot images.
    pub fn boot_image_sha256(&self) -> Option<&str> {
        match &self.source {
            Source::BootImage { sha256 } => Some(sha256),
            Source::PublicImage { .. } => None,
        }
    }

    /// The startup script for one server (none when it boots a custom image). A value that could
    /// change the script's meaning is refused rather than escaped.
    pub fn render(&self, vars: &BootVars<'_>) -> Result<Option<String>, CoreError> {
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
        for (_, value, pointer) in pairs {
            if !safe_value(value) {
                return Err(CoreError::invalid(
                    format!("{pointer} may hold only letters, digits, '.' and '-' (it goes into the boot script)"),
                    pointer,
                ));
            }
        }
        let Source::PublicImage { template, .. } = &self.source else {
            return Ok(None);
        };
        let mut script = template.clone();
        for (name, value, _) in pairs {
            script = script.replace(&format!("{{{{{name}}}}}"), value);
        }
        check_script(&script).map_err(|why| {
            CoreError::invalid(format!("the rendered startup script {why}"), "/request")
        })?;
        Ok(Some(script))
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
        let script = boot.render(&vars("node-1.example")).unwrap().unwrap();
        assert!(script.starts_with(SHEBANG));
        assert!(script.contains("readonly IPXE_URL='https://images.example/cycle/ipxe.EFI?v=2'"));
        assert!(script.contains(&format!("readonly IPXE_SHA256='{}'", SHA.to_lowercase())));
        assert!(script.contains("readonly IPXE_FORMAT='efi'"));
        assert!(script.contains("readonly SERVER='cycle-abc'"));
        assert!(!script.contains("{{"), "every placeholder filled");
        assert!(boot.warning().is_none());

        let iso = Boot::new(&ipxe("http://10.0.0.5/ipxe.iso", None)).unwrap();
        let script = iso.render(&vars("n")).unwrap().unwrap();
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
        assert_eq!(missing.key, "bridge.boot.ipxe_url");
        assert!(
            missing.reason.contains("IAL_IPXE_URL") && missing.reason.contains(".iso or an .efi")
        );
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
            assert_eq!(err.key, "bridge.boot.ipxe_url", "{url}");
            assert!(err.reason.contains(why), "{url}: {}", err.reason);
        }
        let err = Boot::new(&ipxe("https://host/ipxe.efi", Some("abc"))).unwrap_err();
        assert_eq!(err.key, "bridge.boot.ipxe_sha256");
    }

    #[test]
    fn settings_of_the_other_mode_are_refused_rather_than_ignored() {
        let mut both = ipxe("https://host/ipxe.efi", None);
        both.startup_script_template = Some("/etc/boot.sh".into());
        assert_eq!(
            Boot::new(&both).unwrap_err().key,
            "bridge.boot.startup_script_template"
        );
        let (_dir, mut script) = script_mode("#!/bin/bash\necho {{hostname}}\n");
        script.ipxe_url = Some("https://host/ipxe.efi".into());
        assert_eq!(Boot::new(&script).unwrap_err().key, "bridge.boot.ipxe_url");
        let no_template = BootSettings {
            mode: BootMode::Script,
            ..Default::default()
        };
        assert!(Boot::new(&no_template)
            .unwrap_err()
            .reason
            .contains("needs the path"));
    }

    #[test]
    fn an_operator_template_renders_every_value() {
        let (_dir, settings) = script_mode(
            "#!/bin/bash\nhostnamectl set-hostname '{{hostname}}'\necho {{server_name}} {{cycle_server_id}} {{hub_id}} {{location}} {{model}}\n",
        );
        let boot = Boot::new(&settings).unwrap();
        assert!(boot.ipxe.is_none());
        assert_eq!(boot.public_image(), Some("ubuntu22.04:latest"));
        let script = boot.render(&vars("node-1.example")).unwrap().unwrap();
        assert!(script.contains("set-hostname 'node-1.example'"));
        assert!(script.contains("echo cycle-abc abc hub1 us-east1-a c1a.16x"));
    }

    #[test]
    fn values_that_could_run_shell_are_refused() {
        let (_dir, settings) = script_mode("#!/bin/bash\necho {{hostname}}\n");
        let boot = Boot::new(&settings).unwrap();
        for hostile in ["x'; rm -rf / #", "$(reboot)", "a b", "a\nb", "`id`", ""] {
            let err = boot.render(&vars(hostile)).unwrap_err();
            assert!(matches!(err, CoreError::InvalidInput { .. }), "{hostile:?}");
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
            .reason
            .contains("#!/bin/bash"));
        assert!(load("#!/bin/bash\necho \u{e9}\n")
            .unwrap_err()
            .reason
            .contains("ASCII"));
        assert!(load(&format!("#!/bin/bash\n{}", "#".repeat(MAX_SCRIPT_BYTES))).is_err());
        assert!(load("#!/bin/bash\necho {{secret}}\n")
            .unwrap_err()
            .reason
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
    fn an_operator_key_is_checked_and_the_old_custom_image_setting_is_refused() {
        let mut bad = ipxe("https://host/ipxe.efi", None);
        bad.ssh_public_key = Some("not a key".into());
        assert_eq!(
            Boot::new(&bad).unwrap_err().key,
            "bridge.boot.ssh_public_key"
        );
        let mut custom = ipxe("https://host/ipxe.efi", None);
        custom.custom_image = Some("e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b".into());
        let err = Boot::new(&custom).unwrap_err();
        assert_eq!(err.key, "bridge.boot.custom_image");
        assert!(err.reason.contains("ipxe-image"), "{}", err.reason);
    }

    #[test]
    fn the_ipxe_image_mode_boots_the_projects_image_with_no_script_and_needs_its_hash() {
        let settings = BootSettings {
            mode: BootMode::IpxeImage,
            ipxe_sha256: Some(SHA.into()),
            ..Default::default()
        };
        let boot = Boot::new(&settings).unwrap();
        assert_eq!(boot.public_image(), None);
        assert_eq!(boot.boot_image_sha256(), Some(SHA.to_lowercase().as_str()));
        assert_eq!(boot.render(&vars("node-1")).unwrap(), None);
        assert!(
            boot.render(&vars("x; reboot")).is_err(),
            "values are checked in every mode"
        );
        let no_hash = BootSettings {
            mode: BootMode::IpxeImage,
            ipxe_url: Some("https://host/ipxe.efi".into()),
            ..Default::default()
        };
        let err = Boot::new(&no_hash).unwrap_err();
        assert_eq!(err.key, "bridge.boot.ipxe_sha256");
        assert!(err.reason.contains("image build"), "{}", err.reason);
    }

    #[test]
    fn a_builder_runs_the_servers_conversion_and_only_its_end_differs() {
        let image = IpxeImage::new("https://host/ipxe.efi", Some(SHA)).unwrap();
        let (server, builder) = (image.script(Finish::Reboot), image.script(Finish::PowerOff));
        let differing: Vec<(&str, &str)> = server
            .lines()
            .zip(builder.lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(
            differing,
            vec![
                (
                    "readonly FINISH='reboot'            # reboot: a server; poweroff: an image builder",
                    "readonly FINISH='poweroff'            # reboot: a server; poweroff: an image builder"
                ),
                ("echo b > /proc/sysrq-trigger", "echo o > /proc/sysrq-trigger"),
            ]
        );
        assert_eq!(server.lines().count(), builder.lines().count());
    }
}
