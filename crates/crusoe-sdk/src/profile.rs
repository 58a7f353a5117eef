//! Crusoe's own configuration file, `~/.crusoe/config`, as Crusoe's CLI writes it: one TOML table
//! per profile, each holding a key pair, a default project and an API endpoint.
//!
//! ```toml
//! [default]
//! access_key_id = "AKIA..."
//! secret_key = "..."
//! default_project = "ab4a6b00-aa5f-408e-a9fb-ac6de5eb45ab"
//!
//! [staging]
//! access_key_id = "..."
//! secret_key = "..."
//! api_endpoint = "https://api.staging.example/v1alpha5"
//! ```
//!
//! Reading it follows what a user of Crusoe's tools expects: no file is no profile (nothing was
//! configured), but a profile asked for by name must be there. Keys this SDK does not use, which
//! Crusoe's tools keep in the same tables, are ignored.
//!
//! ```
//! use crusoe_sdk::profile::Profile;
//! use secrecy::ExposeSecret;
//!
//! let dir = std::env::temp_dir().join(format!("crusoe-profile-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("config");
//! std::fs::write(
//!     &path,
//!     "[default]\naccess_key_id = \"KEY\"\nsecret_key = \"c2VjcmV0\"\noutput = \"json\"\n",
//! )
//! .unwrap();
//!
//! // The default profile, as when none is named.
//! let profile = Profile::load(&path, None).unwrap().expect("the file has [default]");
//! assert_eq!(profile.access_key_id.as_deref(), Some("KEY"));
//! assert_eq!(profile.secret_key.unwrap().expose_secret(), "c2VjcmV0");
//!
//! // A profile named explicitly must exist; the error says which and where, never a secret.
//! let err = Profile::load(&path, Some("prod")).unwrap_err();
//! assert!(err.to_string().contains("[prod]"));
//!
//! // No file at all is no profile, unless one was named.
//! assert!(Profile::load(&dir.join("absent"), None).unwrap().is_none());
//! assert!(Profile::load(&dir.join("absent"), Some("default")).is_err());
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secrecy::SecretString;

/// The profile read when none is named.
pub const DEFAULT_PROFILE: &str = "default";

/// One profile of Crusoe's config file. Every field is optional: a profile may hold only a
/// project, say, with the key pair given some other way.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub access_key_id: Option<String>,
    /// Debug prints it redacted; no error of this module holds it.
    pub secret_key: Option<SecretString>,
    pub default_project: Option<String>,
    pub api_endpoint: Option<String>,
}

/// Why a profile could not be read. Names the file and profile, never a value from it.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read Crusoe's config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not TOML; `reason` is the parser's one-line summary, which quotes no value.
    #[error("{} line {line}: {reason}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("profile [{name}] not found in {}", path.display())]
    NotFound { path: PathBuf, name: String },
    #[error("{key} in {} [{name}] must be a string", path.display())]
    NotText {
        path: PathBuf,
        name: String,
        key: &'static str,
    },
    #[error("[{name}] in {} is not a table", path.display())]
    NotTable { path: PathBuf, name: String },
}

impl Profile {
    /// Where Crusoe's tools keep the file: `$HOME/.crusoe/config`, or `None` without a home.
    pub fn default_path() -> Option<PathBuf> {
        std::env::var_os("HOME").map(|home| Self::path_in(Path::new(&home)))
    }

    /// The file's place in the home directory `home`.
    pub fn path_in(home: &Path) -> PathBuf {
        home.join(".crusoe").join("config")
    }

    /// Reads profile `name` of the file at `path`, or [`DEFAULT_PROFILE`] when `name` is `None`.
    ///
    /// `Ok(None)` when nothing is configured: no file, or no default profile in it. A profile
    /// named explicitly must be found, so then a missing file or profile is an error.
    pub fn load(path: &Path, name: Option<&str>) -> Result<Option<Profile>, ProfileError> {
        let explicit = name.is_some();
        let name = name.unwrap_or(DEFAULT_PROFILE);
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(None),
            Err(source) => {
                return Err(ProfileError::Read {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        let mut profiles: BTreeMap<String, toml::Value> =
            toml::from_str(&text).map_err(|e| ProfileError::Parse {
                path: path.to_owned(),
                line: e
                    .span()
                    .map_or(1, |span| text[..span.start].matches('\n').count() + 1),
                // toml's full display quotes the offending line, which may be a secret's.
                reason: e.message().lines().next().unwrap_or("not TOML").to_string(),
            })?;
        let table = match profiles.remove(name) {
            Some(toml::Value::Table(table)) => table,
            Some(_) => {
                return Err(ProfileError::NotTable {
                    path: path.to_owned(),
                    name: name.to_string(),
                })
            }
            None if explicit => {
                return Err(ProfileError::NotFound {
                    path: path.to_owned(),
                    name: name.to_string(),
                })
            }
            None => return Ok(None),
        };
        // Read by hand rather than through serde, whose type errors would quote the value.
        let text = |key: &'static str| match table.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ProfileError::NotText {
                path: path.to_owned(),
                name: name.to_string(),
                key,
            }),
        };
        Ok(Some(Profile {
            access_key_id: text("access_key_id")?,
            secret_key: text("secret_key")?.map(SecretString::from),
            default_project: text("default_project")?,
            api_endpoint: text("api_endpoint")?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    const SECRET: &str = "HrbZ3VTUb2YNAq53Md1EsA";

    /// A directory of its own for one test, removed when dropped (the SDK has no tempfile).
    struct Dir(PathBuf);

    impl Dir {
        fn new() -> Self {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir =
                std::env::temp_dir().join(format!("crusoe-sdk-profile-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn file(text: &str) -> (Dir, PathBuf) {
        let dir = Dir::new();
        let path = dir.path().join("config");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn reads_the_default_or_the_named_profile_and_ignores_other_keys() {
        let (_dir, path) = file(&format!(
            "[default]\naccess_key_id = \"A\"\nsecret_key = \"{SECRET}\"\nformat = \"table\"\n\
             [staging]\naccess_key_id = \"B\"\ndefault_project = \"p\"\napi_endpoint = \"https://x/v1alpha5\"\n"
        ));
        let default = Profile::load(&path, None).unwrap().unwrap();
        assert_eq!(default.access_key_id.as_deref(), Some("A"));
        assert_eq!(default.secret_key.unwrap().expose_secret(), SECRET);
        assert!(default.default_project.is_none());
        let staging = Profile::load(&path, Some("staging")).unwrap().unwrap();
        assert_eq!(staging.access_key_id.as_deref(), Some("B"));
        assert!(staging.secret_key.is_none());
        assert_eq!(staging.default_project.as_deref(), Some("p"));
        assert_eq!(staging.api_endpoint.as_deref(), Some("https://x/v1alpha5"));
    }

    #[test]
    fn nothing_configured_is_no_profile_but_a_named_one_must_exist() {
        let dir = Dir::new();
        let absent = dir.path().join("config");
        assert!(Profile::load(&absent, None).unwrap().is_none());
        assert!(matches!(
            Profile::load(&absent, Some("default")),
            Err(ProfileError::Read { .. })
        ));
        let (_dir, path) = file("[other]\naccess_key_id = \"A\"\n");
        assert!(Profile::load(&path, None).unwrap().is_none());
        let err = Profile::load(&path, Some("prod")).unwrap_err();
        assert!(matches!(err, ProfileError::NotFound { .. }));
        assert!(err.to_string().contains("[prod]"), "{err}");
    }

    #[test]
    fn the_secret_is_in_no_debug_display_or_error() {
        let (_dir, path) = file(&format!("[default]\nsecret_key = \"{SECRET}\"\n"));
        let profile = Profile::load(&path, None).unwrap().unwrap();
        assert!(!format!("{profile:?}").contains(SECRET));

        let broken = [
            format!("[default]\nsecret_key = \"{SECRET}\nx = 1\n"),
            format!("[default]\nsecret_key = {SECRET}\n"),
            format!("[default]\nsecret_key = [\"{SECRET}\"]\n"),
            format!("default = \"{SECRET}\"\n"),
        ];
        for text in broken {
            let (_dir, path) = file(&text);
            let err = Profile::load(&path, None).unwrap_err();
            for shown in [err.to_string(), format!("{err:?}")] {
                assert!(!shown.contains(SECRET), "{shown}");
                assert_eq!(shown.lines().count(), 1, "{shown}");
            }
        }
    }

    #[test]
    fn a_parse_error_names_the_file_and_line() {
        let (_dir, path) = file("[default]\naccess_key_id = \"A\"\nsecret_key = oops\n");
        let err = Profile::load(&path, None).unwrap_err();
        assert!(matches!(err, ProfileError::Parse { line: 3, .. }), "{err}");
        assert!(err.to_string().contains(&path.display().to_string()));
    }

    #[test]
    fn the_default_path_is_in_the_home_directory() {
        assert_eq!(
            Profile::path_in(Path::new("/home/u")),
            PathBuf::from("/home/u/.crusoe/config")
        );
    }
}
