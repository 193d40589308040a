//! The replay driver behind the screen ([`play_view`]) on the real spot capture at 1×: how many
//! views it publishes. The screen draws at most one frame per frame time, so a view more often
//! than that is built and sent for nothing; a paused replay's state must still show at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use microstate_core::view::{Source, View};
use microstate_drive::command::{Command, replay_channel};
use microstate_drive::publish::Publisher;
use microstate_drive::replay::{Player, PlayerOptions, ReplayCommand, play_view};
use microstate_drive::shutdown::Stop;
use microstate_io::record::Speed;

/// Waits up to `limit` for a view that passes `ok`.
fn wait_for(
    rx: &tokio::sync::watch::Receiver<Arc<View>>,
    limit: Duration,
    ok: impl Fn(&View) -> bool,
) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if ok(&rx.borrow()) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

#[test]
fn a_1x_replay_publishes_at_most_one_view_per_frame_time_and_a_pause_at_once() {
    let every = Duration::from_millis(50);
    let player = Player::open(
        &microstate_testkit::spot_files(),
        PlayerOptions {
            speed: Speed::Factor(1.0),
            ..PlayerOptions::default()
        },
    )
    .expect("open the spot capture");
    let (vtx, vrx) = tokio::sync::watch::channel(Arc::new(View::default()));
    let (screen, driver) = replay_channel();
    let stop = Stop::new();
    let session = stop.shutdown();
    let epoch = Instant::now();
    let thread = std::thread::spawn(move || {
        let mut player = player;
        let mut view = Publisher::new(
            vtx,
            every,
            Source::Replay {
                files: "spot".into(),
            },
        );
        play_view(&mut player, &driver, epoch, &mut view, &session).map(|()| player.status().fed)
    });

    // The capture carries ~150 messages a second: the old driver published after nearly
    // every one (the player goes quiet between them), ~20 views per 50 ms frame time.
    assert!(
        wait_for(&vrx, Duration::from_secs(10), |v| v.seq > 0),
        "no view within 10 s"
    );
    let (seq0, t0) = (vrx.borrow().seq, Instant::now());
    std::thread::sleep(Duration::from_millis(1_500));
    let (views, dt) = (vrx.borrow().seq - seq0, t0.elapsed());
    let most = (dt.as_secs_f64() / every.as_secs_f64()).ceil() as u64 + 2;
    assert!(
        views <= most,
        "{views} views in {dt:?}: more than one per {every:?} ({most} at most)"
    );
    assert!(views > 0, "the screen's clock stood still for {dt:?}");

    // A pause shows at once (not at the next frame time only by luck: within a second), and a
    // paused replay publishes nothing more until something changes.
    assert!(screen.send(Command::Replay(ReplayCommand::Pause)));
    assert!(
        wait_for(&vrx, Duration::from_secs(1), |v| v
            .replay
            .as_ref()
            .is_some_and(|r| r.paused)),
        "the pause did not show within 1 s"
    );
    let seq = vrx.borrow().seq;
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        vrx.borrow().seq,
        seq,
        "a paused replay kept publishing the same state"
    );
    // Resuming publishes again.
    assert!(screen.send(Command::Replay(ReplayCommand::Resume)));
    assert!(
        wait_for(&vrx, Duration::from_secs(2), |v| v.seq > seq
            && v.replay.as_ref().is_some_and(|r| !r.paused)),
        "no view after resuming"
    );
    assert!(screen.send(Command::Quit));
    let fed = thread
        .join()
        .expect("the replay thread ends")
        .expect("no strict stop");
    assert!(fed > 0);
}
