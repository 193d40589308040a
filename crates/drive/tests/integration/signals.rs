//! The models on the replay path: the context model samples the mid at each minute boundary of
//! event time and says it is warming up until 240 minutes are in; the interpretation says why
//! the data is not fit to read yet.

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
    assert!(i.label.starts_with("data unreliable"), "{i:?}");
    assert!(
        i.reasons.iter().any(|r| r.contains("warming up (230 min)")),
        "{i:?}"
    );
    // The shipped pressure model ran on the features, throttled, and its predictions were
    // scored once their horizon had passed.
    assert!(sig.pressure.is_some(), "a pressure output at the end");
    let score = sig.score.as_ref().expect("scorer").report();
    assert!(score.resolved_total > 5_000, "{score:?}");
    let hit = score.hit_rate.expect("hit rate");
    assert!((0.0..=1.0).contains(&hit));
    assert!(score.brier.is_some_and(|b| (0.0..=2.0).contains(&b)));
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
