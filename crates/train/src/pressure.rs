//! Pressure datasets from captures, training, and the held-out evaluation against baselines with
//! a cost-aware trading simulation.
//!
//! Owns: replaying captures through the very engine the live path uses (features on), sampling
//! one input row per symbol per `throttle` of event time, labelling it from the symbol's own
//! later feature vectors, the chronological split per (capture, symbol) with an embargo, the
//! baselines and the simulation. Must not touch: clocks, the screen. I/O: reading the captures
//! (through [`microstate_drive::player::Player`]), only here and only when asked from the edge.
//!
//! No look-ahead: the inputs at `t` are the engine's feature vector after the frame at `t`,
//! built from the past only. The label reads the future: the mid in force at `t + horizon` (the
//! last feature update at or before it), known once an update after it arrives. A sample whose
//! horizon crosses an invalid vector (gap, resync) or the end of the capture is dropped.
//!
//! Split, per (capture, symbol), by time over `[first sample, last label end]` of length `T`:
//! train = samples whose label ends by `0.6·T`; validation = samples starting at least one
//! embargo (= the horizon) after that cut and ending by `0.8·T`; test (held out) = samples
//! starting at least one embargo after `0.8·T`. No label of one part overlaps another part.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::TrainError;
use microstate_core::engine::Engine;
use microstate_core::features::FeatureParams;
use microstate_core::features::schema::{FEATURE_SCHEMA_VERSION, idx};
use microstate_core::ml::DeadBand;
use microstate_core::ml::classifier::{ClassMetrics, Classifier, argmax, class_metrics, pearson};
use microstate_core::ml::meta::{DataDigest, DataInfo, ModelMeta};
use microstate_core::ml::prequential::{BaselineParams, Baselines as LiveBaselines, PREDICTORS};
use microstate_core::ml::pressure::{
    CLASSES, DETAIL_BASELINES, DETAIL_HORIZON_NS, DETAIL_INPUT_HI, DETAIL_INPUT_LO, FLAT,
    INPUTS_VERSION, InputRanges, PressureInputs, PressureModel, SCHEMA, UP, band_ref,
    baselines_to_toml, label,
};
use microstate_core::ml::weights::{Activation, Architecture, TrainOptions, TrainReport, Weights};

/// How samples are taken and labelled.
#[derive(Clone, Debug)]
pub struct PressureDataOptions {
    pub params: FeatureParams,
    pub horizon_ns: u64,
    pub throttle_ns: u64,
    pub dead_band: DeadBand,
    /// End of the training part, as a share of each series' time span.
    pub train_frac: f64,
    /// End of the validation part.
    pub val_frac: f64,
}

impl Default for PressureDataOptions {
    fn default() -> Self {
        PressureDataOptions {
            params: FeatureParams::default(),
            horizon_ns: 1_000_000_000,
            throttle_ns: 100_000_000,
            dead_band: DeadBand::Vol(0.5),
            train_frac: 0.6,
            val_frac: 0.8,
        }
    }
}

/// The inputs' training ranges are their 0.5 % and 99.5 % quantiles.
pub const RANGE_QUANTILE: f64 = 0.005;

/// Key of the training series in a model's `details` (what `eval` checks data against).
pub const DETAIL_TRAINING_SERIES: &str = "training_series";

/// One (capture, symbol) a model was trained on: `eval` recognises its training data by symbol,
/// market and time, so a capture cut short, renamed or re-compressed is still recognised.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct TrainingSeries {
    pub capture: String,
    pub symbol: String,
    pub market: String,
    /// First sample, start of the held-out test part, last label end (event time, ns).
    pub start_ns: i64,
    pub test_start_ns: i64,
    pub end_ns: i64,
}

/// The training series recorded in a model's metadata (empty for a model made without them).
pub fn training_series(meta: &ModelMeta) -> Vec<TrainingSeries> {
    meta.details
        .get(DETAIL_TRAINING_SERIES)
        .cloned()
        .and_then(|v| v.try_into().ok())
        .unwrap_or_default()
}

/// Which part of the split a sample is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Train,
    Validation,
    /// Inside an embargo: used nowhere.
    Embargo,
    Test,
}

/// One labelled sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Event time of the inputs, ns.
    pub ts_ns: u64,
    pub label: u32,
    /// The dead band's width at `ts_ns`, price units.
    pub width: f64,
    pub part: Part,
    pub mid: f64,
    pub bid: f64,
    pub ask: f64,
    /// Level-1 imbalance and microprice − mid at `ts_ns` (baselines).
    pub imbalance1: f64,
    pub micro_minus_mid: f64,
    /// Mid, bid and ask in force at `ts_ns + horizon`.
    pub mid_end: f64,
    pub bid_end: f64,
    pub ask_end: f64,
}

impl Sample {
    /// Mid change over the horizon, bps of the mid at `ts_ns`.
    pub fn ret_bps(&self) -> f64 {
        (self.mid_end - self.mid) / self.mid * 1e4
    }
}

/// Time bounds of one series' split, ns.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SplitBounds {
    pub start_ns: u64,
    pub train_end_ns: u64,
    pub validation_start_ns: u64,
    pub validation_end_ns: u64,
    pub test_start_ns: u64,
    pub end_ns: u64,
}

/// The samples of one symbol in one capture.
#[derive(Clone, Debug)]
pub struct Series {
    pub capture: String,
    pub symbol: String,
    /// `spot`, `usdm`, `coinm` (as the engine learned it from the data).
    pub market: String,
    pub samples: Vec<Sample>,
    /// Raw inputs, `n_inputs` per sample.
    pub x: Vec<f32>,
    pub split: SplitBounds,
    /// Samples dropped because their horizon crossed a gap or the end.
    pub dropped: u64,
}

/// Everything read from the captures.
#[derive(Clone, Debug)]
pub struct PressureDataset {
    pub opts: PressureDataOptions,
    pub inputs: PressureInputs,
    pub series: Vec<Series>,
    pub files: Vec<String>,
    pub digest: String,
}

impl PressureDataset {
    pub fn n_inputs(&self) -> usize {
        self.inputs.len()
    }

    /// Samples (raw inputs, labels) of one part, in series and time order.
    pub fn part(&self, part: Part) -> (Vec<f32>, Vec<u32>) {
        let n = self.n_inputs();
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for s in &self.series {
            for (i, smp) in s.samples.iter().enumerate() {
                if smp.part == part {
                    x.extend_from_slice(&s.x[i * n..(i + 1) * n]);
                    y.push(smp.label);
                }
            }
        }
        (x, y)
    }

    pub fn count(&self, part: Part) -> usize {
        self.series
            .iter()
            .map(|s| s.samples.iter().filter(|x| x.part == part).count())
            .sum()
    }
}

#[derive(Clone, Copy, Debug)]
struct Ev {
    ts: u64,
    ok: bool,
    mid: f64,
    bid: f64,
    ask: f64,
}

#[derive(Default)]
struct SymbolLog {
    name: String,
    market: String,
    updates: u64,
    events: Vec<Ev>,
    /// (event index, dead band width, raw inputs + level-1 imbalance + microprice − mid).
    rows: Vec<(usize, f64, Vec<f32>)>,
    next_sample: u64,
}

#[derive(Default)]
struct Collector {
    symbols: Vec<SymbolLog>,
}

impl Collector {
    fn after_frame(&mut self, e: &Engine, inputs: &PressureInputs, o: &PressureDataOptions) {
        for st in e.symbols() {
            let Some(fs) = st.features() else { continue };
            let name = st.symbol.as_str();
            let k = match self.symbols.iter().position(|s| s.name == name) {
                Some(k) => k,
                None => {
                    self.symbols.push(SymbolLog {
                        name: name.to_string(),
                        ..SymbolLog::default()
                    });
                    self.symbols.len() - 1
                }
            };
            let log = &mut self.symbols[k];
            if log.market.is_empty()
                && let Some(m) = st.market
            {
                log.market = m.as_str().to_string();
            }
            if fs.updates() == log.updates {
                continue;
            }
            log.updates = fs.updates();
            let v = fs.vector();
            let last_ts = log.events.last().map_or(0, |e| e.ts);
            let ts = v.ts_ns().max(last_ts);
            let g = |i| v.get(i).filter(|x: &f64| x.is_finite());
            let (mid, bid, ask) = (g(idx::MID), g(idx::BID_PX), g(idx::ASK_PX));
            let ok = v.book_valid() && mid.is_some() && bid.is_some() && ask.is_some();
            log.events.push(Ev {
                ts,
                ok,
                mid: mid.unwrap_or(f64::NAN),
                bid: bid.unwrap_or(f64::NAN),
                ask: ask.unwrap_or(f64::NAN),
            });
            if ok && ts >= log.next_sample {
                let mut x = vec![0f32; inputs.len()];
                // The band the live scorer would use for a prediction here.
                let width = band_ref(v, o.horizon_ns).and_then(|r| o.dead_band.width(&r));
                if let Some(width) = width
                    && inputs.extract(v, &mut x)
                {
                    let mut extra = x;
                    extra.push(g(idx::IMBALANCE).unwrap_or(0.0) as f32);
                    extra.push(g(idx::MICRO_MINUS_MID).unwrap_or(0.0) as f32);
                    log.rows.push((log.events.len() - 1, width, extra));
                    log.next_sample = ts.saturating_add(o.throttle_ns);
                }
            }
        }
    }
}

/// Replays each capture (a group of files played together, e.g. one capture split at midnight)
/// through the engine and builds the labelled, split dataset.
pub fn build_dataset(
    captures: &[Vec<PathBuf>],
    opts: &PressureDataOptions,
) -> Result<PressureDataset, TrainError> {
    use microstate_drive::player::{Player, PlayerOptions, Poll};
    use microstate_drive::replay::ReplayOptions;
    let inputs = PressureInputs::new(&opts.params);
    let n = inputs.len();
    let mut series = Vec::new();
    let mut files = Vec::new();
    let mut digest = DataDigest::default();
    for group in captures {
        let capture = group
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join("+");
        files.extend(group.iter().map(|p| p.display().to_string()));
        let popts = PlayerOptions {
            replay: ReplayOptions {
                features: Some(opts.params),
                ..ReplayOptions::default()
            },
            latency: false,
            ..PlayerOptions::default()
        };
        let mut player = Player::open(group, popts)
            .map_err(|e| TrainError::Data(format!("{capture}: {e:#}")))?;
        let col = Arc::new(Mutex::new(Collector::default()));
        let shared = col.clone();
        let inp = inputs.clone();
        let o = opts.clone();
        player.set_observer(Box::new(move |e: &Engine| {
            if let Ok(mut c) = shared.lock() {
                c.after_frame(e, &inp, &o);
            }
        }));
        loop {
            match player.poll(0) {
                Ok(Poll::Done) => break,
                Ok(_) => {}
                Err(e) => return Err(TrainError::Data(format!("{capture}: {e}"))),
            }
        }
        drop(player);
        let col = Arc::try_unwrap(col)
            .map_err(|_| TrainError::Data("the dataset collector is still shared".into()))?
            .into_inner()
            .map_err(|_| TrainError::Data("the dataset collector was poisoned".into()))?;
        for log in col.symbols {
            let s = label_series(&capture, log, n, opts);
            for smp in &s.samples {
                digest.i64(smp.ts_ns as i64);
                digest.f64(smp.mid);
                digest.f64(smp.mid_end);
            }
            if !s.samples.is_empty() {
                series.push(s);
            }
        }
    }
    Ok(PressureDataset {
        opts: opts.clone(),
        inputs,
        series,
        files,
        digest: digest.hex(),
    })
}

fn label_series(capture: &str, log: SymbolLog, n: usize, o: &PressureDataOptions) -> Series {
    let ev = &log.events;
    let mut samples = Vec::new();
    let mut x = Vec::new();
    let mut dropped = 0;
    for (k, width, row) in &log.rows {
        let e0 = ev[*k];
        let due = e0.ts.saturating_add(o.horizon_ns);
        let mut j = k + 1;
        let mut ok = true;
        while j < ev.len() && ev[j].ts <= due {
            ok &= ev[j].ok;
            j += 1;
        }
        // An update after the due time must exist: only then is the mid at it known.
        if !ok || j >= ev.len() {
            dropped += 1;
            continue;
        }
        let end = ev[j - 1];
        let Some(y) = label(e0.mid, end.mid, *width) else {
            dropped += 1;
            continue;
        };
        samples.push(Sample {
            ts_ns: e0.ts,
            label: y,
            width: *width,
            part: Part::Embargo,
            mid: e0.mid,
            bid: e0.bid,
            ask: e0.ask,
            imbalance1: row[n] as f64,
            micro_minus_mid: row[n + 1] as f64,
            mid_end: end.mid,
            bid_end: end.bid,
            ask_end: end.ask,
        });
        x.extend_from_slice(&row[..n]);
    }
    let start = samples.first().map_or(0, |s| s.ts_ns);
    let end = samples
        .last()
        .map_or(0, |s| s.ts_ns.saturating_add(o.horizon_ns));
    let span = end.saturating_sub(start) as f64;
    let train_end = start + (span * o.train_frac) as u64;
    let val_end = start + (span * o.val_frac) as u64;
    let split = SplitBounds {
        start_ns: start,
        train_end_ns: train_end,
        validation_start_ns: train_end + o.horizon_ns,
        validation_end_ns: val_end,
        test_start_ns: val_end + o.horizon_ns,
        end_ns: end,
    };
    for s in &mut samples {
        let due = s.ts_ns + o.horizon_ns;
        s.part = if due <= split.train_end_ns {
            Part::Train
        } else if s.ts_ns >= split.validation_start_ns && due <= split.validation_end_ns {
            Part::Validation
        } else if s.ts_ns >= split.test_start_ns {
            Part::Test
        } else {
            Part::Embargo
        };
    }
    Series {
        capture: capture.to_string(),
        symbol: log.name,
        market: log.market,
        samples,
        x,
        split,
        dropped,
    }
}

/// Trading costs of the simulation, bps per side.
#[derive(Clone, Debug, Serialize)]
pub struct CostOptions {
    /// Enter only when the top class is UP or DOWN with at least this probability.
    pub threshold: f64,
    /// Taker fee per side (Binance spot's default tier: 0.1 % = 10 bps).
    pub taker_fee_bps: f64,
    /// Maker fee per side (1 bps: a discounted tier; Binance spot's default maker fee is also
    /// 10 bps, USD-M's 2 bps).
    pub maker_fee_bps: f64,
}

impl Default for CostOptions {
    fn default() -> Self {
        CostOptions {
            threshold: 0.5,
            taker_fee_bps: 10.0,
            maker_fee_bps: 1.0,
        }
    }
}

/// The hold-to-horizon simulation of one predictor.
#[derive(Clone, Debug, Serialize)]
pub struct CostSim {
    pub trades: u64,
    /// Mean mid-to-mid return of the trades in their direction, bps (the signal, no costs).
    pub gross_bps: Option<f64>,
    /// Taker both ways: buy at the ask, sell at the bid, taker fee twice.
    pub taker_net_bps: Option<f64>,
    /// Maker both ways, filled at once at our side's best price (optimistic: ignores queue
    /// position, missed fills and adverse selection), maker fee twice.
    pub maker_net_bps: Option<f64>,
    pub verdict: String,
}

/// Metrics of one predictor on the test part.
#[derive(Clone, Debug, Serialize)]
pub struct PredictorEval {
    #[serde(flatten)]
    pub metrics: ClassMetrics,
    /// Correlation of P(UP) − P(DOWN) with the mid return over the horizon.
    pub ic: f64,
    pub costs: CostSim,
}

/// The baselines.
#[derive(Clone, Debug, Serialize)]
pub struct Baselines {
    /// Train-part class frequencies, always.
    pub majority: PredictorEval,
    /// sign(microprice − mid) as 0.5·one-hot + 0.5·train class frequencies.
    pub microprice_sign: PredictorEval,
    /// Logistic regression on level-1 imbalance alone (fitted on the train part).
    pub imbalance_logistic: PredictorEval,
    /// Logistic regression on all the model's inputs, the same code path (train part).
    pub logistic: PredictorEval,
}

/// Split sizes and bounds, for the report.
#[derive(Clone, Debug, Serialize)]
pub struct SplitReport {
    pub rule: String,
    pub train: usize,
    pub validation: usize,
    pub test: usize,
    pub embargo_ns: u64,
    pub series: Vec<SeriesSplit>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SeriesSplit {
    pub capture: String,
    pub symbol: String,
    pub samples: usize,
    pub dropped: u64,
    #[serde(flatten)]
    pub bounds: SplitBounds,
}

/// Test-part results of one capture.
#[derive(Clone, Debug, Serialize)]
pub struct CaptureEval {
    pub capture: String,
    pub model: PredictorEval,
    pub baselines: Baselines,
}

/// The evaluation of a just-trained model on its dataset's held-out test part (printed by
/// `train pressure`; `eval --data` runs [`crate::pressure_eval`] instead).
#[derive(Clone, Debug, Serialize)]
pub struct PressureEval {
    pub model_dir: String,
    pub kind: String,
    pub horizon_ns: u64,
    pub dead_band: String,
    pub throttle_ns: u64,
    /// Label shares in the test part (DOWN, FLAT, UP).
    pub test_label_shares: [f64; 3],
    pub data_digest: String,
    pub split: SplitReport,
    pub model: PredictorEval,
    pub baselines: Baselines,
    pub per_capture: Vec<CaptureEval>,
    pub cost_options: CostOptions,
}

fn train_freq(y: &[u32]) -> [f32; 3] {
    let mut c = [1f32; 3]; // Laplace: no class has probability 0
    for &l in y {
        c[(l as usize).min(2)] += 1.0;
    }
    let s: f32 = c.iter().sum();
    c.map(|v| v / s)
}

fn simulate(samples: &[(&Sample, [f32; 3])], horizon: u64, c: &CostOptions) -> CostSim {
    let (mut n, mut g, mut t, mut m) = (0u64, 0.0, 0.0, 0.0);
    let mut free_at = 0u64;
    let mut last_capture_ts = 0u64;
    for (s, p) in samples {
        if s.ts_ns < last_capture_ts {
            free_at = 0; // next series
        }
        last_capture_ts = s.ts_ns;
        if s.ts_ns < free_at {
            continue;
        }
        let k = argmax(p) as u32;
        if k == FLAT || (p[k as usize] as f64) < c.threshold {
            continue;
        }
        let side = if k == UP { 1.0 } else { -1.0 };
        let bp = 1e4 / s.mid;
        g += side * (s.mid_end - s.mid) * bp;
        if k == UP {
            t += (s.bid_end - s.ask) * bp;
            m += (s.ask_end - s.bid) * bp;
        } else {
            t += (s.bid - s.ask_end) * bp;
            m += (s.ask - s.bid_end) * bp;
        }
        t -= 2.0 * c.taker_fee_bps;
        m -= 2.0 * c.maker_fee_bps;
        n += 1;
        free_at = s.ts_ns + horizon;
    }
    let mean = |v: f64| (n > 0).then(|| v / n as f64);
    let (gross, taker, maker) = (mean(g), mean(t), mean(m));
    let verdict = match (gross, taker, maker) {
        (None, ..) => "no trades".to_string(),
        (Some(g), Some(t), Some(mk)) if g <= 0.0 => format!(
            "no signal: the trades lose {:.2} bps before costs (taker {t:.2}, maker {mk:.2})",
            -g
        ),
        (Some(g), Some(t), Some(mk)) if t <= 0.0 && mk <= 0.0 => format!(
            "costs eat the signal: +{g:.2} bps gross, taker {t:.2}, maker {mk:.2} (optimistic fills)"
        ),
        (Some(g), Some(t), Some(mk)) if t <= 0.0 => format!(
            "costs eat the signal for a taker (+{g:.2} gross, {t:.2} net); maker {mk:.2} only with the optimistic fill assumption"
        ),
        (Some(g), Some(t), _) => format!("+{g:.2} bps gross, {t:.2} net as a taker"),
        _ => String::new(),
    };
    CostSim {
        trades: n,
        gross_bps: gross,
        taker_net_bps: taker,
        maker_net_bps: maker,
        verdict,
    }
}

fn predictor_eval(rows: &[(&Sample, [f32; 3])], horizon: u64, c: &CostOptions) -> PredictorEval {
    let probs: Vec<f32> = rows.iter().flat_map(|(_, p)| *p).collect();
    let labels: Vec<u32> = rows.iter().map(|(s, _)| s.label).collect();
    let score: Vec<f64> = rows.iter().map(|(_, p)| (p[2] - p[0]) as f64).collect();
    let ret: Vec<f64> = rows.iter().map(|(s, _)| s.ret_bps()).collect();
    PredictorEval {
        metrics: class_metrics(&probs, 3, &labels),
        ic: pearson(&score, &ret),
        costs: simulate(rows, horizon, c),
    }
}

/// The baselines fitted on a dataset's train part (its validation part for early stopping and
/// the temperature): the parameters stored in the model (majority, microprice sign, imbalance
/// logistic) and the logistic twin on all the model's inputs (reported at training only).
pub struct FittedBaselines {
    pub params: BaselineParams,
    pub logistic: Classifier,
}

/// Fits the baselines on the train part of `ds`.
pub fn fit_baselines(ds: &PressureDataset, seed: u64) -> Result<FittedBaselines, TrainError> {
    let (xt, yt) = ds.part(Part::Train);
    let (xv, yv) = ds.part(Part::Validation);
    if yt.is_empty() || yv.is_empty() {
        return Err(TrainError::Data(format!(
            "too few samples: {} train, {} validation (each capture needs a few minutes after the 1 s window fills)",
            yt.len(),
            yv.len()
        )));
    }
    let n = ds.n_inputs();
    let imb_col = |part: Part| -> Vec<f32> {
        ds.series
            .iter()
            .flat_map(|s| s.samples.iter())
            .filter(|s| s.part == part)
            .map(|s| s.imbalance1 as f32)
            .collect()
    };
    let opts = TrainOptions {
        seed,
        lr: 1e-2,
        ..TrainOptions::default()
    };
    let imb = crate::classifier::train_classifier(
        &Architecture::logistic(1, 3),
        &imb_col(Part::Train),
        &yt,
        &imb_col(Part::Validation),
        &yv,
        &opts,
    )?;
    let lg = crate::classifier::train_classifier(
        &Architecture::logistic(n, 3),
        &xt,
        &yt,
        &xv,
        &yv,
        &opts,
    )?;
    let logistic = lg
        .classifier()
        .ok_or_else(|| TrainError::Data("baseline weights do not fit".into()))?;
    let l = imb
        .weights
        .layers
        .first()
        .ok_or_else(|| TrainError::Data("imbalance logistic has no layer".into()))?;
    let t = imb.temperature;
    let three = |v: &[f32]| [v[0] / t, v[1] / t, v[2] / t];
    Ok(FittedBaselines {
        params: BaselineParams {
            class_freq: train_freq(&yt),
            imbalance_mean: imb.scaler.mean[0],
            imbalance_std: imb.scaler.std[0],
            imbalance_w: three(&l.w),
            imbalance_b: three(&l.b),
        },
        logistic,
    })
}

/// Central quantiles of each input over the train part: what the out-of-range guard holds
/// live inputs against.
/// `lo > hi` (1, 0) for an input never present.
pub fn input_ranges(ds: &PressureDataset, q: f64) -> InputRanges {
    let n = ds.n_inputs();
    let (x, _) = ds.part(Part::Train);
    let mut lo = vec![1f32; n];
    let mut hi = vec![0f32; n];
    let mut col = Vec::new();
    for i in 0..n {
        col.clear();
        for row in x.chunks_exact(n) {
            if row[i].is_finite() {
                col.push(row[i]);
            }
        }
        if col.is_empty() {
            continue;
        }
        col.sort_by(f32::total_cmp);
        let at = |p: f64| col[((col.len() - 1) as f64 * p).round() as usize];
        lo[i] = at(q);
        hi[i] = at(1.0 - q);
    }
    InputRanges { lo, hi }
}

/// Evaluates `model` on the test part of `ds` (the part training held out) against the
/// baselines fitted on the same dataset's train part (the model's own, from its metadata) and
/// the logistic twin.
pub fn eval_pressure(
    model: &mut PressureModel,
    ds: &PressureDataset,
    costs: &CostOptions,
    model_dir: &str,
    twin: &mut Classifier,
) -> Result<PressureEval, TrainError> {
    let fixed = LiveBaselines::new(model.baselines().clone());
    let n = ds.n_inputs();
    let h = ds.opts.horizon_ns;
    // Rows of the test part per predictor: model, majority, microprice, imbalance, logistic.
    let mut rows: [Vec<(&Sample, [f32; 3])>; 5] = Default::default();
    let mut caps: Vec<(String, usize, usize)> = Vec::new();
    let mut b = [[0f32; 3]; PREDICTORS];
    for s in &ds.series {
        let from = rows[0].len();
        for (i, smp) in s.samples.iter().enumerate() {
            if smp.part != Part::Test {
                continue;
            }
            let x = &s.x[i * n..(i + 1) * n];
            rows[0].push((smp, model.predict_inputs(x)));
            fixed.predict(smp.imbalance1 as f32, smp.micro_minus_mid as f32, &mut b);
            rows[1].push((smp, b[1]));
            rows[2].push((smp, b[2]));
            rows[3].push((smp, b[3]));
            rows[4].push((smp, p3(twin.predict(x))));
        }
        match caps.last_mut() {
            Some(c) if c.0 == s.capture => c.2 = rows[0].len(),
            _ => caps.push((s.capture.clone(), from, rows[0].len())),
        }
    }
    if rows[0].is_empty() {
        return Err(TrainError::Data("no test samples".into()));
    }
    let evals = |a: usize, b: usize| -> (PredictorEval, Baselines) {
        let e = |k: usize| predictor_eval(&rows[k][a..b], h, costs);
        (
            e(0),
            Baselines {
                majority: e(1),
                microprice_sign: e(2),
                imbalance_logistic: e(3),
                logistic: e(4),
            },
        )
    };
    let (m, b) = evals(0, rows[0].len());
    let per_capture = caps
        .iter()
        .map(|(c, a, z)| {
            let (model, baselines) = evals(*a, *z);
            CaptureEval {
                capture: c.clone(),
                model,
                baselines,
            }
        })
        .collect();
    let mut shares = [0f64; 3];
    for (s, _) in &rows[0] {
        shares[s.label as usize] += 1.0;
    }
    let nt = rows[0].len() as f64;
    Ok(PressureEval {
        model_dir: model_dir.to_string(),
        kind: model.meta.kind.clone(),
        horizon_ns: h,
        dead_band: ds.opts.dead_band.to_string(),
        throttle_ns: ds.opts.throttle_ns,
        test_label_shares: shares.map(|v| v / nt),
        data_digest: ds.digest.clone(),
        split: split_report(ds),
        model: m,
        baselines: b,
        per_capture,
        cost_options: costs.clone(),
    })
}

fn p3(p: &[f32]) -> [f32; 3] {
    [
        p.first().copied().unwrap_or(0.0),
        p.get(1).copied().unwrap_or(0.0),
        p.get(2).copied().unwrap_or(0.0),
    ]
}

pub fn split_report(ds: &PressureDataset) -> SplitReport {
    SplitReport {
        rule: format!(
            "per (capture, symbol) by event time: train = labels ending by {:.0} % of the span, validation up to {:.0} %, test (held out) = the rest; embargo of one horizon after each cut",
            ds.opts.train_frac * 100.0,
            ds.opts.val_frac * 100.0
        ),
        train: ds.count(Part::Train),
        validation: ds.count(Part::Validation),
        test: ds.count(Part::Test),
        embargo_ns: ds.opts.horizon_ns,
        series: ds
            .series
            .iter()
            .map(|s| SeriesSplit {
                capture: s.capture.clone(),
                symbol: s.symbol.clone(),
                samples: s.samples.len(),
                dropped: s.dropped,
                bounds: s.split.clone(),
            })
            .collect(),
    }
}

/// The dataset with another chronological split of every series (shares of each series' time
/// span): train up to `train_end`, validation from there to `val_end`, test from there to
/// `test_end`; an embargo of one horizon after each cut, and a sample belongs to a part only if
/// its label ends inside it (no overlapping labels across the cuts). Walk-forward folds use it.
pub fn resplit(
    ds: &PressureDataset,
    train_end: f64,
    val_end: f64,
    test_end: f64,
) -> PressureDataset {
    let mut out = ds.clone();
    let h = ds.opts.horizon_ns;
    for s in &mut out.series {
        let (start, end) = (s.split.start_ns, s.split.end_ns);
        let at = |f: f64| start + (end.saturating_sub(start) as f64 * f) as u64;
        let (t_end, v_end, x_end) = (at(train_end), at(val_end), at(test_end));
        for smp in &mut s.samples {
            let due = smp.ts_ns + h;
            smp.part = if due <= t_end {
                Part::Train
            } else if smp.ts_ns >= t_end + h && due <= v_end {
                Part::Validation
            } else if smp.ts_ns >= v_end + h && due <= x_end {
                Part::Test
            } else {
                Part::Embargo
            };
        }
        s.split = SplitBounds {
            start_ns: start,
            train_end_ns: t_end,
            validation_start_ns: t_end + h,
            validation_end_ns: v_end,
            test_start_ns: v_end + h,
            end_ns: x_end,
        };
    }
    out
}

/// One walk-forward fold: the recipe retrained on the data before its test window.
#[derive(Clone, Debug, Serialize)]
pub struct PressureFold {
    pub fold: usize,
    /// Shares of each series' time span: train up to, validation up to, test up to.
    pub train_end: f64,
    pub validation_end: f64,
    pub test_end: f64,
    pub n_test: u64,
    pub model_macro_f1: f64,
    pub model_brier: f64,
    pub model_log_loss: f64,
    pub majority_macro_f1: f64,
    pub majority_brier: f64,
}

/// Walk-forward folds: test windows of 20 % of each series' span at 40–60 %, 60–80 % and
/// 80–100 %, each trained on everything before its validation tenth (the model's recipe,
/// seed and architecture), so every fold predicts only the future of its training data.
pub fn walk_forward(
    ds: &PressureDataset,
    o: &PressureTrainOptions,
    folds: usize,
) -> Result<Vec<PressureFold>, TrainError> {
    let n = ds.n_inputs();
    let arch = if o.hidden.is_empty() {
        Architecture::logistic(n, 3)
    } else {
        Architecture::mlp(n, &o.hidden, 3, Activation::Relu)
    };
    let mut out = Vec::new();
    for f in 0..folds {
        let test_end = 1.0 - 0.2 * (folds - 1 - f) as f64;
        let val_end = test_end - 0.2;
        let train_end = val_end - 0.1;
        if train_end <= 0.1 {
            continue;
        }
        let d = resplit(ds, train_end, val_end, test_end);
        let (xt, yt) = d.part(Part::Train);
        let (xv, yv) = d.part(Part::Validation);
        let (xs, ys) = d.part(Part::Test);
        if yt.len() < 50 || yv.len() < 10 || ys.is_empty() {
            continue;
        }
        let t = crate::classifier::train_classifier(&arch, &xt, &yt, &xv, &yv, &o.train)?;
        let mut clf = t.classifier().ok_or_else(|| {
            TrainError::Data("trained weights do not fit the architecture".into())
        })?;
        let mut probs = Vec::with_capacity(ys.len() * 3);
        for row in xs.chunks(n) {
            probs.extend_from_slice(clf.predict(row));
        }
        let m = microstate_core::ml::classifier::class_metrics(&probs, 3, &ys);
        // Majority class of the fold's training part, as probabilities of its frequencies.
        let mut freq = [0f32; 3];
        for &y in &yt {
            freq[y as usize] += 1.0;
        }
        let total: f32 = freq.iter().sum();
        for v in &mut freq {
            *v /= total.max(1.0);
        }
        let maj: Vec<f32> = ys.iter().flat_map(|_| freq).collect();
        let mm = microstate_core::ml::classifier::class_metrics(&maj, 3, &ys);
        out.push(PressureFold {
            fold: f + 1,
            train_end,
            validation_end: val_end,
            test_end,
            n_test: ys.len() as u64,
            model_macro_f1: m.macro_f1,
            model_brier: m.brier,
            model_log_loss: m.log_loss,
            majority_macro_f1: mm.macro_f1,
            majority_brier: mm.brier,
        });
    }
    Ok(out)
}

/// What to train.
#[derive(Clone, Debug)]
pub struct PressureTrainOptions {
    pub train: TrainOptions,
    /// Hidden layer widths (empty: the logistic model).
    pub hidden: Vec<usize>,
    pub costs: CostOptions,
    /// Walk-forward folds reported beside the main split (0: none).
    pub folds: usize,
}

impl Default for PressureTrainOptions {
    fn default() -> Self {
        PressureTrainOptions {
            train: TrainOptions {
                max_epochs: 60,
                batch: 128,
                lr: 1e-3,
                weight_decay: 1e-3,
                patience: 8,
                seed: 1,
            },
            hidden: vec![32],
            costs: CostOptions::default(),
            folds: 3,
        }
    }
}

/// A trained pressure model with its held-out evaluation.
pub struct TrainedPressure {
    pub meta: ModelMeta,
    pub weights: Weights,
    pub report: TrainReport,
    pub eval: PressureEval,
    /// Walk-forward folds (the recipe retrained on growing prefixes).
    pub folds: Vec<PressureFold>,
}

fn dur_label(ns: u64) -> String {
    if ns.is_multiple_of(1_000_000_000) {
        format!("{}s", ns / 1_000_000_000)
    } else {
        format!("{}ms", ns / 1_000_000)
    }
}

/// Trains on the train part (scaler fitted there), calibrates the temperature on the validation
/// part, evaluates on the test part.
pub fn train_pressure(
    ds: &PressureDataset,
    o: &PressureTrainOptions,
    command: &str,
    created_by: &str,
) -> Result<TrainedPressure, TrainError> {
    let (xt, yt) = ds.part(Part::Train);
    let (xv, yv) = ds.part(Part::Validation);
    if yt.len() < 50 || yv.len() < 10 {
        return Err(TrainError::Data(format!(
            "too few samples to train: {} train, {} validation",
            yt.len(),
            yv.len()
        )));
    }
    let n = ds.n_inputs();
    let arch = if o.hidden.is_empty() {
        Architecture::logistic(n, 3)
    } else {
        Architecture::mlp(n, &o.hidden, 3, Activation::Relu)
    };
    let t = crate::classifier::train_classifier(&arch, &xt, &yt, &xv, &yv, &o.train)?;
    let fitted = fit_baselines(ds, o.train.seed)?;
    let ranges = input_ranges(ds, RANGE_QUANTILE);
    let mut details = toml::Table::new();
    let int = |v: u64| toml::Value::Integer(v as i64);
    let floats =
        |v: &[f32]| toml::Value::Array(v.iter().map(|&x| toml::Value::Float(x as f64)).collect());
    details.insert(DETAIL_HORIZON_NS.into(), int(ds.opts.horizon_ns));
    details.insert("throttle_ns".into(), int(ds.opts.throttle_ns));
    details.insert("train_samples".into(), int(yt.len() as u64));
    details.insert("validation_samples".into(), int(yv.len() as u64));
    details.insert("test_samples".into(), int(ds.count(Part::Test) as u64));
    details.insert(
        "split".into(),
        toml::Value::String(split_report(ds).rule.clone()),
    );
    details.insert(
        "feature_schema_version".into(),
        int(FEATURE_SCHEMA_VERSION as u64),
    );
    details.insert(DETAIL_INPUT_LO.into(), floats(&ranges.lo));
    details.insert(DETAIL_INPUT_HI.into(), floats(&ranges.hi));
    details.insert(
        "input_range_quantiles".into(),
        toml::Value::Array(vec![
            toml::Value::Float(RANGE_QUANTILE),
            toml::Value::Float(1.0 - RANGE_QUANTILE),
        ]),
    );
    details.insert(
        DETAIL_BASELINES.into(),
        toml::Value::Table(baselines_to_toml(&fitted.params)),
    );
    let series: Vec<TrainingSeries> = ds
        .series
        .iter()
        .map(|s| TrainingSeries {
            capture: s.capture.clone(),
            symbol: s.symbol.clone(),
            market: s.market.clone(),
            start_ns: s.split.start_ns as i64,
            test_start_ns: s.split.test_start_ns as i64,
            end_ns: s.split.end_ns as i64,
        })
        .collect();
    if let Ok(v) = toml::Value::try_from(&series) {
        details.insert(DETAIL_TRAINING_SERIES.into(), v);
    }
    let kind = if o.hidden.is_empty() {
        "softmax-logistic"
    } else {
        "softmax-mlp"
    };
    let mut meta = ModelMeta {
        schema: SCHEMA.into(),
        schema_version: INPUTS_VERSION,
        kind: kind.into(),
        inputs: ds.inputs.names().to_vec(),
        outputs: CLASSES.iter().map(|s| s.to_string()).collect(),
        horizons: vec![dur_label(ds.opts.horizon_ns)],
        dead_band: Some(ds.opts.dead_band.to_string()),
        temperature: Some(t.temperature),
        seed: o.train.seed,
        command: command.into(),
        created_by: created_by.into(),
        architecture: arch.clone(),
        scaler: t.scaler.clone(),
        training: o.train.clone(),
        data: DataInfo {
            files: ds.files.clone(),
            digest: ds.digest.clone(),
            rows: ds.series.iter().map(|s| s.samples.len() as u64).sum(),
        },
        details,
        metrics: toml::Table::new(),
    };
    let clf = t
        .classifier()
        .ok_or_else(|| TrainError::Data("trained weights do not fit the architecture".into()))?;
    let mut model = PressureModel::from_parts(
        meta.clone(),
        ds.inputs.clone(),
        clf,
        ds.opts.horizon_ns,
        ds.opts.dead_band,
        ranges,
        fitted.params.clone(),
    );
    let mut twin = fitted.logistic;
    let eval = eval_pressure(&mut model, ds, &o.costs, "(just trained)", &mut twin)?;
    let mut metrics = toml::Table::new();
    let mut put = |name: &str, e: &PredictorEval| {
        let mut m = toml::Table::new();
        let f = |v: f64| toml::Value::Float(if v.is_finite() { v } else { 0.0 });
        m.insert("n".into(), int(e.metrics.n));
        m.insert("accuracy".into(), f(e.metrics.accuracy));
        m.insert("balanced_accuracy".into(), f(e.metrics.balanced_accuracy));
        m.insert("macro_f1".into(), f(e.metrics.macro_f1));
        m.insert("brier".into(), f(e.metrics.brier));
        m.insert("log_loss".into(), f(e.metrics.log_loss));
        m.insert("ic".into(), f(e.ic));
        metrics.insert(name.into(), toml::Value::Table(m));
    };
    put("test_model", &eval.model);
    put("test_majority", &eval.baselines.majority);
    put("test_microprice_sign", &eval.baselines.microprice_sign);
    put(
        "test_imbalance_logistic",
        &eval.baselines.imbalance_logistic,
    );
    put("test_logistic", &eval.baselines.logistic);
    let folds = if o.folds > 0 {
        walk_forward(ds, o, o.folds)?
    } else {
        Vec::new()
    };
    if let Ok(v) = toml::Value::try_from(&folds) {
        meta.details.insert("walk_forward".into(), v);
    }
    meta.metrics = metrics;
    Ok(TrainedPressure {
        meta,
        weights: t.weights,
        report: t.report,
        eval,
        folds,
    })
}

/// A plain-text table of walk-forward folds.
pub fn render_folds(folds: &[PressureFold]) -> String {
    use std::fmt::Write as _;
    let mut o = String::from(
        "walk-forward folds (train | validation | test, shares of each capture's span):\n",
    );
    for f in folds {
        let _ = writeln!(
            o,
            "  fold {}: train ..{:.0}% | ..{:.0}% | test ..{:.0}% (n {}): macro-F1 {:.3} vs majority {:.3}, Brier {:.4} vs {:.4}, log-loss {:.3}",
            f.fold,
            f.train_end * 100.0,
            f.validation_end * 100.0,
            f.test_end * 100.0,
            f.n_test,
            f.model_macro_f1,
            f.majority_macro_f1,
            f.model_brier,
            f.majority_brier,
            f.model_log_loss
        );
    }
    o
}

/// A plain-text table of an evaluation.
pub fn render_eval(e: &PressureEval) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let row = |o: &mut String, name: &str, p: &PredictorEval| {
        let f = |v: Option<f64>| v.map_or("—".to_string(), |x| format!("{x:+.2}"));
        let _ = writeln!(
            o,
            "| {name} | {} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:+.4} | {} | {} | {} | {} |",
            p.metrics.n,
            p.metrics.accuracy,
            p.metrics.balanced_accuracy,
            p.metrics.macro_f1,
            p.metrics.brier,
            p.metrics.log_loss,
            p.ic,
            p.costs.trades,
            f(p.costs.gross_bps),
            f(p.costs.taker_net_bps),
            f(p.costs.maker_net_bps),
        );
    };
    let table = |o: &mut String, m: &PredictorEval, b: &Baselines| {
        let _ = writeln!(
            o,
            "| predictor | n | accuracy | bal. acc. | macro-F1 | Brier | log-loss | IC | trades | gross bps | taker net | maker net |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        row(o, "model", m);
        row(o, "majority class", &b.majority);
        row(o, "microprice − mid sign", &b.microprice_sign);
        row(o, "logistic on imbalance.1", &b.imbalance_logistic);
        row(o, "logistic, all inputs", &b.logistic);
    };
    let _ = writeln!(
        o,
        "test part, all captures (label shares DOWN/FLAT/UP {:.3}/{:.3}/{:.3}):\n",
        e.test_label_shares[0], e.test_label_shares[1], e.test_label_shares[2]
    );
    table(&mut o, &e.model, &e.baselines);
    let _ = writeln!(o, "\nmodel trading: {}", e.model.costs.verdict);
    for c in &e.per_capture {
        let _ = writeln!(o, "\n{}:\n", c.capture);
        table(&mut o, &c.model, &c.baselines);
    }
    o
}

/// Groups files into captures: files in the same folder are one capture played together (a
/// capture split at midnight), in the order given; cryptofeed files (`NAME.http.N`,
/// `NAME.ws.N`) group by folder and `NAME` (spot and futures captures share a folder).
pub fn group_captures(files: &[PathBuf]) -> Vec<Vec<PathBuf>> {
    let key = |f: &PathBuf| {
        let dir = f.parent().map(|p| p.to_path_buf());
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let prefix = [".http.", ".ws."]
            .iter()
            .find_map(|m| name.find(m).map(|i| name[..i].to_string()));
        (dir, prefix)
    };
    let mut groups: Vec<Vec<PathBuf>> = Vec::new();
    for f in files {
        let k = key(f);
        match groups
            .iter_mut()
            .find(|g| g.first().map(key).as_ref() == Some(&k))
        {
            Some(g) => g.push(f.clone()),
            None => groups.push(vec![f.clone()]),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("assets/demo/btcusdt_20240808-excerpt.gz")
    }

    #[test]
    fn dataset_from_a_capture_prefix_has_no_look_ahead_and_respects_the_embargo() {
        let o = PressureDataOptions::default();
        let ds = build_dataset(&[vec![demo()]], &o).unwrap();
        assert_eq!(ds.series.len(), 1);
        let s = &ds.series[0];
        assert!(s.samples.len() > 100, "{}", s.samples.len());
        assert_eq!(s.x.len(), s.samples.len() * ds.n_inputs());
        let b = &s.split;
        let mut last = 0;
        for smp in &s.samples {
            // Throttled: at least 100 ms apart.
            assert!(smp.ts_ns >= last + o.throttle_ns || last == 0);
            last = smp.ts_ns;
            let due = smp.ts_ns + o.horizon_ns;
            match smp.part {
                Part::Train => assert!(due <= b.train_end_ns),
                Part::Validation => {
                    assert!(smp.ts_ns >= b.train_end_ns + o.horizon_ns);
                    assert!(due <= b.validation_end_ns);
                }
                Part::Test => assert!(smp.ts_ns >= b.validation_end_ns + o.horizon_ns),
                Part::Embargo => {}
            }
            // The label is the rule applied to the mids now and at the horizon.
            assert_eq!(label(smp.mid, smp.mid_end, smp.width), Some(smp.label));
            assert!(smp.width > 0.0, "a volatility band is wider than nothing");
        }
        for p in [Part::Train, Part::Validation, Part::Test, Part::Embargo] {
            assert!(ds.count(p) > 0, "{p:?}");
        }
        // Inputs come from the engine's vector after the sample's own frame (the observer runs
        // after each frame, before the next is read), so they cannot see the future; the
        // replay is deterministic.
        let again = build_dataset(&[vec![demo()]], &o).unwrap();
        assert_eq!(again.series[0].samples, s.samples);
        assert_eq!(again.digest, ds.digest);
    }

    #[test]
    fn walk_forward_folds_train_only_on_the_past_of_their_test_windows() {
        let o = PressureDataOptions::default();
        let ds = build_dataset(&[vec![demo()]], &o).unwrap();
        let h = o.horizon_ns;
        // Every fold's split: labels of a part end inside it, one horizon between parts.
        let mut last_test_start = 0;
        for (te, ve, xe) in [(0.3, 0.4, 0.6), (0.5, 0.6, 0.8), (0.7, 0.8, 1.0)] {
            let d = resplit(&ds, te, ve, xe);
            let s = &d.series[0];
            let b = &s.split;
            assert!(
                b.test_start_ns > last_test_start,
                "test windows move forward"
            );
            last_test_start = b.test_start_ns;
            let mut n = [0usize; 3];
            for smp in &s.samples {
                let due = smp.ts_ns + h;
                match smp.part {
                    Part::Train => {
                        n[0] += 1;
                        assert!(due <= b.train_end_ns);
                    }
                    Part::Validation => {
                        n[1] += 1;
                        assert!(smp.ts_ns >= b.train_end_ns + h && due <= b.validation_end_ns);
                    }
                    Part::Test => {
                        n[2] += 1;
                        assert!(smp.ts_ns >= b.validation_end_ns + h && due <= b.end_ns);
                    }
                    Part::Embargo => {}
                }
            }
            assert!(n.iter().all(|&k| k > 0), "{n:?}");
        }
        let folds = walk_forward(&ds, &PressureTrainOptions::default(), 3).unwrap();
        assert_eq!(folds.len(), 3);
        for (k, f) in folds.iter().enumerate() {
            assert_eq!(f.fold, k + 1);
            assert!(f.train_end < f.validation_end && f.validation_end < f.test_end);
            assert!(f.n_test > 0 && (0.0..=2.0).contains(&f.model_brier));
        }
        assert!((folds[2].test_end - 1.0).abs() < 1e-9);
    }

    #[test]
    fn captures_group_by_folder_and_cryptofeed_exchange() {
        let p = |s: &str| PathBuf::from(s);
        let g = group_captures(&[
            p("d/spot/a.gz"),
            p("d/spot/b.gz"),
            p("d/cf/BINANCE.ws.1.0"),
            p("d/cf/BINANCE_FUTURES.ws.1.0"),
            p("d/cf/BINANCE.http.0.0"),
            p("d/usdm/c.gz"),
        ]);
        assert_eq!(
            g,
            vec![
                vec![p("d/spot/a.gz"), p("d/spot/b.gz")],
                vec![p("d/cf/BINANCE.ws.1.0"), p("d/cf/BINANCE.http.0.0")],
                vec![p("d/cf/BINANCE_FUTURES.ws.1.0")],
                vec![p("d/usdm/c.gz")],
            ]
        );
    }

    #[test]
    fn inputs_at_t_do_not_depend_on_anything_after_t() {
        // The same capture cut short: every sample both datasets share has the same inputs,
        // so nothing after a sample's time reached its features.
        use std::io::{BufRead, Write};
        let full = demo();
        let dir = std::env::temp_dir().join(format!("mst-lookahead-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cut = dir.join("btcusdt_20240808.txt");
        let r = std::io::BufReader::new(flate2::read::GzDecoder::new(
            std::fs::File::open(&full).unwrap(),
        ));
        let mut w = std::fs::File::create(&cut).unwrap();
        for line in r.lines().take(3_500) {
            writeln!(w, "{}", line.unwrap()).unwrap();
        }
        drop(w);
        let o = PressureDataOptions::default();
        let a = build_dataset(&[vec![full]], &o).unwrap();
        let b = build_dataset(&[vec![cut]], &o).unwrap();
        let (sa, sb) = (&a.series[0], &b.series[0]);
        let n = a.n_inputs();
        let mut shared = 0;
        for (j, smp) in sb.samples.iter().enumerate() {
            let Some(i) = sa.samples.iter().position(|x| x.ts_ns == smp.ts_ns) else {
                continue;
            };
            shared += 1;
            assert_eq!(
                &sa.x[i * n..(i + 1) * n],
                &sb.x[j * n..(j + 1) * n],
                "inputs at {} differ with more data after it",
                smp.ts_ns
            );
            assert_eq!(
                sa.samples[i].label, smp.label,
                "the label reads only its horizon"
            );
        }
        assert!(shared > 100, "{shared}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
