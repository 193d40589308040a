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
    panels(c, &v, &theme);
}

/// The ladder and the heatmap alone, at their size in a 120×40 frame (48×32 and 72×16) and the
/// heatmap full-screen (120×36): `cached` draws a view already drawn (the rows' text and the
/// grid are kept), `new_view` rebuilds them every time as a new view does.
fn panels(c: &mut Criterion, v: &View, theme: &Theme) {
    use microstate::ui::render::{heatmap, ladder};
    let mut g = c.benchmark_group("panels");
    g.measurement_time(Duration::from_secs(4));
    let sel = v.symbols.first();
    let mut ui = UiState::default();
    ui.heatmap = true;
    ui.on_view(v);
    ui.prepare(v);
    {
        let mut t = Terminal::new(TestBackend::new(48, 32)).expect("terminal");
        g.bench_function("ladder_48x32_cached", |b| {
            b.iter(|| {
                t.draw(|f| ladder::render(f, f.area(), sel, &ui, theme))
                    .expect("draw");
            })
        });
        g.bench_function("ladder_48x32_new_view", |b| {
            b.iter(|| {
                ui.ladder_cache.borrow_mut().key = None;
                t.draw(|f| ladder::render(f, f.area(), sel, &ui, theme))
                    .expect("draw");
            })
        });
    }
    for (name, w, h) in [("heatmap_72x16", 72u16, 16u16), ("heatmap_120x36", 120, 36)] {
        let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        g.bench_function(format!("{name}_cached"), |b| {
            b.iter(|| {
                t.draw(|f| heatmap::render(f, f.area(), v, sel, &ui, theme))
                    .expect("draw");
            })
        });
        g.bench_function(format!("{name}_new_view"), |b| {
            b.iter(|| {
                *ui.heat_cache.borrow_mut() = Default::default();
                t.draw(|f| heatmap::render(f, f.area(), v, sel, &ui, theme))
                    .expect("draw");
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
