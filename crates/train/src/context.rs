//! Training and evaluating the context model on minute price histories, honestly.
//!
//! Owns: datasets (every kline file replayed through the same [`segments`] / [`features`] code
//! the live [`super::context::ContextState`] runs), chronological splits with embargoes,
//! walk-forward folds, the training recipe, and the evaluation against baselines.
//! Must not touch: clocks, the screen. Reading files happens in the binary; this module takes
//! parsed [`KlineSeries`].
//!
//! # Samples and labels
//! A sample at minute t (once [`LOOKBACK`] minutes of history exist) has the features of the
//! window ending at t — the past only — and labels reading the future: the log returns
//! `ln(c_{t+h} / c_t)` for h ∈ {15, 30}. A sample without 30 minutes of future in its segment is
//! dropped.
//!
//! # Splits (by time, shared by all files, so BTC's test weeks are also ETH's)
//! Over the span of sample times: train the first 70 %, validate the next 10 %, test the last
//! 20 %, each part separated by an embargo of [`EMBARGO_MIN`] minutes (≥ the 30 min horizon and
//! the 240 min lookback: no test window sees a validation label, no labels overlap across
//! parts). A sample belongs to a part only if its label ends inside it. The scaler is fitted on
//! the training part, early stopping and nothing else looks at validation, and the test part is
//! read once, at the end. Walk-forward folds repeat the recipe on growing prefixes of the data
//! before the test part, to show whether the result is stable in time.
//!
//! # Evaluation
//! Per horizon: Gaussian NLL (nats, returns in basis points), coverage of the ±1σ (68 %) and
//! ±1.96σ (95 %) intervals, directional accuracy against the realized class (BULLISH when the
//! return exceeds [`REALIZED_BAND_SIGMA`]·σ₆₀·√h, BEARISH below minus that, else NEUTRAL), the
//! share of non-neutral calls, the hit rate of calls (sign right), and the information
//! coefficient (Pearson correlation of drift with the return). Baselines:
//! `zero_drift_rolling_vol` (mean 0, σ = σ₆₀·√h: always NEUTRAL), `last_return_sign` (the sign
//! of the last h minutes' return), `always_neutral`.

use serde::Serialize;

use crate::TrainError;
use crate::mlp::{Targets, train};
use microstate_core::ml::classifier::pearson;
use microstate_core::ml::context::{
    self, ContextLabel, ContextModel, HORIZONS_MIN, INPUT_NAMES, LOOKBACK, N_INPUTS, OUTPUT_NAMES,
    REF_VOL_WINDOW, SCHEMA, SCHEMA_VERSION, features, segments,
};
use microstate_core::ml::fast::FastMlp;
use microstate_core::ml::meta::{DataDigest, DataInfo, ModelMeta};
use microstate_core::ml::scaler::Scaler;
use microstate_core::ml::weights::{Activation, Architecture, TrainOptions, TrainReport, Weights};
use microstate_io::record::klines::{KlineSeries, MINUTE_MS, format_utc_ms};

/// Minutes between split parts.
pub const EMBARGO_MIN: i64 = 240;
/// The realized-direction band, in units of σ₆₀·√h (a Gaussian return is inside ±0.5σ 38 % of
/// the time).
pub const REALIZED_BAND_SIGMA: f64 = 0.5;
/// Normalised targets are clamped to ±this in training (a fill-floored σ can make a huge one).
pub const TARGET_CLAMP: f32 = 20.0;
const H_MAX: usize = HORIZONS_MIN[HORIZONS_MIN.len() - 1];

/// One training/evaluation sample.
#[derive(Clone, Debug)]
pub struct ContextSample {
    /// The minute the features end at (UTC ms).
    pub ts: i64,
    /// Index of the file it came from.
    pub series: u32,
    pub x: [f32; N_INPUTS],
    /// σ₆₀ per minute (floored).
    pub sigma_ref: f64,
    /// Forward log returns over [`HORIZONS_MIN`].
    pub fwd: [f64; 2],
    /// Log returns over the previous h minutes, h in [`HORIZONS_MIN`].
    pub last: [f64; 2],
}

impl ContextSample {
    /// Normalised target of horizon `h`, clamped.
    fn target(&self, h: usize) -> f32 {
        let s = self.sigma_ref * (HORIZONS_MIN[h] as f64).sqrt();
        ((self.fwd[h] / s) as f32).clamp(-TARGET_CLAMP, TARGET_CLAMP)
    }
}

/// Samples from kline files.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    pub samples: Vec<ContextSample>,
    pub files: Vec<String>,
    /// Digest of every (time, close) read.
    pub digest: String,
    pub rows: u64,
    pub gaps: u64,
    pub filled_minutes: u64,
    pub segments: usize,
}

/// Replays every file through the live feature code. `max_fill`: the gap rule's limit
/// (minutes). Samples are ordered by time, then file.
pub fn build_dataset(series: &[KlineSeries], max_fill: u64) -> Dataset {
    let mut d = DataDigest::default();
    let mut ds = Dataset::default();
    for (si, s) in series.iter().enumerate() {
        ds.files.push(s.source.clone());
        ds.rows += s.rows.len() as u64;
        ds.gaps += s.gaps.len() as u64;
        for k in &s.rows {
            d.i64(k.open_time_ms);
            d.f64(k.close);
        }
        // A kline's close is the price at its close time.
        let segs = segments(
            s.rows.iter().map(|k| (k.open_time_ms + MINUTE_MS, k.close)),
            max_fill,
        );
        for seg in &segs {
            ds.segments += 1;
            ds.filled_minutes += seg.filled;
            let r = seg.returns();
            let c = &seg.closes;
            let mut t = LOOKBACK;
            while t + H_MAX < c.len() {
                let mut x = [0f32; N_INPUTS];
                let sigma_ref =
                    features(&c[t - LOOKBACK..=t], &r[t - LOOKBACK..t], seg.ts(t), &mut x);
                let mut fwd = [0.0; 2];
                let mut last = [0.0; 2];
                for (h, &hm) in HORIZONS_MIN.iter().enumerate() {
                    fwd[h] = (c[t + hm] / c[t]).ln();
                    last[h] = (c[t] / c[t - hm]).ln();
                }
                ds.samples.push(ContextSample {
                    ts: seg.ts(t),
                    series: si as u32,
                    x,
                    sigma_ref,
                    fwd,
                    last,
                });
                t += 1;
            }
        }
    }
    ds.samples.sort_by_key(|s| (s.ts, s.series));
    ds.digest = d.hex();
    ds
}

/// A time range of samples: `start ≤ ts` and the label's end `ts + 30 min ≤ end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Part {
    pub start_ms: i64,
    pub end_ms: i64,
}

impl Part {
    pub fn contains(&self, ts: i64) -> bool {
        self.start_ms <= ts && ts + H_MAX as i64 * MINUTE_MS <= self.end_ms
    }

    fn describe(&self) -> String {
        format!(
            "{} → {} UTC",
            format_utc_ms(self.start_ms),
            format_utc_ms(self.end_ms)
        )
    }
}

/// Train / validation / test parts with embargoes between them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Splits {
    pub train: Part,
    pub val: Part,
    pub test: Part,
}

/// Splits `[start, end)` at the fractions `a` and `b` (train `[start, start+a·span)`, val up to
/// `b`, test the rest), an embargo before validation and test.
pub fn chronological_splits(start: i64, end: i64, a: f64, b: f64) -> Splits {
    let span = (end - start) as f64;
    let e = EMBARGO_MIN * MINUTE_MS;
    let ta = start + (span * a) as i64;
    let tb = start + (span * b) as i64;
    Splits {
        train: Part {
            start_ms: start,
            end_ms: ta,
        },
        val: Part {
            start_ms: ta + e,
            end_ms: tb,
        },
        test: Part {
            start_ms: tb + e,
            end_ms: end,
        },
    }
}

/// The recipe.
#[derive(Clone, Debug)]
pub struct ContextTrainOptions {
    pub hidden: Vec<usize>,
    pub activation: Activation,
    pub train: TrainOptions,
    /// Walk-forward folds reported besides the main split (0: none).
    pub folds: usize,
    pub max_fill: u64,
    /// Label rule threshold used in the reported metrics.
    pub z_threshold: f64,
}

impl Default for ContextTrainOptions {
    fn default() -> Self {
        ContextTrainOptions {
            hidden: vec![32, 16],
            activation: Activation::Tanh,
            train: TrainOptions {
                max_epochs: 30,
                batch: 512,
                lr: 1e-3,
                weight_decay: 1e-4,
                patience: 4,
                seed: 1,
            },
            folds: 3,
            max_fill: 5,
            z_threshold: 0.25,
        }
    }
}

fn rows_of(samples: &[&ContextSample]) -> (Vec<f32>, Vec<f32>) {
    let mut x = Vec::with_capacity(samples.len() * N_INPUTS);
    let mut y = Vec::with_capacity(samples.len() * 2);
    for s in samples {
        x.extend_from_slice(&s.x);
        y.extend([s.target(0), s.target(1)]);
    }
    (x, y)
}

/// Fits scaler and network on `train`, early-stopping on `val`.
fn fit(
    arch: &Architecture,
    train_s: &[&ContextSample],
    val_s: &[&ContextSample],
    opts: &TrainOptions,
) -> Result<(Scaler, Weights, TrainReport), TrainError> {
    if train_s.is_empty() || val_s.is_empty() {
        return Err(TrainError::Data(format!(
            "not enough history to train: {} training and {} validation samples (the context \
             model needs days of 1-minute prices)",
            train_s.len(),
            val_s.len()
        )));
    }
    let (mut xt, yt) = rows_of(train_s);
    let (mut xv, yv) = rows_of(val_s);
    let scaler = Scaler::fit(&xt, N_INPUTS);
    scaler.apply_rows(&mut xt);
    scaler.apply_rows(&mut xv);
    let (w, rep) = train(
        arch,
        &xt,
        Targets::Gaussian {
            values: &yt,
            heads: 2,
        },
        &xv,
        Targets::Gaussian {
            values: &yv,
            heads: 2,
        },
        opts,
    )?;
    Ok((scaler, w, rep))
}

/// Gaussian forecast scores.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct GaussianScores {
    /// Mean negative log-likelihood, nats, returns in basis points (lower is better).
    pub nll: f64,
    pub coverage_68: f64,
    pub coverage_95: f64,
    pub directional_accuracy: f64,
    /// Share of non-neutral labels.
    pub calls: f64,
    /// Share of non-neutral labels whose sign was right (NaN without calls).
    pub hit_rate: f64,
    /// Correlation of the drift with the realized return (NaN for a constant drift).
    pub ic: f64,
    pub n: u64,
}

/// Directional-only scores (baselines without a distribution).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DirectionalScores {
    pub directional_accuracy: f64,
    pub calls: f64,
    pub hit_rate: f64,
    pub ic: f64,
    pub n: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Baselines {
    pub zero_drift_rolling_vol: GaussianScores,
    pub last_return_sign: DirectionalScores,
    pub always_neutral: DirectionalScores,
}

/// One horizon's table.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HorizonReport {
    pub horizon: String,
    pub model: GaussianScores,
    pub baselines: Baselines,
    /// Plain-words verdict: does the model beat its baselines here?
    pub verdict: String,
}

#[derive(Default)]
struct Acc {
    n: u64,
    nll: f64,
    in68: u64,
    in95: u64,
    correct: u64,
    calls: u64,
    hits: u64,
    pred: Vec<f64>,
    real: Vec<f64>,
}

fn realized(y: f64, band: f64) -> ContextLabel {
    if y > band {
        ContextLabel::Bullish
    } else if y < -band {
        ContextLabel::Bearish
    } else {
        ContextLabel::Neutral
    }
}

impl Acc {
    fn label(&mut self, label: ContextLabel, y: f64, band: f64, score: f64) {
        self.n += 1;
        if label == realized(y, band) {
            self.correct += 1;
        }
        if label != ContextLabel::Neutral {
            self.calls += 1;
            let up = label == ContextLabel::Bullish;
            if (up && y > 0.0) || (!up && y < 0.0) {
                self.hits += 1;
            }
        }
        self.pred.push(score);
        self.real.push(y);
    }

    fn gauss(&mut self, y: f64, mu: f64, sigma: f64) {
        let (yb, mb, sb) = (y * 1e4, mu * 1e4, sigma * 1e4);
        let z = (yb - mb) / sb;
        self.nll += sb.ln() + 0.5 * (std::f64::consts::TAU).ln() + 0.5 * z * z;
        if z.abs() <= 1.0 {
            self.in68 += 1;
        }
        if z.abs() <= 1.96 {
            self.in95 += 1;
        }
    }

    fn ratio(a: u64, b: u64) -> f64 {
        if b == 0 {
            f64::NAN
        } else {
            a as f64 / b as f64
        }
    }

    fn directional(&self) -> DirectionalScores {
        DirectionalScores {
            directional_accuracy: Acc::ratio(self.correct, self.n),
            calls: Acc::ratio(self.calls, self.n),
            hit_rate: Acc::ratio(self.hits, self.calls),
            ic: pearson(&self.pred, &self.real),
            n: self.n,
        }
    }

    fn gaussian(&self) -> GaussianScores {
        let d = self.directional();
        GaussianScores {
            nll: if self.n == 0 {
                f64::NAN
            } else {
                self.nll / self.n as f64
            },
            coverage_68: Acc::ratio(self.in68, self.n),
            coverage_95: Acc::ratio(self.in95, self.n),
            directional_accuracy: d.directional_accuracy,
            calls: d.calls,
            hit_rate: d.hit_rate,
            ic: d.ic,
            n: d.n,
        }
    }
}

/// Scores the model and the baselines on `samples`, one report per horizon.
pub fn evaluate(model: &mut ContextModel, samples: &[&ContextSample]) -> Vec<HorizonReport> {
    let nh = HORIZONS_MIN.len();
    let mut m: Vec<Acc> = (0..nh).map(|_| Acc::default()).collect();
    let mut z: Vec<Acc> = (0..nh).map(|_| Acc::default()).collect();
    let mut l: Vec<Acc> = (0..nh).map(|_| Acc::default()).collect();
    let mut a: Vec<Acc> = (0..nh).map(|_| Acc::default()).collect();
    for s in samples {
        let raw = model.raw(&s.x);
        for h in 0..nh {
            let y = s.fwd[h];
            let base = s.sigma_ref * (HORIZONS_MIN[h] as f64).sqrt();
            let band = REALIZED_BAND_SIGMA * base;
            let f = model.forecast(&raw, h, s.sigma_ref);
            m[h].gauss(y, f.drift, f.sigma);
            m[h].label(f.label, y, band, f.drift);
            z[h].gauss(y, 0.0, base);
            z[h].label(ContextLabel::Neutral, y, band, 0.0);
            let lr = s.last[h];
            let ll = if lr > 0.0 {
                ContextLabel::Bullish
            } else if lr < 0.0 {
                ContextLabel::Bearish
            } else {
                ContextLabel::Neutral
            };
            l[h].label(ll, y, band, lr);
            a[h].label(ContextLabel::Neutral, y, band, 0.0);
        }
    }
    (0..nh)
        .map(|h| {
            let model = m[h].gaussian();
            let baselines = Baselines {
                zero_drift_rolling_vol: z[h].gaussian(),
                last_return_sign: l[h].directional(),
                always_neutral: a[h].directional(),
            };
            let verdict = verdict(&model, &baselines, HORIZONS_MIN[h]);
            HorizonReport {
                horizon: format!("{}m", HORIZONS_MIN[h]),
                model,
                baselines,
                verdict,
            }
        })
        .collect()
}

/// What the numbers say, in words. Directional accuracy counts as skill only beyond two
/// standard errors of the best baseline's accuracy, computed on `n / h` effective samples
/// (labels of neighbouring minutes overlap by all but one minute of h).
fn verdict(m: &GaussianScores, b: &Baselines, horizon_min: usize) -> String {
    let base = &b.zero_drift_rolling_vol;
    let best_dir = b
        .always_neutral
        .directional_accuracy
        .max(b.last_return_sign.directional_accuracy);
    let n_eff = (m.n as f64 / horizon_min as f64).max(1.0);
    let noise = 2.0 * (best_dir * (1.0 - best_dir) / n_eff).sqrt();
    let nll = if m.nll < base.nll {
        format!(
            "uncertainty: better than zero-drift rolling volatility (NLL {:.4} vs {:.4})",
            m.nll, base.nll
        )
    } else {
        format!(
            "uncertainty: NOT better than zero-drift rolling volatility (NLL {:.4} vs {:.4})",
            m.nll, base.nll
        )
    };
    let dir = if m.directional_accuracy > best_dir + noise {
        format!(
            "direction: above the best simple baseline ({:.4} vs {:.4}, noise ±{noise:.4})",
            m.directional_accuracy, best_dir
        )
    } else {
        format!(
            "direction: no skill beyond the best simple baseline ({:.4} vs {:.4}, noise ±{noise:.4})",
            m.directional_accuracy, best_dir
        )
    };
    format!("{nll}; {dir}")
}

/// A walk-forward fold's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct FoldReport {
    pub fold: usize,
    pub train: String,
    pub test: String,
    pub horizons: Vec<HorizonReport>,
}

/// What training produced.
pub struct ContextTrained {
    pub meta: ModelMeta,
    pub weights: Weights,
    pub splits: Splits,
    pub report: TrainReport,
    pub test: Vec<HorizonReport>,
    pub folds: Vec<FoldReport>,
}

fn select<'a>(samples: &'a [ContextSample], p: &Part) -> Vec<&'a ContextSample> {
    samples.iter().filter(|s| p.contains(s.ts)).collect()
}

fn model_of(
    meta: &ModelMeta,
    arch: &Architecture,
    w: &Weights,
    s: &Scaler,
    z: f64,
) -> Result<ContextModel, TrainError> {
    let mlp = FastMlp::new(arch, w, s)
        .ok_or_else(|| TrainError::Data("trained weights do not fit the architecture".into()))?;
    Ok(ContextModel::new(meta.clone(), mlp, z))
}

/// Trains on the dataset's chronological split, scores the test part, runs the walk-forward
/// folds. `command` is recorded in the metadata as typed.
pub fn train_context(
    ds: &Dataset,
    opts: &ContextTrainOptions,
    command: &str,
    created_by: &str,
) -> Result<ContextTrained, TrainError> {
    let (Some(first), Some(last)) = (ds.samples.first(), ds.samples.last()) else {
        return Err(TrainError::Data(format!(
            "no samples: each file needs more than {} minutes of prices",
            LOOKBACK + H_MAX
        )));
    };
    let (start, end) = (first.ts, last.ts + (H_MAX as i64 + 1) * MINUTE_MS);
    let splits = chronological_splits(start, end, 0.7, 0.8);
    let arch = Architecture::mlp(N_INPUTS, &opts.hidden, OUTPUT_NAMES.len(), opts.activation);
    let tr = select(&ds.samples, &splits.train);
    let va = select(&ds.samples, &splits.val);
    let te = select(&ds.samples, &splits.test);
    let (scaler, weights, report) = fit(&arch, &tr, &va, &opts.train)?;

    let mut details = toml::Table::new();
    let mut put = |k: &str, v: toml::Value| {
        details.insert(k.to_string(), v);
    };
    for (name, p, n) in [
        ("train", &splits.train, tr.len()),
        ("validation", &splits.val, va.len()),
        ("test", &splits.test, te.len()),
    ] {
        put(&format!("{name}_period"), toml::Value::String(p.describe()));
        put(
            &format!("{name}_start_ms"),
            toml::Value::Integer(p.start_ms),
        );
        put(&format!("{name}_end_ms"), toml::Value::Integer(p.end_ms));
        put(&format!("{name}_samples"), toml::Value::Integer(n as i64));
    }
    put("embargo_min", toml::Value::Integer(EMBARGO_MIN));
    put("lookback_min", toml::Value::Integer(LOOKBACK as i64));
    put(
        "ref_vol_window_min",
        toml::Value::Integer(REF_VOL_WINDOW as i64),
    );
    put("vol_floor", toml::Value::Float(context::VOL_FLOOR));
    put("z_clamp", toml::Value::Float(context::Z_CLAMP));
    put("target_clamp", toml::Value::Float(TARGET_CLAMP as f64));
    put(
        "max_gap_fill_min",
        toml::Value::Integer(opts.max_fill as i64),
    );
    put(
        "realized_band_sigma",
        toml::Value::Float(REALIZED_BAND_SIGMA),
    );
    put(
        "z_threshold_at_training",
        toml::Value::Float(opts.z_threshold),
    );
    put("best_epoch", toml::Value::Integer(report.best_epoch as i64));
    put("epochs_run", toml::Value::Integer(report.epochs_run as i64));
    put("best_val_loss", toml::Value::Float(report.best_val_loss));

    let mut meta = ModelMeta {
        schema: SCHEMA.into(),
        schema_version: SCHEMA_VERSION,
        kind: "gaussian-mlp".into(),
        inputs: INPUT_NAMES.iter().map(|s| s.to_string()).collect(),
        outputs: OUTPUT_NAMES.iter().map(|s| s.to_string()).collect(),
        horizons: HORIZONS_MIN.iter().map(|h| format!("{h}m")).collect(),
        dead_band: None,
        temperature: None,
        seed: opts.train.seed,
        command: command.to_string(),
        created_by: created_by.to_string(),
        architecture: arch.clone(),
        scaler: scaler.clone(),
        training: opts.train.clone(),
        data: DataInfo {
            files: ds.files.clone(),
            digest: ds.digest.clone(),
            rows: ds.rows,
        },
        details,
        metrics: toml::Table::new(),
    };
    let mut model = model_of(&meta, &arch, &weights, &scaler, opts.z_threshold)?;
    let test = evaluate(&mut model, &te);
    for h in &test {
        if let Ok(v) = toml::Value::try_from(h) {
            meta.metrics.insert(format!("test_{}", h.horizon), v);
        }
    }

    // Walk-forward: growing prefixes of the data before the test part.
    let mut folds = Vec::new();
    let pre_end = splits.val.end_ms;
    for f in 0..opts.folds {
        let k = opts.folds as f64;
        let cut = start + ((pre_end - start) as f64 * (0.5 + 0.5 * f as f64 / k)) as i64;
        let next = start + ((pre_end - start) as f64 * (0.5 + 0.5 * (f + 1) as f64 / k)) as i64;
        let inner = chronological_splits(start, cut, 0.875, 1.0);
        let fold_test = Part {
            start_ms: cut + EMBARGO_MIN * MINUTE_MS,
            end_ms: next,
        };
        let ftr = select(&ds.samples, &inner.train);
        let fva = select(&ds.samples, &inner.val);
        let fte = select(&ds.samples, &fold_test);
        let (s, w, _) = fit(&arch, &ftr, &fva, &opts.train)?;
        let mut fm = model_of(&meta, &arch, &w, &s, opts.z_threshold)?;
        folds.push(FoldReport {
            fold: f + 1,
            train: inner.train.describe(),
            test: fold_test.describe(),
            horizons: evaluate(&mut fm, &fte),
        });
    }
    if !folds.is_empty()
        && let Ok(v) = toml::Value::try_from(&folds)
    {
        meta.metrics.insert("walk_forward".into(), v);
    }
    Ok(ContextTrained {
        meta,
        weights,
        splits,
        report,
        test,
        folds,
    })
}

/// Which samples `eval` scores.
#[derive(Clone, Copy, Debug, Default)]
pub struct EvalFilter {
    /// Only samples at or after this minute (UTC ms).
    pub from_ms: Option<i64>,
    /// Only samples whose label ends by this time (UTC ms).
    pub until_ms: Option<i64>,
    /// Only the model's held-out test period (and anything after it).
    pub held_out: bool,
}

/// `eval`'s context table: the label horizon's scores at the top, every horizon below.
#[derive(Clone, Debug, Serialize)]
pub struct ContextEvalReport {
    pub model_dir: String,
    pub files: Vec<String>,
    /// First and last sample minute.
    pub period: String,
    pub n: u64,
    /// Share of the scored samples inside the model's training or validation period: anything
    /// above 0 is not a held-out score. `null` when the model does not record its split.
    pub in_sample_fraction: Option<f64>,
    /// The label horizon (the `model` / `baselines` fields below are for it).
    pub horizon: String,
    pub z_threshold: f64,
    pub realized_band_sigma: f64,
    pub model: GaussianScores,
    pub baselines: Baselines,
    pub verdict: String,
    pub horizons: Vec<HorizonReport>,
}

/// The model's held-out test period start, from its metadata.
pub fn test_start_ms(meta: &ModelMeta) -> Option<i64> {
    meta.details
        .get("test_start_ms")
        .and_then(|v| v.as_integer())
}

/// Keeps the last `minutes` of samples' worth of rows (plus the lookback and the horizon), so a
/// quick evaluation need not compute features for a whole history.
pub fn keep_last_minutes(series: &mut KlineSeries, minutes: usize) {
    let keep = minutes + LOOKBACK + H_MAX;
    if series.rows.len() > keep {
        let cut = series.rows.len() - keep;
        series.rows.drain(..cut);
        let first = series.rows.first().map_or(i64::MIN, |k| k.open_time_ms);
        series.gaps.retain(|g| g.after_ms >= first);
    }
}

/// Scores `model` on the dataset's samples that pass `filter`.
pub fn eval_context(
    model: &mut ContextModel,
    ds: &Dataset,
    filter: &EvalFilter,
    label_index: usize,
    model_dir: &str,
) -> ContextEvalReport {
    let test_start = test_start_ms(&model.meta);
    let chosen: Vec<&ContextSample> = ds
        .samples
        .iter()
        .filter(|s| filter.from_ms.is_none_or(|f| s.ts >= f))
        .filter(|s| {
            filter
                .until_ms
                .is_none_or(|u| s.ts + H_MAX as i64 * MINUTE_MS <= u)
        })
        .filter(|s| !filter.held_out || test_start.is_some_and(|t| s.ts >= t))
        .collect();
    let horizons = evaluate(model, &chosen);
    let n = chosen.len() as u64;
    let in_sample_fraction = test_start.map(|t| {
        if n == 0 {
            0.0
        } else {
            chosen.iter().filter(|s| s.ts < t).count() as f64 / n as f64
        }
    });
    let period = match (chosen.first(), chosen.last()) {
        (Some(a), Some(b)) => format!("{} → {} UTC", format_utc_ms(a.ts), format_utc_ms(b.ts)),
        _ => "no samples".into(),
    };
    let top = horizons.get(label_index).cloned().unwrap_or_default();
    ContextEvalReport {
        model_dir: model_dir.to_string(),
        files: ds.files.clone(),
        period,
        n,
        in_sample_fraction,
        horizon: top.horizon.clone(),
        z_threshold: model.z_threshold,
        realized_band_sigma: REALIZED_BAND_SIGMA,
        model: top.model,
        baselines: top.baselines,
        verdict: top.verdict,
        horizons,
    }
}

/// The per-horizon tables as text (what `eval` prints without `--json`, and the model card's
/// table).
pub fn render_horizons(horizons: &[HorizonReport]) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let f = |v: f64| {
        if v.is_nan() {
            "—".to_string()
        } else {
            format!("{v:.4}")
        }
    };
    for h in horizons {
        let _ = writeln!(o, "horizon {} (n = {})", h.horizon, h.model.n);
        let _ = writeln!(
            o,
            "| forecast | NLL (bp) | cover 68% | cover 95% | dir. accuracy | calls | hit rate | IC |"
        );
        let _ = writeln!(o, "|---|---|---|---|---|---|---|---|");
        let m = &h.model;
        let _ = writeln!(
            o,
            "| model | {} | {} | {} | {} | {} | {} | {} |",
            f(m.nll),
            f(m.coverage_68),
            f(m.coverage_95),
            f(m.directional_accuracy),
            f(m.calls),
            f(m.hit_rate),
            f(m.ic)
        );
        let z = &h.baselines.zero_drift_rolling_vol;
        let _ = writeln!(
            o,
            "| zero drift, rolling vol | {} | {} | {} | {} | {} | {} | {} |",
            f(z.nll),
            f(z.coverage_68),
            f(z.coverage_95),
            f(z.directional_accuracy),
            f(z.calls),
            f(z.hit_rate),
            f(z.ic)
        );
        for (name, d) in [
            ("last return sign", &h.baselines.last_return_sign),
            ("always neutral", &h.baselines.always_neutral),
        ] {
            let _ = writeln!(
                o,
                "| {name} | — | — | — | {} | {} | {} | {} |",
                f(d.directional_accuracy),
                f(d.calls),
                f(d.hit_rate),
                f(d.ic)
            );
        }
        let _ = writeln!(o, "verdict: {}\n", h.verdict);
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use microstate_io::record::klines::Kline;

    #[test]
    fn splits_keep_embargoes_and_labels_inside_parts() {
        let day = 1440 * MINUTE_MS;
        let s = chronological_splits(0, 100 * day, 0.7, 0.8);
        assert_eq!(s.train.end_ms, 70 * day);
        assert_eq!(s.val.start_ms - s.train.end_ms, EMBARGO_MIN * MINUTE_MS);
        assert_eq!(s.test.start_ms - s.val.end_ms, EMBARGO_MIN * MINUTE_MS);
        // A sample whose 30-minute label would cross the end is outside.
        let t = s.train.end_ms - 29 * MINUTE_MS;
        assert!(!s.train.contains(t));
        assert!(s.train.contains(t - MINUTE_MS));
        assert!(!s.val.contains(s.train.end_ms + MINUTE_MS));
    }

    #[test]
    fn dataset_labels_read_the_future_and_features_the_past() {
        let t0 = 1_747_699_200_000i64;
        let rows: Vec<Kline> = (0..400)
            .map(|i| {
                let c = 100.0 * (1.0 + 0.001 * ((i as f64) / 7.0).sin());
                Kline {
                    open_time_ms: t0 + i * MINUTE_MS,
                    open: c,
                    high: c,
                    low: c,
                    close: c,
                    volume: 1.0,
                }
            })
            .collect();
        let closes: Vec<f64> = rows.iter().map(|k| k.close).collect();
        let series = KlineSeries {
            source: "x".into(),
            rows,
            gaps: vec![],
        };
        let ds = build_dataset(std::slice::from_ref(&series), 5);
        // Samples from minute 240 to 369 (30 minutes of future needed).
        assert_eq!(ds.samples.len(), 400 - LOOKBACK - H_MAX);
        let s = &ds.samples[0];
        assert_eq!(s.ts, t0 + (LOOKBACK as i64 + 1) * MINUTE_MS);
        assert!((s.fwd[0] - (closes[255] / closes[240]).ln()).abs() < 1e-15);
        assert!((s.last[1] - (closes[240] / closes[210]).ln()).abs() < 1e-15);
        // Changing the future changes the labels, not the features.
        let mut changed = series.clone();
        changed.rows[255].close *= 1.01;
        let ds2 = build_dataset(&[changed], 5);
        assert_eq!(ds2.samples[0].x, s.x);
        assert_ne!(ds2.samples[0].fwd[0], s.fwd[0]);
        assert_ne!(ds2.digest, ds.digest);
    }
}
