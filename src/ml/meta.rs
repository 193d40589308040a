//! The metadata beside every model's weights (`model.toml` next to `model.safetensors`).
//!
//! Owns: what a model was trained on and for — feature schema name and version, input names in
//! order, the scaler, horizons, dead band, temperature, the training data's digest, the seed,
//! the exact command, metrics — and the check that refuses a model made for other inputs.
//! Must not touch: the weights' numbers (see [`super::mlp`]), clocks. I/O only in
//! [`save_model`] / [`load_model`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::MlError;
use super::mlp::{Architecture, TrainOptions, Weights};
use super::scaler::Scaler;

/// File names inside a model folder.
pub const META_FILE: &str = "model.toml";
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// Everything about a trained model except its weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelMeta {
    /// Feature schema name (`context`, `pressure`): which code computes the inputs.
    pub schema: String,
    /// Bumped whenever the inputs' meaning, order or count changes.
    pub schema_version: u32,
    /// What the model is (`gaussian-mlp`, `softmax-mlp`, `softmax-logistic`).
    pub kind: String,
    /// Input names, in the order the model reads them.
    pub inputs: Vec<String>,
    /// Output names, in order.
    pub outputs: Vec<String>,
    /// Forecast horizons, as durations (`"1s"`, `"15m"`).
    pub horizons: Vec<String>,
    /// Classifier dead band (`"1tick"`, `"0.5bps"`), where the labels have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_band: Option<String>,
    /// Softmax temperature fitted on the validation split (classifiers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    pub seed: u64,
    /// The command that produced the model, as typed.
    pub command: String,
    /// The program that wrote it.
    pub created_by: String,
    pub architecture: Architecture,
    pub scaler: Scaler,
    pub training: TrainOptions,
    pub data: DataInfo,
    /// Model-specific facts (split boundaries, feature constants).
    #[serde(default)]
    pub details: toml::Table,
    /// Held-out metrics at training time.
    #[serde(default)]
    pub metrics: toml::Table,
}

/// The training data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataInfo {
    /// Files as given on the command line.
    pub files: Vec<String>,
    /// [`DataDigest`] of the values read (not the file bytes: gzip levels do not matter).
    pub digest: String,
    /// Rows (samples) read.
    pub rows: u64,
}

/// What this build expects of a model it loads.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    pub schema: &'a str,
    pub schema_version: u32,
    pub inputs: &'a [&'a str],
    pub outputs: usize,
}

impl ModelMeta {
    /// Refuses a model made for other inputs, naming both sides.
    pub fn check(&self, path: &Path, e: &Expected<'_>) -> Result<(), MlError> {
        let mismatch = |what: &'static str, model: String, build: String| MlError::SchemaMismatch {
            path: path.to_path_buf(),
            schema: e.schema.to_string(),
            what,
            model,
            build,
        };
        if self.schema != e.schema || self.schema_version != e.schema_version {
            return Err(mismatch(
                "feature schema",
                format!("`{}` version {}", self.schema, self.schema_version),
                format!("`{}` version {}", e.schema, e.schema_version),
            ));
        }
        if self.inputs.len() != e.inputs.len() {
            return Err(mismatch(
                "input count",
                format!("{} inputs", self.inputs.len()),
                format!("{} inputs", e.inputs.len()),
            ));
        }
        if let Some(i) = (0..e.inputs.len()).find(|&i| self.inputs[i] != e.inputs[i]) {
            return Err(mismatch(
                "input order",
                format!("input {i} = `{}`", self.inputs[i]),
                format!("input {i} = `{}`", e.inputs[i]),
            ));
        }
        let a = &self.architecture;
        if a.inputs != e.inputs.len() || a.outputs != e.outputs || self.outputs.len() != e.outputs {
            return Err(mismatch(
                "architecture",
                format!("{} inputs → {} outputs", a.inputs, a.outputs),
                format!("{} inputs → {} outputs", e.inputs.len(), e.outputs),
            ));
        }
        if self.scaler.mean.len() != a.inputs || self.scaler.std.len() != a.inputs {
            return Err(MlError::Meta {
                path: path.to_path_buf(),
                msg: format!(
                    "scaler has {}/{} values for {} inputs",
                    self.scaler.mean.len(),
                    self.scaler.std.len(),
                    a.inputs
                ),
            });
        }
        Ok(())
    }
}

/// Writes `model.toml` and `model.safetensors` into `dir` (created if missing).
pub fn save_model(dir: &Path, meta: &ModelMeta, weights: &Weights) -> Result<(), MlError> {
    std::fs::create_dir_all(dir).map_err(|source| MlError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let text = toml::to_string_pretty(meta).map_err(|e| MlError::Meta {
        path: dir.join(META_FILE),
        msg: format!("cannot write the metadata: {e}"),
    })?;
    let header = "# Model metadata written by `microstate-tui train`; the weights are in \
                  model.safetensors.\n# Loading refuses a model whose schema, version or inputs \
                  differ from what this build computes.\n\n";
    let p = dir.join(META_FILE);
    std::fs::write(&p, format!("{header}{text}"))
        .map_err(|source| MlError::Io { path: p, source })?;
    weights.save(&dir.join(WEIGHTS_FILE))
}

/// Reads a model folder and checks it against what this build expects.
pub fn load_model(dir: &Path, e: &Expected<'_>) -> Result<(ModelMeta, Weights), MlError> {
    let p = dir.join(META_FILE);
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(source) if source.kind() == std::io::ErrorKind::NotFound => {
            return Err(MlError::Missing {
                path: p,
                schema: e.schema.to_string(),
            });
        }
        Err(source) => return Err(MlError::Io { path: p, source }),
    };
    let meta: ModelMeta = toml::from_str(&text).map_err(|err| MlError::Meta {
        path: p.clone(),
        msg: err.to_string().trim_end().replace('\n', "\n  "),
    })?;
    meta.check(&p, e)?;
    let wp = dir.join(WEIGHTS_FILE);
    if !wp.is_file() {
        return Err(MlError::Missing {
            path: wp,
            schema: e.schema.to_string(),
        });
    }
    let w = Weights::load(&wp, &meta.architecture)?;
    Ok((meta, w))
}

/// A stable 64-bit digest of training values (FNV-1a over little-endian bytes), so a model
/// card can say exactly which data made it.
#[derive(Clone, Debug)]
pub struct DataDigest(u64);

impl Default for DataDigest {
    fn default() -> Self {
        DataDigest(0xcbf2_9ce4_8422_2325)
    }
}

impl DataDigest {
    pub fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.0 = (self.0 ^ x as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub fn i64(&mut self, v: i64) {
        self.bytes(&v.to_le_bytes());
    }

    pub fn f64(&mut self, v: f64) {
        self.bytes(&v.to_bits().to_le_bytes());
    }

    pub fn hex(&self) -> String {
        format!("fnv1a64:{:016x}", self.0)
    }
}

/// `dir` of the named model under the models folder (`models/context`).
pub fn model_dir(models: &Path, name: &str) -> PathBuf {
    models.join(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::mlp::Activation;

    fn meta() -> ModelMeta {
        let arch = Architecture::mlp(3, &[4], 2, Activation::Tanh);
        ModelMeta {
            schema: "demo".into(),
            schema_version: 2,
            kind: "gaussian-mlp".into(),
            inputs: vec!["a".into(), "b".into(), "c".into()],
            outputs: vec!["mean".into(), "log_var".into()],
            horizons: vec!["15m".into()],
            dead_band: None,
            temperature: Some(1.25),
            seed: 9,
            command: "microstate-tui train demo".into(),
            created_by: "test".into(),
            architecture: arch,
            scaler: Scaler {
                mean: vec![0.1, 0.2, 0.3],
                std: vec![1.5, 2.5, 3.5],
            },
            training: TrainOptions::default(),
            data: DataInfo::default(),
            details: toml::Table::new(),
            metrics: toml::Table::new(),
        }
    }

    fn expected<'a>(inputs: &'a [&'a str], version: u32) -> Expected<'a> {
        Expected {
            schema: "demo",
            schema_version: version,
            inputs,
            outputs: 2,
        }
    }

    #[test]
    fn save_load_round_trip_and_refusals() {
        let dir = std::env::temp_dir().join(format!("ms-meta-{}", std::process::id()));
        let m = meta();
        let w = Weights::seeded(&m.architecture, 1);
        save_model(&dir, &m, &w).unwrap();
        let (m2, w2) = load_model(&dir, &expected(&["a", "b", "c"], 2)).unwrap();
        assert_eq!(m2, m);
        assert_eq!(w2, w);

        let e = load_model(&dir, &expected(&["a", "b", "c"], 3))
            .unwrap_err()
            .to_string();
        assert!(e.contains("version 2") && e.contains("version 3"), "{e}");
        let e = load_model(&dir, &expected(&["a", "b"], 2))
            .unwrap_err()
            .to_string();
        assert!(e.contains("3 inputs") && e.contains("2 inputs"), "{e}");
        let e = load_model(&dir, &expected(&["a", "x", "c"], 2))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`b`") && e.contains("`x`") && e.contains("model.toml"),
            "{e}"
        );

        let missing = load_model(&dir.join("nope"), &expected(&["a"], 2)).unwrap_err();
        assert!(matches!(missing, MlError::Missing { .. }), "{missing}");
        assert!(missing.to_string().contains("train demo"), "{missing}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn digest_is_stable() {
        let mut d = DataDigest::default();
        d.i64(1);
        d.f64(2.5);
        let mut e = DataDigest::default();
        e.i64(1);
        e.f64(2.5);
        assert_eq!(d.hex(), e.hex());
        e.f64(0.0);
        assert_ne!(d.hex(), e.hex());
    }
}
