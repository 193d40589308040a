//! The screen, drawn from a real replay into ratatui's `TestBackend`: full-screen snapshots at
//! 120×40 and 80×24 (insta), and widget checks against the buffer.

use std::path::PathBuf;
use std::sync::Arc;

use microstate::ui::render::{draw, ladder};
use microstate::ui::{Bindings, Theme, UiState};
use microstate_core::view::View;
use microstate_drive::replay::{Player, PlayerOptions, Poll, replay_view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn excerpt() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo/btcusdt_20240808-excerpt.gz")
}

/// The view after the first `frames` frames of a capture.
fn view_after(files: &[PathBuf], frames: u64) -> View {
    let mut p = Player::open(
        files,
        PlayerOptions {
            batch: 1,
            // Processing times differ run to run: keep them out of the snapshots.
            latency: false,
            ..PlayerOptions::default()
        },
    )
    .expect("open");
    while p.status().fed < frames {
        if p.poll(0).expect("poll") == Poll::Done {
            break;
        }
    }
    replay_view(&p)
}

fn screen(view: &View, ui: &UiState, w: u16, h: u16) -> String {
    let theme = Theme::new(&Default::default(), true);
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    t.draw(|f| draw(f, view, ui, &theme, &Bindings::default()))
        .expect("draw");
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..h {
        for x in 0..w {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

#[test]
fn full_screen_120x40_from_the_real_capture() {
    let v = view_after(&[excerpt()], 3_000);
    let s = screen(&v, &UiState::default(), 120, 40);
    insta::assert_snapshot!("replay_120x40", s);
    // What must be there, whatever the snapshot says.
    assert!(s.contains("BTCUSDT SYNCED"));
    assert!(s.contains("Depth BTCUSDT"));
    assert!(s.contains("spread 0.01"));
    assert!(s.contains("pressure model not"), "a missing model says so");
}

#[test]
fn full_screen_80x24_stays_usable() {
    let v = view_after(&[excerpt()], 3_000);
    let s = screen(&v, &UiState::default(), 80, 24);
    insta::assert_snapshot!("replay_80x24", s);
    assert!(s.contains("Depth BTCUSDT") && s.contains("SYNCED") && s.contains("Symbols"));
}

#[test]
fn heatmap_and_help_views() {
    let v = view_after(&[excerpt()], 3_000);
    let mut ui = UiState::default();
    ui.heatmap = true;
    ui.help = true;
    let s = screen(&v, &ui, 120, 40);
    insta::assert_snapshot!("replay_heatmap_help_120x40", s);
    assert!(s.contains("Liquidity heatmap"));
    assert!(s.contains("Keys (? or Esc to close)"));
}

#[test]
fn ladder_shows_the_book_best_levels_around_the_spread() {
    let v = view_after(&[excerpt()], 3_000);
    let sv = &v.symbols[0];
    let s = screen(&v, &UiState::default(), 120, 40);
    let lines: Vec<&str> = s.lines().collect();
    let spread_row = lines
        .iter()
        .position(|l| l.contains("spread 0.01"))
        .expect("spread row");
    let best_ask = format!("{:.2}", sv.asks[0].price.to_f64());
    let best_bid = format!("{:.2}", sv.bids[0].price.to_f64());
    assert!(
        lines[spread_row - 1].contains(&best_ask),
        "best ask {best_ask} just above the spread:\n{}\n{}",
        lines[spread_row - 1],
        lines[spread_row]
    );
    assert!(
        lines[spread_row + 1].contains(&best_bid),
        "best bid just below"
    );
    // Grouping by 10 ticks adds quantities up, per side, exactly.
    let rows = ladder::bucket_rows(sv, 10);
    let sum = |bid: bool| {
        rows.iter()
            .filter(|r| r.bid == bid)
            .map(|r| r.qty)
            .sum::<f64>()
    };
    let bids: f64 = sv.bids.iter().map(|l| l.qty.to_f64()).sum();
    let asks: f64 = sv.asks.iter().map(|l| l.qty.to_f64()).sum();
    assert!((sum(true) - bids).abs() < 1e-9 && (sum(false) - asks).abs() < 1e-9);
    assert!(rows.iter().filter(|r| r.bid).count() < sv.bids.len());
}

#[test]
fn quantities_that_changed_since_the_last_view_are_marked() {
    let a = view_after(&[excerpt()], 3_000);
    let b = view_after(&[excerpt()], 3_300);
    let mut ui = UiState::default();
    ui.on_view(&a);
    assert!(ui.deltas.is_empty(), "nothing to compare with yet");
    ui.on_view(&b);
    assert!(
        !ui.deltas.is_empty(),
        "300 frames later some levels changed: {} vs {}",
        a.symbols[0].last_update_id,
        b.symbols[0].last_update_id
    );
    for (k, d) in &ui.deltas {
        let before = ladder::bucket_rows(&a.symbols[0], 1)
            .iter()
            .find(|r| r.key == *k)
            .map_or(0.0, |r| r.qty);
        let after = ladder::bucket_rows(&b.symbols[0], 1)
            .iter()
            .find(|r| r.key == *k)
            .map_or(0.0, |r| r.qty);
        assert!((after - before - d).abs() < 1e-9);
    }
}

#[test]
fn several_symbols_switch_and_each_book_stays_live() {
    let d = crate::common::data_dir().join("cryptofeed");
    let v = view_after(&[d.join("BINANCE.ws.1.0")], 1_000_000);
    assert_eq!(v.symbols.len(), 4, "four symbols in the cryptofeed capture");
    let v = Arc::new(v);
    for i in 0..4 {
        let mut ui = UiState::default();
        ui.selected = i;
        let s = screen(&v, &ui, 120, 40);
        let name = v.symbols[i].symbol.to_string();
        assert!(s.contains(&format!("Depth {name}")), "{name} selected");
        assert!(s.contains(&format!("▶ {} {name}", i + 1)));
    }
}

#[test]
fn the_symbols_table_scrolls_to_the_selected_symbol() {
    let d = crate::common::data_dir().join("cryptofeed");
    let v = view_after(&[d.join("BINANCE.ws.1.0")], 200_000);
    assert_eq!(v.symbols.len(), 4);
    let theme = Theme::new(&Default::default(), true);
    // Room for two rows of four.
    let draw_at = |selected: usize| {
        let mut t = Terminal::new(TestBackend::new(100, 5)).expect("terminal");
        let mut ui = UiState::default();
        ui.selected = selected;
        t.draw(|f| {
            microstate::ui::render::symbols::render(f, f.area(), &v, &ui, &theme);
        })
        .expect("draw");
        let buf = t.backend().buffer().clone();
        (0..5)
            .map(|y| (0..100).map(|x| buf[(x, y)].symbol()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let top = draw_at(0);
    assert!(
        top.contains("Symbols 1–2 of 4") && top.contains("▶ 1 "),
        "{top}"
    );
    let last = draw_at(3);
    assert!(
        last.contains("Symbols 3–4 of 4") && last.contains("▶ 4 "),
        "{last}"
    );
    assert!(!last.contains(" 1 "), "{last}");
}

#[test]
fn latency_panel_lists_every_stage_and_draws_the_selected_histogram() {
    let mut v = view_after(&[excerpt()], 3_000);
    v.latency = vec![
        microstate_core::view::StageView {
            name: "E→receive (corrected)".into(),
            count: 100,
            p50: 1_700_000,
            p90: 2_800_000,
            p99: 6_500_000,
            p999: 16_800_000,
            max: 16_800_000,
            buckets: vec![(1_000_000, 10), (2_000_000, 60), (4_000_000, 30)],
        },
        microstate_core::view::StageView {
            name: "parse".into(),
            count: 0,
            p50: 0,
            p90: 0,
            p99: 0,
            p999: 0,
            max: 0,
            buckets: vec![],
        },
    ];
    let s = screen(&v, &UiState::default(), 120, 40);
    assert!(
        s.lines().any(|l| l.contains("E→receive (corrected)")
            && l.contains("1.7ms    2.8ms    6.5ms   16.8ms")),
        "{s}"
    );
    assert!(s.contains("≤    2.0ms ▇"), "{s}");
    assert!(
        s.lines().any(|l| l.contains("parse") && l.contains("—")),
        "{s}"
    );
}

/// The status bar's text at `cols` columns, from a real view made busy: gaps, a recording, a
/// clock offset of 850 days (the demo's 2024 capture against a 2026 clock), a long source.
fn status_text(v: &View, ui: &UiState, cols: usize) -> (String, usize) {
    use microstate::ui::render::status;
    let theme = Theme::new(&Default::default(), true);
    let l = status::line(v, ui, v.symbols.first(), &theme, cols);
    let t: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
    (t, l.width())
}

fn busy_view() -> View {
    let mut v = view_after(&[excerpt()], 3_000);
    v.replay = None;
    v.source = microstate_core::view::Source::Demo {
        capture: "bundled BTCUSDT 2024-08-08 via a local exchange".into(),
    };
    v.connection = "up".into();
    v.clock_offset = Some((-73_483_200_000_000_000, 2_000_000));
    v.clock_source = "active".into();
    v.symbols[0].gaps = 3;
    v.now_ns = v.symbols[0].last_depth_recv_ns;
    v.recording = Some(microstate_core::view::RecordingView {
        path: "x.msrec".into(),
        bytes: 3_600_000,
        ..Default::default()
    });
    v
}

#[test]
fn status_bar_keeps_sync_state_gaps_rec_and_clock_by_priority() {
    let v = busy_view();
    let ui = UiState::default();
    for cols in [200usize, 120, 80, 60, 40, 20] {
        let (t, w) = status_text(&v, &ui, cols);
        assert!(w <= cols, "{cols}: {t:?} is {w} wide");
        assert!(t.contains("SYNCED"), "{cols}: {t:?}");
        if cols >= 40 {
            assert!(t.contains("● REC") && t.contains("gaps 3"), "{cols}: {t:?}");
        }
        if cols >= 80 {
            assert!(t.contains("clock −850d12h"), "{cols}: {t:?}");
        }
    }
    let (wide, _) = status_text(&v, &ui, 200);
    assert_eq!(
        wide,
        " microstate │ DEMO bundled BTCUSDT 2024-08-08 via a local exchange │ up │ \
         BTCUSDT SYNCED gaps 3 · upd <1ms ago │ clock −850d12h ±1.0ms (active) │ ● REC 3.6 MB"
    );
    // The whole screen at the README's size and at 80 columns: nothing falls off.
    for (w, h) in [(120u16, 40u16), (80, 24)] {
        let s = screen(&v, &ui, w, h);
        let top = s.lines().next().unwrap_or_default();
        assert!(
            top.contains("SYNCED") && top.contains("● REC") && top.contains("clock"),
            "{w}×{h}: {top:?}"
        );
    }
}

#[test]
fn status_bar_of_a_replay_keeps_its_speed_and_position() {
    let v = view_after(&[excerpt()], 3_000);
    let (t, _) = status_text(&v, &UiState::default(), 80);
    assert!(t.contains("▶ max 23:54:"), "{t:?}");
    assert!(t.contains("BTCUSDT SYNCED gaps 0"), "{t:?}");
}

#[test]
fn small_prices_are_drawn_with_their_digits() {
    // The real cryptofeed capture: LRCBTC trades near 0.0000064 BTC on a tick of 0.00000001.
    let ws = microstate_testkit::data_dir().join("cryptofeed/BINANCE.ws.1.0");
    let v = view_after(&[ws], u64::MAX);
    let i = v
        .symbols
        .iter()
        .position(|s| s.symbol.to_string() == "LRCBTC")
        .expect("LRCBTC in the capture");
    let s = &v.symbols[i];
    assert!(s.mid.is_some_and(|m| m < 1e-4), "{:?}", s.mid);
    let mut ui = UiState::default();
    ui.selected = i;
    let scr = screen(&v, &ui, 120, 40);
    // The ladder and the symbols table write 8 decimals (the mid one more), never "0".
    let best_bid = format!("{:.8}", s.bids[0].price.to_f64());
    assert!(scr.contains(&best_bid), "{best_bid} not on\n{scr}");
    assert!(scr.contains("0.0000"), "{scr}");
    let row = scr
        .lines()
        .find(|l| {
            l.contains("LRCBTC") && l.contains("│▶") || l.contains("▶ ") && l.contains("LRCBTC")
        })
        .unwrap_or_default()
        .to_string();
    assert!(!row.contains(" 0.0 "), "{row}");
}

#[test]
fn without_network_the_body_says_why_when_it_retries_and_offers_the_demo() {
    let mut v = view_after(&[excerpt()], 3_000);
    v.source = microstate_core::view::Source::Live {
        endpoint: "wss://stream.binance.com:9443".into(),
    };
    v.connection = "connecting, attempt 4, next in 8s: failed to lookup address information".into();
    for s in &mut v.symbols {
        s.bids.clear();
        s.asks.clear();
    }
    let scr = screen(&v, &UiState::default(), 120, 40);
    assert!(scr.contains("Not connected"), "{scr}");
    assert!(scr.contains("next in 8s"), "the next retry:\n{scr}");
    assert!(scr.contains("failed to lookup"), "the cause:\n{scr}");
    assert!(scr.contains("microstate-tui demo"), "the hint:\n{scr}");
    assert!(!scr.contains("waiting for a snapshot"), "{scr}");
}

#[test]
fn full_screen_200x60_and_the_smallest_size_fit_their_borders() {
    let v = view_after(&[excerpt()], 3_000);
    let big = screen(&v, &UiState::default(), 200, 60);
    insta::assert_snapshot!("replay_200x60", big);
    let min = screen(&v, &UiState::default(), 60, 16);
    insta::assert_snapshot!("replay_60x16", min);
    assert!(min.contains("SYNCED") && min.contains("Depth"), "{min}");
    // Every line is exactly the terminal's width: nothing drawn past a border.
    assert!(min.lines().all(|l| l.chars().count() == 60), "{min}");
    let tiny = screen(&v, &UiState::default(), 40, 12);
    assert!(tiny.contains("terminal too small"), "{tiny}");
    assert!(tiny.contains("need 60×16"), "{tiny}");
}

/// The excerpt's views at 2,800 and 3,000 frames with the alerts a publisher would raise between
/// them (a large-trade threshold low enough for the excerpt's taker orders).
fn views_with_alerts() -> (View, View) {
    use microstate_core::alerts::{AlertRules, Alerts};
    let mut a = view_after(&[excerpt()], 2_800);
    let mut b = view_after(&[excerpt()], 3_000);
    let mut alerts = Alerts::new(
        AlertRules {
            large_quote: Some(5_000.0),
            ..AlertRules::default()
        },
        20,
    );
    microstate_drive::publish::apply_alerts(&mut alerts, &mut a);
    assert!(a.alerts.is_empty(), "the first look is the baseline");
    microstate_drive::publish::apply_alerts(&mut alerts, &mut b);
    (a, b)
}

#[test]
fn tape_volume_alerts_and_prompt_at_three_sizes() {
    let (a, v) = views_with_alerts();
    let sv = &v.symbols[0];
    // The core folded prints into taker orders, newest first.
    assert!(!sv.tape.is_empty() && sv.tape.len() <= microstate_core::view::TAPE_ROWS);
    assert!(sv.tape.windows(2).all(|w| w[0].t_ns >= w[1].t_ns));
    let prints: u32 = sv.tape.iter().map(|r| r.prints).sum();
    assert!(prints as usize >= sv.tape.len());
    assert!(
        !v.alerts.is_empty(),
        "taker orders of 5,000 USDT or more in 200 frames"
    );
    assert!(
        v.alerts
            .iter()
            .all(|x| x.kind == microstate_core::alerts::AlertKind::LargeTrade)
    );
    let mut ui = UiState::default();
    ui.tape = true;
    ui.volume = true;
    ui.tape_large = (None, Some(5_000.0));
    ui.on_view(&a);
    ui.on_view(&v);
    let newest = &sv.tape[0];
    let dec = microstate::ui::render::fmt::decimals_for(sv.tick);
    let price = microstate::ui::render::fmt::price(newest.last_price.to_f64(), dec);
    for (w, h) in [(80u16, 24u16), (120, 40), (200, 60)] {
        let s = screen(&v, &ui, w, h);
        insta::assert_snapshot!(format!("tape_volume_alerts_{w}x{h}"), s);
        assert!(s.contains("Tape BTCUSDT"), "{w}×{h}:\n{s}");
        assert!(s.contains("Volume"), "{w}×{h}:\n{s}");
        assert!(s.contains("⚠ "), "the alerts line at {w}×{h}:\n{s}");
        assert!(
            s.contains(&price),
            "the newest print's price {price} at {w}×{h}:\n{s}"
        );
        assert!(s.contains("Depth BTCUSDT"), "the ladder stays at {w}×{h}");
    }
    // The prompt over the hint line, with its completions.
    ui.prompt = Some(microstate::ui::prompt::Prompt::new(
        microstate::ui::prompt::PromptKind::AddSymbol,
        vec!["BTCUSDT".into()],
    ));
    let s = screen(&v, &ui, 120, 40);
    assert!(
        s.contains("add symbol (Tab completes") && s.contains("[BTCUSDT]"),
        "{s}"
    );
    // The replay's progress bar: the capture has no index, so its end is unknown.
    assert!(s.contains("end not indexed"), "{s}");
}

/// A view of 100 symbols: the capture's BTCUSDT book under 100 names, with mids, spreads, gaps
/// and imbalances that differ per symbol (deterministic).
fn hundred_symbols() -> View {
    let mut v = view_after(&[excerpt()], 3_000);
    let base = v.symbols[0].clone();
    v.symbols = (0..100u64)
        .map(|i| {
            let mut s = base.clone();
            s.symbol = microstate_core::num::Symbol::new(format!("SYM{i:03}USDT").as_bytes())
                .expect("symbol");
            // A shuffled order of mids: 37 is coprime with 100.
            let k = (i * 37) % 100;
            s.mid = Some(1.0 + k as f64 * 10.0);
            s.spread = Some(0.01 * (1 + i % 7) as f64);
            s.gaps = i % 5;
            s.imbalance[0] = Some((k as f64 - 50.0) / 50.0);
            s
        })
        .collect();
    v
}

/// The symbols table sorted by mid, descending, with 100 symbols at 120×40: the header marks
/// the column, the title says which rows of how many, and the selected row stays in view.
#[test]
fn a_hundred_symbols_sort_by_a_column_and_keep_the_selection_in_view() {
    use microstate::ui::sort::{SortBy, order};
    let v = hundred_symbols();
    let mut ui = UiState::default();
    ui.sort = SortBy::Mid;
    ui.sort_desc = true;
    let o = order(&v, SortBy::Mid, true);
    // The 50th row of the sorted table is selected: it is drawn, the first rows are not.
    ui.selected = o[49];
    ui.prepare(&v);
    let s = screen(&v, &ui, 120, 40);
    insta::assert_snapshot!("symbols_100_sorted_by_mid_120x40", s);
    let name = v.symbols[o[49]].symbol.to_string();
    assert!(s.contains(&format!("▶ {} {name}", o[49] + 1)), "{s}");
    assert!(s.contains("mid ▼"), "the sort column is marked: {s}");
    assert!(s.contains("of 100 · by mid ▼"), "{s}");
    assert!(
        !s.contains(&v.symbols[o[0]].symbol.to_string()),
        "row 1 scrolled away"
    );
    // Tab walks the table's order, not the session's.
    ui.select_step(&v, 1);
    assert_eq!(ui.selected, o[50]);
}

/// The table's cost follows the rows drawn: a hundred symbols or a thousand, the same rows
/// are formatted (the order is computed once per view, outside the frame).
#[test]
fn the_symbols_table_formats_only_the_rows_that_fit() {
    let theme = Theme::new(&Default::default(), true);
    let v = hundred_symbols();
    let ui = UiState::default();
    let mut t = Terminal::new(TestBackend::new(120, 9)).expect("terminal");
    t.draw(|f| {
        microstate::ui::render::symbols::render(f, f.area(), &v, &ui, &theme);
    })
    .expect("draw");
    let buf = t.backend().buffer().clone();
    let text: String = (0..9)
        .map(|y| (0..120).map(|x| buf[(x, y)].symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(text.contains("Symbols 1–6 of 100"), "{text}");
    assert!(
        text.contains("SYM005USDT") && !text.contains("SYM006USDT"),
        "{text}"
    );
}

/// Draws `view` at `w`×`h` with the real renderer and keeps where each panel went in `ui`, as
/// the UI loop does after each frame; returns the text.
fn frame_with_hits(view: &View, ui: &mut UiState, w: u16, h: u16) -> String {
    let theme = Theme::new(&Default::default(), true);
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    let mut hits = Default::default();
    t.draw(|f| hits = microstate::ui::render::draw_hits(f, view, ui, &theme, &Bindings::default()))
        .expect("draw");
    ui.hits = hits;
    let buf = t.backend().buffer();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Clicks and the wheel, as crossterm delivers them, through the screen's mouse handler: a
/// click on a symbol's row selects it, a click on a panel focuses it, the wheel over the
/// ladder scrolls it (the spread row moves, deeper asks come into view) and over the table
/// moves the selection; a click outside every panel does nothing.
#[test]
fn mouse_clicks_select_and_focus_and_the_wheel_scrolls_the_ladder() {
    use crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
    use microstate::ui::mouse::Panel;
    let d = crate::common::data_dir().join("cryptofeed");
    let v = view_after(&[d.join("BINANCE.ws.1.0")], 1_000_000);
    assert_eq!(v.symbols.len(), 4);
    let mut ui = UiState::default();
    ui.prepare(&v);
    let before = frame_with_hits(&v, &mut ui, 120, 40);
    let ev = |kind, column, row| MouseEvent {
        kind,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    };
    let click = |x, y| ev(MouseEventKind::Down(MouseButton::Left), x, y);
    // The third row of the table.
    let (first, rows) = ui.hits.symbol_rows.clone();
    assert_eq!(rows.len(), 4, "{before}");
    assert!(ui.on_mouse(&click(10, first + 2), &v));
    assert_eq!(ui.selected, rows[2]);
    assert_eq!(ui.focus, Some(Panel::Symbols));
    let name = v.symbols[rows[2]].symbol.to_string();
    let s = frame_with_hits(&v, &mut ui, 120, 40);
    assert!(s.contains(&format!("Depth {name}")), "{s}");
    // The wheel over the ladder: the spread row moves down a line per notch up.
    let (_, ladder) = ui
        .hits
        .panels
        .iter()
        .find(|(p, _)| *p == Panel::Ladder)
        .copied()
        .expect("ladder drawn");
    let spread_line = |s: &str| {
        s.lines()
            .position(|l| l.contains("spread "))
            .expect("spread row")
    };
    let at0 = spread_line(&s);
    for _ in 0..3 {
        assert!(ui.on_mouse(
            &ev(MouseEventKind::ScrollUp, ladder.x + 3, ladder.y + 3),
            &v
        ));
    }
    assert_eq!(ui.ladder_scroll, 3);
    let s = frame_with_hits(&v, &mut ui, 120, 40);
    assert_eq!(spread_line(&s), at0 + 3, "{s}");
    assert!(ui.on_mouse(
        &ev(MouseEventKind::ScrollDown, ladder.x + 3, ladder.y + 3),
        &v
    ));
    assert_eq!(ui.ladder_scroll, 2);
    // A click on the chart focuses it; the wheel over the table moves the selection.
    let (_, chart) = ui
        .hits
        .panels
        .iter()
        .find(|(p, _)| *p == Panel::Chart)
        .copied()
        .expect("chart drawn");
    assert!(ui.on_mouse(&click(chart.x + 5, chart.y + 2), &v));
    assert_eq!(ui.focus, Some(Panel::Chart));
    let sel = ui.selected;
    assert!(ui.on_mouse(&ev(MouseEventKind::ScrollDown, 10, first), &v));
    assert_ne!(ui.selected, sel);
    // The status bar is no panel.
    assert!(!ui.on_mouse(&click(3, 0), &v));
}

/// The whole help at `w`×`h`: every action's key is on the screen.
fn help_is_whole(w: u16, h: u16) {
    let v = view_after(&[excerpt()], 3_000);
    let mut ui = UiState::default();
    ui.help = true;
    let s = screen(&v, &ui, w, h);
    for (keys, what) in Bindings::default().help() {
        let first = what.split_whitespace().next().unwrap_or_default();
        assert!(
            s.lines()
                .any(|l| l.contains(&format!(" {keys} ")) && l.contains(first)),
            "{keys} ({what}) missing from the help at {w}×{h}:\n{s}"
        );
    }
}

#[test]
fn help_is_whole_at_80x24_and_120x40() {
    help_is_whole(80, 24);
    help_is_whole(120, 40);
}

#[test]
fn heatmap_finds_the_market_at_three_sizes() {
    let v = view_after(&[excerpt()], 20_000);
    let sv = &v.symbols[0];
    let mut ui = UiState::default();
    ui.heatmap = true;
    for (w, h) in [(80u16, 24u16), (120, 40), (200, 60)] {
        let s = screen(&v, &ui, w, h);
        insta::assert_snapshot!(format!("heatmap_{w}x{h}"), s);
        assert!(s.contains("Liquidity heatmap BTCUSDT"), "{s}");
        assert!(s.contains("auto"), "auto-scaled, centred");
        // The best bid and ask are drawn as lines (or one line where they share a row).
        assert!(s.contains('━') || s.contains('═'), "{s}");
    }
    // At 120×40 the rows hold several ticks each (auto-scaled to the book), the price axis is
    // labelled around the mid, and the time axis is in event time (the capture's 23:54).
    let s = screen(&v, &ui, 120, 40);
    assert!(!s.contains("· 1 tick/row"), "{s}");
    let mid = sv.mid.expect("mid");
    let labels: Vec<f64> = s
        .lines()
        .filter_map(|l| l.split('│').nth(3))
        .filter_map(|cell| cell.split_whitespace().next()?.parse::<f64>().ok())
        .collect();
    assert!(labels.len() > 5, "{s}");
    let (lo, hi) = labels
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(*x), b.max(*x)));
    assert!(lo < mid && mid < hi, "{lo} < {mid} < {hi}");
    assert!(s.contains("23:54:"), "event-time axis:\n{s}");
    // An unchanged view draws from the cached grid.
    let fills = ui.heat_cache.borrow().fills;
    let _ = screen(&v, &ui, 120, 40);
    assert_eq!(ui.heat_cache.borrow().fills, fills);
}

#[test]
fn heatmap_zoom_and_recentre_act_on_it() {
    let v = view_after(&[excerpt()], 20_000);
    let mut ui = UiState::default();
    ui.heatmap = true;
    let ticks = |s: &str| -> u64 {
        let t = s
            .split("Liquidity heatmap BTCUSDT · ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .expect("ticks in the title");
        t.parse().expect("a number")
    };
    let auto = ticks(&screen(&v, &ui, 120, 40));
    ui.heat.zoom_in();
    let s = screen(&v, &ui, 120, 40);
    assert!(ticks(&s) < auto && s.contains("c: auto"), "{s}");
    ui.heat.zoom_out();
    ui.heat.zoom_out();
    assert!(ticks(&screen(&v, &ui, 120, 40)) > auto);
    ui.heat.recentre();
    assert_eq!(ticks(&screen(&v, &ui, 120, 40)), auto);
}

#[test]
fn contiguous_ladder_shows_every_tick_at_three_sizes() {
    let v = view_after(&[excerpt()], 3_000);
    let sv = &v.symbols[0];
    let mut ui = UiState::default();
    ui.ladder.contiguous = true;
    for (w, h) in [(80u16, 24u16), (120, 40), (200, 60)] {
        let s = screen(&v, &ui, w, h);
        insta::assert_snapshot!(format!("contiguous_ladder_{w}x{h}"), s);
        assert!(s.contains("· DOM"), "{s}");
    }
    // The asks above the spread row go up one tick a row from the best ask, empty ones included.
    let s = screen(&v, &ui, 120, 40);
    let lines: Vec<&str> = s.lines().collect();
    let spread = lines
        .iter()
        .position(|l| l.contains("spread 0.01"))
        .expect("spread row");
    let price_at = |i: usize| -> f64 {
        lines[i]
            .trim_start_matches('│')
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a price")
    };
    let best_ask = sv.asks[0].price.to_f64();
    for k in 1..10 {
        let p = price_at(spread - k);
        assert!(
            (p - (best_ask + 0.01 * (k - 1) as f64)).abs() < 1e-6,
            "row {k} above the spread: {p}"
        );
        let p = price_at(spread + k);
        assert!((p - (sv.bids[0].price.to_f64() - 0.01 * (k - 1) as f64)).abs() < 1e-6);
    }
    // Levels: at most 5 a side.
    ui.ladder.levels = 5;
    let s = screen(&v, &ui, 120, 40);
    let ladder_rows = s
        .lines()
        .filter(|l| {
            l.trim_start_matches('│')
                .split_whitespace()
                .next()
                .is_some_and(|p| p.starts_with("618"))
        })
        .count();
    assert_eq!(ladder_rows, 10, "{s}");
    // Quote sizes: the best bid's size as notional.
    ui.ladder = Default::default();
    ui.ladder.quote = true;
    let s = screen(&v, &ui, 120, 40);
    assert!(s.contains("· quote"));
    let notional = sv.bids[0].qty.to_f64() * sv.bids[0].price.to_f64();
    let text = microstate::ui::render::fmt::qty(notional);
    let row = s
        .lines()
        .find(|l| {
            l.trim_start_matches('│')
                .starts_with(&format!("{:.2} ", sv.bids[0].price.to_f64()))
        })
        .expect("best bid row");
    assert!(row.contains(&text), "{text} in {row}");
    // An unchanged view draws from the cached rows.
    let fills = ui.ladder_cache.borrow().fills;
    let _ = screen(&v, &ui, 120, 40);
    assert_eq!(ui.ladder_cache.borrow().fills, fills);
}

#[test]
fn full_screen_ladder_and_heatmap_and_hidden_panels() {
    use microstate::ui::state::{FullScreen, Panel};
    let v = view_after(&[excerpt()], 20_000);
    for (w, h) in [(80u16, 24u16), (120, 40), (200, 60)] {
        let mut ui = UiState::default();
        ui.full = FullScreen::Ladder;
        ui.ladder.contiguous = true;
        let s = screen(&v, &ui, w, h);
        insta::assert_snapshot!(format!("full_ladder_{w}x{h}"), s);
        assert!(s.contains("Depth BTCUSDT") && !s.contains("Symbols") && !s.contains("Imbalance"));
        ui.full = FullScreen::Chart;
        ui.heatmap = true;
        let s = screen(&v, &ui, w, h);
        insta::assert_snapshot!(format!("full_heatmap_{w}x{h}"), s);
        assert!(s.contains("Liquidity heatmap") && !s.contains("Depth BTCUSDT"));
    }
    let mut ui = UiState::default();
    for p in [Panel::Latency, Panel::Symbols, Panel::Gauges] {
        ui.toggle_panel(p);
    }
    let s = screen(&v, &ui, 120, 40);
    assert!(!s.contains("Latency") && !s.contains("Symbols") && !s.contains("Imbalance"));
    assert!(s.contains("Depth BTCUSDT") && s.contains("Interpretation") && s.contains("Price"));
    ui.toggle_panel(Panel::Latency);
    assert!(screen(&v, &ui, 120, 40).contains("Latency"));
}
