//! The flags that set a setting, `serve --listen`, `--tls-cert` and `--tls-key`: the top layer of
//! the configuration.

use clap::parser::ValueSource;

/// Each flag and the setting (file key) it sets; the key is also the flag's clap id.
pub const FLAGS: &[(&str, &str)] = &[
    ("--listen", "listen"),
    ("--tls-cert", "tls_cert"),
    ("--tls-key", "tls_key"),
];

/// The flag that sets `key`, if one does.
pub fn flag_for(key: &str) -> Option<&'static str> {
    FLAGS.iter().find(|(_, k)| *k == key).map(|(flag, _)| *flag)
}

/// `serve`'s flags. clap names each one's variable so that `--help` shows it; which value wins
/// is the loader's business (see [`ServeFlags::given`]). Text rather than typed values, so that
/// clap refuses nothing the loader would name better (an empty variable, say).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeFlags {
    /// Address to listen on, e.g. 0.0.0.0:8080.
    #[arg(long, env = "IAL_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// Serve HTTPS: PEM certificate chain.
    #[arg(long, env = "IAL_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<String>,
    /// Serve HTTPS: PEM private key.
    #[arg(long, env = "IAL_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<String>,
}

impl ServeFlags {
    /// Only the values typed on the command line, from the matches of `serve`. One clap took
    /// from the environment is dropped: the environment layer reads the same variable, so the
    /// value is still there, named as a variable, with an empty one counting as unset.
    pub fn given(matches: &clap::ArgMatches) -> Self {
        let typed = |id: &str| {
            (matches.value_source(id) == Some(ValueSource::CommandLine))
                .then(|| matches.get_one::<String>(id).cloned())
                .flatten()
        };
        Self {
            listen: typed("listen"),
            tls_cert: typed("tls_cert"),
            tls_key: typed("tls_key"),
        }
    }

    /// The value given for setting `key`.
    pub(super) fn value(&self, key: &str) -> Option<&String> {
        match key {
            "listen" => self.listen.as_ref(),
            "tls_cert" => self.tls_cert.as_ref(),
            "tls_key" => self.tls_key.as_ref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Args, FromArgMatches};

    fn command() -> clap::Command {
        ServeFlags::augment_args(clap::Command::new("serve"))
    }

    #[test]
    fn each_flag_sets_its_setting_and_names_the_variable_the_loader_reads() {
        let args: Vec<_> = command().get_arguments().cloned().collect();
        assert_eq!(args.len(), FLAGS.len());
        for arg in args {
            let key = arg.get_id().as_str();
            let flag = flag_for(key).unwrap_or_else(|| panic!("{key} is not in FLAGS"));
            assert_eq!(format!("--{}", arg.get_long().unwrap()), flag);
            let env = arg.get_env().unwrap().to_str().unwrap();
            assert_eq!(
                super::super::env::var_for(key).map(|v| v.name),
                Some(env),
                "{flag} names the variable of its setting"
            );
            let set =
                ServeFlags::from_arg_matches(&command().get_matches_from(["serve", flag, "value"]))
                    .unwrap();
            assert_eq!(set.value(key).map(String::as_str), Some("value"));
        }
    }

    #[test]
    fn only_typed_values_are_kept() {
        let matches = command().get_matches_from(["serve", "--listen", "127.0.0.1:1"]);
        let given = ServeFlags::given(&matches);
        assert_eq!(given.listen.as_deref(), Some("127.0.0.1:1"));
        assert!(given.tls_cert.is_none() && given.tls_key.is_none());
    }
}
