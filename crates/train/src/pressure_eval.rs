//! `eval --data` for the pressure model, built so that it cannot flatter: the captures are
//! replayed through the live path (the engine's own signals: throttle, guard, edge gate,
//! prequential scoring), the online learner adapts as it would live, and every resolved
//! prediction is scored — except, on the model's own training data, the part training saw.
//! Also the leave-one-capture-out evaluation `train pressure --loco` prints.
//!
//! Owns: the run "as live" over recorded data ([`eval_live`]), the check against the model's
//! training data (by symbol, market and event time, recorded in the model's metadata), the
//! scores of what the screen showed, of the shipped model as it is, of the model adapted
//! online, and of the baselines (fitted on the model's training data only, never on the data
//! evaluated, and their online variants), the moving-block bootstrap interval of the Brier
//! difference to the best baseline ([`block_bootstrap`]), leave-one-capture-out
//! ([`leave_one_capture_out`]) and the text tables. Must not touch: the screen, clocks.
//! I/O: reading the captures through [`microstate_drive::player::Player`].
//!
//! What "shown" scores: the probabilities the screen showed for each prediction — the
//! model's when its direction was shown, otherwise the base rates of the labels seen so far
//! on that symbol (what a reader without a direction is left with).

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::TrainError;
use crate::online::{LearnerStats, OnlineLearner, OnlineOptions, Prior};
use crate::pressure::{
    PressureDataOptions, PressureDataset, PressureTrainOptions, TrainingSeries, build_dataset,
    train_pressure, training_series,
};
use microstate_core::features::FeatureParams;
use microstate_core::ml::classifier::{class_metrics, pearson};
use microstate_core::ml::prequential::{
    MODEL, PREDICTOR_KEYS, PREDICTOR_NAMES, PREDICTORS, PressureLearner, ResolvedSample, brier,
};
use microstate_core::ml::pressure::PressureModel;
use microstate_core::ml::signals::{Models, PressureGate};
use microstate_core::ml::weights::Weights;
use microstate_core::rng::Rng;

/// How the captures are run and scored.
#[derive(Clone, Debug)]
pub struct LiveEvalOptions {
    pub params: FeatureParams,
    /// Inference at most this often per symbol (event time), as live.
    pub throttle_ns: u64,
    /// When a direction is shown (the live defaults come from `[models.pressure]`).
    pub gate: PressureGate,
    /// Online adaptation as live (`None`: the shipped model only).
    pub online: Option<OnlineOptions>,
    /// Event-time staleness limit, as live.
    pub stale_after_ns: u64,
    /// Bootstrap blocks of this much event time, and resamples.
    pub block_ns: u64,
    pub resamples: usize,
    pub seed: u64,
}

impl Default for LiveEvalOptions {
    fn default() -> Self {
        LiveEvalOptions {
            params: FeatureParams::default(),
            throttle_ns: 100_000_000,
            gate: PressureGate::default(),
            online: Some(OnlineOptions::default()),
            stale_after_ns: 5_000_000_000,
            block_ns: 30_000_000_000,
            resamples: 2000,
            seed: 1,
        }
    }
}

/// Classification scores of one predictor (the pinned fields are `macro_f1`,
/// `balanced_accuracy`, `brier`, `log_loss`, `n`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scores {
    pub n: u64,
    pub macro_f1: f64,
    pub balanced_accuracy: f64,
    pub accuracy: f64,
    /// Multi-class Brier (0 best, 2 worst).
    pub brier: f64,
    pub log_loss: f64,
    /// Correlation of P(UP) − P(DOWN) with the mid return over the horizon.
    pub ic: f64,
}

/// A mean with its 95 % interval.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Interval {
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
}

/// `Brier(predictor) − Brier(best baseline)` per prediction, averaged: below 0 the predictor
/// is better. The interval is a moving-block bootstrap over blocks of `block_s` of event time
/// (resampled within each symbol's series), percentile 2.5–97.5 %.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Delta {
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
    /// The baseline compared with (the lowest mean Brier on this data; its choice is not
    /// resampled).
    pub baseline: String,
    pub block_s: f64,
    pub resamples: usize,
}

impl Delta {
    /// In words: better, worse, or not distinguishable at 95 %.
    pub fn verdict(&self) -> &'static str {
        if self.lo.is_nan() {
            "not measurable against"
        } else if self.hi < 0.0 {
            "better than"
        } else if self.lo > 0.0 {
            "worse than"
        } else {
            "not distinguishable from"
        }
    }
}

/// Every baseline's scores (the first three are pinned; the `_online` ones learn the labels as
/// they resolve, as live).
#[derive(Clone, Debug, Serialize)]
pub struct BaselineScores {
    pub majority: Scores,
    pub microprice_sign: Scores,
    pub imbalance_logistic: Scores,
    pub majority_online: Scores,
    pub microprice_sign_online: Scores,
    pub imbalance_logistic_online: Scores,
}

/// One (capture, symbol) series checked against the model's training data.
#[derive(Clone, Debug, Serialize)]
pub struct SeriesCheck {
    pub capture: String,
    pub symbol: String,
    pub market: String,
    /// Predictions resolved.
    pub resolved: u64,
    /// Of them scored (all, unless the series is training data).
    pub scored: u64,
    /// The training series it overlaps (same symbol and market, overlapping event time).
    pub training_capture: Option<String>,
    /// Scored only from this event time on (the training split's held-out test part).
    pub scored_from_ns: Option<u64>,
}

/// Is the data the model's training data?
#[derive(Clone, Debug, Serialize)]
pub struct TrainingCheck {
    pub any_training_data: bool,
    pub all_training_data: bool,
    /// Predictions left out because training saw them.
    pub left_out: u64,
    pub note: String,
    pub series: Vec<SeriesCheck>,
}

/// Per capture: the essentials.
#[derive(Clone, Debug, Serialize)]
pub struct CaptureLive {
    pub capture: String,
    pub training_data: bool,
    pub shown: Scores,
    pub model: Scores,
    pub model_online: Scores,
    pub best_baseline: String,
    pub best_baseline_brier: f64,
    pub delta_brier_vs_best_baseline: Delta,
    pub shown_delta_brier_vs_best_baseline: Delta,
    pub online_delta_brier_vs_best_baseline: Delta,
    /// Share of predictions whose direction was shown, and held back by the out-of-range guard.
    pub shown_share: f64,
    pub out_of_range_share: f64,
}

/// What `eval --data … --json -` prints under `pressure`.
#[derive(Clone, Debug, Serialize)]
pub struct LiveEvalReport {
    pub model_dir: String,
    pub kind: String,
    pub horizon_ns: u64,
    pub dead_band: String,
    pub throttle_ns: u64,
    /// Online adaptation as live (`None`: off).
    pub online: Option<OnlineOptions>,
    pub learner: LearnerStats,
    pub training_data: TrainingCheck,
    /// What the screen would have shown: the model with online adaptation and its guards,
    /// base rates where it showed no direction.
    pub shown: Scores,
    /// The shipped model as it is (no adaptation, no guard).
    pub model: Scores,
    /// The model as adapted online, every prediction (no guard).
    pub model_online: Scores,
    pub baselines: BaselineScores,
    pub best_baseline: String,
    pub delta_brier_vs_best_baseline: Delta,
    pub shown_delta_brier_vs_best_baseline: Delta,
    pub online_delta_brier_vs_best_baseline: Delta,
    pub shown_share: f64,
    pub out_of_range_share: f64,
    /// Label shares DOWN / FLAT / UP of the scored predictions.
    pub label_shares: [f64; 3],
    pub per_capture: Vec<CaptureLive>,
}

/// The name of a capture (its files joined by `+`), as datasets name it.
pub fn capture_name(group: &[PathBuf]) -> String {
    group
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join("+")
}

/// One resolved prediction of one series.
struct Rec {
    series: usize,
    s: ResolvedSample,
}

/// Hands the engine's resolved samples to the learner (if any) and keeps a copy.
struct Recorder<'a> {
    /// (capture, symbol) of every series seen, in order of first appearance.
    series: &'a mut Vec<(String, String)>,
    capture: &'a str,
    out: &'a mut Vec<Rec>,
    learner: Option<&'a mut OnlineLearner>,
}

impl PressureLearner for Recorder<'_> {
    fn submit(&mut self, symbol: &str, s: &ResolvedSample) {
        let key = (self.capture.to_string(), symbol.to_string());
        let series = match self.series.iter().position(|k| *k == key) {
            Some(i) => i,
            None => {
                self.series.push(key);
                self.series.len() - 1
            }
        };
        self.out.push(Rec {
            series,
            s: s.clone(),
        });
        if let Some(l) = self.learner.as_deref_mut() {
            l.submit(symbol, s);
        }
    }

    fn poll(&mut self, publish: &mut dyn FnMut(&str, &Weights)) {
        if let Some(l) = self.learner.as_deref_mut() {
            l.poll(publish);
        }
    }
}

/// What a run over captures gave: every resolved prediction, each series' (capture, symbol,
/// market), and the learner's counts.
type Run = (Vec<Rec>, Vec<(String, String, String)>, LearnerStats);

/// Replays each capture through the live path with `model` (a fresh learner per capture, as a
/// fresh session would have), and returns every resolved prediction with its series, the
/// series' (capture, symbol, market), and the learner's counts.
fn run_captures(
    model: &PressureModel,
    captures: &[Vec<PathBuf>],
    o: &LiveEvalOptions,
) -> Result<Run, TrainError> {
    use microstate_drive::player::{Player, PlayerOptions, Poll};
    use microstate_drive::replay::ReplayOptions;
    let mut models = Models::none("not evaluated");
    models.pressure = Ok(model.clone());
    models.pressure_throttle_ns = o.throttle_ns;
    models.stale_after_ns = o.stale_after_ns;
    models.pressure_gate = PressureGate {
        // Drained after every poll: a queue this size never fills.
        learn_queue: 1 << 16,
        ..o.gate
    };
    let models = Arc::new(models);
    let mut recs = Vec::new();
    let mut series: Vec<(String, String)> = Vec::new();
    let mut markets: Vec<(String, String, String)> = Vec::new();
    let mut stats = LearnerStats::default();
    for group in captures {
        let capture = capture_name(group);
        let popts = PlayerOptions {
            replay: ReplayOptions {
                features: Some(o.params),
                ..ReplayOptions::default()
            },
            latency: false,
            models: Some(models.clone()),
            // Samples and weights change hands every 16 frames (live: every loop turn).
            batch: 16,
            ..PlayerOptions::default()
        };
        let mut player = Player::open(group, popts)
            .map_err(|e| TrainError::Data(format!("{capture}: {e:#}")))?;
        let mut learner = o
            .online
            .clone()
            .map(|oo| OnlineLearner::new(Prior::of(model), oo));
        loop {
            let done = match player.poll(0) {
                Ok(Poll::Done) => true,
                Ok(_) => false,
                Err(e) => return Err(TrainError::Data(format!("{capture}: {e}"))),
            };
            let mut rec = Recorder {
                series: &mut series,
                capture: &capture,
                out: &mut recs,
                learner: learner.as_mut(),
            };
            player.engine_mut().exchange_with_learner(&mut rec);
            if done {
                break;
            }
        }
        for st in player.engine().symbols() {
            markets.push((
                capture.clone(),
                st.symbol.to_string(),
                st.market.map_or("unknown", |m| m.as_str()).to_string(),
            ));
        }
        if let Some(l) = learner {
            stats.samples += l.stats.samples;
            stats.steps += l.stats.steps;
            stats.published += l.stats.published;
            stats.errors += l.stats.errors;
        }
    }
    let keyed = series
        .into_iter()
        .map(|(c, s)| {
            let m = markets
                .iter()
                .find(|(mc, ms, _)| *mc == c && *ms == s)
                .map_or("unknown".to_string(), |x| x.2.clone());
            (c, s, m)
        })
        .collect();
    Ok((recs, keyed, stats))
}

/// Scores of probability rows against labels (with returns for the IC).
fn scores(probs: &[[f32; 3]], labels: &[u32], ret: &[f64]) -> Scores {
    let flat: Vec<f32> = probs.iter().flatten().copied().collect();
    let m = class_metrics(&flat, 3, labels);
    let score: Vec<f64> = probs.iter().map(|p| (p[2] - p[0]) as f64).collect();
    Scores {
        n: m.n,
        macro_f1: m.macro_f1,
        balanced_accuracy: m.balanced_accuracy,
        accuracy: m.accuracy,
        brier: m.brier,
        log_loss: m.log_loss,
        ic: pearson(&score, ret),
    }
}

/// Fewer blocks than this give no interval (with fewer, the resampled means understate the
/// spread: a 95 % interval from four 30 s blocks is not one).
pub const MIN_BLOCKS: usize = 8;

/// Moving-block bootstrap of the mean of `d` over several series (each `(times ns, values)`,
/// in time order): per series, blocks of as many consecutive values as `block_ns` of event
/// time holds on average (at least 1), drawn with replacement from every start position,
/// enough to cover the series; the mean over all series per resample; the 2.5 and 97.5 %
/// percentiles of `resamples` resamples. Deterministic for a seed. No interval (NaN) from
/// fewer than [`MIN_BLOCKS`] blocks.
pub fn block_bootstrap(
    series: &[(&[u64], &[f64])],
    block_ns: u64,
    resamples: usize,
    seed: u64,
) -> Interval {
    let total: usize = series.iter().map(|s| s.1.len()).sum();
    let sum: f64 = series.iter().flat_map(|s| s.1.iter()).sum();
    let mean = if total > 0 {
        sum / total as f64
    } else {
        f64::NAN
    };
    if total < 2 || resamples == 0 {
        return Interval {
            mean,
            lo: f64::NAN,
            hi: f64::NAN,
        };
    }
    // Prefix sums and block lengths per series.
    let prep: Vec<(Vec<f64>, usize, usize)> = series
        .iter()
        .filter(|s| !s.1.is_empty())
        .map(|(t, d)| {
            let n = d.len();
            let span = t.last().copied().unwrap_or(0) - t.first().copied().unwrap_or(0);
            let per = if span > 0 {
                n as f64 * block_ns as f64 / span as f64
            } else {
                n as f64
            };
            let l = (per.round() as usize).clamp(1, n);
            let mut pre = Vec::with_capacity(n + 1);
            pre.push(0.0);
            let mut acc = 0.0;
            for v in d.iter() {
                acc += v;
                pre.push(acc);
            }
            (pre, l, n.div_ceil(l))
        })
        .collect();
    // Too few blocks to resample: no interval (one block per series would resample to the
    // same mean every time and claim a certainty the data does not have).
    let blocks: usize = prep.iter().map(|p| p.2).sum();
    if blocks < MIN_BLOCKS || prep.iter().all(|(pre, l, _)| pre.len() - 1 == *l) {
        return Interval {
            mean,
            lo: f64::NAN,
            hi: f64::NAN,
        };
    }
    let mut rng = Rng::new(seed, 0x424f_4f54);
    let mut means = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let (mut s, mut c) = (0.0, 0usize);
        for (pre, l, k) in &prep {
            let n = pre.len() - 1;
            for _ in 0..*k {
                let a = rng.below((n - l + 1) as u64) as usize;
                s += pre[a + l] - pre[a];
                c += l;
            }
        }
        means.push(s / c as f64);
    }
    means.sort_by(f64::total_cmp);
    let q = |p: f64| means[((means.len() - 1) as f64 * p).round() as usize];
    Interval {
        mean,
        lo: q(0.025),
        hi: q(0.975),
    }
}

/// Scored predictions, ready for scores and intervals.
struct Scored<'a> {
    recs: Vec<&'a Rec>,
    /// The shipped model's probabilities (as is) per scored prediction.
    prior: Vec<[f32; 3]>,
}

impl Scored<'_> {
    fn labels(&self) -> Vec<u32> {
        self.recs.iter().map(|r| r.s.label).collect()
    }

    fn ret(&self) -> Vec<f64> {
        self.recs
            .iter()
            .map(|r| (r.s.mid_end - r.s.mid) / r.s.mid * 1e4)
            .collect()
    }

    fn column(&self, k: usize) -> Vec<[f32; 3]> {
        self.recs.iter().map(|r| r.s.probs[k]).collect()
    }

    fn shown(&self) -> Vec<[f32; 3]> {
        self.recs.iter().map(|r| r.s.shown_probs()).collect()
    }

    fn all_scores(&self) -> (Scores, Scores, Scores, Vec<Scores>) {
        let (y, ret) = (self.labels(), self.ret());
        let base = (1..PREDICTORS)
            .map(|k| scores(&self.column(k), &y, &ret))
            .collect();
        (
            scores(&self.shown(), &y, &ret),
            scores(&self.prior, &y, &ret),
            scores(&self.column(MODEL), &y, &ret),
            base,
        )
    }

    /// Per-prediction Brier differences of `probs` to baseline `k`, per series, with times.
    fn delta(&self, probs: &[[f32; 3]], k: usize, o: &LiveEvalOptions) -> Delta {
        let mut by: Vec<(usize, Vec<u64>, Vec<f64>)> = Vec::new();
        for (r, p) in self.recs.iter().zip(probs) {
            let d = brier(p, r.s.label) as f64 - brier(&r.s.probs[k], r.s.label) as f64;
            match by.iter_mut().find(|b| b.0 == r.series) {
                Some(b) => {
                    b.1.push(r.s.ts_ns);
                    b.2.push(d);
                }
                None => by.push((r.series, vec![r.s.ts_ns], vec![d])),
            }
        }
        let views: Vec<(&[u64], &[f64])> = by
            .iter()
            .map(|(_, t, d)| (t.as_slice(), d.as_slice()))
            .collect();
        let iv = block_bootstrap(&views, o.block_ns, o.resamples, o.seed);
        Delta {
            mean: iv.mean,
            lo: iv.lo,
            hi: iv.hi,
            baseline: PREDICTOR_KEYS[k].to_string(),
            block_s: o.block_ns as f64 / 1e9,
            resamples: o.resamples,
        }
    }
}

/// Index (into the predictors) of the baseline with the lowest Brier.
fn best(base: &[Scores]) -> usize {
    let mut b = 0;
    for (i, s) in base.iter().enumerate() {
        if s.brier < base[b].brier {
            b = i;
        }
    }
    b + 1
}

fn share(recs: &[&Rec], f: impl Fn(&ResolvedSample) -> bool) -> f64 {
    if recs.is_empty() {
        return f64::NAN;
    }
    recs.iter().filter(|r| f(&r.s)).count() as f64 / recs.len() as f64
}

/// Runs `model` over `captures` as live and scores it (see the module docs).
pub fn eval_live(
    model: &PressureModel,
    captures: &[Vec<PathBuf>],
    o: &LiveEvalOptions,
    model_dir: &str,
) -> Result<LiveEvalReport, TrainError> {
    let (recs, series, learner) = run_captures(model, captures, o)?;
    let training = training_series(&model.meta);
    // Which series are training data, and from when each is scored.
    let mut checks: Vec<SeriesCheck> = series
        .iter()
        .map(|(c, s, m)| {
            let times = recs
                .iter()
                .filter(|r| series.get(r.series).is_some_and(|k| k.0 == *c && k.1 == *s))
                .map(|r| r.s.ts_ns);
            let (lo, hi) = times.fold((u64::MAX, 0), |(a, b), t| (a.min(t), b.max(t)));
            let hit = training.iter().find(|t: &&TrainingSeries| {
                t.symbol == *s
                    && t.market == *m
                    && (t.start_ns.max(0) as u64) <= hi
                    && lo <= (t.end_ns.max(0) as u64)
            });
            SeriesCheck {
                capture: c.clone(),
                symbol: s.clone(),
                market: m.clone(),
                resolved: 0,
                scored: 0,
                training_capture: hit.map(|t| t.capture.clone()),
                scored_from_ns: hit.map(|t| t.test_start_ns.max(0) as u64),
            }
        })
        .collect();
    let mut prior = model.clone();
    let mut kept = Vec::new();
    let mut prior_probs = Vec::new();
    for r in &recs {
        let ch = &mut checks[r.series];
        ch.resolved += 1;
        if ch.scored_from_ns.is_some_and(|from| r.s.ts_ns < from) {
            continue;
        }
        ch.scored += 1;
        prior_probs.push(prior.predict_inputs(&r.s.x));
        kept.push(r);
    }
    if kept.is_empty() {
        return Err(TrainError::Data(
            "no prediction to score: the data is too short for the 1 s window and the volatility to fill, or it is all inside the model's training part".into(),
        ));
    }
    let n_series = checks.len();
    let n_train = checks
        .iter()
        .filter(|c| c.training_capture.is_some())
        .count();
    let left_out: u64 = checks.iter().map(|c| c.resolved - c.scored).sum();
    let note = if n_train == 0 {
        "not the model's training data: every resolved prediction is scored".to_string()
    } else {
        format!(
            "{n_train} of {n_series} series are the model's training data: only their held-out test part is scored ({left_out} in-sample predictions left out); a model is always at its best on the data it was fitted to"
        )
    };
    let all = Scored {
        recs: kept.clone(),
        prior: prior_probs.clone(),
    };
    let (shown, model_s, online_s, base) = all.all_scores();
    let b = best(&base);
    let delta = all.delta(&all.prior, b, o);
    let shown_delta = all.delta(&all.shown(), b, o);
    let online_delta = all.delta(&all.column(MODEL), b, o);
    let mut shares = [0f64; 3];
    for r in &kept {
        shares[(r.s.label as usize).min(2)] += 1.0;
    }
    let nk = kept.len() as f64;
    // Per capture.
    let mut per_capture = Vec::new();
    for group in captures {
        let name = capture_name(group);
        let idx: Vec<usize> = (0..kept.len())
            .filter(|&i| series[kept[i].series].0 == name)
            .collect();
        if idx.is_empty() {
            continue;
        }
        let sc = Scored {
            recs: idx.iter().map(|&i| kept[i]).collect(),
            prior: idx.iter().map(|&i| prior_probs[i]).collect(),
        };
        let (s, m, on, bs) = sc.all_scores();
        let bb = best(&bs);
        per_capture.push(CaptureLive {
            training_data: checks
                .iter()
                .any(|c| c.capture == name && c.training_capture.is_some()),
            capture: name,
            shown: s,
            model: m,
            model_online: on,
            best_baseline: PREDICTOR_KEYS[bb].to_string(),
            best_baseline_brier: bs[bb - 1].brier,
            delta_brier_vs_best_baseline: sc.delta(&sc.prior, bb, o),
            shown_delta_brier_vs_best_baseline: sc.delta(&sc.shown(), bb, o),
            online_delta_brier_vs_best_baseline: sc.delta(&sc.column(MODEL), bb, o),
            shown_share: share(&sc.recs, |s| s.shown),
            out_of_range_share: share(&sc.recs, |s| s.out_of_range),
        });
    }
    let mut bi = base.into_iter();
    let mut next = || bi.next().unwrap_or_else(|| scores(&[], &[], &[]));
    let baselines = BaselineScores {
        majority: next(),
        microprice_sign: next(),
        imbalance_logistic: next(),
        majority_online: next(),
        microprice_sign_online: next(),
        imbalance_logistic_online: next(),
    };
    Ok(LiveEvalReport {
        model_dir: model_dir.to_string(),
        kind: model.meta.kind.clone(),
        horizon_ns: model.horizon_ns(),
        dead_band: model.dead_band().to_string(),
        throttle_ns: o.throttle_ns,
        online: o.online.clone(),
        learner,
        training_data: TrainingCheck {
            any_training_data: n_train > 0,
            all_training_data: n_train == n_series,
            left_out,
            note,
            series: checks,
        },
        shown,
        model: model_s,
        model_online: online_s,
        baselines,
        best_baseline: PREDICTOR_KEYS[b].to_string(),
        delta_brier_vs_best_baseline: delta,
        shown_delta_brier_vs_best_baseline: shown_delta,
        online_delta_brier_vs_best_baseline: online_delta,
        shown_share: share(&kept, |s| s.shown),
        out_of_range_share: share(&kept, |s| s.out_of_range),
        label_shares: shares.map(|v| v / nk),
        per_capture,
    })
}

fn name_of(key: &str) -> &'static str {
    PREDICTOR_KEYS
        .iter()
        .position(|k| *k == key)
        .map_or("?", |i| PREDICTOR_NAMES[i])
}

fn delta_line(what: &str, d: &Delta) -> String {
    if d.lo.is_nan() {
        return format!(
            "Brier({what}) − Brier({}): {:+.4}; too short for an interval (fewer than {MIN_BLOCKS} blocks of {:.0} s)",
            name_of(&d.baseline),
            d.mean,
            d.block_s
        );
    }
    format!(
        "Brier({what}) − Brier({}): {:+.4}, 95 % CI [{:+.4}, {:+.4}] (moving-block bootstrap, {:.0} s blocks): {} the best baseline",
        name_of(&d.baseline),
        d.mean,
        d.lo,
        d.hi,
        d.block_s,
        d.verdict()
    )
}

/// The text `eval --data` prints.
pub fn render_live_eval(r: &LiveEvalReport) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "pressure model {} ({}), horizon {} ms, dead band {}, throttle {} ms; {}",
        r.model_dir,
        r.kind,
        r.horizon_ns / 1_000_000,
        r.dead_band,
        r.throttle_ns / 1_000_000,
        match &r.online {
            Some(on) => format!(
                "online adaptation as live (Adam lr {}, L2 to the prior {}, weights every {} samples; {} samples learned)",
                on.lr, on.l2_prior, on.publish_every, r.learner.samples
            ),
            None => "no online adaptation".into(),
        }
    );
    let _ = writeln!(o, "data: {}", r.training_data.note);
    if r.training_data.any_training_data {
        let _ = writeln!(
            o,
            "WARNING: this is (partly) the model's training data; judge the model on captures it was not trained on (train pressure --loco)."
        );
    }
    let _ = writeln!(
        o,
        "label shares DOWN/FLAT/UP {:.3}/{:.3}/{:.3}; a direction was shown on {:.1} % of predictions, held back by the out-of-range guard on {:.1} %\n",
        r.label_shares[0],
        r.label_shares[1],
        r.label_shares[2],
        r.shown_share * 100.0,
        r.out_of_range_share * 100.0
    );
    let _ = writeln!(
        o,
        "| predictor | n | macro-F1 | bal. acc. | Brier | log-loss | IC |\n|---|---|---|---|---|---|---|"
    );
    let row = |o: &mut String, name: &str, s: &Scores| {
        let _ = writeln!(
            o,
            "| {name} | {} | {:.4} | {:.4} | {:.4} | {:.4} | {:+.4} |",
            s.n, s.macro_f1, s.balanced_accuracy, s.brier, s.log_loss, s.ic
        );
    };
    row(&mut o, "shown (as live: online + guards)", &r.shown);
    row(&mut o, "model (shipped, as is)", &r.model);
    row(&mut o, "model adapted online (ungated)", &r.model_online);
    let b = &r.baselines;
    for (k, s) in [
        ("majority", &b.majority),
        ("microprice_sign", &b.microprice_sign),
        ("imbalance_logistic", &b.imbalance_logistic),
        ("majority_online", &b.majority_online),
        ("microprice_sign_online", &b.microprice_sign_online),
        ("imbalance_logistic_online", &b.imbalance_logistic_online),
    ] {
        row(&mut o, name_of(k), s);
    }
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "{}",
        delta_line("model", &r.delta_brier_vs_best_baseline)
    );
    let _ = writeln!(
        o,
        "{}",
        delta_line(
            "model adapted online",
            &r.online_delta_brier_vs_best_baseline
        )
    );
    let _ = writeln!(
        o,
        "{}",
        delta_line("shown", &r.shown_delta_brier_vs_best_baseline)
    );
    if r.per_capture.len() > 1 {
        let _ = writeln!(o, "\nper capture:\n");
        o.push_str(&capture_table(&r.per_capture));
    }
    o
}

fn ci(d: &Delta) -> String {
    if d.lo.is_nan() {
        format!("{:+.4} (too short for an interval)", d.mean)
    } else {
        format!("{:+.4} [{:+.4}, {:+.4}]", d.mean, d.lo, d.hi)
    }
}

fn capture_table(rows: &[CaptureLive]) -> String {
    use std::fmt::Write as _;
    let mut o = String::from(
        "| capture | n | Brier model | online | shown | best baseline | its Brier | Δ model (95 % CI) | Δ online | Δ shown | shown | out of range |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for c in rows {
        let _ = writeln!(
            o,
            "| {}{} | {} | {:.4} | {:.4} | {:.4} | {} | {:.4} | {} | {} | {} | {:.0} % | {:.1} % |",
            short(&c.capture),
            if c.training_data { " (training)" } else { "" },
            c.model.n,
            c.model.brier,
            c.model_online.brier,
            c.shown.brier,
            name_of(&c.best_baseline),
            c.best_baseline_brier,
            ci(&c.delta_brier_vs_best_baseline),
            ci(&c.online_delta_brier_vs_best_baseline),
            ci(&c.shown_delta_brier_vs_best_baseline),
            c.shown_share * 100.0,
            c.out_of_range_share * 100.0
        );
    }
    o
}

/// A capture's name without folders (`binance-spot/btcusdt_20240808.gz+…` → the folder and
/// the first file).
fn short(capture: &str) -> String {
    let first = capture.split('+').next().unwrap_or(capture);
    let p = std::path::Path::new(first);
    let dir = p
        .parent()
        .and_then(|d| d.file_name())
        .map(|d| d.to_string_lossy().to_string())
        .unwrap_or_default();
    let file = p
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    let more = capture.matches('+').count();
    if more > 0 {
        format!("{dir}/{file} +{more}")
    } else {
        format!("{dir}/{file}")
    }
}

/// One capture left out: the recipe trained on the others, run as live on it.
#[derive(Clone, Debug, Serialize)]
pub struct LocoRow {
    pub capture: String,
    /// Samples of the model trained without it.
    pub train_samples: usize,
    pub result: CaptureLive,
}

/// Leave-one-capture-out: for each capture, the same recipe (seed, architecture, options)
/// trained on every other capture, then run as live over the one left out (never its training
/// data). Captures whose complement is too small to train on are skipped.
pub fn leave_one_capture_out(
    captures: &[Vec<PathBuf>],
    dopts: &PressureDataOptions,
    topts: &PressureTrainOptions,
    lopts: &LiveEvalOptions,
) -> Result<Vec<LocoRow>, TrainError> {
    let ds = build_dataset(captures, dopts)?;
    let mut t = topts.clone();
    t.folds = 0;
    let mut rows = Vec::new();
    for group in captures {
        let name = capture_name(group);
        let rest = PressureDataset {
            series: ds
                .series
                .iter()
                .filter(|s| s.capture != name)
                .cloned()
                .collect(),
            ..ds.clone()
        };
        let n = rest.series.iter().map(|s| s.samples.len()).sum();
        let trained = match train_pressure(&rest, &t, "leave-one-capture-out", "loco") {
            Ok(x) => x,
            Err(TrainError::Data(_)) => continue,
            Err(e) => return Err(e),
        };
        let model = PressureModel::from_weights(
            trained.meta,
            &trained.weights,
            rest.inputs.clone(),
            std::path::Path::new("(leave-one-capture-out)"),
        )?;
        let r = eval_live(
            &model,
            std::slice::from_ref(group),
            lopts,
            "(trained without it)",
        )?;
        if let Some(result) = r.per_capture.into_iter().next() {
            rows.push(LocoRow {
                capture: name,
                train_samples: n,
                result,
            });
        }
    }
    Ok(rows)
}

/// The leave-one-capture-out table.
pub fn render_loco(rows: &[LocoRow]) -> String {
    let mut o = String::from(
        "leave-one-capture-out (the recipe trained on the other captures, run as live on the one left out; Δ = Brier − Brier(best baseline), below 0 better, 95 % moving-block bootstrap CI, 30 s blocks):\n\n",
    );
    let res: Vec<CaptureLive> = rows.iter().map(|r| r.result.clone()).collect();
    o.push_str(&capture_table(&res));
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An AR(1) series around `mu` (strongly autocorrelated: φ = 0.95), 10 values a second.
    fn ar1(seed: u64, n: usize, mu: f64) -> (Vec<u64>, Vec<f64>) {
        let mut r = Rng::new(seed, 3);
        let mut e = 0.0;
        let mut t = Vec::with_capacity(n);
        let mut d = Vec::with_capacity(n);
        for i in 0..n {
            let u = (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            e = 0.95 * e + u;
            t.push(i as u64 * 100_000_000);
            d.push(mu + e);
        }
        (t, d)
    }

    #[test]
    fn the_block_bootstrap_covers_the_truth_where_an_iid_one_does_not() {
        let mu = 0.02;
        let (mut block_hits, mut iid_hits) = (0, 0);
        let reps = 40;
        for rep in 0..reps {
            let (t, d) = ar1(100 + rep, 3000, mu);
            let s = [(t.as_slice(), d.as_slice())];
            let b = block_bootstrap(&s, 30_000_000_000, 400, rep);
            assert!(b.lo <= b.mean && b.mean <= b.hi, "{b:?}");
            block_hits += usize::from(b.lo <= mu && mu <= b.hi);
            // Blocks of one value: an i.i.d. bootstrap that ignores the autocorrelation.
            let i = block_bootstrap(&s, 100_000_000, 400, rep);
            iid_hits += usize::from(i.lo <= mu && mu <= i.hi);
        }
        eprintln!("block {block_hits}/{reps}, iid {iid_hits}/{reps}");
        assert!(
            block_hits >= 32,
            "30 s blocks covered the truth {block_hits}/{reps}"
        );
        assert!(
            iid_hits <= 24,
            "i.i.d. resampling covered {iid_hits}/{reps}: too often for data this dependent"
        );
        // Too short: one 30 s block per series gives no interval.
        let (t, d) = ar1(8, 250, 0.0);
        let one = block_bootstrap(&[(t.as_slice(), d.as_slice())], 30_000_000_000, 100, 1);
        assert!(one.lo.is_nan() && one.hi.is_nan() && one.mean.is_finite());
        // Deterministic for a seed, and two series pool their means.
        let (t, d) = ar1(7, 3000, 0.0);
        let s = [(t.as_slice(), d.as_slice()), (t.as_slice(), d.as_slice())];
        let a = block_bootstrap(&s, 30_000_000_000, 100, 5);
        assert!(a.lo.is_finite() && a.lo < a.hi, "{a:?}");
        assert_eq!(a, block_bootstrap(&s, 30_000_000_000, 100, 5));
        let one = block_bootstrap(&s[..1], 30_000_000_000, 100, 5);
        assert!((a.mean - one.mean).abs() < 1e-12);
    }

    #[test]
    fn capture_names_are_short_in_tables() {
        assert_eq!(
            short(
                "../shared/data/binance-spot/btcusdt_20240808.gz+../shared/data/binance-spot/btcusdt_20240809.gz"
            ),
            "binance-spot/btcusdt_20240808.gz +1"
        );
        assert_eq!(short("a/b/c.gz"), "b/c.gz");
    }
}
