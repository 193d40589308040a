//! The models on the replay path: the context model samples the mid at each minute boundary of
//! event time and says it is warming up until 240 minutes are in; the pressure model is scored
//! live beside its baselines, held back by its out-of-range guard and its live edge; staleness
//! reaches the interpretation; the interpretation names what fails.

use microstate_config::Config;
use microstate_core::ml::context::ContextOutput;
use microstate_drive::replay::{Player, PlayerOptions, Poll, load_models};
use microstate_testkit::{spot_files, workspace_root};

#[test]
fn minute_mids_feed_the_context_model_and_the_interpretation_says_why_it_waits() {
    let cfg = Config::default();
    // The shipped model, from the workspace root.
    let mut cfg = cfg;
    cfg.models.dir = workspace_root().join("models").display().to_string();
    let models = load_models(&cfg);
    assert!(
        models.context.is_ok(),
        "{:?}",
        models.context.as_ref().err()
    );
    let mut p = Player::open(
        &spot_files(),
        PlayerOptions {
            models: Some(models),
            ..PlayerOptions::default()
        },
    )
    .expect("open");
    while p.poll(0).expect("poll") != Poll::Done {}
    let st = &p.engine().symbols()[0];
    let sig = st.signals.as_deref().expect("signals");
    // 23:54:13 → 00:05:04: eleven minute boundaries crossed (23:55 … 00:05).
    assert_eq!(sig.minutes, 11, "minute boundaries crossed");
    match &sig.context {
        Some(ContextOutput::WarmingUp { minutes_left }) => assert_eq!(*minutes_left, 230),
        other => panic!("{other:?}"),
    }
    // The pinned summary fields: state and the minutes of history held.
    let sum = serde_json::to_value(microstate_core::summary::SymbolSummary::of(st)).expect("json");
    assert_eq!(sum["models"]["context"]["state"], "warming_up");
    assert_eq!(sum["models"]["context"]["history_minutes"], 10);
    let i = sig.interpretation.as_ref().expect("interpretation");
    // What fails is named, not a blanket "data unreliable".
    assert!(i.label.contains("context warming up (230 min)"), "{i:?}");
    assert!(!i.label.contains("data unreliable"), "{i:?}");
    // The shipped pressure model ran on the features, throttled, and its predictions were
    // scored once their horizon had passed.
    assert!(sig.pressure.is_some(), "a pressure output at the end");
    let score = sig.score.as_ref().expect("scorer").report();
    assert!(score.resolved_total > 5_000, "{score:?}");
    let hit = score.hit_rate.expect("hit rate");
    assert!((0.0..=1.0).contains(&hit));
    assert!(score.brier.is_some_and(|b| (0.0..=2.0).contains(&b)));
    // Prequentially, beside every baseline, over the last 1,000.
    let e = sig.pressure_edge().expect("edge");
    assert_eq!(e.n, 1000);
    assert_eq!(e.briers.len(), 7);
    assert!(e.best_baseline != "model");
    assert!((e.edge - (e.best_baseline_brier - e.model_brier)).abs() < 1e-12);
    // The direction is shown exactly when the edge is positive (inputs in range here).
    assert_eq!(
        sig.pressure_shown(),
        e.edge > 0.0,
        "{e:?} {:?}",
        sig.pressure_quiet()
    );
    if !sig.pressure_shown() {
        let q = sig.pressure_quiet().expect("why");
        assert!(q.starts_with("no edge now (Brier "), "{q}");
        assert!(
            q.contains(e.best_baseline_name) && q.contains("over the last 1,000"),
            "{q}"
        );
        assert!(i.label.contains(&format!("pressure: {q}")), "{i:?}");
    }
}

fn demo() -> std::path::PathBuf {
    workspace_root().join("assets/demo/btcusdt_20240808-excerpt.gz")
}

fn shipped() -> Config {
    let mut cfg = Config::default();
    cfg.models.dir = workspace_root().join("models").display().to_string();
    cfg
}

fn play(
    files: &[std::path::PathBuf],
    models: std::sync::Arc<microstate_core::ml::signals::Models>,
) -> Player {
    let mut p = Player::open(
        files,
        PlayerOptions {
            models: Some(models),
            latency: false,
            ..PlayerOptions::default()
        },
    )
    .expect("open");
    while p.poll(0).expect("poll") != Poll::Done {}
    p
}

/// Staleness reaches the interpretation: from the driver's clock (`Engine::set_stale`) and from
/// event time (depth updates stop while trades go on).
#[test]
fn a_stale_book_is_said_by_the_interpretation() {
    use std::io::Write;
    let cfg = shipped();
    let models = load_models(&cfg);
    let mut p = play(&[demo()], models.clone());
    let sym = p.engine().symbols()[0].symbol;
    let label = |p: &Player| {
        p.engine().symbols()[0]
            .signals
            .as_deref()
            .and_then(|s| s.interpretation.clone())
            .expect("interpretation")
            .label
    };
    assert!(!label(&p).contains("book stale"), "{}", label(&p));
    p.engine_mut().set_stale(sym, true);
    assert!(label(&p).starts_with("book stale"), "{}", label(&p));
    assert!(
        p.engine().symbols()[0]
            .signals
            .as_deref()
            .is_some_and(|s| s.stale())
    );
    p.engine_mut().set_stale(sym, false);
    assert!(!label(&p).contains("book stale"), "{}", label(&p));
    // The same capture with its depth stream cut after the first half: trades and tickers keep
    // coming for minutes with no depth update.
    let dir = std::env::temp_dir().join(format!("ms-stale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let cut = dir.join("btcusdt_20240808.txt");
    let lines: Vec<String> = microstate_testkit::gz_lines(&[demo()]);
    let half = lines.len() / 2;
    let mut w = std::fs::File::create(&cut).expect("create");
    for (k, l) in lines.iter().enumerate() {
        if k < half || !l.contains("@depth") {
            writeln!(w, "{l}").expect("write");
        }
    }
    drop(w);
    let p = play(&[cut], models);
    let sig = p.engine().symbols()[0].signals.as_deref().expect("signals");
    assert!(sig.stale(), "no depth update for minutes of event time");
    assert!(label(&p).starts_with("book stale"), "{}", label(&p));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_model_folder_is_said_plainly_and_nothing_else_stops() {
    let mut cfg = Config::default();
    cfg.models.dir = "/nonexistent/models".into();
    let models = load_models(&cfg);
    let why = models.context.as_ref().expect_err("no model there");
    assert!(why.contains("/nonexistent/models/context"), "{why}");
    let mut p = Player::open(
        &[workspace_root().join("assets/demo/btcusdt_20240808-excerpt.gz")],
        PlayerOptions {
            models: Some(models),
            ..PlayerOptions::default()
        },
    )
    .expect("open");
    while p.poll(0).expect("poll") != Poll::Done {}
    let st = &p.engine().symbols()[0];
    assert!(st.sync.is_synced());
    let sig = st.signals.as_deref().expect("signals");
    assert!(sig.context_missing().is_some_and(|w| w.contains("context")));
}

/// The interpretation is kept while its inputs are unchanged (most feature updates): after
/// every frame of the real spot capture it equals one made afresh from the current inputs.
#[test]
fn the_kept_interpretation_equals_a_fresh_one_after_every_frame() {
    let mut cfg = Config::default();
    cfg.models.dir = workspace_root().join("models").display().to_string();
    let mut p = Player::open(
        &spot_files()[..1],
        PlayerOptions {
            models: Some(load_models(&cfg)),
            batch: 1,
            ..PlayerOptions::default()
        },
    )
    .expect("open");
    let (mut compared, mut distinct) = (0u64, std::collections::HashSet::new());
    while p.poll(0).expect("poll") != Poll::Done {
        let Some(sig) = p
            .engine()
            .symbols()
            .first()
            .and_then(|s| s.signals.as_deref())
        else {
            continue;
        };
        let kept = sig.interpretation.clone().expect("an interpretation");
        assert_eq!(Some(&kept), sig.interpretation_recomputed().as_ref());
        distinct.insert(kept.label);
        compared += 1;
    }
    assert!(compared > 20_000, "{compared} frames compared");
    assert!(
        distinct.len() > 1,
        "the interpretation changed: {distinct:?}"
    );
}
