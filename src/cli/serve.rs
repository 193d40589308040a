//! `--api ADDR` / `--api-token TOKEN` on `live`, `record`, `replay` and `demo`: laying them over
//! `[api]`, and starting the API (the api crate) beside a driver on the driver's runtime.
//!
//! Owns: the flags and the start-up line. Must not touch: the server itself (the api crate),
//! the drivers.

use std::sync::Arc;

use microstate::config::Config;
use microstate_api::{ApiHandle, ApiOptions, Bound, TapEvent};
use microstate_core::view::View;
use microstate_drive::shutdown::Shutdown;
use tokio::sync::{broadcast, watch};

/// The API flags every session takes.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ApiArgs {
    /// Serve the HTTP + WebSocket API and Prometheus /metrics on ADDR (e.g. 127.0.0.1:8480;
    /// port 0 picks a free one, printed at start). Anything but a loopback address needs
    /// --api-token. Default: the config's api.addr (empty: no API).
    #[arg(long = "api", value_name = "ADDR")]
    pub addr: Option<String>,
    /// Bearer token every API request must carry (`Authorization: Bearer TOKEN`).
    #[arg(long = "api-token", value_name = "TOKEN")]
    pub token: Option<String>,
}

impl ApiArgs {
    /// The flags over `cfg.api` (checked again), and the server's options when it is on.
    pub fn options(&self, cfg: &mut Config) -> anyhow::Result<Option<ApiOptions>> {
        if let Some(a) = &self.addr {
            cfg.api.addr = a.clone();
        }
        if let Some(t) = &self.token {
            cfg.api.token = t.clone();
        }
        cfg.api.validate("the command line")?;
        Ok(ApiOptions::from_config(&cfg.api)?)
    }
}

/// What a driver publishes into when the API is on: the views' watch channel (its sender
/// goes to the driver's `Publisher`) and the event stream.
pub struct Channels {
    pub views: watch::Sender<Arc<View>>,
    pub watch: watch::Receiver<Arc<View>>,
    pub events: broadcast::Sender<Arc<TapEvent>>,
}

impl Channels {
    pub fn new(opts: &ApiOptions) -> Channels {
        let (views, watch) = watch::channel(Arc::new(View::default()));
        Channels {
            views,
            watch,
            events: microstate_api::event_channel(&opts.cfg),
        }
    }
}

/// Binds the API's address and says where on stderr (`api: serving on http://ADDR …`: scripts
/// and tests read the port from it) — before the screen, if any, takes the terminal.
pub fn bind(opts: ApiOptions) -> anyhow::Result<Bound> {
    let token = opts.token.is_some();
    let b = microstate_api::bind(opts)?;
    eprintln!(
        "api: serving on http://{} ({}; /v1/health, /v1/stream, /metrics)",
        b.addr,
        if token {
            "bearer token required"
        } else {
            "loopback, no token"
        }
    );
    Ok(b)
}

/// Binds ([`bind`]) and serves on the current runtime.
pub fn start(
    opts: ApiOptions,
    views: watch::Receiver<Arc<View>>,
    events: broadcast::Sender<Arc<TapEvent>>,
    shutdown: Shutdown,
) -> anyhow::Result<ApiHandle> {
    Ok(bind(opts)?.serve(views, events, shutdown)?)
}
