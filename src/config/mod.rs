//! The config file: where it is, reading it, and the checks only the screen can make.
//!
//! Owns: the file's location (`--config FILE`, else `config.toml` in the platform config dir),
//! reading it, validating `[ui.keys]` against the screen's bindings table, and finding the
//! shipped models wherever the binary runs from ([`find_models`]). Must not touch:
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

/// Whether `dir` holds a model (`pressure/model.toml` or `context/model.toml`).
fn holds_models(dir: &Path) -> bool {
    ["pressure", "context"]
        .iter()
        .any(|m| dir.join(m).join("model.toml").is_file())
}

/// The places shipped models are looked for when `models.dir` is the default relative path and
/// the working directory has none, in order: `models/` beside the binary,
/// `../share/microstate-tui/models` from the binary's folder (an installed layout), `models/` in
/// the platform data dir (Linux: `~/.local/share/microstate-tui/models`), and the `models/` of
/// the source tree the binary was built from.
pub fn model_places() -> Vec<PathBuf> {
    let mut places = Vec::new();
    if let Some(bin) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        places.push(bin.join("models"));
        places.push(bin.join("../share/microstate-tui/models"));
    }
    if let Some(d) = directories::ProjectDirs::from("", "", "microstate-tui") {
        places.push(d.data_dir().join("models"));
    }
    places.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("models"));
    places
}

/// Where the models are: `--models DIR` when given (as is: a wrong folder is reported by the
/// loader, naming it); else `setting` (`models.dir`) when it holds a model or is absolute; else
/// the first of `places` holding one; else `setting` unchanged, so the message names it.
pub fn find_models(setting: &str, flag: Option<&Path>, places: &[PathBuf]) -> PathBuf {
    if let Some(f) = flag {
        return f.to_path_buf();
    }
    let set = PathBuf::from(setting);
    if set.is_absolute() || holds_models(&set) {
        return set;
    }
    places
        .iter()
        .find(|p| holds_models(p))
        .cloned()
        .unwrap_or(set)
}

/// [`find_models`] over [`model_places`], written into `cfg.models.dir`.
pub fn resolve_models(cfg: &mut Config, flag: Option<&Path>) {
    let dir = find_models(&cfg.models.dir, flag, &model_places());
    if dir != Path::new(&cfg.models.dir) {
        tracing::info!(models = %dir.display(), "models found");
    }
    cfg.models.dir = dir.display().to_string();
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

    #[test]
    fn models_are_found_beside_the_binary_or_in_the_data_dir() {
        let tmp = std::env::temp_dir().join(format!("c1-models-{}", std::process::id()));
        let beside = tmp.join("bin/models");
        let data = tmp.join("data/models");
        std::fs::create_dir_all(data.join("context")).expect("mkdir");
        std::fs::write(data.join("context/model.toml"), "x").expect("write");
        let places = vec![beside.clone(), data.clone()];
        // The working directory's relative default does not exist here: the data dir's is used.
        let rel = "no-such-models-dir-c1";
        assert_eq!(find_models(rel, None, &places), data);
        // Beside the binary comes first once it holds one.
        std::fs::create_dir_all(beside.join("pressure")).expect("mkdir");
        std::fs::write(beside.join("pressure/model.toml"), "x").expect("write");
        assert_eq!(find_models(rel, None, &places), beside);
        // --models wins; nothing anywhere keeps the setting (the message names it).
        assert_eq!(
            find_models(rel, Some(Path::new("/x/m")), &places),
            PathBuf::from("/x/m")
        );
        assert_eq!(find_models(rel, None, &[]), PathBuf::from(rel));
        let _ = std::fs::remove_dir_all(&tmp);
    }

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
        let ok = "[ui.keys]\nquit = [\"w\", \"ctrl-q\"]\nsymbol_3 = [\"f9\"]\n";
        assert_eq!(
            from_toml(ok, "k.toml").map(|c| c.ui.keys.len()).ok(),
            Some(2)
        );
    }
}
