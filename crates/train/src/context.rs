//! Training and evaluating the context model on minute price histories, honestly.
//!
//! Owns: datasets (every kline file replayed through the same [`segments`] / [`features`] /
//! [`trend_z`] code the live [`ContextState`] runs), chronological splits with embargoes,
//! walk-forward folds, the training recipe (network, the Student-t error shape, the baselines'
//! parameters and the directional-skill check — all fitted on the training part only), and the
//! evaluation against baselines with day-block bootstrap intervals. Must not touch: clocks, the
//! screen. Reading files happens in the binary; this module takes parsed [`KlineSeries`].
//!
//! # Samples and labels
//! A sample at minute t (once [`LOOKBACK`] minutes of history exist) has the features of the
//! window ending at t — the past only —, the trend at t (z and label with hysteresis, exactly as
//! live), and labels reading the future: the log returns `ln(c_{t+h} / c_t)` for h ∈ {15, 30}.
//! A sample without 30 minutes of future in its segment is dropped.
//!
//! # Splits (by time, shared by all files, so BTC's test weeks are also ETH's)
//! Over the span of sample times: train the first 70 %, validate the next 10 %, test the last
//! 20 %, each part separated by an embargo of [`EMBARGO_MIN`] minutes (≥ the 30 min horizon and
//! the 240 min lookback: no test window sees a validation label, no labels overlap across
//! parts). A sample belongs to a part only if its label ends inside it. The scaler, the network,
//! the error shape and every baseline's parameters are fitted on the training part; early
//! stopping and the directional-skill check read validation; the test part is read once, at the
//! end. Walk-forward folds repeat the whole recipe on growing prefixes of the data before the
//! test part, to show whether the result is stable in time.
//!
//! # Forecasters compared (per horizon h, `s_h = σ₆₀·√h`)
//! - `model`: the network's drift and σ with the Student-t shape fitted on training residuals;
//! - `zero_drift_rolling_vol`: N(0, s_h²) — the network's starting point;
//! - `rescaled_rolling_vol`: N(0, (k_h·s_h)²), `k_h² = mean((y/s_h)²)` on the training part;
//! - `rolling_vol_student_t`: `s_h · scale · T_ν`, the t fitted to `y/s_h` on the training part
//!   (the model's tails without the network: what the network itself adds);
//! - `last_return_sign`: N(β_h·sign(r_last)·s_h, (k'_h·s_h)²) with β (momentum) and k' fitted on
//!   the training part; its direction is the sign of the last h minutes' return.
//!
//! # Scores
//! NLL (nats, returns in basis points), coverage of the central 68 % and 95 % intervals,
//! directional accuracy against the realized class (BULLISH when the return exceeds
//! [`REALIZED_BAND_SIGMA`]·s_h, BEARISH below minus that, else NEUTRAL), the share of calls,
//! their hit rate, the information coefficient of the drift. Differences in NLL to each baseline
//! come with a 95 % interval from a bootstrap over whole UTC days (minutes of one day, and the
//! two symbols of one day, move together; days are the blocks). The trend's label shares say
//! how often the interpretation table's trend cells can occur.

use serde::Serialize;

use crate::TrainError;
use crate::mlp::{Targets, train};
use microstate_core::ml::classifier::pearson;
use microstate_core::ml::context::{
    self, Calibration, ContextLabel, ContextModel, ContextState, HORIZONS_MIN, INPUT_NAMES,
    LOOKBACK, N_INPUTS, OUTPUT_NAMES, REF_VOL_WINDOW, SCHEMA, SCHEMA_VERSION, TREND_REPLAY_MIN,
    TrendParams, features, segments, trend_z,
};
use microstate_core::ml::dist::{ErrorShape, fit_shape};
use microstate_core::ml::fast::FastMlp;
use microstate_core::ml::meta::{DataDigest, DataInfo, ModelMeta};
use microstate_core::ml::scaler::Scaler;
use microstate_core::ml::weights::{Activation, Architecture, TrainOptions, TrainReport, Weights};
use microstate_core::rng::Rng;
use microstate_io::record::klines::{KlineSeries, MINUTE_MS, format_utc_ms};

/// Minutes between split parts.
pub const EMBARGO_MIN: i64 = 240;
/// The realized-direction band, in units of σ₆₀·√h (a Gaussian return is inside ±0.5σ 38 % of
/// the time).
pub const REALIZED_BAND_SIGMA: f64 = 0.5;
/// Normalised targets are clamped to ±this in training (a fill-floored σ can make a huge one).
pub const TARGET_CLAMP: f32 = 20.0;
const H_MAX: usize = HORIZONS_MIN[HORIZONS_MIN.len() - 1];
const DAY_MS: i64 = 86_400_000;
/// Bootstrap resamples for the intervals.
pub const BOOTSTRAP_REPS: usize = 1000;

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
    /// The trend at `ts` per horizon: z and the label with hysteresis (as live).
    pub trend_z: [f64; 2],
    pub trend: [ContextLabel; 2],
}

impl ContextSample {
    /// `s_h = σ₆₀·√h` of horizon index `h`.
    pub fn scale(&self, h: usize) -> f64 {
        self.sigma_ref * (HORIZONS_MIN[h] as f64).sqrt()
    }

    /// Normalised target of horizon `h`, clamped.
    fn target(&self, h: usize) -> f32 {
        ((self.fwd[h] / self.scale(h)) as f32).clamp(-TARGET_CLAMP, TARGET_CLAMP)
    }

    /// The UTC day (bootstrap block).
    pub fn day(&self) -> i64 {
        self.ts.div_euclid(DAY_MS)
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

/// Replays every file through the live feature and trend code. `max_fill`: the gap rule's
/// limit (minutes). Samples are ordered by time, then file.
pub fn build_dataset(series: &[KlineSeries], max_fill: u64, trend: &TrendParams) -> Dataset {
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
            // The trend z at every minute of the segment, once; the same arithmetic as live.
            let zs: Vec<[f64; 2]> = (0..c.len())
                .map(|t| [0, 1].map(|h| trend_z(c, &r, t, HORIZONS_MIN[h])))
                .collect();
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
                let from = t - TREND_REPLAY_MIN;
                let labels = [0, 1].map(|h| trend.replay(zs[from..=t].iter().map(|z| z[h])));
                ds.samples.push(ContextSample {
                    ts: seg.ts(t),
                    series: si as u32,
                    x,
                    sigma_ref,
                    fwd,
                    last,
                    trend_z: zs[t],
                    trend: labels,
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
    /// Call threshold used in the reported metrics (where a call is allowed).
    pub z_threshold: f64,
    pub trend: TrendParams,
    /// Bootstrap resamples for intervals.
    pub bootstrap_reps: usize,
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
            trend: TrendParams::default(),
            bootstrap_reps: BOOTSTRAP_REPS,
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

// ---------------------------------------------------------------------------------------------
// Baselines' parameters, fitted on the training part only.

/// What the baselines learned from the training part (stored in the model's metadata, so an
/// evaluation never fits anything on the data it scores).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BaselineParams {
    /// `k_h` of `rescaled_rolling_vol`.
    pub rescale: [f64; 2],
    /// The t shape of `rolling_vol_student_t`.
    pub t_shape: [ErrorShape; 2],
    /// `β_h` and `k'_h` of `last_return_sign`.
    pub momentum_beta: [f64; 2],
    pub momentum_scale: [f64; 2],
}

impl BaselineParams {
    fn keys(h: usize) -> [String; 5] {
        let m = HORIZONS_MIN[h];
        [
            format!("baseline_rescale_{m}m"),
            format!("baseline_t_df_{m}m"),
            format!("baseline_t_scale_{m}m"),
            format!("baseline_momentum_beta_{m}m"),
            format!("baseline_momentum_scale_{m}m"),
        ]
    }

    /// Fits every baseline on `train`.
    pub fn fit(train: &[&ContextSample]) -> BaselineParams {
        let mut p = BaselineParams {
            rescale: [1.0; 2],
            t_shape: [ErrorShape::default(); 2],
            momentum_beta: [0.0; 2],
            momentum_scale: [1.0; 2],
        };
        if train.is_empty() {
            return p;
        }
        let n = train.len() as f64;
        for h in 0..HORIZONS_MIN.len() {
            let u: Vec<f64> = train.iter().map(|s| s.fwd[h] / s.scale(h)).collect();
            p.rescale[h] = (u.iter().map(|v| v * v).sum::<f64>() / n).sqrt();
            p.t_shape[h] = fit_shape(&u);
            let sg: Vec<f64> = train.iter().map(|s| sign(s.last[h])).collect();
            let beta = u.iter().zip(&sg).map(|(u, g)| u * g).sum::<f64>()
                / sg.iter().map(|g| g * g).sum::<f64>().max(1.0);
            p.momentum_beta[h] = beta;
            p.momentum_scale[h] = (u
                .iter()
                .zip(&sg)
                .map(|(u, g)| (u - beta * g).powi(2))
                .sum::<f64>()
                / n)
                .sqrt();
        }
        p
    }

    pub fn to_details(&self, d: &mut toml::Table) {
        for h in 0..HORIZONS_MIN.len() {
            let [r, df, sc, b, ms] = Self::keys(h);
            let t = &self.t_shape[h];
            d.insert(r, toml::Value::Float(self.rescale[h]));
            d.insert(
                df,
                toml::Value::Float(if t.df.is_finite() { t.df } else { 0.0 }),
            );
            d.insert(sc, toml::Value::Float(t.scale));
            d.insert(b, toml::Value::Float(self.momentum_beta[h]));
            d.insert(ms, toml::Value::Float(self.momentum_scale[h]));
        }
    }

    /// From a model's metadata; `None` when it was trained before baselines were stored.
    pub fn from_meta(meta: &ModelMeta) -> Option<BaselineParams> {
        let num = |k: &str| meta.details.get(k).and_then(|v| v.as_float());
        let mut p = BaselineParams {
            rescale: [1.0; 2],
            t_shape: [ErrorShape::default(); 2],
            momentum_beta: [0.0; 2],
            momentum_scale: [1.0; 2],
        };
        for h in 0..HORIZONS_MIN.len() {
            let [r, df, sc, b, ms] = Self::keys(h);
            p.rescale[h] = num(&r)?;
            let df = num(&df)?;
            p.t_shape[h] = ErrorShape::new(if df > 0.0 { df } else { f64::INFINITY }, num(&sc)?);
            p.momentum_beta[h] = num(&b)?;
            p.momentum_scale[h] = num(&ms)?;
        }
        Some(p)
    }
}

fn sign(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// The model's error shape per horizon: a t fitted to its standardized residuals on `train`.
fn fit_error_shapes(model: &mut ContextModel, train: &[&ContextSample]) -> [ErrorShape; 2] {
    let mut u: [Vec<f64>; 2] = [
        Vec::with_capacity(train.len()),
        Vec::with_capacity(train.len()),
    ];
    for s in train {
        let raw = model.raw(&s.x);
        for (h, uh) in u.iter_mut().enumerate() {
            let (drift, sd) = ContextModel::moments(&raw, h, s.sigma_ref);
            uh.push((s.fwd[h] - drift) / sd);
        }
    }
    [fit_shape(&u[0]), fit_shape(&u[1])]
}

/// The out-of-sample directional-skill check of one horizon.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DirectionCheck {
    pub horizon: String,
    /// Where it was measured (the validation weeks: the weights never trained on them).
    pub period: String,
    pub n: u64,
    /// Correlation of the drift with the realized return, with a day-bootstrap 95 % interval.
    pub ic: Interval,
    /// NLL with the drift set to zero minus NLL with it (positive: the drift helps).
    pub nll_gain: Interval,
    /// Both intervals above zero.
    pub skill: bool,
}

fn direction_checks(
    model: &mut ContextModel,
    val: &[&ContextSample],
    period: &str,
    reps: usize,
) -> Vec<DirectionCheck> {
    let days: Vec<i64> = val.iter().map(|s| s.day()).collect();
    (0..HORIZONS_MIN.len())
        .map(|h| {
            let shape = model.calibration.shapes[h];
            let mut drift = Vec::with_capacity(val.len());
            let mut y = Vec::with_capacity(val.len());
            let mut gain = Vec::with_capacity(val.len());
            for s in val {
                let raw = model.raw(&s.x);
                let (d, sd) = ContextModel::moments(&raw, h, s.sigma_ref);
                let yb = s.fwd[h] * 1e4;
                gain.push(shape.nll(yb, 0.0, sd * 1e4) - shape.nll(yb, d * 1e4, sd * 1e4));
                drift.push(d);
                y.push(s.fwd[h]);
            }
            let ic = bootstrap_ic(&days, &drift, &y, reps, 11 + h as u64);
            let nll_gain = bootstrap_mean(&days, &gain, reps, 21 + h as u64);
            DirectionCheck {
                horizon: format!("{}m", HORIZONS_MIN[h]),
                period: period.to_string(),
                n: val.len() as u64,
                skill: ic.lo > 0.0 && nll_gain.lo > 0.0,
                ic,
                nll_gain,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Day-block bootstrap.

/// A mean (or correlation) with its 95 % interval.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Interval {
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
}

/// Consecutive runs of equal `days` (the samples are time-ordered): `(start, end)` ranges.
fn day_blocks(days: &[i64]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=days.len() {
        if i == days.len() || days[i] != days[start] {
            if i > start {
                out.push((start, i));
            }
            start = i;
        }
    }
    out
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Mean of `v` with a 95 % interval from resampling whole days (`reps` resamples, seeded).
pub fn bootstrap_mean(days: &[i64], v: &[f64], reps: usize, seed: u64) -> Interval {
    let blocks: Vec<(f64, f64)> = day_blocks(days)
        .iter()
        .map(|&(a, b)| (v[a..b].iter().sum::<f64>(), (b - a) as f64))
        .collect();
    let total: (f64, f64) = blocks
        .iter()
        .fold((0.0, 0.0), |t, b| (t.0 + b.0, t.1 + b.1));
    let mean = if total.1 > 0.0 {
        total.0 / total.1
    } else {
        f64::NAN
    };
    let k = blocks.len() as u64;
    if k == 0 {
        return Interval {
            mean,
            lo: f64::NAN,
            hi: f64::NAN,
        };
    }
    let mut rng = Rng::new(seed, 0xB007);
    let mut stats: Vec<f64> = (0..reps)
        .map(|_| {
            let (mut s, mut n) = (0.0, 0.0);
            for _ in 0..k {
                let b = blocks[rng.below(k) as usize];
                s += b.0;
                n += b.1;
            }
            s / n
        })
        .collect();
    stats.sort_by(f64::total_cmp);
    Interval {
        mean,
        lo: percentile(&stats, 0.025),
        hi: percentile(&stats, 0.975),
    }
}

/// Pearson correlation of `x` and `y` with a 95 % day-bootstrap interval.
pub fn bootstrap_ic(days: &[i64], x: &[f64], y: &[f64], reps: usize, seed: u64) -> Interval {
    // Per day: n, Σx, Σy, Σxy, Σx², Σy².
    let blocks: Vec<[f64; 6]> = day_blocks(days)
        .iter()
        .map(|&(a, b)| {
            let mut s = [0.0; 6];
            for i in a..b {
                s[0] += 1.0;
                s[1] += x[i];
                s[2] += y[i];
                s[3] += x[i] * y[i];
                s[4] += x[i] * x[i];
                s[5] += y[i] * y[i];
            }
            s
        })
        .collect();
    let corr = |s: &[f64; 6]| {
        let n = s[0];
        let cov = s[3] - s[1] * s[2] / n;
        let vx = s[4] - s[1] * s[1] / n;
        let vy = s[5] - s[2] * s[2] / n;
        cov / (vx * vy).sqrt()
    };
    let sum = |idx: &mut dyn Iterator<Item = usize>| {
        let mut t = [0.0; 6];
        for i in idx {
            for (a, b) in t.iter_mut().zip(&blocks[i]) {
                *a += b;
            }
        }
        t
    };
    let mean = corr(&sum(&mut (0..blocks.len())));
    let k = blocks.len() as u64;
    if k == 0 {
        return Interval {
            mean,
            lo: f64::NAN,
            hi: f64::NAN,
        };
    }
    let mut rng = Rng::new(seed, 0x1C);
    let mut stats: Vec<f64> = (0..reps)
        .map(|_| corr(&sum(&mut (0..k).map(|_| rng.below(k) as usize))))
        .filter(|v| v.is_finite())
        .collect();
    stats.sort_by(f64::total_cmp);
    Interval {
        mean,
        lo: percentile(&stats, 0.025),
        hi: percentile(&stats, 0.975),
    }
}

// ---------------------------------------------------------------------------------------------
// Scoring.

/// One forecaster's scores on one horizon.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ForecastScores {
    /// Mean negative log-likelihood, nats, returns in basis points (lower is better).
    pub nll: f64,
    /// Share of returns inside the central 68 % / 95 % intervals (nominal 0.68 / 0.95).
    pub coverage_68: f64,
    pub coverage_95: f64,
    pub n: u64,
    /// Label (the call, or NEUTRAL without one) against the realized class.
    pub directional_accuracy: f64,
    /// Share of BULLISH / BEARISH calls.
    pub calls: f64,
    /// Share of calls whose sign was right (NaN without calls).
    pub hit_rate: f64,
    /// Correlation of the forecast's drift (or the last return) with the return (NaN when the
    /// drift is constant).
    pub ic: f64,
}

/// The baselines (every one a full forecast distribution).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Baselines {
    pub zero_drift_rolling_vol: ForecastScores,
    pub rescaled_rolling_vol: ForecastScores,
    pub rolling_vol_student_t: ForecastScores,
    pub last_return_sign: ForecastScores,
}

/// Each baseline's NLL minus the model's, per sample, averaged with a 95 % day-bootstrap
/// interval: the model's gain in nats (positive: the model is better; an interval that
/// contains 0: no difference shown).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct NllDiffs {
    pub zero_drift_rolling_vol: Interval,
    pub rescaled_rolling_vol: Interval,
    pub rolling_vol_student_t: Interval,
    pub last_return_sign: Interval,
}

/// How often each trend label occurred, and what it was worth as a forecast (it is not one).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TrendShares {
    pub bullish: f64,
    pub neutral: f64,
    pub bearish: f64,
    /// Share of BULLISH / BEARISH minutes after which the next h minutes moved the same way.
    pub next_same_sign: f64,
    pub n: u64,
}

/// One horizon's table.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HorizonReport {
    pub horizon: String,
    pub model: ForecastScores,
    pub baselines: Baselines,
    /// The model's NLL gain over each baseline (baseline − model, nats).
    pub nll_gain: NllDiffs,
    /// Directional accuracy of "always NEUTRAL".
    pub always_neutral_accuracy: f64,
    pub trend: TrendShares,
    /// Plain words: does the model beat its baselines here?
    pub verdict: String,
}

#[derive(Default)]
struct Acc {
    n: u64,
    in68: u64,
    in95: u64,
    correct: u64,
    calls: u64,
    hits: u64,
    nll: Vec<f64>,
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
    /// One forecast: distribution `mu + sd·shape`, its label, the score its IC reads.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        y: f64,
        band: f64,
        mu: f64,
        sd: f64,
        shape: &ErrorShape,
        label: ContextLabel,
        score: f64,
    ) {
        self.n += 1;
        let (yb, mb, sb) = (y * 1e4, mu * 1e4, sd * 1e4);
        self.nll.push(shape.nll(yb, mb, sb));
        let d = (yb - mb).abs();
        if d <= shape.half_68 * sb {
            self.in68 += 1;
        }
        if d <= shape.half_95 * sb {
            self.in95 += 1;
        }
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

    fn ratio(a: u64, b: u64) -> f64 {
        if b == 0 {
            f64::NAN
        } else {
            a as f64 / b as f64
        }
    }

    fn scores(&self) -> ForecastScores {
        ForecastScores {
            nll: if self.n == 0 {
                f64::NAN
            } else {
                self.nll.iter().sum::<f64>() / self.n as f64
            },
            coverage_68: Acc::ratio(self.in68, self.n),
            coverage_95: Acc::ratio(self.in95, self.n),
            n: self.n,
            directional_accuracy: Acc::ratio(self.correct, self.n),
            calls: Acc::ratio(self.calls, self.n),
            hit_rate: Acc::ratio(self.hits, self.calls),
            ic: pearson(&self.pred, &self.real),
        }
    }
}

fn label_of_sign(v: f64) -> ContextLabel {
    if v > 0.0 {
        ContextLabel::Bullish
    } else if v < 0.0 {
        ContextLabel::Bearish
    } else {
        ContextLabel::Neutral
    }
}

/// Scores the model and the baselines (`bp`, fitted on the model's training data) on
/// `samples`, one report per horizon.
pub fn evaluate(
    model: &mut ContextModel,
    bp: &BaselineParams,
    samples: &[&ContextSample],
    reps: usize,
) -> Vec<HorizonReport> {
    let nh = HORIZONS_MIN.len();
    // Per horizon: model, zero, rescaled, t, momentum, always neutral.
    let mut acc: Vec<[Acc; 6]> = (0..nh).map(|_| Default::default()).collect();
    let mut trend = vec![[0u64; 5]; nh];
    let gauss = ErrorShape::default();
    for s in samples {
        let raw = model.raw(&s.x);
        for (h, a) in acc.iter_mut().enumerate() {
            let y = s.fwd[h];
            let base = s.scale(h);
            let band = REALIZED_BAND_SIGMA * base;
            let f = model.forecast(&raw, h, s.sigma_ref);
            let (drift, sd) = ContextModel::moments(&raw, h, s.sigma_ref);
            let shape = model.calibration.shapes[h];
            let call = f.call.unwrap_or(ContextLabel::Neutral);
            a[0].add(y, band, drift, sd, &shape, call, drift);
            let n = ContextLabel::Neutral;
            a[1].add(y, band, 0.0, base, &gauss, n, 0.0);
            let k = ErrorShape::gaussian(bp.rescale[h]);
            a[2].add(y, band, 0.0, base, &k, n, 0.0);
            a[3].add(y, band, 0.0, base, &bp.t_shape[h], n, 0.0);
            let g = sign(s.last[h]);
            let m = ErrorShape::gaussian(bp.momentum_scale[h]);
            let mu = bp.momentum_beta[h] * g * base;
            a[4].add(y, band, mu, base, &m, label_of_sign(s.last[h]), s.last[h]);
            a[5].add(y, band, 0.0, base, &gauss, n, 0.0);
            let t = &mut trend[h];
            t[4] += 1;
            match s.trend[h] {
                ContextLabel::Bullish => {
                    t[0] += 1;
                    t[3] += u64::from(y > 0.0);
                }
                ContextLabel::Neutral => t[1] += 1,
                ContextLabel::Bearish => {
                    t[2] += 1;
                    t[3] += u64::from(y < 0.0);
                }
            }
        }
    }
    let days: Vec<i64> = samples.iter().map(|s| s.day()).collect();
    acc.iter()
        .enumerate()
        .map(|(h, a)| {
            let diff = |b: usize| {
                let d: Vec<f64> = a[0].nll.iter().zip(&a[b].nll).map(|(m, x)| x - m).collect();
                bootstrap_mean(&days, &d, reps, 100 + 10 * h as u64 + b as u64)
            };
            let t = &trend[h];
            let share = |c: u64| Acc::ratio(c, t[4]);
            let model = a[0].scores();
            let baselines = Baselines {
                zero_drift_rolling_vol: a[1].scores(),
                rescaled_rolling_vol: a[2].scores(),
                rolling_vol_student_t: a[3].scores(),
                last_return_sign: a[4].scores(),
            };
            let nll_gain = NllDiffs {
                zero_drift_rolling_vol: diff(1),
                rescaled_rolling_vol: diff(2),
                rolling_vol_student_t: diff(3),
                last_return_sign: diff(4),
            };
            let always_neutral_accuracy = a[5].scores().directional_accuracy;
            let verdict = verdict(&model, &baselines, &nll_gain, always_neutral_accuracy);
            HorizonReport {
                horizon: format!("{}m", HORIZONS_MIN[h]),
                model,
                baselines,
                nll_gain,
                always_neutral_accuracy,
                trend: TrendShares {
                    bullish: share(t[0]),
                    neutral: share(t[1]),
                    bearish: share(t[2]),
                    next_same_sign: Acc::ratio(t[3], t[0] + t[2]),
                    n: t[4],
                },
                verdict,
            }
        })
        .collect()
}

/// What the numbers say, in words: the range against each baseline (by the bootstrap
/// interval), the coverage, and the direction.
fn verdict(m: &ForecastScores, b: &Baselines, d: &NllDiffs, neutral_acc: f64) -> String {
    let mut parts = Vec::new();
    for (name, i) in [
        ("rescaled_rolling_vol", &d.rescaled_rolling_vol),
        ("rolling_vol_student_t", &d.rolling_vol_student_t),
        ("zero_drift_rolling_vol", &d.zero_drift_rolling_vol),
    ] {
        let word = if i.lo > 0.0 {
            "better than"
        } else if i.hi < 0.0 {
            "WORSE than"
        } else {
            "NOT distinguishable from"
        };
        parts.push(format!(
            "range {word} {name} (gain {:+.4} nats [{:+.4}, {:+.4}])",
            i.mean, i.lo, i.hi
        ));
    }
    parts.push(format!(
        "coverage {:.3} / {:.3} (nominal 0.683 / 0.950; zero-drift rolling vol {:.3} / {:.3})",
        m.coverage_68,
        m.coverage_95,
        b.zero_drift_rolling_vol.coverage_68,
        b.zero_drift_rolling_vol.coverage_95
    ));
    if m.calls > 0.0 {
        parts.push(format!(
            "direction: calls {:.3} of minutes, hit rate {:.3}, accuracy {:.3} vs always-neutral {:.3}",
            m.calls, m.hit_rate, m.directional_accuracy, neutral_acc
        ));
    } else {
        parts.push(format!(
            "direction: no call made (no out-of-sample skill); momentum hit rate {:.3}",
            b.last_return_sign.hit_rate
        ));
    }
    parts.join("; ")
}

// ---------------------------------------------------------------------------------------------
// Training.

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
    pub baselines: BaselineParams,
    pub direction: Vec<DirectionCheck>,
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
    opts: &ContextTrainOptions,
) -> Result<ContextModel, TrainError> {
    let mlp = FastMlp::new(arch, w, s)
        .ok_or_else(|| TrainError::Data("trained weights do not fit the architecture".into()))?;
    Ok(ContextModel::new(meta.clone(), mlp, opts.z_threshold).with_trend(opts.trend))
}

/// The recipe on one split: network, error shape and baselines on `train`, the direction
/// check on `val`. The returned model carries its calibration.
struct Fitted {
    model: ContextModel,
    scaler: Scaler,
    weights: Weights,
    report: TrainReport,
    baselines: BaselineParams,
    direction: Vec<DirectionCheck>,
}

fn fit_recipe(
    meta: &ModelMeta,
    arch: &Architecture,
    tr: &[&ContextSample],
    va: &[&ContextSample],
    val_period: &str,
    opts: &ContextTrainOptions,
) -> Result<Fitted, TrainError> {
    let (scaler, weights, report) = fit(arch, tr, va, &opts.train)?;
    let mut model = model_of(meta, arch, &weights, &scaler, opts)?;
    let shapes = fit_error_shapes(&mut model, tr);
    model.calibration = Calibration {
        shapes,
        direction_skill: [false; 2],
    };
    let direction = direction_checks(&mut model, va, val_period, opts.bootstrap_reps);
    for (h, d) in direction.iter().enumerate() {
        model.calibration.direction_skill[h] = d.skill;
    }
    Ok(Fitted {
        model,
        scaler,
        weights,
        report,
        baselines: BaselineParams::fit(tr),
        direction,
    })
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
    put("trend_enter_z", toml::Value::Float(opts.trend.enter_z));
    put("trend_exit_z", toml::Value::Float(opts.trend.exit_z));

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
        scaler: Scaler::identity(N_INPUTS),
        training: opts.train.clone(),
        data: DataInfo {
            files: ds.files.clone(),
            digest: ds.digest.clone(),
            rows: ds.rows,
        },
        details,
        metrics: toml::Table::new(),
    };
    let f = fit_recipe(&meta, &arch, &tr, &va, &splits.val.describe(), opts)?;
    meta.scaler = f.scaler.clone();
    let d = &mut meta.details;
    d.insert(
        "best_epoch".into(),
        toml::Value::Integer(f.report.best_epoch as i64),
    );
    d.insert(
        "epochs_run".into(),
        toml::Value::Integer(f.report.epochs_run as i64),
    );
    d.insert(
        "best_val_loss".into(),
        toml::Value::Float(f.report.best_val_loss),
    );
    f.model.calibration.to_details(d);
    f.baselines.to_details(d);
    for c in &f.direction {
        if let Ok(v) = toml::Value::try_from(c) {
            meta.metrics
                .insert(format!("direction_check_{}", c.horizon), v);
        }
    }
    let mut model = model_of(&meta, &arch, &f.weights, &f.scaler, opts)?;
    let test = evaluate(&mut model, &f.baselines, &te, opts.bootstrap_reps);
    for h in &test {
        if let Ok(v) = toml::Value::try_from(h) {
            meta.metrics.insert(format!("test_{}", h.horizon), v);
        }
    }

    // Walk-forward: the whole recipe on growing prefixes of the data before the test part.
    let mut folds = Vec::new();
    let pre_end = splits.val.end_ms;
    for k in 0..opts.folds {
        let nf = opts.folds as f64;
        let cut = start + ((pre_end - start) as f64 * (0.5 + 0.5 * k as f64 / nf)) as i64;
        let next = start + ((pre_end - start) as f64 * (0.5 + 0.5 * (k + 1) as f64 / nf)) as i64;
        let inner = chronological_splits(start, cut, 0.875, 1.0);
        let fold_test = Part {
            start_ms: cut + EMBARGO_MIN * MINUTE_MS,
            end_ms: next,
        };
        let ftr = select(&ds.samples, &inner.train);
        let fva = select(&ds.samples, &inner.val);
        let fte = select(&ds.samples, &fold_test);
        let mut ff = fit_recipe(&meta, &arch, &ftr, &fva, &inner.val.describe(), opts)?;
        folds.push(FoldReport {
            fold: k + 1,
            train: inner.train.describe(),
            test: fold_test.describe(),
            horizons: evaluate(&mut ff.model, &ff.baselines, &fte, opts.bootstrap_reps),
        });
    }
    if !folds.is_empty()
        && let Ok(v) = toml::Value::try_from(&folds)
    {
        meta.metrics.insert("walk_forward".into(), v);
    }
    Ok(ContextTrained {
        meta,
        weights: f.weights,
        splits,
        report: f.report,
        baselines: f.baselines,
        direction: f.direction,
        test,
        folds,
    })
}

// ---------------------------------------------------------------------------------------------
// Evaluation of a shipped model.

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
    /// The model's training and validation period (what it was fitted or tuned on), when it
    /// records it.
    pub training_period: Option<String>,
    /// Share of the scored samples inside the model's training or validation period: anything
    /// above 0 is not a held-out score. `null` when the model does not record its split.
    pub in_sample_fraction: Option<f64>,
    /// The warning printed with the table, when some samples are in sample.
    pub in_sample_warning: Option<String>,
    /// The horizon whose trend the interpretation reads (the `model` / `baselines` fields
    /// below are for it).
    pub horizon: String,
    pub z_threshold: f64,
    pub trend_params: TrendParams,
    pub realized_band_sigma: f64,
    pub model: ForecastScores,
    pub baselines: Baselines,
    /// The model's NLL gain over each baseline (baseline − model, nats, 95 % day-bootstrap).
    pub nll_gain: NllDiffs,
    pub trend: TrendShares,
    pub verdict: String,
    /// Whether the model may call a direction, per horizon (from its out-of-sample check).
    pub direction_skill: Vec<bool>,
    pub horizons: Vec<HorizonReport>,
}

/// The model's held-out test period start, from its metadata.
pub fn test_start_ms(meta: &ModelMeta) -> Option<i64> {
    meta.details
        .get("test_start_ms")
        .and_then(|v| v.as_integer())
}

/// The period the model was fitted and tuned on: `[train start, validation end]`.
pub fn training_period(meta: &ModelMeta) -> Option<(i64, i64)> {
    let get = |k: &str| meta.details.get(k).and_then(|v| v.as_integer());
    Some((get("train_start_ms")?, get("validation_end_ms")?))
}

/// Share of sample minutes `ts` inside `period` (inclusive), 0 for none.
pub fn in_sample_fraction(ts: &[i64], period: (i64, i64)) -> f64 {
    if ts.is_empty() {
        return 0.0;
    }
    let inside = ts
        .iter()
        .filter(|&&t| t >= period.0 && t <= period.1)
        .count();
    inside as f64 / ts.len() as f64
}

/// The warning for a score that is not held out, or `None` when none of it is in sample.
pub fn in_sample_warning(fraction: Option<f64>, period: Option<&str>) -> Option<String> {
    match fraction {
        Some(f) if f > 0.0 => Some(format!(
            "WARNING: {:.1} % of these samples are inside the model's training/validation period ({}): not a held-out score",
            f * 100.0,
            period.unwrap_or("?")
        )),
        _ => None,
    }
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

/// Scores `model` on the dataset's samples that pass `filter`. The baselines' parameters come
/// from the model's metadata (fitted on its training data), never from the data scored.
pub fn eval_context(
    model: &mut ContextModel,
    ds: &Dataset,
    filter: &EvalFilter,
    label_index: usize,
    model_dir: &str,
    reps: usize,
) -> Result<ContextEvalReport, TrainError> {
    let bp = BaselineParams::from_meta(&model.meta).ok_or_else(|| {
        TrainError::Data(format!(
            "{model_dir}: the model does not record its baselines' training-data parameters; \
             retrain it with `microstate-tui train context`"
        ))
    })?;
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
    let horizons = evaluate(model, &bp, &chosen, reps);
    let n = chosen.len() as u64;
    let tp = training_period(&model.meta);
    let ts: Vec<i64> = chosen.iter().map(|s| s.ts).collect();
    let in_sample = tp.map(|p| in_sample_fraction(&ts, p));
    let tp_text = tp.map(|(a, b)| format!("{} → {} UTC", format_utc_ms(a), format_utc_ms(b)));
    let period = match (chosen.first(), chosen.last()) {
        (Some(a), Some(b)) => format!("{} → {} UTC", format_utc_ms(a.ts), format_utc_ms(b.ts)),
        _ => "no samples".into(),
    };
    let top = horizons.get(label_index).cloned().unwrap_or_default();
    Ok(ContextEvalReport {
        model_dir: model_dir.to_string(),
        files: ds.files.clone(),
        period,
        n,
        in_sample_warning: in_sample_warning(in_sample, tp_text.as_deref()),
        training_period: tp_text,
        in_sample_fraction: in_sample,
        horizon: top.horizon.clone(),
        z_threshold: model.z_threshold,
        trend_params: model.trend,
        realized_band_sigma: REALIZED_BAND_SIGMA,
        model: top.model,
        baselines: top.baselines,
        nll_gain: top.nll_gain,
        trend: top.trend,
        verdict: top.verdict,
        direction_skill: model.calibration.direction_skill.to_vec(),
        horizons,
    })
}

// ---------------------------------------------------------------------------------------------
// Text.

fn f4(v: f64) -> String {
    if v.is_nan() {
        "—".to_string()
    } else {
        format!("{v:.4}")
    }
}

/// The per-horizon tables as text (what `eval` prints without `--json`, and the model card's
/// tables).
pub fn render_horizons(horizons: &[HorizonReport]) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    for h in horizons {
        let _ = writeln!(o, "horizon {} (n = {})", h.horizon, h.model.n);
        let _ = writeln!(
            o,
            "| forecast | NLL (bp) | model's gain [95 % CI] | cover 68% | cover 95% | dir. accuracy | calls | hit rate | IC |"
        );
        let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|");
        let b = &h.baselines;
        let d = &h.nll_gain;
        let row = |o: &mut String, name: &str, s: &ForecastScores, diff: Option<&Interval>| {
            let dt = diff.map_or("—".to_string(), |i| {
                format!("{:+.4} [{:+.4}, {:+.4}]", i.mean, i.lo, i.hi)
            });
            let _ = writeln!(
                o,
                "| {name} | {} | {dt} | {} | {} | {} | {} | {} | {} |",
                f4(s.nll),
                f4(s.coverage_68),
                f4(s.coverage_95),
                f4(s.directional_accuracy),
                f4(s.calls),
                f4(s.hit_rate),
                f4(s.ic)
            );
        };
        row(&mut o, "model", &h.model, None);
        row(
            &mut o,
            "zero_drift_rolling_vol",
            &b.zero_drift_rolling_vol,
            Some(&d.zero_drift_rolling_vol),
        );
        row(
            &mut o,
            "rescaled_rolling_vol",
            &b.rescaled_rolling_vol,
            Some(&d.rescaled_rolling_vol),
        );
        row(
            &mut o,
            "rolling_vol_student_t",
            &b.rolling_vol_student_t,
            Some(&d.rolling_vol_student_t),
        );
        row(
            &mut o,
            "last_return_sign",
            &b.last_return_sign,
            Some(&d.last_return_sign),
        );
        let t = &h.trend;
        let _ = writeln!(
            o,
            "always neutral: dir. accuracy {}\ntrend labels: BULLISH {:.3}, NEUTRAL {:.3}, BEARISH {:.3} (n = {}); next {} moved the trend's way {} of the time",
            f4(h.always_neutral_accuracy),
            t.bullish,
            t.neutral,
            t.bearish,
            t.n,
            h.horizon,
            f4(t.next_same_sign)
        );
        let _ = writeln!(o, "verdict: {}\n", h.verdict);
    }
    o
}

/// `eval`'s text output for the context model.
pub fn render_eval(r: &ContextEvalReport) -> String {
    let mut o = format!(
        "context model {} on {} samples, {} (interpretation reads the {} trend; trend enter/exit |z| {}/{}; call z_threshold {}; directional calls allowed: {})\n",
        r.model_dir,
        r.n,
        r.period,
        r.horizon,
        r.trend_params.enter_z,
        r.trend_params.exit_z,
        r.z_threshold,
        r.direction_skill
            .iter()
            .zip(HORIZONS_MIN)
            .map(|(s, h)| format!("{h}m {}", if *s { "yes" } else { "no" }))
            .collect::<Vec<_>>()
            .join(", ")
    );
    match &r.in_sample_warning {
        Some(w) => o.push_str(&format!("{w}\n\n")),
        None => o.push_str(&format!(
            "held out: none of these samples is inside the model's training/validation period ({})\n\n",
            r.training_period.as_deref().unwrap_or("not recorded")
        )),
    }
    o.push_str(
        "model's gain: the baseline's NLL minus the model's (nats), mean with a 95 % bootstrap interval over days (positive: the model is better)\n\n",
    );
    o.push_str(&render_horizons(&r.horizons));
    o
}

/// `train context`'s direction checks as text.
pub fn render_direction(checks: &[DirectionCheck]) -> String {
    checks
        .iter()
        .map(|c| {
            format!(
                "direction {} on {} (n = {}): IC {:+.4} [{:+.4}, {:+.4}], NLL gain of the drift {:+.4} [{:+.4}, {:+.4}] → {}",
                c.horizon,
                c.period,
                c.n,
                c.ic.mean,
                c.ic.lo,
                c.ic.hi,
                c.nll_gain.mean,
                c.nll_gain.lo,
                c.nll_gain.hi,
                if c.skill {
                    "skill: calls allowed"
                } else {
                    "no skill: no calls"
                }
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A live [`ContextState`] fed the same series gives the same trend labels as the dataset
/// (exposed for tests and `eval` self-checks).
pub fn live_trend_labels(
    closes: &[(i64, f64)],
    max_fill: u64,
    trend: &TrendParams,
) -> Vec<(i64, [ContextLabel; 2])> {
    let mut st = ContextState::new(max_fill);
    let mut out = Vec::new();
    for &(t, p) in closes {
        st.push(t, p);
        if let Some((c, r, ts)) = st.window() {
            let l = [0, 1].map(|h| context::trend(c, r, HORIZONS_MIN[h], trend).label);
            out.push((ts, l));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use microstate_io::record::klines::Kline;

    fn series(n: usize, t0: i64, f: impl Fn(usize) -> f64) -> KlineSeries {
        KlineSeries {
            source: "x".into(),
            rows: (0..n)
                .map(|i| {
                    let c = f(i);
                    Kline {
                        open_time_ms: t0 + i as i64 * MINUTE_MS,
                        open: c,
                        high: c,
                        low: c,
                        close: c,
                        volume: 1.0,
                    }
                })
                .collect(),
            gaps: vec![],
        }
    }

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
        let s = series(400, t0, |i| {
            100.0 * (1.0 + 0.001 * ((i as f64) / 7.0).sin())
        });
        let closes: Vec<f64> = s.rows.iter().map(|k| k.close).collect();
        let tp = TrendParams::default();
        let ds = build_dataset(std::slice::from_ref(&s), 5, &tp);
        // Samples from minute 240 to 369 (30 minutes of future needed).
        assert_eq!(ds.samples.len(), 400 - LOOKBACK - H_MAX);
        let first = &ds.samples[0];
        assert_eq!(first.ts, t0 + (LOOKBACK as i64 + 1) * MINUTE_MS);
        assert!((first.fwd[0] - (closes[255] / closes[240]).ln()).abs() < 1e-15);
        assert!((first.last[1] - (closes[240] / closes[210]).ln()).abs() < 1e-15);
        // Changing the future changes the labels, not the features nor the trend.
        let mut changed = s.clone();
        changed.rows[255].close *= 1.01;
        let ds2 = build_dataset(&[changed], 5, &tp);
        assert_eq!(ds2.samples[0].x, first.x);
        assert_eq!(ds2.samples[0].trend, first.trend);
        assert_ne!(ds2.samples[0].fwd[0], first.fwd[0]);
        assert_ne!(ds2.digest, ds.digest);
    }

    #[test]
    fn offline_trend_labels_equal_the_live_ones() {
        // Swings big enough to enter and leave both trends several times.
        let t0 = 1_747_699_200_000i64;
        let f = |i: usize| {
            let t = i as f64;
            100.0 * (1.0 + 0.02 * (t / 23.0).sin() + 0.0007 * (t * 1.7).sin())
        };
        let s = series(900, t0, f);
        let tp = TrendParams::default();
        let ds = build_dataset(std::slice::from_ref(&s), 5, &tp);
        let closes: Vec<(i64, f64)> = s
            .rows
            .iter()
            .map(|k| (k.open_time_ms + MINUTE_MS, k.close))
            .collect();
        let live: std::collections::HashMap<i64, [ContextLabel; 2]> =
            live_trend_labels(&closes, 5, &tp).into_iter().collect();
        let mut seen = std::collections::HashSet::new();
        for smp in &ds.samples {
            assert_eq!(live[&smp.ts], smp.trend, "at {}", smp.ts);
            seen.insert(smp.trend[0]);
        }
        assert_eq!(seen.len(), 3, "all three labels occur: {seen:?}");
    }

    #[test]
    fn bootstrap_intervals_cover_the_mean_and_shrink_with_days() {
        let days: Vec<i64> = (0..400).map(|i| i / 20).collect();
        let v: Vec<f64> = (0..400).map(|i| ((i * 7919) % 13) as f64 - 6.0).collect();
        let i = bootstrap_mean(&days, &v, 400, 1);
        assert!(i.lo <= i.mean && i.mean <= i.hi, "{i:?}");
        assert!(i.hi - i.lo > 0.0);
        let x: Vec<f64> = (0..400).map(|i| i as f64).collect();
        let y: Vec<f64> = x
            .iter()
            .map(|v| 2.0 * v + ((*v as i64 % 5) as f64))
            .collect();
        let c = bootstrap_ic(&days, &x, &y, 200, 2);
        assert!(c.mean > 0.99 && c.lo > 0.99, "{c:?}");
        assert_eq!(
            day_blocks(&[1, 1, 2, 5, 5, 5]),
            vec![(0, 2), (2, 3), (3, 6)]
        );
    }

    #[test]
    fn in_sample_warning_on_both_kinds_of_input() {
        // The training/validation period of a model trained on 2025-05-20 → 2025-07-31.
        let period = (1_747_713_660_000, 1_753_976_100_000);
        // 2022 windows (before training): nothing in sample, no warning.
        let y2022: Vec<i64> = (0..100)
            .map(|i| 1_650_000_000_000 + i * MINUTE_MS)
            .collect();
        let f = in_sample_fraction(&y2022, period);
        assert_eq!(f, 0.0);
        assert_eq!(in_sample_warning(Some(f), Some("p")), None);
        // Windows from the training weeks: all in sample, and the warning says so.
        let inside: Vec<i64> = (0..100)
            .map(|i| 1_750_000_000_000 + i * MINUTE_MS)
            .collect();
        let f = in_sample_fraction(&inside, period);
        assert_eq!(f, 1.0);
        let w = in_sample_warning(Some(f), Some("p")).expect("warning");
        assert!(
            w.contains("100.0 %") && w.contains("not a held-out score"),
            "{w}"
        );
        // After the validation end (the held-out weeks): nothing.
        let after: Vec<i64> = (0..10).map(|i| period.1 + (i + 1) * MINUTE_MS).collect();
        assert_eq!(in_sample_fraction(&after, period), 0.0);
        // Half and half.
        let mixed: Vec<i64> = y2022[..50].iter().chain(&inside[..50]).copied().collect();
        assert_eq!(in_sample_fraction(&mixed, period), 0.5);
        assert_eq!(in_sample_warning(None, None), None);
    }

    #[test]
    fn a_small_training_run_fits_everything_on_train_and_evaluates() {
        // 8 days of a noisy walk with volatility clusters: a small, fast run.
        let t0 = 1_747_699_200_000i64;
        let mut r = Rng::new(5, 1);
        let mut p = 100.0f64;
        let mut closes = Vec::new();
        for i in 0..(8 * 1440) {
            let u = ((r.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 2.0;
            // Fat tails: occasionally a jump.
            let jump = if r.below(200) == 0 { 8.0 } else { 1.0 };
            let vol = 4e-4 * (1.5 + ((i as f64) / 300.0).sin());
            p *= (u * vol * jump).exp();
            closes.push(p);
        }
        let s = series(closes.len(), t0, |i| closes[i]);
        let mut opts = ContextTrainOptions {
            hidden: vec![4],
            folds: 0,
            bootstrap_reps: 50,
            ..ContextTrainOptions::default()
        };
        opts.train.max_epochs = 2;
        let ds = build_dataset(std::slice::from_ref(&s), 5, &opts.trend);
        let t = train_context(&ds, &opts, "test", "test").expect("train");
        // Baselines were fitted on training samples only.
        let tr = select(&ds.samples, &t.splits.train);
        assert_eq!(BaselineParams::fit(&tr), t.baselines);
        assert_eq!(BaselineParams::from_meta(&t.meta), Some(t.baselines));
        // The t fitted to fat-tailed returns has a finite df.
        assert!(t.baselines.t_shape[0].df.is_finite(), "{:?}", t.baselines);
        let cal = Calibration::from_meta(&t.meta);
        assert!(cal.shapes.iter().all(|s| s.scale > 0.0));
        assert_eq!(t.direction.len(), 2);
        // The held-out report: numbers everywhere, intervals around their means.
        let h = &t.test[0];
        assert!(h.model.n > 1000);
        for s in [
            &h.model,
            &h.baselines.zero_drift_rolling_vol,
            &h.baselines.rescaled_rolling_vol,
            &h.baselines.rolling_vol_student_t,
            &h.baselines.last_return_sign,
        ] {
            assert!(
                s.nll.is_finite() && (0.0..=1.0).contains(&s.coverage_95),
                "{s:?}"
            );
            assert_eq!(s.n, h.model.n);
        }
        let d = &h.nll_gain.rescaled_rolling_vol;
        assert!(d.lo <= d.mean && d.mean <= d.hi, "{d:?}");
        let tr_sum = h.trend.bullish + h.trend.neutral + h.trend.bearish;
        assert!((tr_sum - 1.0).abs() < 1e-9);
        // Evaluating the saved model through `eval_context` on its test weeks: held out.
        let mlp = FastMlp::new(&t.meta.architecture, &t.weights, &t.meta.scaler).expect("mlp");
        let mut m = ContextModel::new(t.meta.clone(), mlp, 0.25);
        let filter = EvalFilter {
            held_out: true,
            ..EvalFilter::default()
        };
        let rep = eval_context(&mut m, &ds, &filter, 0, "m", 50).expect("eval");
        assert_eq!(rep.in_sample_fraction, Some(0.0));
        assert!(rep.in_sample_warning.is_none());
        assert_eq!(rep.model.n, h.model.n);
        // …and on everything: most of it is in sample, and it says so.
        let all = eval_context(&mut m, &ds, &EvalFilter::default(), 0, "m", 50).expect("eval");
        assert!(all.in_sample_fraction.is_some_and(|f| f > 0.7));
        assert!(render_eval(&all).contains("WARNING"));
        let j = serde_json::to_value(&all).expect("json");
        for b in [
            "zero_drift_rolling_vol",
            "rescaled_rolling_vol",
            "last_return_sign",
        ] {
            for k in ["nll", "coverage_68", "coverage_95", "n"] {
                assert!(j["baselines"][b][k].is_number(), "{b}.{k}");
            }
        }
    }
}
