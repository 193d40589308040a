//! Online adaptation of the pressure model with candle, per symbol, from the shipped prior:
//! test-then-train on the samples the live path resolves, off the hot path.
//!
//! Owns: [`OnlineLearner`] (one candle model per symbol, started from the prior's weights, an
//! Adam step per resolved sample on a small batch drawn from the symbol's recent samples, an L2
//! pull toward the prior so a quiet hour cannot wander far from it, weights published every
//! `publish_every` steps) and [`LearnerThread`] (the same on its own thread, reached through
//! bounded channels). Both implement the core's
//! [`PressureLearner`](microstate_core::ml::prequential::PressureLearner), the only way the
//! engine meets them. Must not touch: the engine's inference path (it keeps running the hand
//! path on plain weights and takes published weights between frames), clocks, files, the
//! screen.
//!
//! Test-then-train: the engine hands a sample over only after it has scored the prediction it
//! made, with the weights it had then; the learner never sees a label before its prediction is
//! scored. Weights reach the engine a few samples later (`publish_every`), which is also what
//! keeps the engine's copy cost (a few kB per publish) away from every event.
//!
//! Threads: candle's CPU matmul reads `RAYON_NUM_THREADS` (the binary sets 1, BUILD-NOTES
//! trap 1); the learner thread is one more thread, busy a fraction of a millisecond per sample.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use candle_core::Tensor;
use candle_nn::Optimizer;
use serde::Serialize;

use crate::mlp::CandleMlp;
use crate::{TrainError, cpu};
use microstate_core::ml::prequential::{PressureLearner, ResolvedSample};
use microstate_core::ml::pressure::PressureModel;
use microstate_core::ml::scaler::Scaler;
use microstate_core::ml::weights::{Architecture, Weights};
use microstate_core::rng::Rng;

/// How the learner adapts (from `[models.pressure]`: `online_lr`, `online_l2_prior`,
/// `online_publish_every`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OnlineOptions {
    /// Adam step size.
    pub lr: f64,
    /// Weight of `Σ (θ − θ_prior)²` in the loss.
    pub l2_prior: f64,
    /// Samples per step: the newest and the rest drawn from the recent ones.
    pub batch: usize,
    /// Recent samples kept per symbol to draw from.
    pub buffer: usize,
    /// Steps between published weights.
    pub publish_every: usize,
    /// Adapt only the output layer (the hidden features stay the prior's): far fewer
    /// parameters to move on a few minutes of one market.
    pub head_only: bool,
    pub seed: u64,
}

impl Default for OnlineOptions {
    fn default() -> Self {
        OnlineOptions {
            lr: 1e-4,
            l2_prior: 1e-2,
            batch: 16,
            buffer: 2048,
            publish_every: 10,
            head_only: true,
            seed: 1,
        }
    }
}

/// What the learner starts from: the shipped model's architecture, scaler, and weights with
/// its softmax temperature folded into the last layer (so they run at temperature 1).
#[derive(Clone, Debug)]
pub struct Prior {
    pub arch: Architecture,
    pub scaler: Scaler,
    pub weights: Weights,
}

impl Prior {
    /// The prior of a loaded (or just trained) model.
    pub fn of(model: &PressureModel) -> Prior {
        let clf = model.classifier();
        let mut weights = clf.mlp().weights();
        let t = clf.temperature();
        if let Some(last) = weights.layers.last_mut() {
            for v in last.w.iter_mut().chain(last.b.iter_mut()) {
                *v /= t;
            }
        }
        Prior {
            arch: clf.mlp().arch().clone(),
            scaler: clf.mlp().scaler().clone(),
            weights,
        }
    }
}

/// Counts of what a learner did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LearnerStats {
    pub samples: u64,
    pub steps: u64,
    pub published: u64,
    /// Samples a full channel refused (the learner thread fell behind).
    pub dropped: u64,
    /// Steps that failed in candle (the symbol keeps its last weights).
    pub errors: u64,
}

struct SymbolLearner {
    model: CandleMlp,
    prior: Vec<Tensor>,
    opt: candle_nn::AdamW,
    /// Recent scaled inputs (ring of `buffer` rows) and their labels.
    xs: Vec<f32>,
    ys: Vec<u32>,
    head: usize,
    len: usize,
    rng: Rng,
    steps: u64,
    publish: bool,
    batch_x: Vec<f32>,
    batch_idx: Vec<usize>,
}

impl SymbolLearner {
    fn new(p: &Prior, o: &OnlineOptions, seed: u64) -> Result<SymbolLearner, TrainError> {
        let model = CandleMlp::new(&p.arch, &p.weights)?;
        let mut vars = model.all_vars();
        if o.head_only {
            // The last layer's weight and bias.
            vars = vars.split_off(vars.len().saturating_sub(2));
        }
        let prior = vars
            .iter()
            .map(|v| v.as_tensor().copy())
            .collect::<Result<_, _>>()?;
        let opt = candle_nn::AdamW::new(
            vars,
            candle_nn::ParamsAdamW {
                lr: o.lr,
                weight_decay: 0.0,
                ..candle_nn::ParamsAdamW::default()
            },
        )?;
        let n = p.arch.inputs;
        let cap = o.buffer.max(1);
        Ok(SymbolLearner {
            model,
            prior,
            opt,
            xs: vec![0.0; cap * n],
            ys: vec![0; cap],
            head: 0,
            len: 0,
            rng: Rng::new(seed, 0x4f4e_4c4e),
            steps: 0,
            publish: false,
            batch_x: Vec::with_capacity(o.batch.max(1) * n),
            batch_idx: Vec::with_capacity(o.batch.max(1)),
        })
    }

    /// One test-then-train step on a scaled sample.
    fn learn(&mut self, x: &[f32], y: u32, o: &OnlineOptions) -> Result<(), TrainError> {
        let n = self.model.arch().inputs;
        let cap = self.ys.len();
        let at = self.head;
        self.xs[at * n..(at + 1) * n].copy_from_slice(&x[..n]);
        self.ys[at] = y.min(2);
        self.head = (self.head + 1) % cap;
        self.len = (self.len + 1).min(cap);
        // The newest sample, and the rest of the batch from the recent ones.
        self.batch_idx.clear();
        self.batch_idx.push(at);
        for _ in 1..o.batch.max(1).min(self.len) {
            let k = self.rng.below(self.len as u64) as usize;
            self.batch_idx.push((self.head + cap - 1 - k) % cap);
        }
        self.batch_x.clear();
        for &i in &self.batch_idx {
            self.batch_x.extend_from_slice(&self.xs[i * n..(i + 1) * n]);
        }
        let b = self.batch_idx.len();
        let xt = Tensor::from_slice(&self.batch_x, (b, n), &cpu())?;
        let labels: Vec<u32> = self.batch_idx.iter().map(|&i| self.ys[i]).collect();
        let yt = Tensor::from_vec(labels, b, &cpu())?;
        let mut loss = candle_nn::loss::cross_entropy(&self.model.forward(&xt)?, &yt)?;
        if o.l2_prior > 0.0 {
            let vars = self.model.all_vars();
            let trained = &vars[vars.len() - self.prior.len()..];
            for (v, p) in trained.iter().zip(&self.prior) {
                let d = (v.as_tensor() - p)?.sqr()?.sum_all()?;
                loss = (loss + (d * o.l2_prior)?)?;
            }
        }
        self.opt.backward_step(&loss)?;
        self.steps += 1;
        if self.steps.is_multiple_of(o.publish_every.max(1) as u64) {
            self.publish = true;
        }
        Ok(())
    }
}

/// The learner on the caller's thread (eval, tests, benches): one candle model per symbol.
pub struct OnlineLearner {
    prior: Prior,
    opts: OnlineOptions,
    symbols: BTreeMap<String, SymbolLearner>,
    scratch: Vec<f32>,
    pub stats: LearnerStats,
}

impl OnlineLearner {
    pub fn new(prior: Prior, opts: OnlineOptions) -> OnlineLearner {
        OnlineLearner {
            scratch: vec![0.0; prior.arch.inputs],
            prior,
            opts,
            symbols: BTreeMap::new(),
            stats: LearnerStats::default(),
        }
    }

    pub fn options(&self) -> &OnlineOptions {
        &self.opts
    }

    /// Learns one resolved sample of `symbol` from its raw inputs (scaled here with the prior's
    /// scaler, as the engine's inference path scales them).
    pub fn learn(&mut self, symbol: &str, x: &[f32], y: u32) -> Result<(), TrainError> {
        let n = self.prior.arch.inputs;
        if x.len() < n {
            return Err(TrainError::Data(format!(
                "a sample has {} inputs, the model {n}",
                x.len()
            )));
        }
        self.stats.samples += 1;
        self.scratch.copy_from_slice(&x[..n]);
        self.prior.scaler.apply(&mut self.scratch);
        if !self.symbols.contains_key(symbol) {
            // Each symbol its own stream of batch draws, reproducible from the seed.
            let seed = self.opts.seed ^ fnv(symbol);
            let l = SymbolLearner::new(&self.prior, &self.opts, seed)?;
            self.symbols.insert(symbol.to_string(), l);
        }
        let Some(l) = self.symbols.get_mut(symbol) else {
            return Ok(());
        };
        let r = l.learn(&self.scratch, y, &self.opts);
        match &r {
            Ok(()) => self.stats.steps += 1,
            Err(_) => self.stats.errors += 1,
        }
        r
    }

    /// The current weights of `symbol`'s model (temperature 1), if it has one.
    pub fn weights(&self, symbol: &str) -> Option<Weights> {
        self.symbols
            .get(symbol)
            .and_then(|l| l.model.weights().ok())
    }
}

fn fnv(s: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in s.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl PressureLearner for OnlineLearner {
    fn submit(&mut self, symbol: &str, s: &ResolvedSample) {
        // A failed step leaves the symbol's weights as they were; it is counted in stats.
        let _ = self.learn(symbol, &s.x, s.label);
    }

    fn poll(&mut self, publish: &mut dyn FnMut(&str, &Weights)) {
        for (name, l) in &mut self.symbols {
            if !l.publish {
                continue;
            }
            l.publish = false;
            match l.model.weights() {
                Ok(w) => {
                    self.stats.published += 1;
                    publish(name, &w);
                }
                Err(_) => self.stats.errors += 1,
            }
        }
    }
}

/// A resolved sample on its way to the learner thread.
struct Job {
    symbol: String,
    x: Vec<f32>,
    label: u32,
}

/// The learner on its own thread: the engine's thread only copies a sample into a bounded
/// channel (dropped and counted when the learner falls behind) and picks up published weights.
pub struct LearnerThread {
    tx: Option<SyncSender<Job>>,
    rx: Receiver<(String, Weights)>,
    handle: Option<JoinHandle<LearnerStats>>,
    pub dropped: u64,
}

impl LearnerThread {
    /// Starts the thread (`pressure-learner`) with room for `capacity` samples in flight.
    pub fn spawn(
        prior: Prior,
        opts: OnlineOptions,
        capacity: usize,
    ) -> std::io::Result<LearnerThread> {
        let (tx, jobs) = sync_channel::<Job>(capacity.max(1));
        let (out, rx) = sync_channel::<(String, Weights)>(64);
        let handle = std::thread::Builder::new()
            .name("pressure-learner".into())
            .spawn(move || {
                let mut l = OnlineLearner::new(prior, opts);
                for job in jobs {
                    let _ = l.learn(&job.symbol, &job.x, job.label);
                    let mut gone = false;
                    l.poll(&mut |s, w| {
                        // A full outbox: the engine has not picked up the last weights yet;
                        // newer ones follow `publish_every` samples later.
                        if let Err(TrySendError::Disconnected(_)) =
                            out.try_send((s.to_string(), w.clone()))
                        {
                            gone = true;
                        }
                    });
                    if gone {
                        break;
                    }
                }
                l.stats
            })?;
        Ok(LearnerThread {
            tx: Some(tx),
            rx,
            handle: Some(handle),
            dropped: 0,
        })
    }

    /// Stops the thread once it has learned what is in flight; its counts.
    pub fn finish(mut self) -> LearnerStats {
        self.tx = None;
        let mut st = self
            .handle
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        st.dropped += self.dropped;
        st
    }
}

impl Drop for LearnerThread {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl PressureLearner for LearnerThread {
    fn submit(&mut self, symbol: &str, s: &ResolvedSample) {
        let Some(tx) = &self.tx else { return };
        let job = Job {
            symbol: symbol.to_string(),
            x: s.x.to_vec(),
            label: s.label,
        };
        if tx.try_send(job).is_err() {
            self.dropped += 1;
        }
    }

    fn poll(&mut self, publish: &mut dyn FnMut(&str, &Weights)) {
        while let Ok((s, w)) = self.rx.try_recv() {
            publish(&s, &w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use microstate_core::ml::classifier::Classifier;
    use microstate_core::ml::prequential::{BaselineParams, MODEL, PressureScorer, ScorerOptions};
    use microstate_core::ml::weights::Activation;

    const S: u64 = 1_000_000_000;
    const N: usize = 12;

    fn normal(r: &mut Rng) -> f32 {
        // Box–Muller from the project's seeded stream.
        let u1 = ((r.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let u2 = ((r.next_u64() >> 11) as f64) / (1u64 << 53) as f64;
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    }

    /// A market whose pressure is known: input 5 drives the next move (UP when it is high,
    /// DOWN when low, FLAT in between, with noise), the imbalance and microprice the
    /// baselines read are unrelated noise. `planted` false: labels ignore the inputs.
    fn market(seed: u64, n: usize, planted: bool) -> Vec<(Vec<f32>, u32, f32, f32)> {
        let mut r = Rng::new(seed, 7);
        (0..n)
            .map(|_| {
                let x: Vec<f32> = (0..N).map(|_| normal(&mut r)).collect();
                let s = if planted { 2.5 * x[5] } else { 0.0 };
                let up = 1.0 / (1.0 + (-(s - 1.0)).exp());
                let down = 1.0 / (1.0 + (-(-s - 1.0)).exp());
                let u = (r.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
                let y = if u < up * 0.9 {
                    2
                } else if u > 1.0 - down * 0.9 {
                    0
                } else {
                    1
                };
                (x, y, normal(&mut r) * 0.3, normal(&mut r))
            })
            .collect()
    }

    /// A prior trained on a market with no pressure at all: it knows the base rates, nothing
    /// else.
    fn prior() -> Prior {
        let arch = Architecture::mlp(N, &[16], 3, Activation::Relu);
        let data = market(1, 3000, false);
        let x: Vec<f32> = data.iter().flat_map(|d| d.0.clone()).collect();
        let y: Vec<u32> = data.iter().map(|d| d.1).collect();
        let t = crate::classifier::train_classifier(
            &arch,
            &x[..2000 * N],
            &y[..2000],
            &x[2000 * N..],
            &y[2000..],
            &microstate_core::ml::weights::TrainOptions {
                max_epochs: 5,
                batch: 64,
                lr: 1e-2,
                weight_decay: 0.0,
                patience: 2,
                seed: 3,
            },
        )
        .unwrap();
        let mut w = t.weights.clone();
        let last = w.layers.last_mut().unwrap();
        for v in last.w.iter_mut().chain(last.b.iter_mut()) {
            *v /= t.temperature;
        }
        Prior {
            arch,
            scaler: t.scaler,
            weights: w,
        }
    }

    /// Runs the live loop on a stream: predict with the current weights, score at the
    /// horizon beside the baselines, hand the resolved sample to the learner, take published
    /// weights. Returns the edge over the last 1,000 predictions and the weights taken in.
    fn run(
        learner: &mut dyn PressureLearner,
        prior: &Prior,
        data: &[(Vec<f32>, u32, f32, f32)],
    ) -> (f64, u64) {
        let mut clf =
            Classifier::from_parts(&prior.arch, &prior.weights, &prior.scaler, 1.0).unwrap();
        let mut sc = PressureScorer::new(
            ScorerOptions {
                horizon_ns: S,
                window: 1000,
                buckets: 10,
                edge_window: 1000,
                queue: 256,
            },
            BaselineParams {
                class_freq: [0.3, 0.4, 0.3],
                imbalance_mean: 0.0,
                imbalance_std: 0.3,
                imbalance_w: [0.0; 3],
                imbalance_b: [0.0; 3],
            },
        );
        let mut updates = 0;
        for (i, (x, y, imb, micro)) in data.iter().enumerate() {
            let t = i as u64 * S / 10;
            sc.on_mid(t, 100.0);
            let p = clf.predict(x);
            sc.on_prediction(
                t,
                100.0,
                0.05,
                [p[0], p[1], p[2]],
                *imb,
                *micro,
                x,
                true,
                false,
            );
            // The mid at the horizon realises the planted label.
            let end = [99.9, 100.0, 100.1][*y as usize];
            sc.on_mid(t + S, end);
            sc.drain(|r| learner.submit("SYN", r));
            learner.poll(&mut |_, w| {
                assert!(clf.set_weights(w, 1.0));
                updates += 1;
            });
        }
        let e = sc.edge().unwrap();
        assert!(e.briers[MODEL].1 > 0.0);
        (e.edge, updates)
    }

    /// No learner attached: the prior runs as shipped.
    struct Frozen;

    impl PressureLearner for Frozen {
        fn submit(&mut self, _: &str, _: &ResolvedSample) {}
        fn poll(&mut self, _: &mut dyn FnMut(&str, &Weights)) {}
    }

    #[test]
    fn the_learner_finds_pressure_the_prior_never_saw_and_its_live_edge_turns_positive() {
        let prior = prior();
        let data = market(9, 4000, true);
        let mut l = OnlineLearner::new(
            prior.clone(),
            OnlineOptions {
                lr: 3e-3,
                ..OnlineOptions::default()
            },
        );
        // The prior alone has no edge over the baselines on this market (it knows the base
        // rates, nothing more)…
        let (prior_edge, none) = run(&mut Frozen, &prior, &data);
        assert_eq!(none, 0);
        assert!(prior_edge <= 0.01, "prior edge {prior_edge}");
        // …adapted online, test-then-train, it beats every baseline over the last 1,000.
        let (late, updates) = run(&mut l, &prior, &data);
        eprintln!("prior edge {prior_edge:+.4}, adapted {late:+.4}, {updates} weights taken in");
        assert!(late > 0.05, "adapted edge {late} (prior {prior_edge})");
        assert!(updates >= 300, "{updates} weights published");
        assert_eq!(l.stats.samples, 4000);
        assert_eq!(l.stats.errors, 0);
        // Without a planted pressure there is nothing to find: no edge appears.
        let flat = market(10, 2000, false);
        let mut l2 = OnlineLearner::new(prior.clone(), OnlineOptions::default());
        let (none, _) = run(&mut l2, &prior, &flat);
        assert!(none < 0.01, "edge from nothing: {none}");
    }

    #[test]
    fn the_learner_thread_publishes_and_is_deterministic_per_symbol_on_one_thread() {
        let prior = prior();
        let data = market(11, 300, true);
        let sample = |x: &[f32], y| ResolvedSample {
            ts_ns: 0,
            label: y,
            x: x.to_vec().into_boxed_slice(),
            probs: [[1.0 / 3.0; 3]; 7],
            shown: false,
            out_of_range: false,
            mid: 100.0,
            mid_end: 100.0,
        };
        let o = OnlineOptions::default();
        let mut a = OnlineLearner::new(prior.clone(), o.clone());
        let mut b = OnlineLearner::new(prior.clone(), o.clone());
        for (x, y, ..) in &data {
            a.submit("BTCUSDT", &sample(x, *y));
            b.submit("BTCUSDT", &sample(x, *y));
        }
        assert_eq!(a.weights("BTCUSDT"), b.weights("BTCUSDT"));
        assert_ne!(a.weights("BTCUSDT"), Some(prior.weights.clone()));
        let mut t = LearnerThread::spawn(prior.clone(), o, 1024).unwrap();
        for (x, y, ..) in &data {
            t.submit("ETHUSDT", &sample(x, *y));
        }
        let mut got = 0;
        for _ in 0..500 {
            t.poll(&mut |s, w| {
                assert_eq!(s, "ETHUSDT");
                assert!(w.matches(&prior.arch));
                got += 1;
            });
            if got >= 10 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let st = t.finish();
        assert!(got >= 10, "published {got}");
        assert_eq!(st.samples + st.dropped, 300);
    }
}
