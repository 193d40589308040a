//! The pressure guard as the user sees it: a model whose training ranges exclude the real book
//! holds its direction back, and the screen (ratatui's TestBackend) says which input.

use microstate_config::Config;
use microstate_drive::replay::{Player, PlayerOptions, Poll, load_models};

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn demo() -> std::path::PathBuf {
    root().join("assets/demo/btcusdt_20240808-excerpt.gz")
}

fn shipped() -> Config {
    let mut cfg = Config::default();
    cfg.models.dir = root().join("models").display().to_string();
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
