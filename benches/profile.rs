//! Not a criterion bench: one hot path run a fixed number of times, for a profiler. Under
//! `valgrind --tool=callgrind` instruction counts are repeatable whatever else the machine runs,
//! so this is the before/after figure that does not depend on the load.
//!
//! Build: `cargo bench --bench profile --no-run`, then run the executable it names
//! (`target/release/deps/profile-…`) with one of:
//! - `books N`: the spot capture from memory, books only, N times (as `core`'s `replay/spot_capture`);
//! - `features N`: the same with features (as `features`' `replay/spot_capture_features`);
//! - `msrec N [models]`: the spot capture written once in our format, replayed from the file N times
//!   with features and latency on (as `record`'s `replay_file/msrec_zstd`), and with the models
//!   from `models/` when `models` is given;
//! - `frame W H N [heatmap|tape_volume]`: N full frames at W×H from a view three minutes into the
//!   capture (as `ui`), with the default panels or the variant named.
//!
//! For example: `valgrind --tool=callgrind --toggle-collect='*profile::run*' target/release/deps/profile-… books 1`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

mod common;

use common::{spot_capture, spot_files};
use microstate_core::features::FeatureParams;
use microstate_core::num::Symbol;
use microstate_core::view::View;
use microstate_drive::replay::{
    Player, PlayerOptions, Poll, ReplayOptions, play_out, replay_sources, replay_view,
};
use microstate_io::record::format::journal::live_record_of;
use microstate_io::record::format::{Header, Record, RecordingWriter, WriterOptions};
use microstate_io::record::hftbacktest::HftSource;
use microstate_io::record::{FrameSource, Merge, Merged, open_captures};

/// The spot capture in our format (as `record` writes it), at `path`.
fn write_msrec(path: &Path) {
    let mut merge = Merge::new(open_captures(&spot_files()).expect("open"));
    let f = std::fs::File::create(path).expect("create");
    let header = Header {
        journal: true,
        ..Header::new(
            "spot",
            vec!["BTCUSDT".into()],
            vec![],
            serde_json::Value::Null,
            0,
        )
    };
    let mut w = RecordingWriter::new(
        std::io::BufWriter::new(f),
        &header,
        WriterOptions::default(),
    )
    .expect("writer");
    let mut first = true;
    let mut id = 0;
    while let Some(m) = merge.next_frame() {
        let Merged::Frame { frame, .. } = m else {
            panic!("the capture reads cleanly")
        };
        let recv = frame.recv.0;
        if first {
            first = false;
            w.push(&Record::Lifecycle {
                wall_ns: recv,
                event: "primary".into(),
                detail: "1".into(),
            })
            .expect("push");
        }
        w.push(&live_record_of(frame, "BTCUSDT", &mut id))
            .expect("push");
    }
    w.finish().expect("finish");
}

fn memory_sources() -> Vec<Box<dyn FrameSource + Send>> {
    vec![Box::new(HftSource::from_reader(
        "btcusdt_20240808+09",
        Box::new(spot_capture()),
        Symbol::new(b"BTCUSDT"),
    ))]
}

fn models() -> Arc<microstate_core::ml::signals::Models> {
    let mut cfg = microstate_config::Config::default();
    cfg.models.dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .display()
        .to_string();
    microstate_drive::replay::load_models(&cfg)
}

fn view() -> View {
    let mut p = Player::open(&[spot_files()[0].clone()], PlayerOptions::default()).expect("open");
    while p.status().fed < 30_000 {
        if p.poll(0).expect("poll") == Poll::Done {
            break;
        }
    }
    replay_view(&p)
}

/// The measured part (callgrind's `--toggle-collect='*profile::run*'`).
#[inline(never)]
fn run(mut f: impl FnMut() -> u64, n: usize) -> u64 {
    let mut x = 0;
    for _ in 0..n {
        x += std::hint::black_box(f());
    }
    x
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, d: &str| args.get(i).cloned().unwrap_or_else(|| d.to_string());
    let n = |i: usize| arg(i, "1").parse::<usize>().expect("a count");
    let t = std::time::Instant::now();
    let frames = match arg(0, "").as_str() {
        "books" | "features" => {
            let opts = ReplayOptions {
                strict: true,
                features: (arg(0, "") == "features").then(FeatureParams::default),
                ..ReplayOptions::default()
            };
            spot_capture();
            run(
                || {
                    replay_sources(memory_sources(), &opts)
                        .expect("replay")
                        .engine
                        .stats
                        .frames
                },
                n(1),
            )
        }
        "msrec" => {
            let dir = std::env::temp_dir().join(format!("msrec-profile-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            let path = dir.join("spot.msrec");
            write_msrec(&path);
            let m = (arg(2, "") == "models").then(models);
            let opts = PlayerOptions {
                replay: ReplayOptions {
                    strict: true,
                    ..ReplayOptions::default()
                },
                models: m,
                ..PlayerOptions::default()
            };
            let frames = run(
                || {
                    let p = Player::open(std::slice::from_ref(&path), opts.clone()).expect("open");
                    let out = play_out(p, std::time::Instant::now()).expect("replay");
                    out.engine.stats.frames
                },
                n(1),
            );
            let _ = std::fs::remove_dir_all(&dir);
            frames
        }
        "frame" => {
            use microstate::ui::render::draw;
            use microstate::ui::{Bindings, Theme, UiState};
            use ratatui::Terminal;
            use ratatui::backend::TestBackend;
            let (w, h): (u16, u16) = (
                arg(1, "120").parse().expect("width"),
                arg(2, "40").parse().expect("height"),
            );
            let v = view();
            let theme = Theme::new(&Default::default(), false);
            let keys = Bindings::default();
            let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
            let mut ui = UiState::default();
            match arg(4, "").as_str() {
                "heatmap" => ui.heatmap = true,
                "tape_volume" => {
                    ui.tape = true;
                    ui.volume = true;
                    ui.tape_large = (None, Some(50_000.0));
                }
                _ => {}
            }
            ui.on_view(&v);
            run(
                || {
                    term.draw(|f| draw(f, &v, &ui, &theme, &keys))
                        .expect("draw");
                    1
                },
                n(3),
            )
        }
        other => {
            panic!(
                "unknown mode {other:?}: books N | features N | msrec N [models] | frame W H N [heatmap|tape_volume]"
            )
        }
    };
    eprintln!("{frames} frames in {:.3} s", t.elapsed().as_secs_f64());
}
