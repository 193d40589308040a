//! The price-context model: where the last 4 hours put the next 15 and 30 minutes.
//!
//! Owns: the context features (schema [`SCHEMA`] v[`SCHEMA_VERSION`]), the minute series with its
//! gap rule ([`segments`] offline, [`ContextState`] live — the same rule, the same arithmetic),
//! the Gaussian head's outputs turned into drift and uncertainty, and the rule that downgrades
//! them to BULLISH / NEUTRAL / BEARISH with a confidence. Must not touch: clocks (sample times
//! arrive with the samples), I/O except [`ContextModel::load`].
//!
//! # Input: one price a minute
//! Live, the engine samples the mid at each minute boundary; offline, the close of a 1-minute
//! kline is the price at its close time (`open_time + 1 min`). A sample's time is that minute
//! boundary (UTC ms).
//!
//! # Gaps
//! A gap of up to `max_fill` minutes is filled by carrying the last price forward (those minutes
//! have zero return: realized volatility is slightly understated across them). A longer gap ends
//! the series: history restarts and the model warms up again. A sample not newer than the last
//! is ignored.
//!
//! # Features (14), from the last [`LOOKBACK`] + 1 prices `c` (1-minute log returns `r`)
//! - `z_ret_{k}m`, k ∈ {1, 5, 15, 30, 60, 120, 240}: `ln(c_t / c_{t−k}) / (σ₆₀ · √k)`, clamped to
//!   ±[`Z_CLAMP`] — multi-scale returns in units of the current volatility (scale-free, so BTC and
//!   ETH, calm and wild days, share one model);
//! - `log_vol_{w}m`, w ∈ {30, 60, 120, 240}: `ln σ_w`, `σ_w = √(Σ r² / w)` over the last w
//!   minutes, floored at [`VOL_FLOOR`] — volatility level and its term structure;
//! - `tod_sin`, `tod_cos`: minute of the UTC day on the circle (intraday volatility pattern);
//! - `weekend`: 1 on Saturday and Sunday UTC.
//!
//! # Outputs
//! Per horizon h ∈ {15, 30} min, a mean and log-variance of the forward log return in units of
//! `s_h = σ₆₀ · √h` (the "zero drift, rolling volatility" forecast is exactly mean 0,
//! log-variance 0: the model learns corrections to that baseline). Back in log-return units:
//! `drift = mean · s_h`, `sigma = exp(log_var / 2) · s_h` (log-variance clamped to ±8).
//!
//! # Label rule
//! `z = drift / sigma`: BULLISH when `z ≥ z_threshold`, BEARISH when `z ≤ −z_threshold`, else
//! NEUTRAL. Confidence is `Φ(|z|)`: the forecast's own probability that the return has the sign
//! of its drift (0.5 = a coin). Until [`LOOKBACK`] minutes of history exist: "warming up (n min)",
//! n the minutes still missing.

use std::collections::VecDeque;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::MlError;
use super::fast::FastMlp;
use super::meta::{Expected, ModelMeta};
use super::weights::Weights;

pub const SCHEMA: &str = "context";
pub const SCHEMA_VERSION: u32 = 1;
/// Minutes of returns the features read (so `LOOKBACK + 1` prices).
pub const LOOKBACK: usize = 240;
pub const RETURN_SCALES: [usize; 7] = [1, 5, 15, 30, 60, 120, 240];
pub const VOL_WINDOWS: [usize; 4] = [30, 60, 120, 240];
/// The volatility window that scales returns and targets.
pub const REF_VOL_WINDOW: usize = 60;
/// Forecast horizons, minutes.
pub const HORIZONS_MIN: [usize; 2] = [15, 30];
/// Per-minute volatility floor (0.01 bp): a flat (filled) stretch cannot divide by zero.
pub const VOL_FLOOR: f64 = 1e-6;
pub const Z_CLAMP: f64 = 10.0;
/// Log-variance outputs are clamped to ±this before use.
pub const LOG_VAR_CLAMP: f32 = 8.0;
pub const N_INPUTS: usize = 14;
pub const INPUT_NAMES: [&str; N_INPUTS] = [
    "z_ret_1m",
    "z_ret_5m",
    "z_ret_15m",
    "z_ret_30m",
    "z_ret_60m",
    "z_ret_120m",
    "z_ret_240m",
    "log_vol_30m",
    "log_vol_60m",
    "log_vol_120m",
    "log_vol_240m",
    "tod_sin",
    "tod_cos",
    "weekend",
];
pub const OUTPUT_NAMES: [&str; 4] = ["mean_15m", "log_var_15m", "mean_30m", "log_var_30m"];
pub const MINUTE_MS: i64 = 60_000;

/// What this build expects of a context model on disk.
pub fn expected() -> Expected<'static> {
    Expected {
        schema: SCHEMA,
        schema_version: SCHEMA_VERSION,
        inputs: &INPUT_NAMES,
        outputs: OUTPUT_NAMES.len(),
    }
}

/// The features of the minute ending a window. `closes` holds `LOOKBACK + 1` prices, oldest
/// first; `returns[i] = ln(closes[i+1] / closes[i])`; `ts_ms` is the last price's minute.
/// Returns σ₆₀ (per minute, floored), the scale of returns and targets.
pub fn features(closes: &[f64], returns: &[f64], ts_ms: i64, out: &mut [f32; N_INPUTS]) -> f64 {
    debug_assert!(closes.len() == LOOKBACK + 1 && returns.len() == LOOKBACK);
    let vol = |w: usize| -> f64 {
        let mut s = 0.0;
        for r in &returns[LOOKBACK - w..] {
            s += r * r;
        }
        (s / w as f64).sqrt().max(VOL_FLOOR)
    };
    let sigma_ref = vol(REF_VOL_WINDOW);
    let last = closes[LOOKBACK];
    for (o, &k) in out.iter_mut().zip(&RETURN_SCALES) {
        let r = (last / closes[LOOKBACK - k]).ln();
        *o = (r / (sigma_ref * (k as f64).sqrt())).clamp(-Z_CLAMP, Z_CLAMP) as f32;
    }
    for (o, &w) in out[RETURN_SCALES.len()..].iter_mut().zip(&VOL_WINDOWS) {
        *o = vol(w).ln() as f32;
    }
    let i = RETURN_SCALES.len() + VOL_WINDOWS.len();
    let minute_of_day = ts_ms.div_euclid(MINUTE_MS).rem_euclid(1440);
    let angle = std::f64::consts::TAU * minute_of_day as f64 / 1440.0;
    out[i] = angle.sin() as f32;
    out[i + 1] = angle.cos() as f32;
    // 1970-01-01 was a Thursday: (days + 3) % 7 is 0 on Mondays.
    let dow = (ts_ms.div_euclid(86_400_000) + 3).rem_euclid(7);
    out[i + 2] = if dow >= 5 { 1.0 } else { 0.0 };
    sigma_ref
}

/// A gap-free run of minute prices (short gaps filled).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Segment {
    /// Minute of `closes[0]` (UTC ms).
    pub start_ms: i64,
    pub closes: Vec<f64>,
    /// Minutes filled by carrying a price forward.
    pub filled: u64,
}

impl Segment {
    /// `returns[i] = ln(closes[i+1] / closes[i])`, the arithmetic [`ContextState`] uses.
    pub fn returns(&self) -> Vec<f64> {
        self.closes.windows(2).map(|w| (w[1] / w[0]).ln()).collect()
    }

    pub fn ts(&self, i: usize) -> i64 {
        self.start_ms + i as i64 * MINUTE_MS
    }
}

/// How one sample changed the series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Push {
    /// The next minute.
    Next,
    /// After `0 < n ≤ max_fill` missing minutes, filled.
    Filled(u64),
    /// After `n > max_fill` missing minutes: history restarted.
    Restarted(u64),
    /// Not newer than the last sample, or not a positive price: ignored.
    Ignored,
}

/// Splits time-ordered `(minute_ms, price)` samples into [`Segment`]s with the gap rule.
pub fn segments(samples: impl IntoIterator<Item = (i64, f64)>, max_fill: u64) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    let mut last: Option<i64> = None;
    for (ts, p) in samples {
        let ts = ts - ts.rem_euclid(MINUTE_MS);
        match classify(last, ts, p, max_fill) {
            Push::Ignored => continue,
            Push::Next => {
                if let Some(s) = out.last_mut() {
                    s.closes.push(p);
                }
            }
            Push::Filled(n) => {
                if let Some(s) = out.last_mut() {
                    let prev = s.closes.last().copied().unwrap_or(p);
                    s.closes.extend(std::iter::repeat_n(prev, n as usize));
                    s.closes.push(p);
                    s.filled += n;
                }
            }
            Push::Restarted(_) => out.push(Segment {
                start_ms: ts,
                closes: vec![p],
                filled: 0,
            }),
        }
        last = Some(ts);
    }
    out
}

/// The gap rule, shared by [`segments`] and [`ContextState`]. The first sample is a restart.
fn classify(last: Option<i64>, ts: i64, p: f64, max_fill: u64) -> Push {
    if !(p.is_finite() && p > 0.0) {
        return Push::Ignored;
    }
    let Some(last) = last else {
        return Push::Restarted(0);
    };
    if ts <= last {
        return Push::Ignored;
    }
    let missing = ((ts - last) / MINUTE_MS - 1) as u64;
    if missing == 0 {
        Push::Next
    } else if missing <= max_fill {
        Push::Filled(missing)
    } else {
        Push::Restarted(missing)
    }
}

/// The live series: minute prices pushed one at a time, the last [`LOOKBACK`] + 1 kept.
/// Produces exactly the features [`segments`] + [`features`] produce offline (a test holds it
/// to that, bit for bit).
#[derive(Clone, Debug)]
pub struct ContextState {
    closes: VecDeque<f64>,
    returns: VecDeque<f64>,
    last_ts: Option<i64>,
    max_fill: u64,
    /// Minutes filled and restarts since creation.
    pub filled: u64,
    pub restarts: u64,
}

impl ContextState {
    pub fn new(max_fill: u64) -> ContextState {
        ContextState {
            closes: VecDeque::with_capacity(LOOKBACK + 2),
            returns: VecDeque::with_capacity(LOOKBACK + 1),
            last_ts: None,
            max_fill,
            filled: 0,
            restarts: 0,
        }
    }

    fn append(&mut self, p: f64) {
        if let Some(&prev) = self.closes.back() {
            self.returns.push_back((p / prev).ln());
            if self.returns.len() > LOOKBACK {
                self.returns.pop_front();
            }
        }
        self.closes.push_back(p);
        if self.closes.len() > LOOKBACK + 1 {
            self.closes.pop_front();
        }
    }

    /// Takes the price at a minute boundary (`ts_ms` is floored to its minute).
    pub fn push(&mut self, ts_ms: i64, price: f64) -> Push {
        let ts = ts_ms - ts_ms.rem_euclid(MINUTE_MS);
        let what = classify(self.last_ts, ts, price, self.max_fill);
        match what {
            Push::Ignored => return what,
            Push::Next => self.append(price),
            Push::Filled(n) => {
                let prev = self.closes.back().copied().unwrap_or(price);
                for _ in 0..n {
                    self.append(prev);
                }
                self.append(price);
                self.filled += n;
            }
            Push::Restarted(n) => {
                self.closes.clear();
                self.returns.clear();
                if n > 0 {
                    self.restarts += 1;
                }
                self.append(price);
            }
        }
        self.last_ts = Some(ts);
        what
    }

    /// Minutes of returns held (at most [`LOOKBACK`]).
    pub fn history_minutes(&self) -> usize {
        self.returns.len()
    }

    /// Minutes still missing before the first forecast (0 when ready).
    pub fn warming_minutes_left(&self) -> usize {
        LOOKBACK - self.returns.len().min(LOOKBACK)
    }

    pub fn last_ts(&self) -> Option<i64> {
        self.last_ts
    }

    /// The current features and σ₆₀, or `None` while warming up.
    pub fn features(&mut self, out: &mut [f32; N_INPUTS]) -> Option<f64> {
        let ts = self.last_ts?;
        if self.returns.len() < LOOKBACK {
            return None;
        }
        let c = self.closes.make_contiguous();
        let r = self.returns.make_contiguous();
        Some(features(c, r, ts, out))
    }
}

/// The directional context.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ContextLabel {
    Bullish,
    Neutral,
    Bearish,
}

impl ContextLabel {
    pub fn as_str(self) -> &'static str {
        match self {
            ContextLabel::Bullish => "BULLISH",
            ContextLabel::Neutral => "NEUTRAL",
            ContextLabel::Bearish => "BEARISH",
        }
    }

    /// The label rule on `z = drift / sigma`.
    pub fn from_z(z: f64, z_threshold: f64) -> ContextLabel {
        if z >= z_threshold {
            ContextLabel::Bullish
        } else if z <= -z_threshold {
            ContextLabel::Bearish
        } else {
            ContextLabel::Neutral
        }
    }
}

/// One horizon's forecast.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ContextForecast {
    pub horizon_min: u32,
    /// Expected forward log return.
    pub drift: f64,
    /// Its standard deviation (log-return units).
    pub sigma: f64,
    /// `drift / sigma`.
    pub z: f64,
    pub label: ContextLabel,
    /// `Φ(|z|)`, in [0.5, 1).
    pub confidence: f64,
}

/// What the context says now.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ContextOutput {
    /// Not enough history yet.
    WarmingUp { minutes_left: usize },
    /// One forecast per horizon ([`HORIZONS_MIN`] order).
    Ready { forecasts: Vec<ContextForecast> },
}

impl std::fmt::Display for ContextOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ContextOutput::WarmingUp { minutes_left } => {
                write!(f, "warming up ({minutes_left} min)")
            }
            ContextOutput::Ready { forecasts } => {
                for (i, c) in forecasts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(
                        f,
                        "{} {}m ({:.0}%, drift {:+.1} bp ± {:.1} bp)",
                        c.label.as_str(),
                        c.horizon_min,
                        c.confidence * 100.0,
                        c.drift * 1e4,
                        c.sigma * 1e4
                    )?;
                }
                Ok(())
            }
        }
    }
}

/// Standard normal CDF (Abramowitz & Stegun 7.1.26 for erf; absolute error < 1.5e-7).
pub fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// A loaded context model, ready to run (no allocation per call beyond the returned forecasts).
#[derive(Clone, Debug)]
pub struct ContextModel {
    pub meta: ModelMeta,
    mlp: FastMlp,
    /// |drift| / sigma at or above which the label leaves NEUTRAL.
    pub z_threshold: f64,
}

impl ContextModel {
    pub fn new(meta: ModelMeta, mlp: FastMlp, z_threshold: f64) -> ContextModel {
        ContextModel {
            meta,
            mlp,
            z_threshold,
        }
    }

    /// A model from its checked metadata and weights (`path` names the metadata in errors).
    pub fn from_weights(
        meta: ModelMeta,
        w: &Weights,
        z_threshold: f64,
        path: &Path,
    ) -> Result<ContextModel, MlError> {
        let mlp =
            FastMlp::new(&meta.architecture, w, &meta.scaler).ok_or_else(|| MlError::Meta {
                path: path.to_path_buf(),
                msg: "weights and scaler do not fit the architecture".into(),
            })?;
        Ok(ContextModel::new(meta, mlp, z_threshold))
    }

    /// Raw outputs (normalised mean / log-variance pairs) for a feature vector.
    pub fn raw(&mut self, x: &[f32; N_INPUTS]) -> [f32; 4] {
        let o = self.mlp.forward(x);
        let mut r = [0f32; 4];
        for (d, s) in r.iter_mut().zip(o) {
            *d = *s;
        }
        r
    }

    /// The forecast of horizon index `h` (into [`HORIZONS_MIN`]) from raw outputs.
    pub fn forecast(&self, raw: &[f32; 4], h: usize, sigma_ref: f64) -> ContextForecast {
        let hm = HORIZONS_MIN[h];
        let s = sigma_ref * (hm as f64).sqrt();
        let lv = raw[2 * h + 1].clamp(-LOG_VAR_CLAMP, LOG_VAR_CLAMP) as f64;
        let drift = raw[2 * h] as f64 * s;
        let sigma = (lv / 2.0).exp() * s;
        let z = drift / sigma;
        ContextForecast {
            horizon_min: hm as u32,
            drift,
            sigma,
            z,
            label: ContextLabel::from_z(z, self.z_threshold),
            confidence: normal_cdf(z.abs()),
        }
    }

    /// Forecasts for every horizon.
    pub fn predict(&mut self, x: &[f32; N_INPUTS], sigma_ref: f64) -> Vec<ContextForecast> {
        let raw = self.raw(x);
        (0..HORIZONS_MIN.len())
            .map(|h| self.forecast(&raw, h, sigma_ref))
            .collect()
    }

    /// The context now, from a live state.
    pub fn evaluate(&mut self, state: &mut ContextState) -> ContextOutput {
        let mut x = [0f32; N_INPUTS];
        match state.features(&mut x) {
            None => ContextOutput::WarmingUp {
                minutes_left: state.warming_minutes_left(),
            },
            Some(s) => ContextOutput::Ready {
                forecasts: self.predict(&x, s),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic wiggly price path.
    fn price(i: usize) -> f64 {
        let t = i as f64;
        100.0 * (1.0 + 0.01 * (t / 37.0).sin() + 0.002 * (t / 3.0).cos() + 0.00001 * t)
    }

    #[test]
    fn features_on_a_hand_series() {
        // Prices growing by exactly 0.1 % a minute: every 1-minute return is ln 1.001, so every
        // σ_w is ln 1.001 and z_ret_k = k·ln1.001 / (ln1.001·√k) = √k.
        let g: f64 = 1.001;
        let closes: Vec<f64> = (0..=LOOKBACK).map(|i| 50.0 * g.powi(i as i32)).collect();
        let seg = Segment {
            start_ms: 0,
            closes: closes.clone(),
            filled: 0,
        };
        let r = seg.returns();
        // 2024-08-10 (a Saturday) 06:00 UTC.
        let ts = 1_723_269_600_000;
        let mut x = [0f32; N_INPUTS];
        let s = features(&closes, &r, ts, &mut x);
        assert!((s - g.ln()).abs() < 1e-12);
        for (i, &k) in RETURN_SCALES.iter().enumerate() {
            let want = (k as f32).sqrt().min(Z_CLAMP as f32);
            assert!((x[i] - want).abs() < 1e-4, "{i}: {}", x[i]);
        }
        for v in &x[7..11] {
            assert!((v - g.ln().ln() as f32).abs() < 1e-5);
        }
        assert!(
            (x[11] - 1.0).abs() < 1e-6 && x[12].abs() < 1e-6,
            "06:00 is a quarter turn"
        );
        assert_eq!(x[13], 1.0, "Saturday");
        // A flat series: volatility floors, returns are 0, nothing is NaN.
        let flat = vec![7.0; LOOKBACK + 1];
        let fr = vec![0.0; LOOKBACK];
        let s = features(&flat, &fr, 1_723_420_800_000, &mut x); // Monday 00:00
        assert_eq!(s, VOL_FLOOR);
        assert!(x.iter().all(|v| v.is_finite()));
        assert_eq!(&x[..7], &[0.0; 7]);
        assert_eq!((x[11], x[12], x[13]), (0.0, 1.0, 0.0));
    }

    #[test]
    fn incremental_equals_batch_bit_for_bit_across_gaps() {
        // 700 minutes with a 3-minute hole (filled) and a 20-minute hole (restart), max_fill 5.
        let t0 = 1_747_699_260_000i64;
        let mut samples = Vec::new();
        for i in 0..700usize {
            if (300..303).contains(&i) || (500..520).contains(&i) {
                continue;
            }
            samples.push((t0 + i as i64 * MINUTE_MS, price(i)));
        }
        let segs = segments(samples.iter().copied(), 5);
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[0].filled, 3);
        assert_eq!(segs[0].closes.len(), 500);
        assert_eq!(segs[1].start_ms, t0 + 520 * MINUTE_MS);

        let mut batch = std::collections::HashMap::new();
        for seg in &segs {
            let r = seg.returns();
            for t in LOOKBACK..seg.closes.len() {
                let mut x = [0f32; N_INPUTS];
                let s = features(
                    &seg.closes[t - LOOKBACK..=t],
                    &r[t - LOOKBACK..t],
                    seg.ts(t),
                    &mut x,
                );
                batch.insert(seg.ts(t), (x, s));
            }
        }
        let mut st = ContextState::new(5);
        let mut ready = 0;
        for &(ts, p) in &samples {
            st.push(ts, p);
            let mut x = [0f32; N_INPUTS];
            match st.features(&mut x) {
                Some(s) => {
                    let (bx, bs) = batch[&ts];
                    assert_eq!(x, bx, "features at {ts}");
                    assert_eq!(s, bs);
                    ready += 1;
                }
                None => assert!(!batch.contains_key(&ts), "batch has features at {ts}"),
            }
        }
        // The batch also has the three filled minutes, which were never pushed live.
        assert_eq!(ready, batch.len() - 3);
        assert_eq!((st.filled, st.restarts), (3, 1));
        // Old or broken samples change nothing.
        assert_eq!(st.push(t0, 1.0), Push::Ignored);
        assert_eq!(st.push(t0 + 10_000 * MINUTE_MS, f64::NAN), Push::Ignored);
    }

    #[test]
    fn warming_up_counts_down_and_restarts_after_a_long_gap() {
        let mut st = ContextState::new(2);
        let t0 = 1_747_699_200_000i64;
        let mut x = [0f32; N_INPUTS];
        assert_eq!(st.warming_minutes_left(), LOOKBACK);
        for i in 0..=LOOKBACK {
            // Seconds inside the minute are floored away.
            st.push(t0 + i as i64 * MINUTE_MS + 1_500, price(i));
            let left = LOOKBACK - i;
            assert_eq!(st.warming_minutes_left(), left);
            assert_eq!(st.features(&mut x).is_some(), left == 0, "minute {i}");
        }
        let out = ContextOutput::WarmingUp { minutes_left: 12 };
        assert_eq!(out.to_string(), "warming up (12 min)");
        // 3 missing minutes > max_fill 2: warm up again from scratch.
        let next = t0 + (LOOKBACK as i64 + 4) * MINUTE_MS;
        assert_eq!(st.push(next, 100.0), Push::Restarted(3));
        assert_eq!(st.warming_minutes_left(), LOOKBACK);
        assert!(st.features(&mut x).is_none());
        // 2 missing minutes are filled.
        assert_eq!(st.push(next + 3 * MINUTE_MS, 101.0), Push::Filled(2));
        assert_eq!(st.history_minutes(), 3);
    }

    #[test]
    fn label_rule_and_confidence() {
        assert_eq!(ContextLabel::from_z(0.3, 0.25), ContextLabel::Bullish);
        assert_eq!(ContextLabel::from_z(0.25, 0.25), ContextLabel::Bullish);
        assert_eq!(ContextLabel::from_z(0.1, 0.25), ContextLabel::Neutral);
        assert_eq!(ContextLabel::from_z(-0.25, 0.25), ContextLabel::Bearish);
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.0) - 0.841_344_7).abs() < 1e-6);
        assert!((normal_cdf(-1.96) - 0.024_997_9).abs() < 1e-6);
    }
}
