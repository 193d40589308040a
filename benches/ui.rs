//! Frame render time: the whole screen drawn from a `View` of the real spot capture into
//! ratatui's buffer (layout, widgets, diff against the previous frame), at 120×40 and 200×60;
//! also with the tape and volume at price shown (`_tape_volume`), and the core's tape and
//! volume-at-price binning a view does per symbol (`view_parts`).
//!
//! Run: `cargo bench --bench ui`.

use std::path::PathBuf;
use std::time::Duration;

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use microstate::ui::render::draw;
use microstate::ui::{Bindings, Theme, UiState};
use microstate_core::view::View;
use microstate_drive::replay::{Player, PlayerOptions, Poll, replay_view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn view() -> View {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/binance-spot");
    assert!(
        d.is_dir(),
        "{} not found: benchmarks read the real captures",
        d.display()
    );
    let mut p =
        Player::open(&[d.join("btcusdt_20240808.gz")], PlayerOptions::default()).expect("open");
    // Three minutes into the capture: full history for the chart and the heatmap.
    while p.status().fed < 30_000 {
        if p.poll(0).expect("poll") == Poll::Done {
            break;
        }
    }
    replay_view(&p)
}

fn bench(c: &mut Criterion) {
    let v = view();
    let theme = Theme::new(&Default::default(), false);
    let keys = Bindings::default();
    let mut g = c.benchmark_group("frame");
    g.measurement_time(Duration::from_secs(4));
    for (w, h) in [(120u16, 40u16), (200, 60)] {
        for heatmap in [false, true] {
            let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
            let mut ui = UiState::default();
            ui.heatmap = heatmap;
            ui.on_view(&v);
            let name = format!("{w}x{h}{}", if heatmap { "_heatmap" } else { "" });
            g.bench_function(name, |b| {
                b.iter(|| {
                    t.draw(|f| draw(f, &v, &ui, &theme, &keys)).expect("draw");
                })
            });
        }
    }
    for (w, h) in [(120u16, 40u16), (200, 60)] {
        let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        let mut ui = UiState::default();
        ui.tape = true;
        ui.volume = true;
        ui.tape_large = (None, Some(50_000.0));
        ui.on_view(&v);
        g.bench_function(format!("{w}x{h}_tape_volume"), |b| {
            b.iter(|| {
                t.draw(|f| draw(f, &v, &ui, &theme, &keys)).expect("draw");
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("view_parts");
    g.measurement_time(Duration::from_secs(4));
    let h = &v.symbols[0].history;
    g.bench_function("tape_60_rows", |b| {
        b.iter(|| microstate_core::tape::tape(h.trades.iter(), microstate_core::view::TAPE_ROWS))
    });
    g.bench_function("volume_at_price", |b| {
        b.iter(|| {
            microstate_core::tape::volume_at_price(
                &h.trades,
                0,
                None,
                microstate_core::view::VOLUME_PRICES,
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
