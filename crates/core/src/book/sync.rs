//! Book synchronisation: Binance's documented diff-depth + snapshot procedure as a state machine.
//!
//! Owns: one symbol's [`OrderBook`], its sync state, the diffs buffered while no snapshot is
//! loaded, and the counters of what happened. Must not touch: I/O (it never fetches a snapshot:
//! it says when it needs one, [`BookSync::needs_snapshot`]), clocks.
//!
//! ```text
//!            diff: buffer                 snapshot            bridging diff
//! AwaitingSnapshot ───────────▶ AwaitingSnapshot ──────▶ Bridging ─────────────▶ Synced ◀─┐
//!        ▲                                                │ gap                   │ next │
//!        └───────────────────── gap {expected, got} ◀─────┴───────────────────────┴──────┘
//! ```
//!
//! Spot: drop diffs with `u <= lastUpdateId`; the first applied satisfies
//! `U <= lastUpdateId+1 <= u`; afterwards `U == previous u + 1`.
//! Futures (USD-M, COIN-M): drop `u < lastUpdateId`; the first applied satisfies
//! `U <= lastUpdateId <= u`; afterwards `pu == previous u`.
//!
//! A diff that lies wholly at or before the last applied id (`u <= previous u`, a duplicate or a
//! replay of old data) is ignored and counted as `stale`, as Binance's procedure says ("if the
//! event's u is below the local book's update id, ignore it"); applying it could only move levels
//! backwards. Anything else out of sequence is a [`Gap`]: counted, the book leaves `Synced`, the
//! offending diff is buffered, and a new snapshot is needed. A snapshot that arrives while the
//! book is synced is not loaded (it could only be older than or equal to the book) and counted
//! as ignored.
//!
//! Ids that cannot be right are refused before any of that, counted in `bad_ids`: a diff with
//! `U > u`, a diff or snapshot at `u` = 2^64 − 1 (nothing could follow it: every later diff
//! would be "stale" while the book showed synced). And a run of `max_stale_run` stale diffs
//! in a row while synced means the book's id ran ahead of the stream (a bogus huge `u` got
//! in): it is taken as a gap (`stale_runs`), so the symbol resyncs instead of freezing.

use std::collections::VecDeque;

use super::OrderBook;
use crate::num::UpdateId;
use crate::wire::{DepthUpdate, Snapshot};

/// Which of Binance's two sequencing procedures applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rules {
    /// Spot: contiguous `U == previous u + 1`.
    Spot,
    /// USD-M and COIN-M futures: `pu == previous u`.
    Futures,
}

/// A break in the update-id chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Gap {
    /// The id the rules required (`U` for spot, `pu` for futures; at bridging time the id the
    /// first diff had to cover).
    pub expected: UpdateId,
    /// The id the diff carried.
    pub got: UpdateId,
}

/// Where the machine is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncState {
    /// No usable snapshot: diffs are buffered.
    AwaitingSnapshot,
    /// Snapshot loaded; waiting for the diff that bridges it.
    Bridging { snapshot_id: UpdateId },
    /// Every diff since the snapshot applied, in sequence.
    Synced { last_final_id: UpdateId },
}

/// The state as users see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Never synced yet.
    Syncing,
    Synced,
    /// Lost sync after a gap; waiting for a new snapshot to bridge.
    Resyncing,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Syncing => "syncing",
            Phase::Synced => "synced",
            Phase::Resyncing => "resyncing",
        }
    }
}

/// What happened to one diff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffOutcome {
    Applied,
    Buffered,
    /// Older than the snapshot being bridged.
    DroppedBeforeSync,
    /// Wholly at or before the last applied id.
    Stale,
    Gap(Gap),
    /// Ids that cannot be right (`U > u`, or `u` = 2^64 − 1): refused, counted in `bad_ids`.
    Rejected,
}

/// What happened to one snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotOutcome {
    Loaded,
    /// The book was synced, or the snapshot was not newer than the one being bridged.
    Ignored,
}

/// Counters, monotonically increasing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncCounters {
    pub applied: u64,
    pub dropped_before_sync: u64,
    pub stale: u64,
    pub gaps: u64,
    /// Times the book became synced again after a gap.
    pub resyncs: u64,
    pub snapshots: u64,
    pub snapshots_ignored: u64,
    /// Diffs after which the book was crossed (best bid ≥ best ask).
    pub crossed_events: u64,
    /// Buffered diffs shed because the buffer was full (oldest first).
    pub buffer_overflow: u64,
    /// Diffs and snapshots refused for impossible ids (see [`DiffOutcome::Rejected`]).
    pub bad_ids: u64,
    /// Runs of stale diffs long enough to be taken as a gap.
    pub stale_runs: u64,
}

/// One symbol's book and its synchronisation.
#[derive(Clone, Debug)]
pub struct BookSync {
    book: OrderBook,
    state: SyncState,
    rules: Option<Rules>,
    buffer: VecDeque<DepthUpdate>,
    max_buffer: usize,
    /// Consecutive stale diffs while synced, and the run taken as a gap.
    stale_run: u64,
    max_stale_run: u64,
    after_gap: bool,
    last_gap: Option<Gap>,
    counters: SyncCounters,
}

/// Default bound of the pre-snapshot diff buffer.
pub const DEFAULT_MAX_BUFFER: usize = 10_000;

impl BookSync {
    /// `rules`: `None` reads them from the data (the first diff with `pu` means futures).
    pub fn new(rules: Option<Rules>, max_buffer: usize) -> Self {
        BookSync {
            book: OrderBook::new(),
            state: SyncState::AwaitingSnapshot,
            rules,
            buffer: VecDeque::new(),
            max_buffer: max_buffer.max(1),
            stale_run: 0,
            max_stale_run: crate::limits::DEFAULT_MAX_STALE_RUN,
            after_gap: false,
            last_gap: None,
            counters: SyncCounters::default(),
        }
    }

    /// Sets the run of stale diffs (while synced) taken as a gap; at least 1.
    pub fn with_max_stale_run(mut self, n: u64) -> Self {
        self.max_stale_run = n.max(1);
        self
    }

    pub fn book(&self) -> &OrderBook {
        &self.book
    }
    pub fn state(&self) -> SyncState {
        self.state
    }
    pub fn rules(&self) -> Option<Rules> {
        self.rules
    }
    pub fn counters(&self) -> &SyncCounters {
        &self.counters
    }
    pub fn last_gap(&self) -> Option<Gap> {
        self.last_gap
    }
    /// Diffs waiting for a snapshot.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }
    pub fn is_synced(&self) -> bool {
        matches!(self.state, SyncState::Synced { .. })
    }
    /// True while a (new) snapshot is required to make progress.
    pub fn needs_snapshot(&self) -> bool {
        self.state == SyncState::AwaitingSnapshot
    }
    pub fn phase(&self) -> Phase {
        match self.state {
            SyncState::Synced { .. } => Phase::Synced,
            _ if self.after_gap => Phase::Resyncing,
            _ => Phase::Syncing,
        }
    }

    /// Feeds one diff. `on_applied` runs after each diff that reaches the book.
    pub fn on_diff(
        &mut self,
        d: &DepthUpdate,
        on_applied: &mut dyn FnMut(&OrderBook, &DepthUpdate),
    ) -> DiffOutcome {
        if d.first_id > d.final_id || d.final_id == UpdateId::MAX {
            self.counters.bad_ids += 1;
            return DiffOutcome::Rejected;
        }
        let rules = *self.rules.get_or_insert(if d.prev_final_id.is_some() {
            Rules::Futures
        } else {
            Rules::Spot
        });
        let outcome = match self.state {
            SyncState::AwaitingSnapshot => {
                if self.buffer.len() >= self.max_buffer {
                    self.buffer.pop_front();
                    self.counters.buffer_overflow += 1;
                }
                self.buffer.push_back(d.clone());
                return DiffOutcome::Buffered;
            }
            SyncState::Bridging { snapshot_id: lid } => match rules {
                Rules::Spot if d.final_id <= lid => DiffOutcome::DroppedBeforeSync,
                Rules::Spot if d.first_id <= lid.saturating_add(1) => DiffOutcome::Applied,
                Rules::Spot => DiffOutcome::Gap(Gap {
                    expected: lid.saturating_add(1),
                    got: d.first_id,
                }),
                Rules::Futures if d.final_id < lid => DiffOutcome::DroppedBeforeSync,
                Rules::Futures if d.first_id <= lid => DiffOutcome::Applied,
                Rules::Futures => DiffOutcome::Gap(Gap {
                    expected: lid,
                    got: d.first_id,
                }),
            },
            SyncState::Synced {
                last_final_id: last,
            } => {
                let next = last.checked_add(1);
                let continues = match rules {
                    Rules::Spot => next == Some(d.first_id),
                    // Futures data without `pu` (rules forced by the user): fall back on U.
                    Rules::Futures => match d.prev_final_id {
                        Some(pu) => pu == last,
                        None => next == Some(d.first_id),
                    },
                };
                let expected = match rules {
                    Rules::Spot => last.saturating_add(1),
                    Rules::Futures => last,
                };
                if continues {
                    DiffOutcome::Applied
                } else if d.final_id <= last && self.stale_run + 1 < self.max_stale_run {
                    self.stale_run += 1;
                    DiffOutcome::Stale
                } else if d.final_id <= last {
                    // Every diff for a long run is "older" than the book: the book's id ran
                    // ahead of the stream. Resync rather than freeze.
                    self.counters.stale_runs += 1;
                    tracing::warn!(
                        last_update_id = last,
                        got = d.first_id,
                        run = self.max_stale_run,
                        "every recent diff is older than the book: the chain is broken, resyncing"
                    );
                    DiffOutcome::Gap(Gap {
                        expected,
                        got: d.first_id,
                    })
                } else {
                    DiffOutcome::Gap(Gap {
                        expected,
                        got: match (rules, d.prev_final_id) {
                            (Rules::Futures, Some(pu)) => pu,
                            _ => d.first_id,
                        },
                    })
                }
            }
        };
        match outcome {
            DiffOutcome::Applied => {
                self.stale_run = 0;
                self.book.apply(&d.bids, &d.asks, d.final_id);
                self.state = SyncState::Synced {
                    last_final_id: d.final_id,
                };
                self.counters.applied += 1;
                if self.after_gap {
                    self.after_gap = false;
                    self.counters.resyncs += 1;
                }
                if self.book.is_crossed() {
                    self.counters.crossed_events += 1;
                }
                on_applied(&self.book, d);
            }
            DiffOutcome::DroppedBeforeSync => self.counters.dropped_before_sync += 1,
            DiffOutcome::Stale => self.counters.stale += 1,
            DiffOutcome::Gap(g) => {
                self.stale_run = 0;
                self.counters.gaps += 1;
                self.last_gap = Some(g);
                self.after_gap = true;
                self.state = SyncState::AwaitingSnapshot;
                self.buffer.clear();
                self.buffer.push_back(d.clone());
            }
            DiffOutcome::Buffered | DiffOutcome::Rejected => {}
        }
        outcome
    }

    /// Feeds a REST snapshot; buffered diffs are replayed against it at once.
    pub fn on_snapshot(
        &mut self,
        s: &Snapshot,
        on_applied: &mut dyn FnMut(&OrderBook, &DepthUpdate),
    ) -> SnapshotOutcome {
        self.counters.snapshots += 1;
        if s.last_update_id == UpdateId::MAX {
            // No diff could ever follow it: refused like such a diff.
            self.counters.bad_ids += 1;
            self.counters.snapshots_ignored += 1;
            return SnapshotOutcome::Ignored;
        }
        match self.state {
            SyncState::Synced { .. } => {
                self.counters.snapshots_ignored += 1;
                return SnapshotOutcome::Ignored;
            }
            SyncState::Bridging { snapshot_id } if s.last_update_id <= snapshot_id => {
                self.counters.snapshots_ignored += 1;
                return SnapshotOutcome::Ignored;
            }
            _ => {}
        }
        self.book.load(&s.bids, &s.asks, s.last_update_id);
        self.state = SyncState::Bridging {
            snapshot_id: s.last_update_id,
        };
        let buffered = std::mem::take(&mut self.buffer);
        for d in &buffered {
            self.on_diff(d, on_applied);
        }
        SnapshotOutcome::Loaded
    }

    /// Forgets the book and waits for a new snapshot (e.g. after a reconnect).
    pub fn reset(&mut self) {
        if !matches!(self.state, SyncState::AwaitingSnapshot) {
            self.after_gap = self.counters.applied > 0 || self.after_gap;
        }
        self.state = SyncState::AwaitingSnapshot;
        self.stale_run = 0;
        self.buffer.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::num::{Price, Qty, Symbol};
    use crate::wire::Level;

    fn diff(first: u64, last: u64, pu: Option<u64>, bid: u64) -> DepthUpdate {
        DepthUpdate {
            symbol: Symbol::new(b"X").unwrap_or_default(),
            event_time_ms: 0,
            transact_time_ms: None,
            first_id: first,
            final_id: last,
            prev_final_id: pu,
            bids: vec![Level {
                price: Price(bid),
                qty: Qty(1),
            }],
            asks: vec![],
        }
    }

    fn snap(lid: u64) -> Snapshot {
        Snapshot {
            last_update_id: lid,
            ..Default::default()
        }
    }

    fn run(s: &mut BookSync, d: DepthUpdate) -> DiffOutcome {
        s.on_diff(&d, &mut |_, _| {})
    }

    #[test]
    fn spot_procedure_table() {
        let mut s = BookSync::new(None, 100);
        assert_eq!(run(&mut s, diff(1, 5, None, 1)), DiffOutcome::Buffered);
        assert_eq!(run(&mut s, diff(6, 9, None, 2)), DiffOutcome::Buffered);
        assert_eq!(run(&mut s, diff(10, 12, None, 3)), DiffOutcome::Buffered);
        assert_eq!(
            s.on_snapshot(&snap(7), &mut |_, _| {}),
            SnapshotOutcome::Loaded
        );
        // 1..5 dropped, 6..9 bridges 8, 10..12 continues.
        assert_eq!(s.counters().dropped_before_sync, 1);
        assert_eq!(s.counters().applied, 2);
        assert_eq!(s.state(), SyncState::Synced { last_final_id: 12 });
        assert_eq!(run(&mut s, diff(10, 12, None, 4)), DiffOutcome::Stale);
        assert_eq!(run(&mut s, diff(13, 13, None, 4)), DiffOutcome::Applied);
        assert_eq!(
            run(&mut s, diff(15, 16, None, 5)),
            DiffOutcome::Gap(Gap {
                expected: 14,
                got: 15
            })
        );
        assert_eq!(s.phase(), Phase::Resyncing);
        assert!(s.needs_snapshot());
        assert_eq!(run(&mut s, diff(17, 18, None, 5)), DiffOutcome::Buffered);
        s.on_snapshot(&snap(16), &mut |_, _| {});
        assert_eq!(s.state(), SyncState::Synced { last_final_id: 18 });
        assert_eq!(s.counters().resyncs, 1);
        assert_eq!(s.counters().gaps, 1);
    }

    #[test]
    fn spot_snapshot_too_old_is_a_gap() {
        let mut s = BookSync::new(Some(Rules::Spot), 100);
        run(&mut s, diff(10, 12, None, 1));
        s.on_snapshot(&snap(5), &mut |_, _| {});
        assert_eq!(
            s.last_gap(),
            Some(Gap {
                expected: 6,
                got: 10
            })
        );
        assert!(s.needs_snapshot());
        assert_eq!(s.buffered(), 1);
    }

    #[test]
    fn futures_procedure_table() {
        let mut s = BookSync::new(None, 100);
        run(&mut s, diff(1, 4, Some(0), 1));
        run(&mut s, diff(5, 9, Some(4), 2));
        run(&mut s, diff(10, 15, Some(9), 3));
        s.on_snapshot(&snap(9), &mut |_, _| {});
        assert_eq!(s.rules(), Some(Rules::Futures));
        // u < 9 dropped; 5..9 contains 9 → applied; 10..15 with pu 9 continues.
        assert_eq!(s.counters().dropped_before_sync, 1);
        assert_eq!(s.counters().applied, 2);
        assert_eq!(
            run(&mut s, diff(18, 20, Some(16), 3)),
            DiffOutcome::Gap(Gap {
                expected: 15,
                got: 16
            })
        );
    }

    #[test]
    fn snapshot_while_synced_is_ignored() {
        let mut s = BookSync::new(Some(Rules::Spot), 100);
        s.on_snapshot(&snap(1), &mut |_, _| {});
        run(&mut s, diff(2, 3, None, 1));
        assert_eq!(
            s.on_snapshot(&snap(2), &mut |_, _| {}),
            SnapshotOutcome::Ignored
        );
        assert_eq!(s.book().last_update_id, 3);
    }

    /// A diff with `u` = 2^64 − 1 used to be applied, and every later diff was then "stale"
    /// while the book showed synced, for ever. Now it is refused; a bogus `u` short of that
    /// freezes the book only for `max_stale_run` diffs, then it is a gap.
    #[test]
    fn a_huge_u_never_freezes_a_synced_book() {
        for rules in [Rules::Spot, Rules::Futures] {
            let pu = |x: u64| (rules == Rules::Futures).then_some(x);
            let mut s = BookSync::new(Some(rules), 100).with_max_stale_run(5);
            s.on_snapshot(&snap(10), &mut |_, _| {});
            assert_eq!(run(&mut s, diff(9, 12, pu(8), 1)), DiffOutcome::Applied);
            assert_eq!(
                run(&mut s, diff(13, u64::MAX, pu(12), 2)),
                DiffOutcome::Rejected
            );
            assert_eq!(run(&mut s, diff(14, 12, pu(12), 2)), DiffOutcome::Rejected);
            assert_eq!(s.counters().bad_ids, 2);
            assert_eq!(run(&mut s, diff(13, 14, pu(12), 2)), DiffOutcome::Applied);
            assert!(s.is_synced());
            // Just short of the end of the id space: taken in (it continues the chain)...
            let huge = u64::MAX - 1;
            assert_eq!(run(&mut s, diff(15, huge, pu(14), 3)), DiffOutcome::Applied);
            // ...then the real stream looks stale, until the run is long enough: a gap.
            let mut outcomes = Vec::new();
            for i in 0..5 {
                outcomes.push(run(&mut s, diff(16 + i, 16 + i, pu(15 + i), 4)));
            }
            assert_eq!(outcomes[..4], [DiffOutcome::Stale; 4]);
            assert!(matches!(outcomes[4], DiffOutcome::Gap(_)), "{outcomes:?}");
            assert_eq!(s.counters().stale_runs, 1);
            assert_eq!(s.phase(), Phase::Resyncing);
            assert!(s.needs_snapshot());
            // A new snapshot brings it back.
            s.on_snapshot(&snap(20), &mut |_, _| {});
            assert_eq!(run(&mut s, diff(21, 22, pu(20), 5)), DiffOutcome::Applied);
            assert!(s.is_synced());
            // A snapshot at 2^64 − 1 is refused too.
            let mut s = BookSync::new(Some(rules), 100);
            assert_eq!(
                s.on_snapshot(&snap(u64::MAX), &mut |_, _| {}),
                SnapshotOutcome::Ignored
            );
            assert!(s.needs_snapshot());
        }
    }

    #[test]
    fn buffer_is_bounded() {
        let mut s = BookSync::new(Some(Rules::Spot), 2);
        for i in 0..5 {
            run(&mut s, diff(i * 2 + 1, i * 2 + 2, None, 1));
        }
        assert_eq!(s.buffered(), 2);
        assert_eq!(s.counters().buffer_overflow, 3);
    }
}
