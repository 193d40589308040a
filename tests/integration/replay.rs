//! Paced replay: speed, pauses, steps and seeks change when frames are fed, never what the
//! engine computes. The player is driven in virtual time here (its clock is passed in), and in
//! real time through the binary.

use std::path::PathBuf;

use crate::common::bin;
use microstate_core::num::Nanos;
use microstate_core::summary::Summary;
use microstate_drive::replay::{Player, PlayerOptions, Poll, ReplayCommand};
use microstate_io::record::Speed;

fn excerpt() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo/btcusdt_20240808-excerpt.gz")
}

fn player(files: &[PathBuf], speed: Speed) -> Player {
    Player::open(
        files,
        PlayerOptions {
            speed,
            digest: true,
            checkpoint_every_ns: 10_000_000_000,
            ..PlayerOptions::default()
        },
    )
    .expect("open")
}

/// Plays to the end in virtual time: `Wait` advances the clock exactly, `script` may issue
/// commands at each step (given the step number and the clock). Returns the times frames were
/// fed at, with how many.
fn run_virtual(
    p: &mut Player,
    mut script: impl FnMut(u64, u64, &mut Player) -> Option<ReplayCommand>,
) -> Vec<(u64, u32)> {
    let mut now = 1_000_000_000u64;
    let mut fed = Vec::new();
    for step in 0.. {
        if let Some(c) = script(step, now, p) {
            p.command(c, now).expect("command");
        }
        match p.poll(now).expect("poll") {
            Poll::Fed(n) => fed.push((now, n)),
            Poll::Wait(d) => now += d,
            Poll::Paused => now += 1_000_000,
            Poll::Done => break,
        }
        assert!(step < 10_000_000, "runaway");
    }
    fed
}

fn digest(p: &Player) -> String {
    p.digest().expect("digest on").hex()
}

fn summary(p: &Player) -> serde_json::Value {
    serde_json::to_value(Summary::of(p.engine(), p.errors_total(), vec![])).expect("json")
}

#[test]
fn the_digest_is_the_same_at_any_speed_with_pauses_steps_and_speed_changes() {
    let files = [excerpt()];
    let mut max = player(&files, Speed::Max);
    run_virtual(&mut max, |_, _, _| None);
    let want = digest(&max);
    assert!(max.engine().stats.frames > 5000);

    for speed in [
        Speed::Factor(1.0),
        Speed::Factor(10.0),
        Speed::Factor(1000.0),
    ] {
        let mut p = player(&files, speed);
        run_virtual(&mut p, |_, _, _| None);
        assert_eq!(digest(&p), want, "{speed}");
        assert_eq!(summary(&p), summary(&max));
    }

    // Pauses, single steps, resumes and speed changes sprinkled through a 1× run.
    let mut p = player(&files, Speed::Factor(1.0));
    let (mut pauses, mut steps) = (0, 0);
    run_virtual(&mut p, |step, _, p| match step % 97 {
        10 => {
            pauses += 1;
            Some(ReplayCommand::Pause)
        }
        11..=15 => {
            steps += 1;
            Some(ReplayCommand::Step)
        }
        30 => Some(ReplayCommand::Resume),
        50 => Some(ReplayCommand::Faster),
        70 if p.status().paused => Some(ReplayCommand::TogglePause),
        80 => Some(ReplayCommand::SetSpeed(Speed::Factor(0.5))),
        90 => Some(ReplayCommand::SetSpeed(Speed::Factor(1000.0))),
        95 => Some(ReplayCommand::Slower),
        _ => None,
    });
    assert!(pauses > 3 && steps > 15);
    assert_eq!(digest(&p), want, "with pauses and steps");
}

#[test]
fn frames_are_fed_when_due_and_not_before() {
    let files = [excerpt()];
    let mut p = player(&files, Speed::Factor(10.0));
    let first = p.first_time().expect("read").expect("a frame").0;
    let fed = run_virtual(&mut p, |_, _, _| None);
    let (t0, _) = fed[0];
    // The last frame of the excerpt was received ~53 s after the first: due 5.3 s in at 10×.
    let (t_last, _) = *fed.last().expect("fed");
    let span = p.status().position.expect("pos").0 - first;
    let expect = span / 10;
    assert!(
        (t_last - t0).abs_diff(expect) <= 1,
        "{} vs {expect}",
        t_last - t0
    );
    // In virtual time every frame is fed exactly when due: lateness is nil.
    let late = p.lateness().expect("paced");
    assert!(late.max() <= 1, "max lateness {} ns", late.max());
}

#[test]
fn pause_feeds_nothing_and_step_feeds_exactly_one_frame() {
    let files = [excerpt()];
    let mut p = player(&files, Speed::Factor(1.0));
    assert!(matches!(p.poll(0).expect("poll"), Poll::Fed(_)));
    p.command(ReplayCommand::Pause, 0).expect("pause");
    let fed = p.status().fed;
    for t in [10u64, 1_000_000_000, 100_000_000_000] {
        assert_eq!(p.poll(t).expect("poll"), Poll::Paused);
    }
    assert_eq!(p.status().fed, fed);
    p.command(ReplayCommand::Step, 0).expect("step");
    assert_eq!(p.poll(0).expect("poll"), Poll::Fed(1));
    assert_eq!(p.poll(0).expect("poll"), Poll::Paused);
    assert_eq!(p.status().fed, fed + 1);
    // Resuming continues from here, without a burst of everything "missed" while paused.
    let t = 500_000_000_000;
    p.command(ReplayCommand::Resume, t).expect("resume");
    let before = p.status().fed;
    let _ = p.poll(t).expect("poll");
    assert!(
        p.status().fed - before < 50,
        "no catch-up burst after a pause"
    );
}

/// Book levels and counts of a player's engine, for comparison.
fn books(p: &Player) -> serde_json::Value {
    let e = p.engine();
    let sides: Vec<_> = e
        .symbols()
        .iter()
        .map(|s| {
            let b = s.book();
            (
                b.last_update_id,
                b.bids
                    .iter()
                    .map(|l| (l.price.0, l.qty.0))
                    .collect::<Vec<_>>(),
                b.asks
                    .iter()
                    .map(|l| (l.price.0, l.qty.0))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    serde_json::json!({"summary": summary(p), "books": sides})
}

#[test]
fn seeking_back_and_forth_on_the_real_capture_lands_on_the_exact_book() {
    let files = crate::common::spot_files();
    // Reference: a straight run to the end, and straight runs stopped just before two points.
    let mut straight = player(&files, Speed::Max);
    let first = straight.first_time().expect("read").expect("frame").0;
    run_virtual(&mut straight, |_, _, _| None);
    let end_digest = digest(&straight);
    let end_books = books(&straight);
    let point = |secs: u64| first + secs * 1_000_000_000;
    let until = |t: u64| {
        let mut p = player(&files, Speed::Max);
        p.set_until(Nanos(t - 1));
        run_virtual(&mut p, |_, _, _| None);
        (digest(&p), books(&p))
    };
    let (d300, b300) = until(point(300));
    let (d120, b120) = until(point(120));

    let mut p = player(&files, Speed::Max);
    p.command(ReplayCommand::SeekTo(Nanos(point(300))), 0)
        .expect("seek forward");
    assert_eq!((digest(&p), books(&p)), (d300.clone(), b300.clone()));
    assert!(p.status().checkpoints > 20, "checkpoints every 10 s");
    // Back, from a checkpoint, not from the start.
    p.command(ReplayCommand::SeekTo(Nanos(point(120))), 0)
        .expect("seek back");
    assert_eq!((digest(&p), books(&p)), (d120, b120));
    // Relative, forward again.
    p.command(ReplayCommand::SeekBy(180_000_000_000), 0)
        .expect("seek by");
    assert_eq!((digest(&p), books(&p)), (d300, b300));
    // And on to the end: the same as never having seeked.
    run_virtual(&mut p, |_, _, _| None);
    assert_eq!(digest(&p), end_digest);
    assert_eq!(books(&p), end_books);
}

fn replay_json(args: &[&str]) -> serde_json::Value {
    let out = bin()
        .arg("replay")
        .arg(excerpt())
        .args(args)
        .args(["--headless", "--digest", "--summary-json", "-"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("summary JSON")
}

#[test]
fn the_binary_gives_one_digest_at_max_1x_and_10x() {
    // Three seconds of the excerpt, ten seconds in: real time at 1×.
    let window = ["--from", "+10s", "--until", "+13s"];
    let runs: Vec<serde_json::Value> = ["max", "10", "1"]
        .iter()
        .map(|s| replay_json(&[&window[..], &["--speed", s]].concat()))
        .collect();
    let d0 = runs[0]["digest"].as_str().expect("digest");
    assert_eq!(d0.len(), 32);
    for r in &runs {
        assert_eq!(r["digest"], runs[0]["digest"], "{}", r["run"]);
        assert_eq!(r["symbols"], runs[0]["symbols"]);
    }
    assert_eq!(runs[2]["run"]["speed"], "1x");
    // Pacing itself is what is checked here, so against the wall clock: a 1× replay of 3 s of
    // capture cannot finish sooner (only a lower bound: a slow machine cannot fail it).
    let took = runs[2]["run"]["elapsed_s"].as_f64().expect("elapsed");
    assert!(took > 2.5, "1× takes the recorded time: {took} s");
    // Another end point gives another digest (the digest is not a constant). The start point
    // does not change it: everything before --from is fed too (at full speed), so the books are
    // right from the first paced frame.
    let other = replay_json(&["--from", "+10s", "--until", "+12s"]);
    assert_ne!(other["digest"], runs[0]["digest"]);
}

#[test]
fn bad_speed_and_time_arguments_are_refused_with_the_value() {
    for (flag, value, says) in [
        ("--speed", "5000", "0.1 to 1000"),
        ("--from", "yesterday", "yesterday"),
        ("--until", "2024-13-01T00:00:00Z", "UTC time"),
    ] {
        let out = bin()
            .arg("replay")
            .arg(excerpt())
            .args([flag, value])
            .output()
            .expect("run");
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{flag} {value}: {err}");
    }
}
