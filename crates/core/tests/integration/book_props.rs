//! Property tests: the book against a naive BTreeMap model, and the sync machine against
//! "apply everything from an empty book", whatever the snapshot's timing.

use std::collections::BTreeMap;

use microstate_core::book::OrderBook;
use microstate_core::book::sync::{BookSync, DiffOutcome, Rules};
use microstate_core::num::{Price, Qty, Symbol};
use microstate_core::wire::{DepthUpdate, Level, Snapshot};
use proptest::prelude::*;

/// Both sides as (price, qty) mantissas, best first.
type Sides = (Vec<(u64, u64)>, Vec<(u64, u64)>);

#[derive(Default, Clone)]
struct Model {
    bids: BTreeMap<u64, u64>,
    asks: BTreeMap<u64, u64>,
}

impl Model {
    fn set(side: &mut BTreeMap<u64, u64>, l: &Level) {
        if l.qty.0 == 0 {
            side.remove(&l.price.0);
        } else {
            side.insert(l.price.0, l.qty.0);
        }
    }
    fn apply(&mut self, bids: &[Level], asks: &[Level]) {
        bids.iter().for_each(|l| Self::set(&mut self.bids, l));
        asks.iter().for_each(|l| Self::set(&mut self.asks, l));
    }
    fn top(&self, n: usize) -> Sides {
        (
            self.bids
                .iter()
                .rev()
                .take(n)
                .map(|(p, q)| (*p, *q))
                .collect(),
            self.asks.iter().take(n).map(|(p, q)| (*p, *q)).collect(),
        )
    }
}

fn top(b: &OrderBook, n: usize) -> Sides {
    (
        b.bids.top(n).map(|l| (l.price.0, l.qty.0)).collect(),
        b.asks.top(n).map(|l| (l.price.0, l.qty.0)).collect(),
    )
}

/// Levels on one side of a fixed mid (bids 1..=500, asks 501..=1000 ticks of 0.01), with a
/// third of them deletes, so valid input can never cross. Prices are scaled into real-looking
/// mantissas; a few far-away prices test the absence of a range limit.
fn levels(bid: bool) -> impl Strategy<Value = Vec<Level>> {
    // Near the mid: 1..=500 ticks of 0.01 on the own side. Far away (the `true` arm): prices
    // around 10 (bids) or around 10,000,000 (asks), so no range limit can hide them.
    let price =
        (prop::bool::weighted(0.1), 1u64..=500).prop_map(move |(far, t)| match (far, bid) {
            (false, true) => 6_000_000_000_000 + t * 1_000_000,
            (false, false) => 6_000_000_000_000 + (1001 - t) * 1_000_000,
            (true, true) => t * 1_000_000_000,
            (true, false) => 1_000_000_000_000_000 + t * 1_000_000_000,
        });
    let qty = prop_oneof![1 => Just(0u64), 2 => 1u64..=1_000_000_000];
    prop::collection::vec((price, qty), 0..30).prop_map(|v| {
        v.into_iter()
            .map(|(p, q)| Level {
                price: Price(p),
                qty: Qty(q),
            })
            .collect()
    })
}

fn diffs() -> impl Strategy<Value = Vec<(Vec<Level>, Vec<Level>)>> {
    prop::collection::vec((levels(true), levels(false)), 1..60)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever the tick the book's window runs on: inferred from the snapshot (`None`), the
    /// prices' own tick (0.01), one that does not divide them (0.03), one far too fine (1e-8:
    /// the window spans 0.00032768, so nearly every level is outside it) or coarse enough that
    /// the far levels fall inside the window's span while off its grid (1.0, 7.0).
    #[test]
    fn book_equals_model_after_every_diff(
        snap_b in levels(true),
        snap_a in levels(false),
        ds in diffs(),
        tick in prop_oneof![
            Just(None),
            Just(Some(1_000_000u64)),
            Just(Some(3_000_000)),
            Just(Some(1)),
            Just(Some(100_000_000)),
            Just(Some(700_000_000)),
        ],
    ) {
        let mut book = OrderBook::new();
        book.set_tick(tick.map(Price));
        let mut model = Model::default();
        book.load(&snap_b, &snap_a, 1);
        model.apply(&snap_b, &snap_a);
        prop_assert_eq!(top(&book, 20), model.top(20));
        for (i, (b, a)) in ds.iter().enumerate() {
            book.apply(b, a, 2 + i as u64);
            model.apply(b, a);
            prop_assert_eq!(top(&book, 20), model.top(20));
            prop_assert_eq!(top(&book, usize::MAX), model.top(usize::MAX));
            prop_assert!(!book.is_crossed());
            let bbo = book.bbo();
            prop_assert_eq!(bbo.bid.map(|l| (l.price.0, l.qty.0)), model.bids.iter().next_back().map(|(p, q)| (*p, *q)));
            prop_assert_eq!(bbo.ask.map(|l| (l.price.0, l.qty.0)), model.asks.iter().next().map(|(p, q)| (*p, *q)));
        }
    }

    /// Whatever diff the snapshot is taken at, and however many diffs arrive before it, the
    /// synced book ends equal to applying every diff to an empty book.
    #[test]
    fn sync_reaches_the_full_book_for_any_snapshot_timing(
        ds in diffs(),
        widths in prop::collection::vec(1u64..4, 60),
        snap_at in 0usize..60,
        arrive_after in 0usize..60,
        futures in any::<bool>(),
    ) {
        let n = ds.len();
        let snap_at = snap_at % (n + 1);
        let arrive_after = snap_at + arrive_after % (n - snap_at + 1);
        // Contiguous ids: diff i covers [first_i, last_i].
        let mut updates = Vec::new();
        let mut next = 100u64;
        for (i, (b, a)) in ds.iter().enumerate() {
            let first = next;
            let last = first + widths[i] - 1;
            updates.push(DepthUpdate {
                symbol: Symbol::new(b"T").expect("sym"),
                event_time_ms: i as u64,
                transact_time_ms: None,
                first_id: first,
                final_id: last,
                prev_final_id: futures.then_some(first - 1),
                bids: b.clone(),
                asks: a.clone(),
            });
            next = last + 1;
        }
        let mut model = Model::default();
        for u in &updates[..snap_at] {
            model.apply(&u.bids, &u.asks);
        }
        // Spot: the snapshot id is the last id it contains. Futures: the bridging rule is
        // `U <= lid <= u`, so a snapshot at exactly a diff's `u` re-applies that diff (harmless:
        // quantities are absolute), and a snapshot before any diff sits inside the first one.
        let lid = match (snap_at, futures) {
            (0, false) => 99,
            (0, true) => updates[0].first_id,
            (k, _) => updates[k - 1].final_id,
        };
        let reapplied = usize::from(futures && snap_at > 0);
        let snapshot = Snapshot {
            symbol: None,
            last_update_id: lid,
            event_time_ms: None,
            transact_time_ms: None,
            bids: model.bids.iter().map(|(p, q)| Level { price: Price(*p), qty: Qty(*q) }).collect(),
            asks: model.asks.iter().map(|(p, q)| Level { price: Price(*p), qty: Qty(*q) }).collect(),
        };
        let mut full = Model::default();
        for u in &updates {
            full.apply(&u.bids, &u.asks);
        }
        let mut s = BookSync::new(None, 10_000);
        let mut noop = |_: &OrderBook, _: &DepthUpdate| {};
        for u in &updates[..arrive_after] {
            prop_assert_eq!(s.on_diff(u, &mut noop), DiffOutcome::Buffered);
        }
        s.on_snapshot(&snapshot, &mut noop);
        for u in &updates[arrive_after..] {
            prop_assert_eq!(s.on_diff(u, &mut noop), DiffOutcome::Applied);
        }
        prop_assert_eq!(s.rules(), Some(if futures { Rules::Futures } else { Rules::Spot }));
        prop_assert_eq!(s.counters().gaps, 0);
        if snap_at < n {
            prop_assert!(s.is_synced());
            prop_assert_eq!(s.book().last_update_id, updates[n - 1].final_id);
            prop_assert_eq!(s.counters().applied as usize, n - snap_at + reapplied);
            prop_assert_eq!(s.counters().dropped_before_sync as usize, snap_at - reapplied);
        }
        prop_assert_eq!(top(s.book(), usize::MAX), full.top(usize::MAX));
    }

    /// Removing any one diff after the bridge is exactly one gap, and the book stops syncing.
    #[test]
    fn any_missing_diff_is_one_gap(ds in diffs(), drop_at in 1usize..60, futures in any::<bool>()) {
        prop_assume!(ds.len() >= 3);
        let drop_at = 1 + drop_at % (ds.len() - 2);
        let mut s = BookSync::new(None, 10_000);
        let mut noop = |_: &OrderBook, _: &DepthUpdate| {};
        s.on_snapshot(&Snapshot { last_update_id: 99, ..Default::default() }, &mut noop);
        let mut gaps = 0;
        for (i, (b, a)) in ds.iter().enumerate() {
            if i == drop_at {
                continue;
            }
            let first = 100 + i as u64 * 2;
            let u = DepthUpdate {
                symbol: Symbol::new(b"T").expect("sym"),
                first_id: first,
                final_id: first + 1,
                prev_final_id: futures.then_some(first - 1),
                bids: b.clone(),
                asks: a.clone(),
                ..Default::default()
            };
            if let DiffOutcome::Gap(_) = s.on_diff(&u, &mut noop) {
                gaps += 1;
            }
        }
        prop_assert_eq!(gaps, 1);
        prop_assert!(!s.is_synced());
        prop_assert_eq!(s.counters().gaps, 1);
    }
}
