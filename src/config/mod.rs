//! The config file: where it is, reading it, and the checks only the screen can make.
//!
//! Owns: the file's location (`--config FILE`, else `config.toml` in the platform config dir),
//! reading it, and validating `[ui.keys]` against the screen's bindings table. Must not touch:
//! the sections' types, defaults and value checks (the config crate owns them, so the drivers can
//! take them without the screen).

use std::path::{Path, PathBuf};

pub use microstate_config::*;

/// Parses TOML text (`origin` names it in errors): the config crate's checks, then the key
/// bindings.
pub fn from_toml(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let cfg = Config::from_toml(text, origin)?;
    validate_ui(&cfg, origin)?;
    Ok(cfg)
}

/// The checks the config crate cannot make: `[ui.keys]` names actions and keys of the screen.
pub fn validate_ui(cfg: &Config, origin: &str) -> Result<(), ConfigError> {
    if let Err(why) = crate::ui::keys::Bindings::with_overrides(&cfg.ui.keys) {
        return Err(ConfigError::Invalid {
            path: origin.to_string(),
            key: "ui.keys",
            value: format!("{:?}", cfg.ui.keys),
            why,
        });
    }
    Ok(())
}

/// `--config FILE` if given; else `config.toml` in the platform config dir if it exists;
/// else the defaults. Returns the file used, if any.
pub fn load(explicit: Option<&Path>) -> Result<(Config, Option<PathBuf>), ConfigError> {
    let path = match explicit {
        Some(p) => Some(p.to_path_buf()),
        None => default_path().filter(|p| p.is_file()),
    };
    let Some(path) = path else {
        return Ok((Config::default(), None));
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let cfg = from_toml(&text, &path.display().to_string())?;
    Ok((cfg, Some(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `[ui.keys]` passes the config crate (it cannot know the screen's names) and is refused
    /// here, naming the file, the key and the bad value.
    #[test]
    fn key_overrides_name_real_keys_and_actions() {
        let cases = [
            (
                "[ui.keys]\nquit = [\"hyper-q\"]\n",
                "config file k.toml: `ui.keys` = {\"quit\": [\"hyper-q\"]}: [ui.keys] quit: \
                 unknown key \"hyper-q\" (use a character, space, tab, left, f1, ctrl-c, …)",
            ),
            (
                "[ui.keys]\nexplode = [\"x\"]\n",
                "config file k.toml: `ui.keys` = {\"explode\": [\"x\"]}: [ui.keys] \"explode\" \
                 is not an action (e.g. quit, pause, heatmap, symbol_3)",
            ),
        ];
        for (text, want) in cases {
            assert!(Config::from_toml(text, "k.toml").is_ok(), "{text}");
            let got = from_toml(text, "k.toml")
                .map(|_| ())
                .map_err(|e| e.to_string());
            assert_eq!(got, Err(want.to_string()), "{text}");
        }
        let ok = "[ui.keys]\nquit = [\"x\", \"ctrl-q\"]\nsymbol_3 = [\"f3\"]\n";
        assert_eq!(
            from_toml(ok, "k.toml").map(|c| c.ui.keys.len()).ok(),
            Some(2)
        );
    }
}
