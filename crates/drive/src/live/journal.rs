//! The live session's recording: what came off the wire, byte for byte (frames, depth snapshots,
//! kline answers), and the journal of the driver's decisions (connection switches, resets, sync
//! changes), in the order it takes them, so a replay feeds the engine the same frames (see
//! `microstate_io::record::format`).
//!
//! Owns: the recording being written (and its writer thread, through [`Recording`]), the
//! recordings already ended, and per symbol the gaps and phase last noted. Must not touch: the
//! engine (it reads what the last frame changed), sockets.

use std::collections::HashMap;

use microstate_core::book::sync::Phase;
use microstate_core::engine::Engine;
use microstate_core::num::Symbol;
use microstate_io::ingest::{IngestMsg, now_nanos};
use microstate_io::record::format::Record;
use microstate_io::record::writer::Recorder;
use tokio::task::JoinHandle;

use crate::recording::{Recording, RecordingEnd};

/// The recording of a live session, and the notes the driver adds to it.
#[derive(Default)]
pub struct Journal {
    recording: Option<Recording>,
    /// Per symbol: gaps and phase last seen, to note changes in the recording.
    seen: HashMap<Symbol, (u64, Phase)>,
    /// Recordings stopped during the session, finishing on the blocking pool.
    ending: Vec<JoinHandle<RecordingEnd>>,
}

impl Journal {
    pub fn new(recording: Option<Recording>) -> Journal {
        Journal {
            recording,
            ..Journal::default()
        }
    }

    /// Recording now?
    pub fn on(&self) -> bool {
        self.recording.is_some()
    }

    pub fn recording(&self) -> Option<&Recording> {
        self.recording.as_ref()
    }

    fn recorder(&self) -> Option<&Recorder> {
        self.recording.as_ref().map(Recording::recorder)
    }

    /// Starts writing to `r` (the caller notes why and makes the recording replayable).
    pub fn start(&mut self, r: Recording) {
        self.recording = Some(r);
    }

    /// Stops recording: the writer finishes what is queued on the blocking pool (never in the
    /// engine loop); [`Self::finish`] collects it. Every other handle to the recorder must be
    /// dropped by the caller.
    pub fn stop(&mut self) {
        if let Some(r) = self.recording.take() {
            self.ending
                .push(tokio::task::spawn_blocking(move || r.finish()));
        }
    }

    /// A lifecycle record, if recording.
    pub fn note(&self, event: &str, detail: impl FnOnce() -> String) {
        if let Some(r) = self.recorder() {
            r.offer(Record::Lifecycle {
                wall_ns: now_nanos().0,
                event: event.to_string(),
                detail: detail(),
            });
        }
    }

    /// Notes what the last frame did to its symbol's sync: a gap (and the resync it starts),
    /// the book synced or resynced.
    pub fn after_frame(&mut self, engine: &Engine) {
        if self.recording.is_none() {
            return;
        }
        let Some(st) = engine.touched() else { return };
        let now = (st.sync.counters().gaps, st.sync.phase());
        let was = self
            .seen
            .insert(st.symbol, now)
            .unwrap_or((0, Phase::Syncing));
        if now.0 > was.0 {
            self.note("gap", || match st.sync.last_gap() {
                Some(g) => format!("{} expected {} got {}", st.symbol, g.expected, g.got),
                None => st.symbol.to_string(),
            });
            self.note("resync started", || st.symbol.to_string());
        }
        if now.1 == Phase::Synced && was.1 != Phase::Synced {
            let event = if was.1 == Phase::Syncing {
                "synced"
            } else {
                "resync finished"
            };
            self.note(event, || {
                format!("{} at {}", st.symbol, st.book().last_update_id)
            });
        }
    }

    /// What came off the wire, as records: frames and snapshots byte for byte, connection life.
    pub fn record(&self, msg: &IngestMsg) {
        let Some(r) = self.recorder() else { return };
        let now = now_nanos().0;
        let life = |event: &str, detail: String| Record::Lifecycle {
            wall_ns: now,
            event: event.to_string(),
            detail,
        };
        match msg {
            IngestMsg::Frame {
                conn,
                recv,
                mono,
                text,
            } => r.offer(Record::WsFrame {
                conn: *conn,
                recv_wall_ns: recv.0,
                recv_mono_ns: *mono,
                text: text.as_bytes().to_vec(),
            }),
            IngestMsg::Snapshot {
                symbol,
                url,
                sent,
                recv,
                body,
            } => {
                let id = sent.0;
                r.offer(Record::RestRequest {
                    id,
                    sent_wall_ns: sent.0,
                    url: url.clone(),
                });
                r.offer(Record::RestResponse {
                    id,
                    symbol: Some(symbol.to_string()),
                    recv_wall_ns: recv.0,
                    status: 200,
                    body: body.clone(),
                });
            }
            IngestMsg::Connected { url, conn, .. } => {
                r.offer(life("connect", format!("conn {conn} {url}")))
            }
            IngestMsg::Disconnected { conn, reason, .. } => {
                r.offer(life("disconnect", format!("conn {conn}: {reason}")))
            }
            IngestMsg::ServerShutdown { conn } => {
                r.offer(life("serverShutdown", format!("conn {conn}")))
            }
            IngestMsg::SnapshotFailed { symbol, reason } => {
                r.offer(life("snapshot failed", format!("{symbol}: {reason}")))
            }
            // Each page as a REST request and its response, like a snapshot: replay feeds the
            // response, and the engine seeds the context from it.
            IngestMsg::Klines { pages, .. } => {
                for p in pages {
                    for rec in p.records(p.sent.0) {
                        r.offer(rec);
                    }
                }
            }
            IngestMsg::KlinesFailed { symbol, reason, .. } => {
                r.offer(life("klines failed", format!("{symbol}: {reason}")))
            }
            IngestMsg::ClockSample(c) => r.offer(Record::ClockOffset {
                wall_ns: c.wall_ns,
                offset_ns: c.offset_ns,
                rtt_ns: c.rtt_ns,
            }),
            IngestMsg::Fatal { reason } => r.offer(life("fatal", reason.clone())),
            IngestMsg::Connecting { .. } | IngestMsg::ConnectFailed { .. } => {}
        }
    }

    /// Ends the recording (if any) and waits for every writer: the recordings of the session,
    /// in the order they ended.
    pub async fn finish(mut self) -> Vec<RecordingEnd> {
        self.stop();
        let mut out = Vec::new();
        for h in self.ending {
            match h.await {
                Ok(end) => out.push(end),
                Err(e) => tracing::warn!("a recording could not be closed: {e}"),
            }
        }
        out
    }
}
