//! The price-context model: what the last minutes did (trend, a description) and what the next
//! 15 and 30 minutes may do (a calibrated range, a forecast).
//!
//! Owns: the context features (schema [`SCHEMA`] v[`SCHEMA_VERSION`]), the minute series with its
//! gap rule ([`segments`] offline, [`ContextState`] live — the same rule, the same arithmetic),
//! seeding that series from fetched 1-minute closes ([`ContextState::seed`]), the trend with its
//! hysteresis, the forecast ranges (the Gaussian head's outputs with a Student-t error shape
//! fitted on the training data) and the rule that gives a directional call only where the model
//! showed skill out of sample. Must not touch: clocks (sample times arrive with the samples),
//! I/O (the io crate reads model folders).
//!
//! # Input: one price a minute
//! A sample is the price *at a minute boundary* (UTC ms): live, the engine takes the last mid of
//! each minute as the price at the boundary that ends it; offline and when seeding, the close of
//! a 1-minute kline is the price at its close time (`open_time + 1 min`). So a kline series and
//! the live mids line up minute for minute, and a seeded history continues live without a seam.
//!
//! # Gaps
//! A gap of up to `max_fill` minutes is filled by carrying the last price forward (those minutes
//! have zero return: realized volatility is slightly understated across them). A longer gap ends
//! the series: history restarts and the model warms up again — unless fetched minutes fill it
//! ([`ContextState::seed`] merges them in and rebuilds the series). A sample not newer than the
//! last is ignored.
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
//! # Trend — a description of what happened, not a forecast
//! Per horizon h ∈ {15, 30} min: `z_h = ln(c_t / c_{t−h}) / (σ₆₀ · √h)`, the move of the last h
//! minutes in units of a typical h-minute move now (the `z_ret_{h}m` feature, unclamped). The
//! label has hysteresis: from NEUTRAL it turns BULLISH when `z_h ≥ enter_z` (BEARISH at
//! `−enter_z`) and stays so until `z_h < exit_z` (`> −exit_z`). The hysteresis is replayed over
//! the last [`TREND_REPLAY_MIN`] minutes from NEUTRAL every time, so the label is a function of
//! the stored prices alone: live, offline and after seeding it is the same. This is the label
//! the interpretation table reads.
//!
//! # Forecast — what may happen
//! Per horizon, a mean and log-variance of the forward log return in units of `s_h = σ₆₀ · √h`
//! (the "zero drift, rolling volatility" forecast is exactly mean 0, log-variance 0: the model
//! learns corrections to that baseline). Back in log-return units: `drift = mean · s_h`,
//! `σ = exp(log_var / 2) · s_h` (log-variance clamped to ±8). The return is modelled as
//! `drift + σ · scale · T_ν`, a Student t whose `ν` and `scale` were fitted on the training
//! part's residuals ([`super::dist`]); the 68 % and 95 % ranges are its central intervals.
//! A directional call (BULLISH / BEARISH when `|drift| / (σ·scale) ≥ z_threshold`, else NEUTRAL)
//! is given only for a horizon whose metadata says the model showed directional skill out of
//! sample; otherwise the forecast says so and makes no call.
//!
//! Until [`LOOKBACK`] minutes of history exist: "warming up (n min)", n the minutes still missing.

use std::collections::VecDeque;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::MlError;
use super::dist::ErrorShape;
pub use super::dist::normal_cdf;
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
/// Minutes over which the trend's hysteresis is replayed (from NEUTRAL) at each evaluation.
pub const TREND_REPLAY_MIN: usize = 120;
/// Default trend thresholds (`models.context.trend_enter_z` / `trend_exit_z`).
pub const TREND_ENTER_Z: f64 = 1.0;
pub const TREND_EXIT_Z: f64 = 0.5;

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
    /// The same minute as the last price, which came from fetched history: the live price
    /// replaces it (a fetched kline still in progress carried only its latest trade).
    Replaced,
}

/// Splits time-ordered `(minute_ms, price)` samples into [`Segment`]s with the gap rule.
pub fn segments(samples: impl IntoIterator<Item = (i64, f64)>, max_fill: u64) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    let mut last: Option<i64> = None;
    for (ts, p) in samples {
        let ts = ts - ts.rem_euclid(MINUTE_MS);
        match classify(last, ts, p, max_fill) {
            Push::Ignored | Push::Replaced => continue,
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
    /// Per close: where it came from.
    origin: VecDeque<Origin>,
    last_ts: Option<i64>,
    max_fill: u64,
    /// Minutes filled and restarts since creation.
    pub filled: u64,
    pub restarts: u64,
    /// Minutes taken from fetched history ([`Self::seed`]) since creation.
    pub seeded: u64,
}

/// Where a minute price in the history came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Sampled live (or replayed) by the engine.
    Live,
    /// Fetched (a kline's close): a live price for the same minute replaces it.
    Fetched,
    /// Carried forward over a short gap.
    Filled,
}

/// What [`ContextState::seed`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SeedOutcome {
    /// Fetched minutes that were new to the history (not already there as real prices).
    pub added: u64,
    /// Minutes of history held afterwards.
    pub history_minutes: usize,
    /// Whether the history is complete afterwards.
    pub ready: bool,
}

impl ContextState {
    pub fn new(max_fill: u64) -> ContextState {
        ContextState {
            closes: VecDeque::with_capacity(LOOKBACK + 2),
            returns: VecDeque::with_capacity(LOOKBACK + 1),
            origin: VecDeque::with_capacity(LOOKBACK + 2),
            last_ts: None,
            max_fill,
            filled: 0,
            restarts: 0,
            seeded: 0,
        }
    }

    fn append(&mut self, p: f64, origin: Origin) {
        if let Some(&prev) = self.closes.back() {
            self.returns.push_back((p / prev).ln());
            if self.returns.len() > LOOKBACK {
                self.returns.pop_front();
            }
        }
        self.closes.push_back(p);
        self.origin.push_back(origin);
        if self.closes.len() > LOOKBACK + 1 {
            self.closes.pop_front();
            self.origin.pop_front();
        }
    }

    /// Takes the price at a minute boundary (`ts_ms` is floored to its minute), sampled live.
    pub fn push(&mut self, ts_ms: i64, price: f64) -> Push {
        self.push_as(ts_ms, price, Origin::Live)
    }

    fn push_as(&mut self, ts_ms: i64, price: f64, origin: Origin) -> Push {
        let ts = ts_ms - ts_ms.rem_euclid(MINUTE_MS);
        if origin == Origin::Live
            && self.last_ts == Some(ts)
            && self.origin.back() == Some(&Origin::Fetched)
            && price.is_finite()
            && price > 0.0
        {
            // A live price for the minute the fetched history ended on: the live one wins.
            let n = self.closes.len();
            if let (Some(last), Some(o)) = (self.closes.back_mut(), self.origin.back_mut()) {
                *last = price;
                *o = Origin::Live;
            }
            if n >= 2
                && let Some(r) = self.returns.back_mut()
            {
                *r = (price / self.closes[n - 2]).ln();
            }
            return Push::Replaced;
        }
        let what = classify(self.last_ts, ts, price, self.max_fill);
        match what {
            Push::Ignored | Push::Replaced => return what,
            Push::Next => self.append(price, origin),
            Push::Filled(n) => {
                let prev = self.closes.back().copied().unwrap_or(price);
                for _ in 0..n {
                    self.append(prev, Origin::Filled);
                }
                self.append(price, origin);
                self.filled += n;
            }
            Push::Restarted(n) => {
                self.closes.clear();
                self.returns.clear();
                self.origin.clear();
                if n > 0 {
                    self.restarts += 1;
                }
                self.append(price, origin);
            }
        }
        self.last_ts = Some(ts);
        what
    }

    /// Merges fetched minute prices (`(minute_ms, price)`, the price at that minute boundary:
    /// a kline's close at `open_time + 1 min`) into the history and rebuilds the series with the
    /// gap rule, so a fresh state is ready at once with 240 fetched minutes, and a gap is
    /// refilled with real prices instead of warming up again.
    ///
    /// Where a minute is held already as a live price, the live one stays; fetched prices
    /// replace filled minutes, earlier fetched ones, and fill missing minutes. Samples in any
    /// order; invalid ones (non-positive, non-finite) are skipped. Only the prices after the
    /// last gap longer than `max_fill` in the merged series survive, as with [`Self::push`].
    /// Filled-minute and restart counters are not changed by the rebuild.
    pub fn seed(&mut self, minutes: &[(i64, f64)]) -> SeedOutcome {
        use std::collections::BTreeMap;
        let mut merged: BTreeMap<i64, (f64, Origin)> = BTreeMap::new();
        for &(ts, p) in minutes {
            if p.is_finite() && p > 0.0 {
                merged.insert(ts - ts.rem_euclid(MINUTE_MS), (p, Origin::Fetched));
            }
        }
        let fetched = merged.len() as u64;
        let mut kept_live = 0u64;
        let held: Vec<(i64, f64, Origin)> = self.minutes().collect();
        for (ts, p, o) in held {
            match o {
                Origin::Live => {
                    if merged.insert(ts, (p, o)).is_some() {
                        kept_live += 1;
                    }
                }
                Origin::Fetched => {
                    merged.entry(ts).or_insert((p, o));
                }
                Origin::Filled => {}
            }
        }
        let (filled, restarts, seeded) = (self.filled, self.restarts, self.seeded);
        let mut fresh = ContextState::new(self.max_fill);
        for (&ts, &(p, o)) in &merged {
            fresh.push_as(ts, p, o);
        }
        let added = fetched.saturating_sub(kept_live);
        fresh.filled = filled;
        fresh.restarts = restarts;
        fresh.seeded = seeded + added;
        *self = fresh;
        SeedOutcome {
            added,
            history_minutes: self.history_minutes(),
            ready: self.is_ready(),
        }
    }

    /// Minutes of returns held (at most [`LOOKBACK`]).
    pub fn history_minutes(&self) -> usize {
        self.returns.len()
    }

    /// Minutes still missing before the first forecast (0 when ready).
    pub fn warming_minutes_left(&self) -> usize {
        LOOKBACK - self.returns.len().min(LOOKBACK)
    }

    /// The whole lookback is held: features, trend and forecast can be computed.
    pub fn is_ready(&self) -> bool {
        self.returns.len() >= LOOKBACK
    }

    pub fn last_ts(&self) -> Option<i64> {
        self.last_ts
    }

    /// The minute prices held, oldest first, each with its minute (UTC ms) and origin.
    pub fn minutes(&self) -> impl Iterator<Item = (i64, f64, Origin)> + '_ {
        let last = self.last_ts.unwrap_or(0);
        let n = self.closes.len() as i64;
        self.closes
            .iter()
            .zip(&self.origin)
            .enumerate()
            .map(move |(i, (&p, &o))| (last - (n - 1 - i as i64) * MINUTE_MS, p, o))
    }

    /// The window the features and the trend read: `LOOKBACK + 1` prices, `LOOKBACK` returns
    /// and the last minute, or `None` while warming up.
    pub fn window(&mut self) -> Option<(&[f64], &[f64], i64)> {
        let ts = self.last_ts?;
        if self.returns.len() < LOOKBACK {
            return None;
        }
        let c = self.closes.make_contiguous();
        let r = self.returns.make_contiguous();
        Some((c, r, ts))
    }

    /// The current features and σ₆₀, or `None` while warming up.
    pub fn features(&mut self, out: &mut [f32; N_INPUTS]) -> Option<f64> {
        let (c, r, ts) = self.window()?;
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
    pub const ALL: [ContextLabel; 3] = [
        ContextLabel::Bullish,
        ContextLabel::Neutral,
        ContextLabel::Bearish,
    ];

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

/// The trend's thresholds (`[models.context]` `trend_enter_z`, `trend_exit_z`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TrendParams {
    /// `|z|` at which a NEUTRAL trend turns BULLISH / BEARISH.
    pub enter_z: f64,
    /// `|z|` below which a BULLISH / BEARISH trend turns NEUTRAL (≤ `enter_z`).
    pub exit_z: f64,
}

impl Default for TrendParams {
    fn default() -> Self {
        TrendParams {
            enter_z: TREND_ENTER_Z,
            exit_z: TREND_EXIT_Z,
        }
    }
}

impl TrendParams {
    /// One hysteresis step: the label after seeing `z` in state `prev`.
    pub fn step(&self, prev: ContextLabel, z: f64) -> ContextLabel {
        let entered = ContextLabel::from_z(z, self.enter_z);
        match prev {
            _ if entered != ContextLabel::Neutral => entered,
            ContextLabel::Bullish if z >= self.exit_z => ContextLabel::Bullish,
            ContextLabel::Bearish if z <= -self.exit_z => ContextLabel::Bearish,
            _ => ContextLabel::Neutral,
        }
    }

    /// The label after a run of `z`s starting from NEUTRAL (NaNs are skipped).
    pub fn replay(&self, zs: impl IntoIterator<Item = f64>) -> ContextLabel {
        zs.into_iter()
            .filter(|z| !z.is_nan())
            .fold(ContextLabel::Neutral, |l, z| self.step(l, z))
    }
}

/// The trend z at close index `t` over `h` minutes: `ln(c_t / c_{t−h}) / (σ₆₀(t) · √h)`, σ₆₀(t)
/// from the 60 returns ending at `t` (floored at [`VOL_FLOOR`]). `NaN` when `t` is too early.
/// `closes[i+1] / closes[i]` is `returns[i]`, as in [`Segment::returns`].
pub fn trend_z(closes: &[f64], returns: &[f64], t: usize, h: usize) -> f64 {
    if t < h.max(REF_VOL_WINDOW) || t >= closes.len() || t > returns.len() {
        return f64::NAN;
    }
    let mut s = 0.0;
    for r in &returns[t - REF_VOL_WINDOW..t] {
        s += r * r;
    }
    let sigma = (s / REF_VOL_WINDOW as f64).sqrt().max(VOL_FLOOR);
    (closes[t] / closes[t - h]).ln() / (sigma * (h as f64).sqrt())
}

/// The trend of the last `h` minutes at the end of a window (the last close).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Trend {
    pub horizon_min: u32,
    /// The move, log return × 10⁴ (basis points).
    pub move_bps: f64,
    /// The move in units of a typical `h`-minute move now (σ₆₀ · √h).
    pub z: f64,
    /// With hysteresis (see the module docs).
    pub label: ContextLabel,
}

/// The trend over `h` minutes at the last close of `closes` (`returns` as in [`trend_z`]).
pub fn trend(closes: &[f64], returns: &[f64], h: usize, p: &TrendParams) -> Trend {
    let last = closes.len().saturating_sub(1);
    let from = last.saturating_sub(TREND_REPLAY_MIN);
    let label = p.replay((from..=last).map(|t| trend_z(closes, returns, t, h)));
    let z = trend_z(closes, returns, last, h);
    let move_bps = if last >= h {
        (closes[last] / closes[last - h]).ln() * 1e4
    } else {
        f64::NAN
    };
    Trend {
        horizon_min: h as u32,
        move_bps,
        z,
        label,
    }
}

/// Why a forecast does or does not carry a directional call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallBasis {
    /// The model's direction was no better than the baselines out of sample: no call is made.
    NoSkill,
    /// The model showed directional skill out of sample for this horizon: the call stands.
    SkillShown,
}

/// One horizon's forecast: a calibrated range for the forward log return.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ContextForecast {
    pub horizon_min: u32,
    /// Centre of the forecast (log return).
    pub drift: f64,
    /// Scale of the forecast error (log return): σ · the fitted t scale.
    pub sigma: f64,
    /// Degrees of freedom of the t (`null`: Gaussian).
    #[serde(serialize_with = "finite_or_null")]
    pub df: f64,
    /// Central 68 % and 95 % ranges of the forward log return.
    pub range_68: [f64; 2],
    pub range_95: [f64; 2],
    /// `P(return > 0)` under the forecast.
    pub p_up: f64,
    /// `drift / sigma`.
    pub z: f64,
    /// The directional call, only when [`CallBasis::SkillShown`].
    pub call: Option<ContextLabel>,
    pub basis: CallBasis,
}

fn finite_or_null<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        s.serialize_f64(*v)
    } else {
        s.serialize_none()
    }
}

/// What the context says now.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ContextOutput {
    /// Not enough history yet.
    WarmingUp { minutes_left: usize },
    /// One trend and one forecast per horizon ([`HORIZONS_MIN`] order).
    Ready {
        trend: Vec<Trend>,
        forecasts: Vec<ContextForecast>,
    },
}

impl ContextOutput {
    /// `"warming_up"` or `"ready"`.
    pub fn state(&self) -> &'static str {
        match self {
            ContextOutput::WarmingUp { .. } => "warming_up",
            ContextOutput::Ready { .. } => "ready",
        }
    }
}

impl std::fmt::Display for ContextOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ContextOutput::WarmingUp { minutes_left } => {
                write!(f, "warming up ({minutes_left} min)")
            }
            ContextOutput::Ready { trend, forecasts } => {
                f.write_str("trend")?;
                for (i, t) in trend.iter().enumerate() {
                    let sep = if i > 0 { "," } else { "" };
                    write!(
                        f,
                        "{sep} {}m {} ({:+.1}σ, {:+.1} bp)",
                        t.horizon_min,
                        t.label.as_str(),
                        t.z,
                        t.move_bps
                    )?;
                }
                f.write_str("; forecast")?;
                for (i, c) in forecasts.iter().enumerate() {
                    let sep = if i > 0 { "," } else { "" };
                    write!(
                        f,
                        "{sep} {}m 68% [{:+.1}, {:+.1}] bp, 95% [{:+.1}, {:+.1}] bp, {}",
                        c.horizon_min,
                        c.range_68[0] * 1e4,
                        c.range_68[1] * 1e4,
                        c.range_95[0] * 1e4,
                        c.range_95[1] * 1e4,
                        match (c.call, c.basis) {
                            (Some(l), _) => format!("call {}", l.as_str()),
                            (None, _) => "no directional call (no out-of-sample skill)".into(),
                        }
                    )?;
                }
                Ok(())
            }
        }
    }
}

/// Per horizon: the fitted error shape and whether the model may call a direction, from the
/// model's metadata (`details.error_df_15m`, `error_scale_15m`, `direction_skill_15m`, …).
/// A model without them gets the plain Gaussian and no calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Calibration {
    pub shapes: [ErrorShape; 2],
    pub direction_skill: [bool; 2],
}

impl Calibration {
    /// Metadata keys of horizon index `h`.
    pub fn keys(h: usize) -> [String; 3] {
        let m = HORIZONS_MIN[h];
        [
            format!("error_df_{m}m"),
            format!("error_scale_{m}m"),
            format!("direction_skill_{m}m"),
        ]
    }

    /// Reads the calibration from a model's metadata (`df` 0 or missing: Gaussian).
    pub fn from_meta(meta: &ModelMeta) -> Calibration {
        let mut c = Calibration::default();
        let num = |k: &str| {
            meta.details
                .get(k)
                .and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
        };
        for h in 0..HORIZONS_MIN.len() {
            let [kd, ks, kk] = Calibration::keys(h);
            let df = num(&kd).filter(|d| *d > 0.0).unwrap_or(f64::INFINITY);
            let scale = num(&ks).unwrap_or(1.0);
            c.shapes[h] = ErrorShape::new(df, scale);
            c.direction_skill[h] = meta
                .details
                .get(&kk)
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
        }
        c
    }

    /// Writes it into metadata details (`df` ∞ is written as 0).
    pub fn to_details(&self, details: &mut toml::Table) {
        for h in 0..HORIZONS_MIN.len() {
            let [kd, ks, kk] = Calibration::keys(h);
            let s = &self.shapes[h];
            let df = if s.df.is_finite() { s.df } else { 0.0 };
            details.insert(kd, toml::Value::Float(df));
            details.insert(ks, toml::Value::Float(s.scale));
            details.insert(kk, toml::Value::Boolean(self.direction_skill[h]));
        }
    }
}

/// A loaded context model, ready to run (no allocation per call beyond the returned vectors).
#[derive(Clone, Debug)]
pub struct ContextModel {
    pub meta: ModelMeta,
    mlp: FastMlp,
    /// |drift| / sigma at or above which a directional call (where allowed) leaves NEUTRAL.
    pub z_threshold: f64,
    pub trend: TrendParams,
    pub calibration: Calibration,
}

impl ContextModel {
    /// A model; its calibration is read from `meta`, the trend thresholds are the defaults
    /// (see [`Self::with_trend`]).
    pub fn new(meta: ModelMeta, mlp: FastMlp, z_threshold: f64) -> ContextModel {
        let calibration = Calibration::from_meta(&meta);
        ContextModel {
            meta,
            mlp,
            z_threshold,
            trend: TrendParams::default(),
            calibration,
        }
    }

    /// An untrained model with seeded weights and an identity scaler: for tests and benches of
    /// the machinery around it (seeding, readiness, the screen). Its forecasts mean nothing.
    pub fn seeded(seed: u64) -> ContextModel {
        use super::scaler::Scaler;
        use super::weights::{Activation, Architecture};
        let arch = Architecture::mlp(N_INPUTS, &[8], OUTPUT_NAMES.len(), Activation::Tanh);
        let w = Weights::seeded(&arch, seed);
        let scaler = Scaler::identity(N_INPUTS);
        let meta = ModelMeta {
            schema: SCHEMA.into(),
            schema_version: SCHEMA_VERSION,
            kind: "gaussian-mlp".into(),
            inputs: INPUT_NAMES.iter().map(|s| s.to_string()).collect(),
            outputs: OUTPUT_NAMES.iter().map(|s| s.to_string()).collect(),
            horizons: HORIZONS_MIN.iter().map(|h| format!("{h}m")).collect(),
            dead_band: None,
            temperature: None,
            seed,
            command: "untrained (ContextModel::seeded)".into(),
            created_by: "microstate-core".into(),
            architecture: arch.clone(),
            scaler: scaler.clone(),
            training: super::weights::TrainOptions::default(),
            data: super::meta::DataInfo::default(),
            details: toml::Table::new(),
            metrics: toml::Table::new(),
        };
        // `Weights::seeded` always fits its own architecture.
        let mlp = FastMlp::new(&arch, &w, &scaler).unwrap_or_else(|| unreachable!());
        ContextModel::new(meta, mlp, 0.25)
    }

    pub fn with_trend(mut self, trend: TrendParams) -> ContextModel {
        self.trend = trend;
        self
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

    /// Drift and σ (before the error shape's scale) of horizon index `h`, log-return units.
    pub fn moments(raw: &[f32; 4], h: usize, sigma_ref: f64) -> (f64, f64) {
        let s = sigma_ref * (HORIZONS_MIN[h] as f64).sqrt();
        let lv = raw[2 * h + 1].clamp(-LOG_VAR_CLAMP, LOG_VAR_CLAMP) as f64;
        (raw[2 * h] as f64 * s, (lv / 2.0).exp() * s)
    }

    /// The forecast of horizon index `h` (into [`HORIZONS_MIN`]) from raw outputs.
    pub fn forecast(&self, raw: &[f32; 4], h: usize, sigma_ref: f64) -> ContextForecast {
        let (drift, sd) = Self::moments(raw, h, sigma_ref);
        let shape = &self.calibration.shapes[h];
        let sigma = sd * shape.scale;
        let z = drift / sigma;
        let (w68, w95) = (sd * shape.half_68, sd * shape.half_95);
        let skill = self.calibration.direction_skill[h];
        ContextForecast {
            horizon_min: HORIZONS_MIN[h] as u32,
            drift,
            sigma,
            df: shape.df,
            range_68: [drift - w68, drift + w68],
            range_95: [drift - w95, drift + w95],
            p_up: shape.p_up(drift, sd),
            z,
            call: skill.then(|| ContextLabel::from_z(z, self.z_threshold)),
            basis: if skill {
                CallBasis::SkillShown
            } else {
                CallBasis::NoSkill
            },
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
        let minutes_left = state.warming_minutes_left();
        let p = self.trend;
        let Some((c, r, ts)) = state.window() else {
            return ContextOutput::WarmingUp { minutes_left };
        };
        let trend = HORIZONS_MIN
            .iter()
            .map(|&h| self::trend(c, r, h, &p))
            .collect();
        let mut x = [0f32; N_INPUTS];
        let s = features(c, r, ts, &mut x);
        ContextOutput::Ready {
            trend,
            forecasts: self.predict(&x, s),
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

    /// `n` minute prices of a random-looking walk ending at `t_end` (minute boundary).
    fn walk(n: usize, t_end: i64, drift_bp: f64) -> Vec<(i64, f64)> {
        let mut p = 100.0;
        let mut r = crate::rng::Rng::new(7, 1);
        (0..n)
            .map(|i| {
                let u = (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                p *= 1.0 + drift_bp * 1e-4 + u * 2e-3;
                (t_end - (n - 1 - i) as i64 * MINUTE_MS, p)
            })
            .collect()
    }

    #[test]
    fn a_seeded_state_is_ready_at_once_and_matches_pushing_the_same_minutes() {
        let t_end = 1_747_699_200_000i64;
        let m = walk(300, t_end, 0.0);
        let mut seeded = ContextState::new(5);
        let out = seeded.seed(&m);
        assert_eq!(
            out,
            SeedOutcome {
                added: 300,
                history_minutes: LOOKBACK,
                ready: true
            }
        );
        assert_eq!(seeded.last_ts(), Some(t_end));
        let mut pushed = ContextState::new(5);
        for &(t, p) in &m {
            pushed.push(t, p);
        }
        let (mut a, mut b) = ([0f32; N_INPUTS], [0f32; N_INPUTS]);
        assert_eq!(seeded.features(&mut a), pushed.features(&mut b));
        assert_eq!(a, b);
        // Too little history is not ready, and says how much is missing.
        let mut short = ContextState::new(5);
        let o = short.seed(&m[..100]);
        assert!(!o.ready && o.history_minutes == 99);
        assert_eq!(short.warming_minutes_left(), LOOKBACK - 99);
        // Broken prices are skipped, not fatal.
        let mut bad = m.clone();
        bad[10].1 = f64::NAN;
        bad[11].1 = -1.0;
        let mut st = ContextState::new(5);
        assert_eq!(st.seed(&bad).added, 298);
        assert!(st.is_ready());
    }

    #[test]
    fn a_gap_refill_keeps_the_context_ready() {
        let t_end = 1_747_699_200_000i64;
        let all = walk(400, t_end, 0.5);
        let mut st = ContextState::new(5);
        st.seed(&all[..300]);
        assert!(st.is_ready());
        // Live minutes stop for 20 minutes (a disconnect); the fetched minutes arrive before
        // the next live minute: it continues with no restart and no fill.
        st.seed(&all[300..320]);
        assert!(st.is_ready());
        assert_eq!(st.push(all[320].0, all[320].1), Push::Next);
        assert!(st.is_ready());
        assert_eq!((st.restarts, st.filled), (0, 0));
        // The other order: the live minute after a 30-minute hole (300..329 missing) restarts the history…
        let mut late = ContextState::new(5);
        late.seed(&all[..300]);
        assert!(matches!(
            late.push(all[330].0, all[330].1),
            Push::Restarted(30)
        ));
        assert!(!late.is_ready());
        // …and the fetched minutes rebuild it: ready again, identical to the gap-free history.
        let o = late.seed(&all[60..331]);
        assert!(o.ready);
        let mut clean = ContextState::new(5);
        clean.seed(&all[..331]);
        let (mut a, mut b) = ([0f32; N_INPUTS], [0f32; N_INPUTS]);
        assert_eq!(late.features(&mut a), clean.features(&mut b));
        assert_eq!(a, b);
        // Fetched prices replace filled minutes but never a real live price.
        let mut f = ContextState::new(5);
        f.seed(&all[..300]);
        assert_eq!(f.push(all[302].0, all[302].1), Push::Filled(2));
        let mut changed = all[300..303].to_vec();
        for x in &mut changed {
            x.1 *= 1.5;
        }
        let o = f.seed(&changed);
        assert_eq!(o.added, 2, "the two filled minutes, not the live one");
        let held: Vec<(i64, f64, Origin)> = f.minutes().collect();
        let last3 = &held[held.len() - 3..];
        assert_eq!(last3[0].1, changed[0].1);
        assert_eq!(last3[1].1, changed[1].1);
        assert_eq!(last3[2].1, all[302].1, "the live price stays");
        assert_eq!(
            last3.iter().map(|m| m.2).collect::<Vec<_>>(),
            [Origin::Fetched, Origin::Fetched, Origin::Live]
        );
    }

    #[test]
    fn a_live_price_replaces_the_last_fetched_minute() {
        // A fetched kline still in progress carried only its latest trade: the live sample of
        // the same minute boundary replaces it, and the return into it follows.
        let t_end = 1_747_699_200_000i64;
        let m = walk(260, t_end, 0.0);
        let mut st = ContextState::new(5);
        st.seed(&m);
        let before: Vec<(i64, f64, Origin)> = st.minutes().collect();
        assert_eq!(st.push(t_end, 123.0), Push::Replaced);
        let after: Vec<(i64, f64, Origin)> = st.minutes().collect();
        assert_eq!(after.len(), before.len());
        assert_eq!(after.last(), Some(&(t_end, 123.0, Origin::Live)));
        let mut direct = ContextState::new(5);
        let mut fixed = m.clone();
        fixed.last_mut().unwrap().1 = 123.0;
        direct.seed(&fixed);
        let (mut a, mut b) = ([0f32; N_INPUTS], [0f32; N_INPUTS]);
        assert_eq!(st.features(&mut a), direct.features(&mut b));
        assert_eq!(a, b);
        // A second live price for the same minute is ignored, as ever.
        assert_eq!(st.push(t_end, 124.0), Push::Ignored);
    }

    #[test]
    fn trend_is_the_unclamped_feature_with_hysteresis() {
        let p = TrendParams {
            enter_z: 1.0,
            exit_z: 0.5,
        };
        use ContextLabel::*;
        assert_eq!(p.replay([0.2, 1.1, 0.7, 0.6]), Bullish);
        assert_eq!(p.replay([0.2, 1.1, 0.7, 0.4]), Neutral);
        assert_eq!(p.replay([1.1, -1.2]), Bearish);
        assert_eq!(p.replay([0.9, 0.8]), Neutral, "never entered");
        assert_eq!(p.replay([-1.0, f64::NAN, -0.6]), Bearish);
        // The trend z at the end of a window is the z_ret feature before clamping.
        let m = walk(300, 1_747_699_200_000, 1.0);
        let mut st = ContextState::new(5);
        st.seed(&m);
        let mut x = [0f32; N_INPUTS];
        st.features(&mut x).unwrap();
        let (c, r, _) = st.window().unwrap();
        for (i, &h) in HORIZONS_MIN.iter().enumerate() {
            let t = trend(c, r, h, &p);
            let fi = RETURN_SCALES.iter().position(|&k| k == h).unwrap();
            assert!(
                (t.z as f32 - x[fi]).abs() < 1e-5,
                "{i}: {} vs {}",
                t.z,
                x[fi]
            );
            assert!((t.move_bps - (c[LOOKBACK] / c[LOOKBACK - h]).ln() * 1e4).abs() < 1e-9);
        }
        // A steady climb of 3 bp a minute with little noise is a BULLISH trend; its mirror
        // image BEARISH.
        let up: Vec<(i64, f64)> = (0..300)
            .map(|i| {
                (
                    i as i64 * MINUTE_MS,
                    100.0 * (1.0003f64).powi(i) * (1.0 + 1e-4 * ((i % 3) as f64)),
                )
            })
            .collect();
        let down: Vec<(i64, f64)> = up.iter().map(|&(t, p)| (t, 1e4 / p)).collect();
        for (series, want) in [(up, Bullish), (down, Bearish)] {
            let mut st = ContextState::new(5);
            st.seed(&series);
            let mut model = ContextModel::seeded(3);
            match model.evaluate(&mut st) {
                ContextOutput::Ready { trend, forecasts } => {
                    assert!(trend.iter().all(|t| t.label == want), "{trend:?}");
                    assert_eq!(forecasts.len(), 2);
                    let f = &forecasts[0];
                    assert!(f.range_95[0] < f.range_68[0] && f.range_68[1] < f.range_95[1]);
                    assert_eq!(f.call, None, "no skill recorded: no call");
                    assert_eq!(f.basis, CallBasis::NoSkill);
                    let out = ContextOutput::Ready {
                        trend: trend.clone(),
                        forecasts: forecasts.clone(),
                    };
                    let ci = crate::ml::interpret::ContextInput::of(&out, 0).unwrap();
                    assert_eq!(ci.label, want);
                    assert_eq!(ci.horizon_min, 15);
                    let text = out.to_string();
                    assert!(
                        text.contains(want.as_str()) && text.contains("no directional call"),
                        "{text}"
                    );
                    let j = serde_json::to_value(&out).unwrap();
                    assert_eq!(j["state"], "ready");
                    assert_eq!(j["forecasts"][0]["df"], serde_json::Value::Null);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn calibration_round_trips_through_metadata_and_gates_the_call() {
        let mut model = ContextModel::seeded(5);
        let cal = Calibration {
            shapes: [ErrorShape::new(4.0, 0.8), ErrorShape::new(6.0, 0.9)],
            direction_skill: [true, false],
        };
        cal.to_details(&mut model.meta.details);
        let back = Calibration::from_meta(&model.meta);
        assert_eq!(back, cal);
        model.calibration = back;
        let raw = [0.5f32, 0.0, 0.5, 0.0];
        let f15 = model.forecast(&raw, 0, 1e-3);
        assert_eq!(f15.basis, CallBasis::SkillShown);
        assert_eq!(f15.call, Some(ContextLabel::Bullish));
        let f30 = model.forecast(&raw, 1, 1e-3);
        assert_eq!((f30.call, f30.basis), (None, CallBasis::NoSkill));
        // 68 % half-width of 0.8·t₄ in units of σ = s₁₅ = 1e-3·√15.
        let s = 1e-3 * 15f64.sqrt();
        let w = (f15.range_68[1] - f15.range_68[0]) / 2.0 / s;
        assert!((w - 0.8 * super::super::dist::t_quantile(0.841_344_7, 4.0)).abs() < 1e-6);
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
