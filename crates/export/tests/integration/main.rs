//! Integration tests of the export crate on the real spot capture (../shared/data): what the
//! exporter holds in memory while it runs.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use microstate_drive::replay::{Player, PlayerOptions, ReplayOptions, play_out};
use microstate_export::encode::QUEUE_BATCHES;
use microstate_export::{ExportOptions, Exporter, Table, WriteSettings};

/// Rows held in memory (collected, queued for the encoding thread, in open row groups) never
/// pass the bound the settings give, however many rows go through: with small batches and row
/// groups, the spot capture exports several times the bound.
#[test]
fn rows_held_in_memory_stay_within_the_batch_and_row_group_bound() {
    let out = std::env::temp_dir().join(format!("export-held-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let (batch_rows, row_group_rows) = (256, 1024);
    let tables = [Table::Book, Table::Trades, Table::Events];
    let exporter = Exporter::create(ExportOptions {
        tables: tables.to_vec(),
        features: None,
        write: WriteSettings {
            row_group_rows,
            batch_rows,
            zstd_level: 1,
            metadata: Vec::new(),
        },
        ..ExportOptions::new(out.clone())
    })
    .expect("exporter");
    let files = microstate_testkit::spot_files();
    let mut player = Player::open(
        &files,
        PlayerOptions {
            replay: ReplayOptions {
                features: None,
                ..ReplayOptions::default()
            },
            checkpoint_every_ns: u64::MAX,
            latency: false,
            ..PlayerOptions::default()
        },
    )
    .expect("the spot capture opens");
    let exporter = Arc::new(Mutex::new(exporter));
    let most = Arc::new(Mutex::new(0usize));
    let (shared, seen) = (exporter.clone(), most.clone());
    player.set_observer(Box::new(move |e| {
        let mut x = shared.lock().expect("exporter");
        x.after_frame(e);
        let held = x.buffered_rows();
        let mut m = seen.lock().expect("max");
        *m = (*m).max(held);
    }));
    play_out(player, Instant::now()).expect("replay");
    let exporter = Arc::try_unwrap(exporter)
        .ok()
        .expect("one owner")
        .into_inner()
        .expect("lock");
    let report = exporter.finish().expect("export");
    let total: u64 = report.rows.iter().map(|(_, n)| n).sum();
    let most = *most.lock().expect("max");
    // Per table (one symbol): a batch being collected; the encoding thread's queue and the
    // batch in hand; per table the open part's row group and, at a day's end, the part
    // closing behind it.
    let sinks = tables.len();
    let bound = sinks * batch_rows + (QUEUE_BATCHES + 1) * batch_rows + 2 * sinks * row_group_rows;
    eprintln!("{total} rows exported; at most {most} held at once (bound {bound})");
    assert_eq!(report.rows_of(Table::Trades), Some(19_904));
    assert_eq!(report.rows_of(Table::Book), Some(6_493));
    assert!(
        total as usize > 2 * bound,
        "the input must be larger than the bound for the test to mean something: {total} rows"
    );
    assert!(most > 0, "rows were held on the way");
    assert!(
        most <= bound,
        "{most} rows held at once, more than the bound {bound} (batches of {batch_rows}, row \
         groups of {row_group_rows})"
    );
    let _ = std::fs::remove_dir_all(&out);
}
