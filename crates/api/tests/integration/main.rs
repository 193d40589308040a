//! The API's integration tests, one binary: a live session against the local exchange on
//! 127.0.0.1:0 (a seeded synthetic market) with the API beside it, and real clients over real
//! sockets — hyper's HTTP client, tokio-tungstenite's WebSocket client, Prometheus's promtool.
//! (The binary's own `--api`, `replay --hold` of a real capture and a real Prometheus server
//! are tested in the app's tests: `tests/integration/api.rs`.)

mod common;
mod live;
mod slow;
