//! Model inference benchmarks: the hand-written live path of the pressure MLP (and its logistic
//! twin) on a vector of the size the P4 features will have, the candle forward pass for
//! comparison, the shipped pressure model on a real vector, what the live path adds per
//! prediction (prequential scoring beside the baselines, the guard), the online learner's
//! update per resolved sample (candle, one thread) and taking its published weights, and the
//! context model per minute (features + forecast; the shipped model).
//!
//! Run with `RAYON_NUM_THREADS=1 cargo bench --bench ml` (release profile `bench`; the variable
//! only matters to the candle reference: the live path never touches candle).
//! Target: `pressure/mlp_64x32x3_hand` p50 ≤ 5 µs (the goal).

use std::hint::black_box;
use std::path::PathBuf;

use candle_core::{Device, Tensor};
use criterion::{Criterion, criterion_group, criterion_main};
use microstate_core::ml::classifier::Classifier;
use microstate_core::ml::context::{ContextState, N_INPUTS};
use microstate_core::ml::prequential::{PressureScorer, ScorerOptions};
use microstate_core::ml::scaler::Scaler;
use microstate_core::ml::weights::{Activation, Architecture, Weights};
use microstate_train::mlp::CandleMlp;
use microstate_train::online::{OnlineLearner, OnlineOptions, Prior};

fn input(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
        .collect()
}

fn bench_pressure(c: &mut Criterion) {
    let mut g = c.benchmark_group("pressure");
    let scaler = Scaler {
        mean: vec![0.1; 64],
        std: vec![1.5; 64],
    };
    let x = input(64);
    for (name, arch) in [
        (
            "mlp_64x32x3_hand",
            Architecture::mlp(64, &[32], 3, Activation::Relu),
        ),
        (
            "mlp_80x64x32x3_hand",
            Architecture::mlp(80, &[64, 32], 3, Activation::Relu),
        ),
        ("logistic_64x3_hand", Architecture::logistic(64, 3)),
    ] {
        let w = Weights::seeded(&arch, 1);
        let s = if arch.inputs == 64 {
            scaler.clone()
        } else {
            Scaler::identity(arch.inputs)
        };
        let mut clf = Classifier::from_parts(&arch, &w, &s, 1.3).expect("classifier");
        let xi = input(arch.inputs);
        g.bench_function(name, |b| {
            b.iter(|| black_box(clf.predict(black_box(&xi))[2]))
        });
    }
    // The same MLP through candle (batch 1), what the hand path replaces.
    let arch = Architecture::mlp(64, &[32], 3, Activation::Relu);
    let cm = CandleMlp::new(&arch, &Weights::seeded(&arch, 1)).expect("candle mlp");
    g.bench_function("mlp_64x32x3_candle", |b| {
        b.iter(|| {
            let t = Tensor::from_slice(&x, (1, 64), &Device::Cpu).expect("tensor");
            black_box(cm.forward(&t).expect("forward"))
        })
    });
    g.finish();
}

fn bench_context(c: &mut Criterion) {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("models/context");
    let mut model = microstate_io::models::load_context(&dir, &Default::default())
        .expect("the shipped context model");
    let mut st = ContextState::new(5);
    let t0 = 1_747_699_200_000i64;
    for i in 0..241 {
        st.push(
            t0 + i * 60_000,
            100.0 * (1.0 + 0.001 * (i as f64 / 9.0).sin()),
        );
    }
    let mut x = [0f32; N_INPUTS];
    let s = st.features(&mut x).expect("warm");
    let mut g = c.benchmark_group("context");
    g.bench_function("forecast_hand", |b| {
        b.iter(|| black_box(model.predict(black_box(&x), s)))
    });
    let mut i = 241i64;
    g.bench_function("minute_push_features_forecast", |b| {
        b.iter(|| {
            i += 1;
            st.push(
                t0 + i * 60_000,
                100.0 * (1.0 + 0.001 * (i as f64 / 9.0).sin()),
            );
            black_box(model.evaluate(&mut st))
        })
    });
    g.finish();
}

/// The shipped pressure model on a real feature vector: the end of the demo capture replayed
/// through the engine (input extraction + scale + forward + softmax).
fn bench_pressure_model(c: &mut Criterion) {
    use microstate_core::features::FeatureParams;
    use microstate_drive::player::{Player, PlayerOptions, Poll};
    use microstate_drive::replay::ReplayOptions;
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let params = FeatureParams::default();
    let mut model = microstate_io::models::load_pressure(&root.join("models/pressure"), &params)
        .expect("the shipped model");
    let opts = PlayerOptions {
        replay: ReplayOptions {
            features: Some(params),
            ..ReplayOptions::default()
        },
        latency: false,
        ..PlayerOptions::default()
    };
    let mut p = Player::open(
        &[root.join("assets/demo/btcusdt_20240808-excerpt.gz")],
        opts,
    )
    .expect("demo capture");
    // Every feature vector of the replay, in order.
    let seen = std::sync::Arc::new(std::sync::Mutex::new((0u64, Vec::new())));
    let tap = seen.clone();
    p.set_observer(Box::new(move |e| {
        if let (Some(st), Ok(mut t)) = (e.touched(), tap.lock())
            && let Some(f) = st.features()
            && f.updates() != t.0
        {
            t.0 = f.updates();
            t.1.push(f.vector().clone());
        }
    }));
    while !matches!(p.poll(0), Ok(Poll::Done) | Err(_)) {}
    let vectors: Vec<microstate_core::features::FeatureVector> =
        seen.lock().map(|t| t.1.clone()).unwrap_or_default();
    assert!(vectors.len() > 1000, "{}", vectors.len());
    let v = p.engine().symbols()[0]
        .features()
        .expect("features on")
        .vector()
        .clone();
    assert!(
        model.predict(&v).is_some(),
        "the demo's last vector is valid"
    );
    let mut g = c.benchmark_group("pressure");
    g.bench_function("shipped_model_predict_real_vector", |b| {
        b.iter(|| black_box(model.predict(black_box(&v))))
    });
    g.bench_function("guard_check", |b| {
        b.iter(|| black_box(model.out_of_range(black_box(1.0))))
    });
    // Per prediction on the live path: register it beside the six baselines, resolve it at the
    // horizon (labels, seven Brier scores, the windows, the online baselines), hand it over.
    let x = model.last_inputs().to_vec();
    let probs = model.predict(&v).expect("valid");
    let mut sc = PressureScorer::new(
        ScorerOptions {
            horizon_ns: 1_000_000_000,
            window: 1000,
            buckets: 10,
            edge_window: 1000,
            queue: 64,
        },
        model.baselines().clone(),
    );
    let mut t = 0u64;
    g.bench_function("prequential_score_per_prediction", |b| {
        b.iter(|| {
            t += 100_000_000;
            sc.on_mid(t, 100.0);
            sc.on_prediction(t, 100.0, 0.01, probs, 0.2, 0.01, &x, true, false);
            sc.on_mid(t + 1_000_000_000, 100.02);
            sc.drain(|r| {
                black_box(r.label);
            });
            black_box(sc.edge().map(|e| e.edge))
        })
    });
    // The online learner: one test-then-train step per resolved sample (candle, this thread).
    for (name, head_only) in [
        ("online_update_head_only", true),
        ("online_update_all_layers", false),
    ] {
        let mut l = OnlineLearner::new(
            Prior::of(&model),
            OnlineOptions {
                head_only,
                ..OnlineOptions::default()
            },
        );
        let mut k = 0u32;
        g.bench_function(name, |b| {
            b.iter(|| {
                k += 1;
                l.learn("BTCUSDT", black_box(&x), k % 3).expect("step")
            })
        });
    }
    // The whole per-event model path of one symbol over the demo's real feature vectors:
    // staleness, resolving due predictions, the throttled prediction (one in ~100 ms of event
    // time) with its guard and live edge, the interpretation. Per element = per feature update.
    {
        use microstate_core::ml::signals::{Models, Signals};
        let mut models = Models::none("not benched");
        models.pressure = Ok(model.clone());
        let models = std::sync::Arc::new(models);
        g.throughput(criterion::Throughput::Elements(vectors.len() as u64));
        g.bench_function("signals_per_feature_update", |b| {
            b.iter_batched(
                || Signals::new(models.clone()),
                |mut s| {
                    for v in &vectors {
                        s.on_features(v, true);
                    }
                    s
                },
                criterion::BatchSize::LargeInput,
            )
        });
        g.throughput(criterion::Throughput::Elements(1));
    }
    // Taking published weights into the live model (a copy into its own buffers).
    let w = Prior::of(&model).weights;
    g.bench_function("take_published_weights", |b| {
        b.iter(|| black_box(model.set_weights(black_box(&w))))
    });
    g.finish();
}

criterion_group!(benches, bench_pressure, bench_pressure_model, bench_context);
criterion_main!(benches);
