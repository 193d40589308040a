//! What the screen remembers between frames: the selected symbol, zoom, which view, overlays,
//! and the ladder's changes since the last view (for the flash).
//!
//! Owns: `UiState`. Must not touch: market state (read from the `View` only), terminal I/O.

use std::collections::HashMap;

use microstate_core::view::View;

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
}

impl UiState {
    pub fn ticks_per_row(&self) -> u32 {
        ZOOMS[self.zoom.min(ZOOMS.len() - 1)]
    }

    /// The selected symbol's index, clamped to what the view has.
    pub fn symbol_index(&self, view: &View) -> usize {
        self.selected.min(view.symbols.len().saturating_sub(1))
    }

    /// Takes a new view: records how each ladder row's quantity changed (grew / shrank) since
    /// the last one, for the flash. A symbol or zoom change starts afresh.
    pub fn on_view(&mut self, view: &View) {
        let Some(s) = view.symbols.get(self.symbol_index(view)) else {
            return;
        };
        let key = s.symbol.to_string();
        let rows = super::render::ladder::bucket_rows(s, self.ticks_per_row());
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
        self.prev_rows = now;
        self.prev_symbol = Some(key);
        self.prev_zoom = self.zoom;
    }
}
