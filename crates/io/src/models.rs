//! Model files: `model.toml` (metadata) beside `model.safetensors` (weights) in one folder per
//! model. Reading them for the live and replay paths, writing them for training.
//!
//! Owns: the files and their format (safetensors, f32, `l{i}.weight` `[out, in]`, `l{i}.bias`
//! `[out]`). Must not touch: what the numbers mean (the core's `ml`), candle (training writes
//! through [`save_model`] with plain numbers).

use std::path::{Path, PathBuf};

use microstate_core::features::FeatureParams;
use microstate_core::ml::MlError;
use microstate_core::ml::context::{self, ContextModel};
use microstate_core::ml::meta::{Expected, META_FILE, ModelMeta, WEIGHTS_FILE};
use microstate_core::ml::pressure::{self, PressureInputs, PressureModel};
use microstate_core::ml::weights::{Architecture, Dense, Weights, tensor_names};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

/// `dir` of the named model under the models folder (`models/context`).
pub fn model_dir(models: &Path, name: &str) -> PathBuf {
    models.join(name)
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
    save_weights(weights, &dir.join(WEIGHTS_FILE))
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
    let w = load_weights(&wp, &meta.architecture)?;
    Ok((meta, w))
}

/// Loads the context model in `dir` with the config's call threshold and trend thresholds,
/// refusing a schema mismatch.
pub fn load_context(
    dir: &Path,
    cfg: &microstate_config::ContextModelConfig,
) -> Result<ContextModel, MlError> {
    let (meta, w) = load_model(dir, &context::expected())?;
    Ok(
        ContextModel::from_weights(meta, &w, cfg.z_threshold, &dir.join(META_FILE))?
            .with_trend(cfg.trend()),
    )
}

/// Loads the pressure model in `dir`; refuses a feature-schema version or input-name mismatch
/// against `params` with a clear message.
pub fn load_pressure(dir: &Path, params: &FeatureParams) -> Result<PressureModel, MlError> {
    let inputs = PressureInputs::new(params);
    let names: Vec<&str> = inputs.names().iter().map(String::as_str).collect();
    let (meta, w) = load_model(dir, &pressure::expected(&names))?;
    PressureModel::from_weights(meta, &w, inputs, &dir.join(META_FILE))
}

/// Writes the weights as safetensors (`l0.weight` `[out, in]`, `l0.bias` `[out]`, …, f32 LE).
pub fn save_weights(w: &Weights, path: &Path) -> Result<(), MlError> {
    let bad = |msg: String| MlError::Meta {
        path: path.to_path_buf(),
        msg,
    };
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = w
        .layers
        .iter()
        .enumerate()
        .flat_map(|(i, d)| {
            let (wn, bn) = tensor_names(i);
            [
                (wn, le_bytes(&d.w), vec![d.outputs, d.inputs]),
                (bn, le_bytes(&d.b), vec![d.outputs]),
            ]
        })
        .collect();
    let mut views = Vec::with_capacity(bytes.len());
    for (name, data, shape) in &bytes {
        let v = TensorView::new(Dtype::F32, shape.clone(), data)
            .map_err(|e| bad(format!("writing the weights: {e}")))?;
        views.push((name.clone(), v));
    }
    let out = safetensors::serialize(views, None)
        .map_err(|e| bad(format!("writing the weights: {e}")))?;
    std::fs::write(path, out).map_err(|source| MlError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn le_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Reads safetensors weights of `arch`; a missing tensor, a wrong shape or dtype is an error
/// naming the file, the tensor and both shapes.
pub fn load_weights(path: &Path, arch: &Architecture) -> Result<Weights, MlError> {
    let bytes = std::fs::read(path).map_err(|source| MlError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| MlError::Meta {
        path: path.to_path_buf(),
        msg: format!("not a readable safetensors file: {e}"),
    })?;
    let get = |name: &str, shape: &[usize]| -> Result<Vec<f32>, MlError> {
        let err = |msg: String| MlError::Weights {
            path: path.to_path_buf(),
            name: name.to_string(),
            msg,
        };
        let t = st.tensor(name).map_err(|_| err("missing".into()))?;
        if t.shape() != shape {
            return Err(err(format!(
                "shape {:?} in the file, {shape:?} expected by the metadata",
                t.shape()
            )));
        }
        if t.dtype() != Dtype::F32 {
            return Err(err(format!(
                "dtype {:?} in the file, F32 expected",
                t.dtype()
            )));
        }
        Ok(t.data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    };
    let mut layers = Vec::new();
    for (i, (inp, out)) in arch.layers().into_iter().enumerate() {
        let (wn, bn) = tensor_names(i);
        layers.push(Dense {
            inputs: inp,
            outputs: out,
            w: get(&wn, &[out, inp])?,
            b: get(&bn, &[out])?,
        });
    }
    if st.len() > 2 * layers.len() {
        return Err(MlError::Meta {
            path: path.to_path_buf(),
            msg: format!(
                "{} tensors in the file, {} expected by the metadata's architecture",
                st.len(),
                2 * layers.len()
            ),
        });
    }
    Ok(Weights { layers })
}

#[cfg(test)]
mod tests {
    use super::*;
    use microstate_core::ml::DeadBand;
    use microstate_core::ml::meta::DataInfo;
    use microstate_core::ml::prequential::BaselineParams;
    use microstate_core::ml::pressure::{
        CLASSES, DETAIL_BASELINES, DETAIL_HORIZON_NS, DETAIL_INPUT_HI, DETAIL_INPUT_LO,
        INPUTS_VERSION, SCHEMA, baselines_to_toml,
    };
    use microstate_core::ml::scaler::Scaler;
    use microstate_core::ml::weights::{Activation, TrainOptions};

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
    fn seeded_weights_are_reproducible_and_round_trip_through_safetensors() {
        let a = Architecture::mlp(4, &[8, 6], 2, Activation::Tanh);
        let w = Weights::seeded(&a, 7);
        assert_eq!(w, Weights::seeded(&a, 7));
        assert_ne!(w, Weights::seeded(&a, 8));
        assert!(w.matches(&a));
        let dir = std::env::temp_dir().join(format!("ms-mlp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("w.safetensors");
        save_weights(&w, &p).unwrap();
        assert_eq!(load_weights(&p, &a).unwrap(), w);
        // Another architecture is refused with the tensor and both shapes named.
        let other = Architecture::mlp(4, &[9, 6], 2, Activation::Tanh);
        let e = load_weights(&p, &other).unwrap_err().to_string();
        assert!(
            e.contains("l0.weight") && e.contains("[8, 4]") && e.contains("[9, 4]"),
            "{e}"
        );
        let fewer = Architecture::mlp(4, &[8], 2, Activation::Tanh);
        assert!(load_weights(&p, &fewer).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
    #[test]
    fn load_refuses_a_schema_mismatch() {
        let p = FeatureParams::default();
        let inp = PressureInputs::new(&p);
        let n = inp.len();
        let arch = Architecture::mlp(n, &[4], 3, Activation::Relu);
        let mut details = toml::Table::new();
        details.insert(
            DETAIL_HORIZON_NS.into(),
            toml::Value::Integer(1_000_000_000),
        );
        let range = |v: f64| toml::Value::Array(vec![toml::Value::Float(v); n]);
        details.insert(DETAIL_INPUT_LO.into(), range(-1.0));
        details.insert(DETAIL_INPUT_HI.into(), range(1.0));
        details.insert(
            DETAIL_BASELINES.into(),
            toml::Value::Table(baselines_to_toml(&BaselineParams::flat())),
        );
        let mut meta = ModelMeta {
            schema: SCHEMA.into(),
            schema_version: INPUTS_VERSION,
            kind: "softmax-mlp".into(),
            inputs: inp.names().to_vec(),
            outputs: CLASSES.iter().map(|s| s.to_string()).collect(),
            horizons: vec!["1s".into()],
            dead_band: Some("0.5vol".into()),
            temperature: Some(1.0),
            seed: 1,
            command: "test".into(),
            created_by: "test".into(),
            architecture: arch.clone(),
            scaler: Scaler::identity(n),
            training: TrainOptions::default(),
            data: DataInfo::default(),
            details,
            metrics: toml::Table::new(),
        };
        let dir = std::env::temp_dir().join(format!("ms-pressure-{}", std::process::id()));
        let w = Weights::seeded(&arch, 1);
        save_model(&dir, &meta, &w).unwrap();
        let m = load_pressure(&dir, &p).unwrap();
        assert_eq!(m.horizon_ns(), 1_000_000_000);
        assert_eq!(m.dead_band(), DeadBand::Vol(0.5));
        assert_eq!(m.ranges().lo, vec![-1.0; n]);
        assert_eq!(m.baselines(), &BaselineParams::flat());
        // Another feature configuration: the input names differ.
        let other = FeatureParams {
            windows_ns: [2_000_000_000, 10_000_000_000, 60_000_000_000],
            ..p
        };
        let e = load_pressure(&dir, &other).unwrap_err().to_string();
        assert!(e.contains("input") && e.contains("2s"), "{e}");
        // A model of the first input version (raw rates, bps returns) is refused, saying so
        // and how to get a current one.
        meta.schema_version = 1;
        save_model(&dir, &meta, &w).unwrap();
        let e = load_pressure(&dir, &p).unwrap_err().to_string();
        assert!(
            e.contains("`pressure` version 1")
                && e.contains(&format!("`pressure` version {INPUTS_VERSION}")),
            "{e}"
        );
        assert!(e.contains("microstate-tui train pressure"), "{e}");
        // Without its input ranges (the guard's) a model is refused too.
        meta.schema_version = INPUTS_VERSION;
        meta.details.remove(DETAIL_INPUT_HI);
        save_model(&dir, &meta, &w).unwrap();
        let e = load_pressure(&dir, &p).unwrap_err().to_string();
        assert!(e.contains("details.input_hi"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
