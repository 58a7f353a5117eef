//! Where settings come from, as figment layers: flags over the environment over our file over
//! the Crusoe profile these name. Each layer is a provider named for its source, so figment's
//! metadata of any value, or of any error, tells where it came from.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::backends::crusoe::config::{profile_values, Profile, ProfileError, DEFAULT_PROFILE};
use figment::error::Kind;
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Provider};

use super::env::{self, ENV_VARS};
use super::error::{place, ConfigError, Origin, SettingError};
use super::flags::{self, ServeFlags, FLAGS};
use super::schema::Raw;

/// Where configuration is read from. Tests pass their own environment and home directory.
#[derive(Default, Clone)]
pub struct Sources {
    /// `--config`.
    pub file: Option<PathBuf>,
    pub env: HashMap<String, String>,
    /// Where Crusoe's config file is looked for, unless a setting names it.
    pub home: Option<PathBuf>,
    /// `serve`'s flags typed on the command line, which win over everything.
    pub flags: ServeFlags,
}

impl Sources {
    /// The process's own environment and home directory.
    pub fn from_process(file: Option<PathBuf>, flags: ServeFlags) -> Self {
        Self {
            file,
            env: std::env::vars().collect(),
            home: std::env::var_os("HOME").map(PathBuf::from),
            flags,
        }
    }
}

// The environment holds secrets: only the names of the variables are shown.
impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources")
            .field("file", &self.file)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("home", &self.home)
            .field("flags", &self.flags)
            .finish()
    }
}

// The layers' names, by which a value's metadata is traced back to its source.
const FLAG_LAYER: &str = "command line";
const ENV_LAYER: &str = "environment";
const FILE_LAYER: &str = "config file";
const PROFILE_LAYER: &str = "Crusoe profile";

/// One source's settings as a figment provider.
struct Layer {
    name: &'static str,
    settings: Dict,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.name)
    }

    fn data(&self) -> Result<Map<figment::Profile, Dict>, figment::Error> {
        Ok(figment::Profile::Default.collect(self.settings.clone()))
    }
}

/// Every layer merged, and what is needed to name the source of any of its values.
pub(super) struct Layered {
    figment: Figment,
    file: Option<PathBuf>,
    /// The Crusoe profile read: its file and name.
    profile: Option<(PathBuf, String)>,
}

impl Layered {
    pub fn read(sources: &Sources) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = &sources.file {
            figment = figment.merge(Layer {
                name: FILE_LAYER,
                settings: read_file(path)?,
            });
        }
        let figment = figment
            .merge(Layer {
                name: ENV_LAYER,
                settings: env::settings(&sources.env)?,
            })
            .merge(Layer {
                name: FLAG_LAYER,
                settings: flag_settings(&sources.flags),
            });
        let mut layered = Layered {
            figment,
            file: sources.file.clone(),
            profile: None,
        };

        // Which profile, and in which file, are settings of the layers above it.
        let crusoe = layered.extract()?.crusoe;
        let Some(path) = crusoe
            .config_file
            .or_else(|| sources.home.as_deref().map(Profile::path_in))
        else {
            return Ok(layered);
        };
        let name = crusoe.profile;
        match Profile::load(&path, name.as_deref()) {
            Ok(None) => {}
            Ok(Some(profile)) => {
                // Joined, not merged: every layer above wins over it.
                layered.figment = layered.figment.join(Layer {
                    name: PROFILE_LAYER,
                    settings: profile_settings(&profile),
                });
                let name = name.unwrap_or_else(|| DEFAULT_PROFILE.to_string());
                layered.profile = Some((path, name));
            }
            Err(e) => return Err(profile_error(e, &layered.origins())),
        }
        Ok(layered)
    }

    /// The settings, typed; an error names the value's source through figment's metadata.
    pub fn extract(&self) -> Result<Raw, ConfigError> {
        self.figment.extract().map_err(|e| self.error(e))
    }

    /// Where each value came from.
    pub fn origins(&self) -> Origins {
        let mut origins = BTreeMap::new();
        if let Ok(data) = Provider::data(&self.figment) {
            if let Some(settings) = data.get(&figment::Profile::Default) {
                self.trace(settings, "", &mut origins);
            }
        }
        Origins(origins)
    }

    fn trace(&self, settings: &Dict, prefix: &str, origins: &mut BTreeMap<String, Origin>) {
        for (name, value) in settings {
            let key = match prefix {
                "" => name.clone(),
                _ => format!("{prefix}.{name}"),
            };
            match value {
                Value::Dict(_, inner) if !inner.is_empty() => self.trace(inner, &key, origins),
                _ => {
                    if let Some(metadata) = self.figment.get_metadata(value.tag()) {
                        let origin = self.origin(metadata, &key);
                        origins.insert(key, origin);
                    }
                }
            }
        }
    }

    fn origin(&self, metadata: &Metadata, key: &str) -> Origin {
        let found = match metadata.name.as_ref() {
            FLAG_LAYER => flags::flag_for(key).map(Origin::Flag),
            ENV_LAYER => env::var_for(key).map(|v| Origin::Env(v.name)),
            FILE_LAYER => self.file.clone().map(Origin::File),
            PROFILE_LAYER => self
                .profile
                .clone()
                .map(|(path, name)| Origin::Profile { path, name }),
            _ => None,
        };
        found.unwrap_or(Origin::Default)
    }

    fn error(&self, e: figment::Error) -> ConfigError {
        // figment chains every error it met; one line says the first.
        let e = e
            .into_iter()
            .next()
            .expect("an error holds at least itself");
        let key = e.path.join(".");
        let reason = match &e.kind {
            Kind::UnknownField(field, known) => {
                // Only our file can hold a key the schema lacks: the other layers are made of
                // known keys.
                let key = match e.path.last() {
                    Some(last) if last == field => key,
                    None => field.clone(),
                    Some(_) => format!("{key}.{field}"),
                };
                let origin = self.file.clone().map_or(Origin::Default, Origin::File);
                return ConfigError::new(
                    key,
                    origin,
                    format!("unknown key {field:?}; known here: {}", known.join(", ")),
                );
            }
            Kind::UnknownVariant(found, known) => {
                format!("{found:?} is not one of {}", known.join(", "))
            }
            // The found value is the secret, or part of it.
            Kind::InvalidType(_, expected) | Kind::InvalidValue(_, expected)
                if env::is_secret(&key) =>
            {
                format!("must be {expected}")
            }
            kind => kind.to_string(),
        };
        let origin = e
            .metadata
            .as_ref()
            .map_or(Origin::Default, |m| self.origin(m, &key));
        ConfigError::new(key, origin, reason)
    }
}

/// Where each setting's value came from, kept with the configuration so that a setting found
/// unusable later (building the bridge, reading the TLS files) is named by its source too.
#[derive(Debug, Clone, Default)]
pub struct Origins(BTreeMap<String, Origin>);

impl Origins {
    /// Where `key`'s value came from; for a table (`bridge.prices.x`), where its first value did.
    pub fn of(&self, key: &str) -> Origin {
        if let Some(origin) = self.0.get(key) {
            return origin.clone();
        }
        let prefix = format!("{key}.");
        self.0
            .range(prefix.clone()..)
            .next()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map_or(Origin::Default, |(_, origin)| origin.clone())
    }

    /// The one conversion of a setting's error into the configuration's.
    pub fn invalid(&self, e: SettingError) -> ConfigError {
        let origin = self.of(&e.key);
        ConfigError::new(e.key, origin, e.reason)
    }

    /// `key` as the operator gave it, for a message about another setting.
    pub fn place(&self, key: &str) -> String {
        place(key, &self.of(key))
    }
}

fn flag_settings(flags: &ServeFlags) -> Dict {
    let mut settings = Dict::new();
    for (_, key) in FLAGS {
        if let Some(value) = flags.value(key) {
            env::insert(&mut settings, key, Value::from(value.clone()));
        }
    }
    settings
}

fn profile_settings(profile: &Profile) -> Dict {
    let mut settings = Dict::new();
    for (key, value) in profile_values(profile) {
        if let Some(value) = value {
            env::insert(&mut settings, key, Value::from(value));
        }
    }
    settings
}

/// Our TOML file's settings. Parsed here rather than by figment, whose parse errors quote the
/// offending line, which may hold a secret.
fn read_file(path: &Path) -> Result<Dict, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(
            "",
            Origin::Flag("--config"),
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let whole_file = |reason: String| ConfigError::new("", Origin::File(path.to_owned()), reason);
    let table: toml::Table = toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map_or(1, |span| text[..span.start].matches('\n').count() + 1);
        let first = e.message().lines().next().unwrap_or("parse error");
        whole_file(format!("line {line}: {first}"))
    })?;
    let settings = Value::serialize(&table)
        .ok()
        .and_then(|v| v.into_dict())
        .ok_or_else(|| whole_file("not a table of settings".into()))?;
    let as_value = Value::from(settings.clone());
    for var in ENV_VARS.iter().filter(|v| !v.form.in_file()) {
        if as_value.find_ref(var.key).is_some() {
            return Err(ConfigError::new(
                var.key,
                Origin::File(path.to_owned()),
                format!("is read from the environment only ({})", var.name),
            ));
        }
    }
    Ok(settings)
}

/// A profile that cannot be read, named by the setting that led to it.
fn profile_error(e: ProfileError, origins: &Origins) -> ConfigError {
    let by = |key: &str| origins.invalid(SettingError::new(key, e.to_string()));
    match &e {
        ProfileError::NotFound { .. } => by("crusoe.profile"),
        ProfileError::NotText { path, name, key } => ConfigError::new(
            format!("crusoe.{key}"),
            Origin::Profile {
                path: path.clone(),
                name: name.clone(),
            },
            "must be a string",
        ),
        // The file is read because a profile was named, not because it was.
        _ if origins.of("crusoe.config_file") == Origin::Default
            && origins.of("crusoe.profile") != Origin::Default =>
        {
            by("crusoe.profile")
        }
        _ => by("crusoe.config_file"),
    }
}
