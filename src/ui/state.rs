//! What the screen remembers between frames: the selected symbol, zoom, which view, overlays,
//! the ladder's rows of this frame and their changes since the last view (for the flash).
//!
//! Owns: `UiState`. Must not touch: market state (read from the `View` only), terminal I/O.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use microstate_core::book::sync::Phase;
use microstate_core::num::{Price, Symbol};
use microstate_core::view::{SymbolView, View};

use super::depth::{Row, bucket_rows};
use super::heat::{HeatCache, HeatView};
use super::prompt::Prompt;
use super::sort::{SortBy, order};

/// A panel that can be hidden (F2…F7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Panel {
    Ladder,
    Chart,
    /// Imbalance · OFI, pressure, trend · forecast.
    Gauges,
    Interpretation,
    Latency,
    Symbols,
}

impl Panel {
    pub const ALL: [Panel; 6] = [
        Panel::Ladder,
        Panel::Chart,
        Panel::Gauges,
        Panel::Interpretation,
        Panel::Latency,
        Panel::Symbols,
    ];

    /// The panel of a key's index (out of range: the last).
    pub fn from_index(i: u8) -> Panel {
        Panel::ALL[usize::from(i).min(Panel::ALL.len() - 1)]
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// Its name in `[ui.keys]` (`panel_ladder`) and `[ui.layout] hide`.
    pub fn name(self) -> &'static str {
        match self {
            Panel::Ladder => "ladder",
            Panel::Chart => "chart",
            Panel::Gauges => "gauges",
            Panel::Interpretation => "interpretation",
            Panel::Latency => "latency",
            Panel::Symbols => "symbols",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Panel::Ladder => "show/hide the ladder",
            Panel::Chart => "show/hide the chart/heatmap",
            Panel::Gauges => "show/hide imbalance…trend",
            Panel::Interpretation => "show/hide interpretation",
            Panel::Latency => "show/hide latency",
            Panel::Symbols => "show/hide the symbols table",
        }
    }

    pub fn by_name(name: &str) -> Option<Panel> {
        Panel::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// The screen's body: the normal layout, or one panel on all of it (`f`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FullScreen {
    #[default]
    Off,
    Ladder,
    /// The price chart or the heatmap (`h` chooses).
    Chart,
}

impl FullScreen {
    /// Off → ladder → chart → off.
    pub fn next(self) -> FullScreen {
        match self {
            FullScreen::Off => FullScreen::Ladder,
            FullScreen::Ladder => FullScreen::Chart,
            FullScreen::Chart => FullScreen::Off,
        }
    }
}

/// How the ladder is drawn (`[ui.ladder]`, `d` and `$`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LadderOptions {
    /// Every tick (bucket) in the visible range, empty ones included, as a DOM shows it.
    pub contiguous: bool,
    /// Sizes as notional in the quote currency.
    pub quote: bool,
    /// Rows per side at most (0: as many as fit).
    pub levels: usize,
}

/// Ticks per ladder row, in zoom order.
pub const ZOOMS: [u32; 8] = [1, 2, 5, 10, 20, 50, 100, 500];

/// The screen's own state.
#[derive(Clone, Debug, Default)]
pub struct UiState {
    pub selected: usize,
    /// Index into [`ZOOMS`].
    pub zoom: usize,
    pub heatmap: bool,
    pub help: bool,
    /// Live: the screen shows this view instead of new ones (space).
    pub frozen: bool,
    /// Index of the latency stage drawn as a histogram.
    pub latency_stage: usize,
    /// A short message for the status line (what the last key did, or why it did nothing).
    pub message: Option<String>,
    /// Ladder: quantity change per row key (price bucket) since the previous view.
    pub deltas: HashMap<i64, f64>,
    prev_rows: HashMap<i64, f64>,
    prev_symbol: Option<String>,
    prev_zoom: usize,
    /// The screen's own stage: view published → drawn (ns).
    pub drawn: Option<microstate_core::latency::StageHist>,
    /// Its percentiles as the latency panel shows them, refreshed at most twice a second
    /// (reading quantiles off the histogram on every frame cost more than drawing the panel).
    pub drawn_view: Option<microstate_core::view::StageView>,
    /// The selected symbol's ladder rows, bucketed once per view and zoom ([`Self::prepare`]).
    rows: Option<(RowsKey, Vec<Row>)>,
    /// Time & sales panel shown (`t`).
    pub tape: bool,
    /// Volume-at-price panel shown (`v`).
    pub volume: bool,
    /// The tape highlights a taker order at least this big (base, quote); `None`: off.
    pub tape_large: (Option<f64>, Option<f64>),
    /// The open prompt (`a`, `g`, `!`), which takes the keys while open.
    pub prompt: Option<Prompt>,
    /// Symbols removed from the screen (`x`); their books keep running behind it.
    pub hidden: BTreeSet<Symbol>,
    /// Volume at price: the book at the reference moment, for pulled/stacked (`b` resets it;
    /// set when a symbol is first shown).
    pub reference: Option<SymbolView>,
    /// Alerts already seen (the bell rings for more).
    pub alerts_seen: u64,
    /// Where the last frame drew each panel (for the mouse).
    pub hits: super::mouse::Hits,
    /// The panel clicked last (its border is highlighted).
    pub focus: Option<super::mouse::Panel>,
    /// The ladder scrolled by the wheel: rows moved towards deeper asks (positive) or deeper
    /// bids (negative) from the centred view.
    pub ladder_scroll: i32,
    /// A symbol added while running (`a`), selected as soon as a view shows it.
    pub select_when_shown: Option<Symbol>,
    /// The symbols table's sort column (`o`) and direction (`O`).
    pub sort: SortBy,
    pub sort_desc: bool,
    /// The table's order for one view: (view seq, symbols, column, direction) → indices.
    order: Option<(OrderKey, Vec<usize>)>,
    /// The heatmap's zoom and position (`z` `Z` PgUp PgDn `c`).
    pub heat: HeatView,
    /// The heatmap's grid of the last frame, kept while nothing it depends on changes (drawing
    /// takes `&UiState`, hence the cell).
    pub heat_cache: RefCell<HeatCache>,
    /// Contiguous ladder, quote sizes, levels.
    pub ladder: LadderOptions,
    /// One panel on the whole body (`f`).
    pub full: FullScreen,
    /// Panels hidden (a bit per [`Panel`]).
    hidden_panels: u8,
    /// The ladder's text of the last frame, kept while nothing it depends on changes.
    pub ladder_cache: RefCell<LadderCache>,
    /// Advances whenever [`Self::deltas`] is recomputed (the ladder's flash depends on it).
    pub flash_gen: u64,
    /// The price chart's dot grid, reused from frame to frame (redrawn every frame: only its
    /// memory is kept).
    pub price_grid: RefCell<super::chart::PriceGrid>,
}

/// What the ladder's text depends on: the rows (book version and zoom), the options, the rows
/// that fit, the panel's width and the flash.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LadderKey {
    pub rows: RowsKey,
    pub options: LadderOptions,
    /// Ask rows above the spread row and bid rows below it.
    pub up: usize,
    pub down: usize,
    pub width: u16,
    pub flash_gen: u64,
}

/// Which side a ladder line is on, and its flash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LineSide {
    #[default]
    Ask,
    Bid,
}

/// One ladder row as text: price, quantity, cumulative quantity, the depth bar's length, the
/// flash (quantity grew +1, shrank −1) and whether the level is empty (contiguous ladder).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LadderLine {
    pub price: String,
    pub qty: String,
    pub cum: String,
    pub bar: u16,
    pub side: LineSide,
    pub flash: i8,
    pub empty: bool,
}

/// The ladder's lines (asks top to bottom, then bids), the blank rows above the asks and the
/// spread row, for one [`LadderKey`].
#[derive(Clone, Debug, Default)]
pub struct LadderCache {
    pub key: Option<LadderKey>,
    pub asks: Vec<LadderLine>,
    pub bids: Vec<LadderLine>,
    pub spread: String,
    pub price_w: usize,
    /// Times the text was rebuilt (a test checks that an unchanged view reuses it).
    pub fills: u64,
}

type OrderKey = (u64, usize, SortBy, bool);

/// What a symbol's ladder rows depend on: the symbol, the zoom, and the book's version (its
/// last update id and applied-diff count, which the engine advances with every change, and
/// what the view shows of it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RowsKey {
    symbol: Symbol,
    pub ticks: u32,
    phase: Phase,
    last_update_id: u64,
    applied: u64,
    levels: (usize, usize),
    tick: Option<Price>,
}

impl RowsKey {
    pub fn of(s: &SymbolView, ticks: u32) -> RowsKey {
        RowsKey {
            symbol: s.symbol,
            ticks,
            phase: s.phase,
            last_update_id: s.last_update_id,
            applied: s.applied,
            levels: (s.bids.len(), s.asks.len()),
            tick: s.tick_exact,
        }
    }
}

/// A symbol's book kept as a reference: its levels, without the history it shares with the
/// engine (holding that would make the engine copy it on its next write).
fn reference_of(s: &SymbolView) -> SymbolView {
    let mut r = s.clone();
    r.history = Arc::default();
    r.tape.clear();
    r.volume.clear();
    r
}

impl UiState {
    /// The state a screen starts in.
    pub fn with_panels(p: &super::PanelOptions) -> UiState {
        UiState {
            tape: p.tape,
            volume: p.volume,
            tape_large: p.tape_large,
            ladder: p.ladder,
            hidden_panels: Panel::ALL
                .iter()
                .zip(p.hidden_panels)
                .filter(|(_, hide)| *hide)
                .fold(0, |bits, (panel, _)| bits | panel.bit()),
            ..UiState::default()
        }
    }

    /// Is `p` shown?
    pub fn shows(&self, p: Panel) -> bool {
        self.hidden_panels & p.bit() == 0
    }

    /// Shows a hidden panel, hides a shown one.
    pub fn toggle_panel(&mut self, p: Panel) {
        self.hidden_panels ^= p.bit();
    }

    pub fn ticks_per_row(&self) -> u32 {
        ZOOMS[self.zoom.min(ZOOMS.len() - 1)]
    }

    /// Applies a mouse event ([`super::mouse::action`] at the last frame's hit map); `true`
    /// when something changed (redraw).
    pub fn on_mouse(&mut self, ev: &crossterm::event::MouseEvent, view: &View) -> bool {
        use super::mouse::{LADDER_SCROLL_MAX, MouseAction, action};
        let n = view.symbols.len();
        match action(ev, &self.hits, n) {
            None => false,
            Some(MouseAction::Click(panel, symbol)) => {
                if let Some(i) = symbol {
                    self.selected = i;
                }
                self.focus = Some(panel);
                true
            }
            Some(MouseAction::ScrollLadder(by)) => {
                self.ladder_scroll =
                    (self.ladder_scroll + by).clamp(-LADDER_SCROLL_MAX, LADDER_SCROLL_MAX);
                true
            }
            Some(MouseAction::StepSelection(by)) => {
                if n > 0 {
                    self.select_step(view, if by < 0 { n - 1 } else { 1 });
                }
                true
            }
        }
    }

    /// The symbols table's rows in order (indices into `view.symbols`): computed once per
    /// view and sort ([`Self::prepare`]), or now for a state that was not prepared.
    pub fn table_order(&self, view: &View) -> Cow<'_, [usize]> {
        let key = (view.seq, view.symbols.len(), self.sort, self.sort_desc);
        match &self.order {
            Some((k, o)) if *k == key => Cow::Borrowed(o),
            _ => Cow::Owned(order(view, self.sort, self.sort_desc)),
        }
    }

    /// Moves the selection `by` rows down the table (wrapping), in the table's order.
    pub fn select_step(&mut self, view: &View, by: usize) {
        let n = view.symbols.len();
        if n == 0 {
            return;
        }
        let cur = self.symbol_index(view);
        let o = self.table_order(view);
        let pos = o.iter().position(|&i| i == cur).unwrap_or(0);
        self.selected = o[(pos + by) % n];
    }

    /// The selected symbol's index, clamped to what the view has.
    pub fn symbol_index(&self, view: &View) -> usize {
        self.selected.min(view.symbols.len().saturating_sub(1))
    }

    /// Buckets the selected symbol's ladder rows for this view and zoom, unless that was done
    /// already: called before every frame, so the ladder is bucketed once per frame at most
    /// (and once per view when nothing else changes).
    pub fn prepare(&mut self, view: &View) {
        let key = (view.seq, view.symbols.len(), self.sort, self.sort_desc);
        if self.order.as_ref().is_none_or(|(k, _)| *k != key) {
            self.order = Some((key, order(view, self.sort, self.sort_desc)));
        }
        let Some(s) = view.symbols.get(self.symbol_index(view)) else {
            return;
        };
        let key = RowsKey::of(s, self.ticks_per_row());
        if self.rows.as_ref().is_none_or(|(k, _)| *k != key) {
            self.rows = Some((key, bucket_rows(s, key.ticks)));
        }
    }

    /// The ladder rows of `s` at `ticks` ticks per row: the prepared ones when they are
    /// these, else bucketed now (a state that was not prepared, as in tests).
    pub fn ladder_rows(&self, s: &SymbolView, ticks: u32) -> Cow<'_, [Row]> {
        match &self.rows {
            Some((k, rows)) if *k == RowsKey::of(s, ticks) => Cow::Borrowed(rows),
            _ => Cow::Owned(bucket_rows(s, ticks)),
        }
    }

    /// The view as the screen shows it: without the symbols removed with `x` (the same `Arc`
    /// when none are).
    pub fn visible(&self, view: Arc<View>) -> Arc<View> {
        if self.hidden.is_empty() {
            return view;
        }
        let mut v = (*view).clone();
        v.symbols.retain(|s| !self.hidden.contains(&s.symbol));
        Arc::new(v)
    }

    /// Makes the selected symbol's current book the reference for pulled/stacked.
    pub fn reset_reference(&mut self, view: &View) {
        self.reference = view.symbols.get(self.symbol_index(view)).map(reference_of);
    }

    /// Takes a new view: records how each ladder row's quantity changed (grew / shrank) since
    /// the last one, for the flash. A symbol or zoom change starts afresh.
    pub fn on_view(&mut self, view: &View) {
        if let Some(want) = self.select_when_shown
            && let Some(i) = view.symbols.iter().position(|s| s.symbol == want)
        {
            self.selected = i;
            self.select_when_shown = None;
        }
        let Some(s) = view.symbols.get(self.symbol_index(view)) else {
            return;
        };
        let key = s.symbol.to_string();
        if self
            .reference
            .as_ref()
            .is_none_or(|r| r.symbol != s.symbol || r.bids.is_empty() && r.asks.is_empty())
        {
            self.reference = Some(reference_of(s));
        }
        self.prepare(view);
        let rows = self.ladder_rows(s, self.ticks_per_row());
        let mut now: HashMap<i64, f64> = HashMap::with_capacity(rows.len());
        for r in rows.iter() {
            now.insert(r.key, r.qty);
        }
        self.deltas.clear();
        if self.prev_symbol.as_deref() == Some(key.as_str()) && self.prev_zoom == self.zoom {
            for (k, q) in &now {
                let before = self.prev_rows.get(k).copied().unwrap_or(0.0);
                if (q - before).abs() > 1e-12 {
                    self.deltas.insert(*k, q - before);
                }
            }
        }
        self.flash_gen = self.flash_gen.wrapping_add(1);
        self.prev_rows = now;
        self.prev_symbol = Some(key);
        self.prev_zoom = self.zoom;
    }
}
