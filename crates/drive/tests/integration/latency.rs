//! Latency stages and the clock offset on the real spot capture, whose capture machine's
//! clock was behind (E is ~1.3 s after the local receive time).

use microstate_drive::replay::{ReplayOptions, replay_paths};

#[test]
fn passive_offset_shows_the_capture_clock_skew_and_corrected_latency_is_never_negative() {
    let out =
        replay_paths(&microstate_testkit::spot_files(), &ReplayOptions::default()).expect("replay");
    let lat = out.latency.as_ref().expect("latency measured");
    let passive = lat.clock_offset_passive.expect("passive estimate");
    // offset = exchange − local: the local clock was ~1.3 s behind.
    let skew_s = -(passive.offset_ns as f64) / 1e9;
    assert!(
        (-1.45..=-1.15).contains(&skew_s),
        "local − exchange = {skew_s} s"
    );
    assert_eq!(lat.clock_offset_in_use.map(|e| e.source), Some("passive"));
    let raw = &lat.stages["network_raw"];
    let negative = raw.negative.expect("negatives counted");
    assert!(
        negative > 10_000,
        "most raw E→receive values are negative: {negative}"
    );
    let corrected = &lat.stages["network_corrected"];
    // Every event with an E got a corrected value ≥ 0 (none was dropped as negative).
    assert_eq!(corrected.total.count, raw.total.count + negative);
    assert!(corrected.total.p50 < 100_000_000, "{:?}", corrected.total);
    // The replay's own processing is measured apart.
    for k in ["parse", "book_apply", "features"] {
        assert!(lat.stages[k].total.count > 0, "{k}");
    }
}

#[test]
fn futures_carry_both_t_and_e() {
    let out =
        replay_paths(&microstate_testkit::usdm_files(), &ReplayOptions::default()).expect("replay");
    let lat = out.latency.expect("latency");
    let te = &lat.stages["exchange_t_to_e"];
    assert!(te.total.count > 9_000, "{te:?}");
    assert!(te.total.p50 < 50_000_000, "T→E is a few ms: {te:?}");
}

#[test]
fn the_summary_json_has_a_latency_object_per_stage() {
    let out =
        replay_paths(&microstate_testkit::spot_files(), &ReplayOptions::default()).expect("replay");
    let v = serde_json::to_value(out.summary()).expect("json");
    let stages = v["latency"]["stages"].as_object().expect("stages");
    for (k, s) in stages {
        for p in ["count", "p50", "p90", "p99", "p999", "max"] {
            assert!(s["total"][p].is_u64(), "{k}.total.{p}");
            assert!(s["window"][p].is_u64(), "{k}.window.{p}");
        }
    }
    assert!(v["latency"]["clock_offset_passive"]["offset_ns"].is_i64());
}
