//! Per-stage latency histograms and the exchange clock offset.
//!
//! Owns: HDR histograms per stage (ns, 3 significant digits), each kept since the start and
//! over a rolling window (default the last 60 s, in slots), and the clock-offset estimator.
//! Must not touch: clocks — every sample arrives with its value and the time it belongs to
//! (`at_ns`), so live, replay and tests drive the same code; I/O.
//!
//! # Clock offset
//! `offset = exchange clock − local clock` (positive when the local clock is behind).
//! - **Active**: NTP-style samples from the exchange's time endpoint (offset at the midpoint of
//!   the round trip, uncertainty ±rtt/2). The estimate is the sample with the smallest round
//!   trip among the recent ones (`active_keep_ns`): the most certain.
//! - **Passive**: the lower envelope of `receive − E` over a window: the network delay is never
//!   negative, so `receive − E ≥ −offset`, and the smallest value seen is `min_delay − offset`.
//!   The estimate `−min(receive − E)` is biased by the smallest one-way delay (its
//!   uncertainty): corrected latencies are then ≥ 0 by construction within the window.
//! - In use: the active one while it is fresh, else the passive one.
//!
//! # Negative raw values
//! `receive − E` with a skewed local clock can be negative. It is recorded as it is: positive
//! values in the raw histogram, negative ones counted and kept (their magnitude) in a
//! histogram of their own — never dropped, never clamped to zero.

use std::collections::VecDeque;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest value a histogram holds (60 s); larger ones are saturated and counted.
pub const MAX_NS: u64 = 60_000_000_000;

/// The stages measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Stage {
    /// Exchange: trade/transaction time `T` → event time `E`.
    ExchangeTtoE,
    /// Network + clock: `E` → local receive, as measured (clock skew included).
    NetworkRaw,
    /// Network: `E` → local receive corrected by the clock offset in use.
    NetworkCorrected,
    /// Receive → taken off the queue by the engine loop.
    Queue,
    /// Taken → parsed.
    Parse,
    /// Parsed → book applied (sync, cross-check).
    Book,
    /// Feature update time.
    Features,
    /// Receive → the view showing it published.
    Publish,
    /// Published → drawn on screen.
    Draw,
    /// REST snapshot round trip.
    SnapshotRtt,
    /// (Re)connect → book synced.
    TimeToSynced,
}

impl Stage {
    pub const ALL: [Stage; 11] = [
        Stage::ExchangeTtoE,
        Stage::NetworkRaw,
        Stage::NetworkCorrected,
        Stage::Queue,
        Stage::Parse,
        Stage::Book,
        Stage::Features,
        Stage::Publish,
        Stage::Draw,
        Stage::SnapshotRtt,
        Stage::TimeToSynced,
    ];

    /// Name for the screen and the summary.
    pub fn name(self) -> &'static str {
        match self {
            Stage::ExchangeTtoE => "exchange T→E",
            Stage::NetworkRaw => "E→receive (raw)",
            Stage::NetworkCorrected => "E→receive (corrected)",
            Stage::Queue => "receive→engine",
            Stage::Parse => "parse",
            Stage::Book => "book apply",
            Stage::Features => "features",
            Stage::Publish => "receive→view",
            Stage::Draw => "view→drawn",
            Stage::SnapshotRtt => "snapshot round trip",
            Stage::TimeToSynced => "connect→synced",
        }
    }

    /// Key in the summary JSON.
    pub fn key(self) -> &'static str {
        match self {
            Stage::ExchangeTtoE => "exchange_t_to_e",
            Stage::NetworkRaw => "network_raw",
            Stage::NetworkCorrected => "network_corrected",
            Stage::Queue => "queue",
            Stage::Parse => "parse",
            Stage::Book => "book_apply",
            Stage::Features => "features",
            Stage::Publish => "publish",
            Stage::Draw => "draw",
            Stage::SnapshotRtt => "snapshot_rtt",
            Stage::TimeToSynced => "time_to_synced",
        }
    }
}

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_NS, 3)
        .expect("constant bounds 1 ns..60 s, 3 digits, are valid")
}

/// A window slot's histogram: the buckets of [`hist`] (lowest 1 ns, 3 significant digits, so
/// the same values land in the same buckets and give the same percentiles), but its counts
/// start at the first bucket and grow to the largest value recorded in it (auto-resize; values
/// are capped at [`MAX_NS`] before they get here), and are 32-bit (a bucket of one slot would
/// need 4·10⁹ samples in its few seconds to saturate). A slot is cleared every time the window
/// moves on, and clearing costs the length of its counts: 216 KiB for a 60 s range of 64-bit
/// counts, a few KiB for a stage of microseconds. A replay at full speed moves the window
/// thousands of times faster than live.
fn slot_hist() -> Histogram<u32> {
    let mut h = Histogram::new_with_bounds(1, 2, 3)
        .expect("constant bounds 1 ns..2 ns, 3 digits, are valid");
    h.auto(true);
    h
}

/// One stage: since-start and rolling-window histograms.
pub struct StageHist {
    pub total: Histogram<u64>,
    slots: Vec<(u64, Histogram<u32>)>,
    slot_ns: u64,
    /// The slot last written and the time range it covers: a sample inside it skips the
    /// division (the common case: samples come in time order).
    cur: usize,
    cur_from: u64,
    cur_to: u64,
    /// Values above [`MAX_NS`], saturated.
    pub saturated: u64,
    /// How often the slot being written (`cur`) has changed: while this stays the same, only
    /// that slot has been written, every other slot is as it was.
    moves: u64,
    /// The window's other slots, merged by the last [`StageHist::window`] and kept while they
    /// stay as they were: the next window then merges one slot (the current one) instead of
    /// all of them. The window merge is the costly part of a latency report; the screen asks
    /// for every stage's window twice a second.
    others: std::sync::Mutex<Option<Others>>,
}

/// See [`StageHist::others`]: the merged slots and what they were merged for.
struct Others {
    /// [`StageHist::moves`] then.
    moves: u64,
    /// The window's end (its epoch) and the current slot left out.
    now_epoch: u64,
    cur: usize,
    merged: Histogram<u64>,
}

impl Clone for StageHist {
    /// A copy of the counts; the merge cache starts empty.
    fn clone(&self) -> Self {
        StageHist {
            total: self.total.clone(),
            slots: self.slots.clone(),
            slot_ns: self.slot_ns,
            cur: self.cur,
            cur_from: self.cur_from,
            cur_to: self.cur_to,
            saturated: self.saturated,
            moves: self.moves,
            others: std::sync::Mutex::new(None),
        }
    }
}

impl std::fmt::Debug for StageHist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StageHist({} samples)", self.total.len())
    }
}

impl StageHist {
    pub fn new(window_ns: u64, slots: usize) -> Self {
        let n = slots.max(1);
        StageHist {
            total: hist(),
            slots: (0..n).map(|_| (u64::MAX, slot_hist())).collect(),
            slot_ns: (window_ns / n as u64).max(1),
            cur: 0,
            cur_from: 1,
            cur_to: 0,
            saturated: 0,
            moves: 0,
            others: std::sync::Mutex::new(None),
        }
    }

    /// Records `v` ns that happened at `at_ns` (the window's clock).
    #[inline]
    pub fn record(&mut self, at_ns: u64, v: u64) {
        let v = if v > MAX_NS {
            self.saturated += 1;
            MAX_NS
        } else {
            v.max(1)
        };
        self.total.saturating_record(v);
        if at_ns < self.cur_from || at_ns >= self.cur_to {
            let epoch = at_ns / self.slot_ns;
            let i = (epoch % self.slots.len() as u64) as usize;
            let slot = &mut self.slots[i];
            if slot.0 != epoch {
                slot.0 = epoch;
                slot.1.reset();
            }
            self.cur = i;
            self.moves += 1;
            self.cur_from = epoch * self.slot_ns;
            self.cur_to = self.cur_from.saturating_add(self.slot_ns);
        }
        // `record`, not `saturating_record`: the latter clamps to the current top instead of
        // growing the slot (`v` ≤ MAX_NS, so growing is bounded).
        let slot = &mut self.slots[self.cur].1;
        if slot.record(v).is_err() {
            slot.saturating_record(v);
        }
    }

    /// The rolling window ending at `now_ns`: the slots whose time lies within it.
    ///
    /// The slots other than the current one are merged once and kept (see
    /// [`StageHist::others`]) while no sample has gone to them and the window ends in the same
    /// slot time; each call then adds the current slot to a copy. The sum is the same as
    /// merging every slot in the window: counts add up in any order.
    pub fn window(&self, now_ns: u64) -> Histogram<u64> {
        let now_epoch = now_ns / self.slot_ns;
        let n = self.slots.len() as u64;
        let within = |epoch: u64| epoch != u64::MAX && epoch + n > now_epoch && epoch <= now_epoch;
        // A panic elsewhere while the lock was held leaves at worst a stale key, never a
        // wrong sum taken for a right one: the entry is replaced whole.
        let mut others = self
            .others
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let fresh = others.as_ref().is_some_and(|o| {
            o.moves == self.moves && o.now_epoch == now_epoch && o.cur == self.cur
        });
        if !fresh {
            let mut merged = hist();
            for (i, (epoch, s)) in self.slots.iter().enumerate() {
                if i != self.cur && within(*epoch) {
                    merge_slot(&mut merged, s);
                }
            }
            *others = Some(Others {
                moves: self.moves,
                now_epoch,
                cur: self.cur,
                merged,
            });
        }
        let mut h = match others.as_ref() {
            Some(o) => o.merged.clone(),
            None => hist(),
        };
        drop(others);
        if let Some((epoch, s)) = self.slots.get(self.cur)
            && within(*epoch)
        {
            merge_slot(&mut h, s);
        }
        h
    }
}

/// Adds a window slot's counts to a full-range histogram, bucket by bucket (the count types
/// differ): each count lands in the bucket of the same index, as `add` would.
fn merge_slot(h: &mut Histogram<u64>, slot: &Histogram<u32>) {
    for v in slot.iter_recorded() {
        h.saturating_record_n(v.value_iterated_to(), u64::from(v.count_at_value()));
    }
}

/// Percentiles of an HDR histogram (ns).
#[derive(Serialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Percentiles {
    pub count: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Percentiles {
    pub fn of(h: &hdrhistogram::Histogram<u64>) -> Self {
        Percentiles {
            count: h.len(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// Percentiles of one stage, since start and over the window, for the summary and the screen.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StageReport {
    pub name: String,
    pub total: Percentiles,
    pub window: Percentiles,
    /// Negative raw values (E→receive before correction), counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negative: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negative_max_ns: Option<u64>,
    /// Values above 60 s, saturated.
    pub saturated: u64,
}

/// A clock-offset estimate (exchange − local, ns) and its uncertainty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct OffsetEstimate {
    pub offset_ns: i64,
    pub uncertainty_ns: u64,
    /// `active` (time endpoint) or `passive` (lower envelope of receive − E).
    pub source: &'static str,
}

/// Both estimators.
#[derive(Clone, Debug)]
pub struct ClockEstimator {
    /// Active samples (wall ns, offset, rtt), recent first out.
    active: VecDeque<(u64, i64, u64)>,
    /// How long an active sample counts.
    pub active_keep_ns: u64,
    /// Passive: per slot (epoch, min of receive − E).
    passive: Vec<(u64, i64)>,
    passive_slot_ns: u64,
    /// Observations taken.
    passive_samples: u64,
    /// The estimate in use, valid for the passive slot epoch it was computed in (and until the
    /// next active sample); a lower passive value updates it in place.
    cached: Option<(u64, OffsetEstimate)>,
}

impl ClockEstimator {
    pub fn new(window_ns: u64) -> Self {
        ClockEstimator {
            active: VecDeque::new(),
            active_keep_ns: 600_000_000_000,
            passive: vec![(u64::MAX, i64::MAX); 12],
            passive_slot_ns: (window_ns / 12).max(1),
            passive_samples: 0,
            cached: None,
        }
    }

    /// An NTP-style sample taken at wall time `at_ns`.
    pub fn on_active(&mut self, at_ns: u64, offset_ns: i64, rtt_ns: u64) {
        self.cached = None;
        self.active.push_back((at_ns, offset_ns, rtt_ns));
        while self
            .active
            .front()
            .is_some_and(|s| at_ns.saturating_sub(s.0) > self.active_keep_ns)
        {
            self.active.pop_front();
        }
    }

    /// A passive observation: `receive − E` (signed ns) at receive time `at_ns`.
    #[inline]
    pub fn on_passive(&mut self, at_ns: u64, recv_minus_e: i64) {
        self.passive_samples += 1;
        let epoch = at_ns / self.passive_slot_ns;
        let i = (epoch % self.passive.len() as u64) as usize;
        let s = &mut self.passive[i];
        if s.0 != epoch {
            *s = (epoch, recv_minus_e);
        } else if recv_minus_e < s.1 {
            s.1 = recv_minus_e;
        }
        // A new lower envelope moves a passive estimate in use.
        if let Some((_, est)) = self.cached.as_mut()
            && est.source == "passive"
            && recv_minus_e.saturating_neg() > est.offset_ns
        {
            est.offset_ns = recv_minus_e.saturating_neg();
        }
    }

    /// [`Self::in_use`], recomputed only when the passive slot changes or an active sample
    /// arrives (what the per-event correction uses).
    pub fn in_use_cached(&mut self, now_ns: u64) -> Option<OffsetEstimate> {
        let epoch = now_ns / self.passive_slot_ns;
        match self.cached {
            Some((e, est)) if e == epoch => Some(est),
            _ => {
                let est = self.in_use(now_ns);
                self.cached = est.map(|x| (epoch, x));
                est
            }
        }
    }

    /// The active estimate: the smallest-RTT recent sample.
    pub fn active(&self, now_ns: u64) -> Option<OffsetEstimate> {
        self.active
            .iter()
            .filter(|s| now_ns.saturating_sub(s.0) <= self.active_keep_ns)
            .min_by_key(|s| s.2)
            .map(|&(_, offset_ns, rtt)| OffsetEstimate {
                offset_ns,
                uncertainty_ns: rtt / 2,
                source: "active",
            })
    }

    /// The passive estimate over the window ending at `now_ns`.
    pub fn passive(&self, now_ns: u64) -> Option<OffsetEstimate> {
        let now_epoch = now_ns / self.passive_slot_ns;
        let n = self.passive.len() as u64;
        let envelope = self
            .passive
            .iter()
            .filter(|(e, _)| *e != u64::MAX && *e + n > now_epoch && *e <= now_epoch)
            .map(|s| s.1)
            .min()?;
        Some(OffsetEstimate {
            offset_ns: envelope.saturating_neg(),
            // The bias is the smallest one-way delay: unknown, bounded by nothing we measure
            // here; 0 is reported (the envelope itself is exact).
            uncertainty_ns: 0,
            source: "passive",
        })
    }

    /// The estimate in use: active while fresh, else passive.
    pub fn in_use(&self, now_ns: u64) -> Option<OffsetEstimate> {
        self.active(now_ns).or_else(|| self.passive(now_ns))
    }
}

/// Every stage of one run, and the clock estimator.
#[derive(Clone)]
pub struct Latency {
    stages: Vec<StageHist>,
    /// `receive − E` below zero: count and magnitude.
    pub negative_raw: StageHist,
    pub negative_raw_count: u64,
    pub clock: ClockEstimator,
    window_ns: u64,
}

impl Latency {
    /// Histograms over `window_ns` (in `slots` slots) and since start.
    pub fn new(window_ns: u64, slots: usize) -> Self {
        Latency {
            stages: Stage::ALL
                .iter()
                .map(|_| StageHist::new(window_ns, slots))
                .collect(),
            negative_raw: StageHist::new(window_ns, slots),
            negative_raw_count: 0,
            clock: ClockEstimator::new(window_ns),
            window_ns,
        }
    }

    pub fn window_ns(&self) -> u64 {
        self.window_ns
    }

    /// Records a non-negative duration.
    #[inline]
    pub fn record(&mut self, stage: Stage, at_ns: u64, v: u64) {
        if let Some(s) = self.stages.get_mut(stage as usize) {
            s.record(at_ns, v);
        }
    }

    pub fn stage(&self, stage: Stage) -> Option<&StageHist> {
        self.stages.get(stage as usize)
    }

    /// An event's exchange time `e_ms` received at local `recv_ns`: the raw network stage
    /// (negatives counted apart), the passive clock estimate, and the corrected stage with the
    /// offset in use.
    pub fn on_event_time(&mut self, recv_ns: u64, e_ms: u64) {
        let e_ns = e_ms.saturating_mul(1_000_000);
        let raw = recv_ns as i64 - e_ns as i64;
        if raw >= 0 {
            self.record(Stage::NetworkRaw, recv_ns, raw as u64);
        } else {
            self.negative_raw_count += 1;
            self.negative_raw.record(recv_ns, raw.unsigned_abs());
        }
        self.clock.on_passive(recv_ns, raw);
        if let Some(est) = self.clock.in_use_cached(recv_ns) {
            let corrected = raw.saturating_add(est.offset_ns);
            if corrected >= 0 {
                self.record(Stage::NetworkCorrected, recv_ns, corrected as u64);
            }
        }
    }

    /// What one frame tells: its exchange times against its receive time `recv_ns` (stages
    /// T→E and E→receive), and — when the engine had a clock — parse, book and feature times,
    /// slotted at `now_ns` (the clock of the run doing the work).
    pub fn on_frame(&mut self, t: &crate::engine::FrameTimes, recv_ns: u64, now_ns: u64) {
        if let Some(e) = t.event_ms {
            self.on_event_time(recv_ns, e);
            if let Some(tt) = t.transact_ms
                && e >= tt
            {
                self.record(Stage::ExchangeTtoE, recv_ns, (e - tt) * 1_000_000);
            }
        }
        if t.done > 0 && t.parsed >= t.started && t.done >= t.parsed {
            self.record(Stage::Parse, now_ns, t.parsed - t.started);
            let book = (t.done - t.parsed).saturating_sub(t.features_ns);
            self.record(Stage::Book, now_ns, book);
            if t.features_ns > 0 {
                self.record(Stage::Features, now_ns, t.features_ns);
            }
        }
    }

    /// Reports of every stage that has samples (window ending at `now_ns`).
    pub fn reports(&self, now_ns: u64) -> Vec<(Stage, StageReport)> {
        Stage::ALL
            .iter()
            .filter_map(|&st| self.report(st, now_ns).map(|(r, _)| (st, r)))
            .collect()
    }

    /// One stage's report with its window histogram (ending at `now_ns`), merged once for
    /// both; `None` when the stage has no sample.
    pub fn report(&self, st: Stage, now_ns: u64) -> Option<(StageReport, Histogram<u64>)> {
        let h = self.stage(st)?;
        let neg = (st == Stage::NetworkRaw).then_some(self.negative_raw_count);
        if h.total.is_empty() && neg.is_none_or(|n| n == 0) {
            return None;
        }
        let window = h.window(now_ns);
        Some((
            StageReport {
                name: st.name().to_string(),
                total: Percentiles::of(&h.total),
                window: Percentiles::of(&window),
                negative: neg,
                negative_max_ns: neg
                    .filter(|n| *n > 0)
                    .map(|_| self.negative_raw.total.max()),
                saturated: h.saturated,
            },
            window,
        ))
    }
}

/// The `latency` object of the summary: stages by key, and the clock offsets.
#[derive(Clone, Debug, Serialize)]
pub struct LatencySummary {
    pub window_s: f64,
    pub stages: std::collections::BTreeMap<&'static str, StageReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_offset_active: Option<OffsetEstimate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_offset_passive: Option<OffsetEstimate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_offset_in_use: Option<OffsetEstimate>,
}

impl LatencySummary {
    pub fn of(l: &Latency, now_ns: u64) -> Self {
        LatencySummary {
            window_s: l.window_ns as f64 / 1e9,
            stages: l
                .reports(now_ns)
                .into_iter()
                .map(|(s, r)| (s.key(), r))
                .collect(),
            clock_offset_active: l.clock.active(now_ns),
            clock_offset_passive: l.clock.passive(now_ns),
            clock_offset_in_use: l.clock.in_use(now_ns),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn window_keeps_only_recent_slots_and_total_keeps_all() {
        let mut h = StageHist::new(60 * S, 6);
        h.record(0, 1_000);
        h.record(5 * S, 2_000);
        h.record(65 * S, 3_000);
        assert_eq!(h.total.len(), 3);
        // Slots of 10 s: at 65 s the slot [0 s, 10 s) is six slots old and out of the window.
        let w = h.window(65 * S);
        assert_eq!(w.len(), 1);
        assert_eq!(w.max(), h.total.value_at_quantile(1.0));
        // Much later: empty window, total unchanged.
        assert_eq!(h.window(1_000 * S).len(), 0);
        assert_eq!(h.total.len(), 3);
        // Saturation is counted.
        h.record(70 * S, 100 * S);
        assert_eq!(h.saturated, 1);
    }

    #[test]
    fn a_window_of_growing_slots_reads_as_the_full_range_histogram() {
        // Slots start small and grow (auto-resize): the same values must land in the same
        // buckets as in the full-range `total`, whatever order the magnitudes come in.
        let mut h = StageHist::new(60 * S, 6);
        let mut x = 12_345u64;
        for k in 0..20_000u64 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let v = match k % 5 {
                0 => x % 2_000,
                1 => x % 3_000_000,
                2 => x % (2 * S),
                3 => x % (90 * S),
                _ => 1 + x % 50,
            };
            h.record(k * 1_000_000, v);
        }
        let w = h.window(20 * S);
        assert_eq!(w.len(), h.total.len());
        assert_eq!((w.min(), w.max()), (h.total.min(), h.total.max()));
        for q in [0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(
                w.value_at_quantile(q),
                h.total.value_at_quantile(q),
                "q {q}"
            );
        }
        // A slot reused after the window moved on starts empty again.
        h.record(80 * S, 7);
        let w = h.window(80 * S);
        assert_eq!((w.len(), w.max()), (1, 7));
    }

    /// The window as it was computed before the merge cache: every slot in it merged afresh.
    fn window_merged_afresh(h: &StageHist, now_ns: u64) -> Histogram<u64> {
        let now_epoch = now_ns / h.slot_ns;
        let n = h.slots.len() as u64;
        let mut w = hist();
        for (epoch, s) in &h.slots {
            if *epoch != u64::MAX && *epoch + n > now_epoch && *epoch <= now_epoch {
                merge_slot(&mut w, s);
            }
        }
        w
    }

    fn same(a: &Histogram<u64>, b: &Histogram<u64>) -> bool {
        a.len() == b.len()
            && a.min_nz() == b.min_nz()
            && a.max() == b.max()
            && a.iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .eq(b
                    .iter_recorded()
                    .map(|v| (v.value_iterated_to(), v.count_at_value())))
    }

    #[test]
    fn the_cached_window_equals_every_slot_merged_afresh() {
        // Samples mostly in time order with jumps back (late samples into older slots, which
        // must invalidate the kept merge), gaps of several slots, and windows asked at times
        // before, at and after the newest sample, repeatedly between samples.
        let mut rng = crate::rng::Rng::new(7, 0);
        let mut next = move || rng.next_u64();
        let mut h = StageHist::new(60 * S, 6);
        let mut t = 0u64;
        let mut asked = 0;
        for _ in 0..2_000 {
            let r = next();
            t = match r % 50 {
                0 => t.saturating_sub(next() % (25 * S)),
                1 => t + next() % (40 * S),
                _ => t + next() % (S / 2),
            };
            // A late sample into an older slot, then back to the current one.
            if r % 11 == 0 {
                h.record(t.saturating_sub(next() % (50 * S)), 1 + next() % 5_000_000);
            }
            h.record(t, 1 + next() % 5_000_000);
            // Mostly the window ending now (the kept merge then lives from one sample to the
            // next, as on the screen), sometimes others (each replaces it).
            let nows: &[u64] = if r % 13 == 0 {
                &[
                    t.saturating_sub(12 * S),
                    t + 3 * S,
                    t + 55 * S,
                    t + 70 * S,
                    t,
                ]
            } else {
                &[t]
            };
            for &now in nows {
                let (got, want) = (h.window(now), window_merged_afresh(&h, now));
                assert!(same(&got, &want), "window at {now} after a sample at {t}");
                asked += 1;
            }
        }
        assert!(asked > 2_000);
        // A copy answers the same without the original's cache.
        let c = h.clone();
        assert!(same(&c.window(t), &window_merged_afresh(&h, t)));
    }

    #[test]
    fn negative_raw_latency_is_counted_not_clamped() {
        let mut l = Latency::new(60 * S, 6);
        // Local clock 1.3 s behind: events arrive "before" they were sent.
        let e_ms = 1_000_000;
        for k in 0..100u64 {
            let delay = 2_000_000 + k * 10_000; // 2 ms + up to 1 ms
            let recv = e_ms * 1_000_000 + k * 1_000_000 + delay - 1_300_000_000;
            l.on_event_time(recv, e_ms + k);
        }
        assert_eq!(l.negative_raw_count, 100);
        assert!(l.stage(Stage::NetworkRaw).expect("stage").total.is_empty());
        let est = l.clock.passive(e_ms * 1_000_000).expect("passive");
        // offset = exchange − local ≈ +1.3 s minus the smallest delay (2 ms).
        assert!((est.offset_ns - 1_298_000_000).abs() < 1_000, "{est:?}");
        let c = l.stage(Stage::NetworkCorrected).expect("stage");
        assert_eq!(c.total.len(), 100, "corrected values are all ≥ 0");
        assert!(c.total.max() <= 1_000_000 + 1_000);
    }

    #[test]
    fn active_estimate_takes_the_smallest_round_trip() {
        // True offset +500 ms; asymmetric delays bias each sample by half the asymmetry.
        let mut c = ClockEstimator::new(60 * S);
        let truth = 500_000_000i64;
        for (k, (up, down)) in [(40u64, 10u64), (5, 5), (30, 2), (8, 20)]
            .iter()
            .enumerate()
        {
            let (up, down) = (up * 1_000_000, down * 1_000_000);
            let t0 = (k as u64 + 1) * S;
            let server = t0 as i64 + up as i64 + truth; // exchange clock when it answered
            let rtt = up + down;
            let mid = t0 + rtt / 2;
            c.on_active(mid, server - mid as i64, rtt);
        }
        let est = c.active(5 * S).expect("active");
        assert_eq!(est.uncertainty_ns, 5_000_000);
        assert_eq!(est.offset_ns, truth, "symmetric 5+5 ms sample is exact");
        assert!((est.offset_ns - truth).unsigned_abs() <= est.uncertainty_ns);
        assert_eq!(c.in_use(5 * S).map(|e| e.source), Some("active"));
        // Stale active samples give way to the passive estimate.
        c.on_passive(1_000 * S, -1_000);
        assert_eq!(c.in_use(1_000 * S).map(|e| e.source), Some("passive"));
    }
}
