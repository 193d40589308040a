//! Bounds on everything whose size the input decides, and the count of times each one tripped.
//!
//! Owns: [`Limits`] (the caps: bytes per line/frame, levels per diff or snapshot side, symbols
//! per session, feature-window entries, a run of stale diffs) and [`LimitCounters`] (how often
//! each cap turned input away). Must not touch: where the caps come from (the config crate's
//! `[limits]` section fills them), I/O. A tripped bound is counted and named, never a panic: the
//! engine refuses the frame or the symbol, the readers skip the line, the windows drop their
//! oldest entry.

use serde::Serialize;

/// Default byte cap of one capture line or one frame: 8 MiB (Binance's largest frames, a
/// 5,000-level snapshot, are ~250 KB).
pub const DEFAULT_MAX_LINE_BYTES: usize = 8 << 20;
/// Default cap of levels on one side of one diff or snapshot (Binance's deepest snapshot has
/// 5,000 per side).
pub const DEFAULT_MAX_LEVELS: usize = 10_000;
/// Default cap of symbols one engine keeps (Binance lists ~3,000 spot symbols).
pub const DEFAULT_MAX_SYMBOLS: usize = 10_000;
/// Default cap of entries per feature window stream (a 60 s window at 10,000 events/s).
pub const DEFAULT_MAX_WINDOW_ENTRIES: usize = 600_000;
/// Default run of consecutive stale diffs, while synced, taken as a broken chain (a book whose
/// last id ran ahead of the stream, e.g. after a diff with `u` = 2^64 − 1).
pub const DEFAULT_MAX_STALE_RUN: u64 = 1_000;

/// The caps. Every one is at least 1 (the config refuses 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one capture line or frame; longer ones are skipped while reading.
    pub max_line_bytes: usize,
    /// Levels on one side of one diff or snapshot; a longer one is refused whole.
    pub max_levels: usize,
    /// Symbols the engine keeps; frames of further symbols are refused.
    pub max_symbols: usize,
    /// Entries kept per feature-window stream, whatever the event clock says.
    pub max_window_entries: usize,
    /// Consecutive stale diffs while synced before the chain is declared broken (a gap).
    pub max_stale_run: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            max_levels: DEFAULT_MAX_LEVELS,
            max_symbols: DEFAULT_MAX_SYMBOLS,
            max_window_entries: DEFAULT_MAX_WINDOW_ENTRIES,
            max_stale_run: DEFAULT_MAX_STALE_RUN,
        }
    }
}

/// How many times each bound turned input away (monotonic).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LimitCounters {
    /// Lines or frames longer than `max_line_bytes`, skipped.
    pub line_bytes: u64,
    /// Diffs or snapshots with more than `max_levels` on a side, refused.
    pub levels: u64,
    /// Frames of symbols beyond `max_symbols`, refused.
    pub symbols: u64,
    /// Feature-window entries dropped early because a stream held `max_window_entries`.
    pub window_entries: u64,
    /// Runs of `max_stale_run` stale diffs turned into a gap.
    pub stale_runs: u64,
    /// Diffs whose ids cannot be right (`U > u`, or `u` = 2^64 − 1, which nothing can follow).
    pub bad_ids: u64,
}

impl LimitCounters {
    /// Adds another set (e.g. the readers' to the engine's).
    pub fn add(&mut self, o: &LimitCounters) {
        self.line_bytes += o.line_bytes;
        self.levels += o.levels;
        self.symbols += o.symbols;
        self.window_entries += o.window_entries;
        self.stale_runs += o.stale_runs;
        self.bad_ids += o.bad_ids;
    }

    /// No bound tripped.
    pub fn is_clear(&self) -> bool {
        *self == LimitCounters::default()
    }

    /// The bounds that tripped, by name, with their counts (empty when none did).
    pub fn tripped(&self) -> Vec<(&'static str, u64)> {
        [
            ("line_bytes", self.line_bytes),
            ("levels", self.levels),
            ("symbols", self.symbols),
            ("window_entries", self.window_entries),
            ("stale_runs", self.stale_runs),
            ("bad_ids", self.bad_ids),
        ]
        .into_iter()
        .filter(|&(_, n)| n > 0)
        .collect()
    }
}

/// Escapes control bytes (and other non-printing characters) of text that came from a file or
/// a peer, so it cannot drive the terminal when printed: `\x1b` becomes `\u{1b}`, a newline
/// `\n`. Printable text, including non-ASCII letters, is kept.
pub fn escape_controls(s: &str) -> String {
    if !s.chars().any(needs_escape) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// [`escape_controls`] for bytes (invalid UTF-8 shown as U+FFFD).
pub fn escape_bytes(b: &[u8]) -> String {
    escape_controls(&String::from_utf8_lossy(b))
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bytes_are_escaped_and_text_is_kept() {
        assert_eq!(escape_controls("plain ünï"), "plain ünï");
        assert_eq!(escape_controls("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(escape_controls("x\ny\r\u{7}"), "x\\ny\\r\\u{7}");
        assert_eq!(escape_controls("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(
            escape_bytes(b"\xff\x1b]0;t\x07"),
            "\u{fffd}\\u{1b}]0;t\\u{7}"
        );
    }

    #[test]
    fn tripped_names_only_what_tripped() {
        let mut c = LimitCounters::default();
        assert!(c.tripped().is_empty());
        c.add(&LimitCounters {
            levels: 2,
            bad_ids: 1,
            ..Default::default()
        });
        assert_eq!(c.tripped(), vec![("levels", 2), ("bad_ids", 1)]);
    }
}
