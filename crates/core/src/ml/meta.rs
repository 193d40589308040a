//! The metadata beside every model's weights (`model.toml` next to `model.safetensors`).
//!
//! Owns: what a model was trained on and for — feature schema name and version, input names in
//! order, the scaler, horizons, dead band, temperature, the training data's digest, the seed,
//! the exact command, metrics — and the check that refuses a model made for other inputs.
//! Must not touch: the weights' numbers (see [`super::weights`]), clocks. I/O only in
//! [`save_model`] / [`load_model`].

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::MlError;
use super::scaler::Scaler;
use super::weights::{Architecture, TrainOptions};

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

#[cfg(test)]
mod tests {
    use super::*;

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
