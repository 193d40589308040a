//! What goes wrong with a config file, said for a person.
//!
//! Owns: [`ConfigError`] and the one constructor every section's check uses, so all value
//! errors read alike: `config file FILE: `KEY` = VALUE: WHY`. Must not touch: the checks
//! themselves (each section owns its own), reading files (the app does).

/// A configuration problem, for a person.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path}: {msg}")]
    Parse { path: String, msg: String },
    #[error("config file {path}: `{key}` = {value}: {why}")]
    Invalid {
        path: String,
        key: &'static str,
        value: String,
        why: String,
    },
}

impl ConfigError {
    /// A value that parsed but is not allowed: `origin` names the file, `key` the dotted key
    /// (`snapshot.spot_limit`), `value` the bad value as the person wrote it (strings quoted).
    pub fn invalid(
        origin: &str,
        key: &'static str,
        value: impl Into<String>,
        why: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            path: origin.to_string(),
            key,
            value: value.into(),
            why: why.into(),
        }
    }
}
