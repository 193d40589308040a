//! The models on the replay path: the context model samples the mid at each minute boundary of
//! event time and says it is warming up until 240 minutes are in; the pressure model is scored
//! live beside its baselines, held back by its out-of-range guard and its live edge; staleness
//! reaches the interpretation; the interpretation names what fails.

mod common;

use microstate::config::Config;
use microstate_core::ml::context::ContextOutput;
use microstate_drive::replay::{Player, PlayerOptions, Poll, load_models};

#[test]
fn minute_mids_feed_the_context_model_and_the_interpretation_says_why_it_waits() {
    let cfg = Config::default();
    // The shipped model, from the project root.
    let mut cfg = cfg;
    cfg.models.dir = concat!(env!("CARGO_MANIFEST_DIR"), "/models").to_string();
    let models = load_models(&cfg);
    assert!(
        models.context.is_ok(),
        "{:?}",
        models.context.as_ref().err()
    );
    let mut p = Player::open(
        &common::spot_files(),
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
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("assets/demo/btcusdt_20240808-excerpt.gz")
}

fn shipped() -> Config {
    let mut cfg = Config::default();
    cfg.models.dir = concat!(env!("CARGO_MANIFEST_DIR"), "/models").to_string();
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

/// A model trained only where the best bid's queue dwarfed the ask's (level-1 imbalance 0.95–1,
/// as its ranges say): on a real book its inputs are out of range, the screen shows no
/// direction and says which input, and so does the interpretation.
#[test]
fn the_guard_holds_the_direction_back_on_inputs_outside_training_and_the_screen_says_which() {
    use microstate::ui::render::draw;
    use microstate::ui::{Bindings, Theme, UiState};
    use microstate_core::ml::pressure::{InputRanges, PressureModel};
    use microstate_core::view::ModelView;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    let cfg = shipped();
    let loaded = load_models(&cfg);
    let m = loaded
        .pressure
        .as_ref()
        .expect("the shipped pressure model");
    let names = m.inputs().names().to_vec();
    let imb = names
        .iter()
        .position(|n| n == "imbalance.1")
        .expect("imbalance.1");
    let mut ranges: InputRanges = m.ranges().clone();
    ranges.lo[imb] = 0.95;
    ranges.hi[imb] = 1.0;
    let narrow = PressureModel::from_parts(
        m.meta.clone(),
        m.inputs().clone(),
        m.classifier().clone(),
        m.horizon_ns(),
        m.dead_band(),
        ranges,
        m.baselines().clone(),
    );
    let mut models = (*loaded).clone();
    models.pressure = Ok(narrow);
    let p = play(&[demo()], std::sync::Arc::new(models));
    let sig = p.engine().symbols()[0].signals.as_deref().expect("signals");
    assert!(sig.pressure.is_some(), "the model still runs and is scored");
    assert!(!sig.pressure_shown());
    let q = sig.pressure_quiet().expect("quiet");
    assert!(q.starts_with("inputs out of range (imbalance.1 "), "{q}");
    assert!(q.contains("training 0.95 to 1.00"), "{q}");
    let i = sig.interpretation.as_ref().expect("interpretation");
    assert!(
        i.label
            .contains("pressure: inputs out of range (imbalance.1"),
        "{i:?}"
    );
    // The screen: the pressure panel says "no direction" and why; no bars.
    let view = microstate_drive::replay::replay_view(&p);
    match &view.symbols[0].pressure {
        ModelView::Ready(pv) => {
            assert_eq!(pv.label, "—");
            assert!(
                pv.quiet
                    .as_deref()
                    .is_some_and(|w| w.contains("imbalance.1"))
            );
            assert!(pv.edge.is_some());
        }
        other => panic!("{other:?}"),
    }
    let theme = Theme::new(&Default::default(), true);
    let mut t = Terminal::new(TestBackend::new(120, 40)).expect("terminal");
    t.draw(|f| draw(f, &view, &UiState::default(), &theme, &Bindings::default()))
        .expect("draw");
    let buf = t.backend().buffer();
    let text: String = (0..40)
        .map(|y| (0..120).map(|x| buf[(x, y)].symbol()).collect::<String>() + "\n")
        .collect();
    assert!(text.contains("no direction"), "{text}");
    assert!(text.contains("inputs out of range"), "{text}");
    assert!(
        !text.contains("FLAT "),
        "no probability bars while quiet: {text}"
    );
    // The same capture with the shipped ranges: the guard stays silent.
    let p = play(&[demo()], loaded.clone());
    let sig = p.engine().symbols()[0].signals.as_deref().expect("signals");
    assert!(
        !sig.pressure_quiet()
            .is_some_and(|q| q.contains("out of range")),
        "{:?}",
        sig.pressure_quiet()
    );
}

/// Staleness reaches the interpretation: from the driver's clock (`Engine::set_stale`) and from
/// event time (depth updates stop while trades go on).
#[test]
fn a_stale_book_is_said_by_the_interpretation() {
    use std::io::{BufRead, Write};
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
    let r = std::io::BufReader::new(flate2::read::GzDecoder::new(
        std::fs::File::open(demo()).expect("demo"),
    ));
    let lines: Vec<String> = r.lines().map(|l| l.expect("line")).collect();
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
        &[std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("assets/demo/btcusdt_20240808-excerpt.gz")],
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
