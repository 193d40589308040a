//! The API: HTTP (REST, JSON) and WebSocket streams of the engine's state for other programs,
//! and `/metrics` for Prometheus.
//!
//! Owns: the server (axum on the caller's tokio runtime), its routes, the bearer-token rule,
//! every client's conflation and slow-consumer handling, and the metrics text. Must not
//! touch: the engine or its loop. It reads only what the driver publishes — the latest
//! `Arc<View>` (a watch channel: reading clones an `Arc`, never holds the engine) and the
//! event stream ([`TapEvent`]s through a bounded broadcast channel the driver sends into
//! without waiting) — so no client, however slow, can stall the engine or grow memory.
//!
//! ```text
//!  driver ──Arc<View> (watch)──────┬─▶ rest    GET /v1/health|symbols|book|features|signals|latency
//!         ──TapEvent (broadcast)──┐├─▶ stream  GET /v1/stream (WebSocket, one task per client,
//!                                 └┴─▶           its own bounded queue and conflation)
//!                                  └─▶ metrics GET /metrics (read from the latest view at scrape)
//! ```
//! - [`shape`]: the JSON of a symbol, book, features, signals, latency (exact decimals as
//!   strings), shared by REST and the stream.
//! - [`rest`], [`stream`], [`metrics`]: one module per kind of endpoint; [`auth`]: the token.
//!
//! Anything bound to an address other than loopback must have a token ([`ApiError::TokenRequired`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::routing::get;
use microstate_config::ApiConfig;
use microstate_core::view::View;
use microstate_drive::shutdown::Shutdown;
use tokio::sync::{broadcast, watch};

pub use microstate_drive::publish::{TapEvent, TradeEvent};

pub mod auth;
pub mod metrics;
pub mod rest;
pub mod shape;
pub mod stream;

/// Why the API did not start.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "--api {addr}: serving on a non-loopback address needs a token (--api-token TOKEN or \
         api.token in the config); refusing to serve the engine's state to the network without one"
    )]
    TokenRequired { addr: SocketAddr },
    #[error("--api {addr}: cannot listen: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("api address {0:?}: not HOST:PORT with an IP address (e.g. 127.0.0.1:8480)")]
    Addr(String),
}

/// What the server is told at start.
#[derive(Clone, Debug)]
pub struct ApiOptions {
    pub addr: SocketAddr,
    /// Required from every request when set.
    pub token: Option<String>,
    pub cfg: ApiConfig,
}

impl ApiOptions {
    /// From the `[api]` section (with `--api`/`--api-token` already laid over it); `None`
    /// when no address is set (no API).
    pub fn from_config(cfg: &ApiConfig) -> Result<Option<ApiOptions>, ApiError> {
        if cfg.addr.is_empty() {
            return Ok(None);
        }
        let addr = cfg
            .addr
            .parse()
            .map_err(|_| ApiError::Addr(cfg.addr.clone()))?;
        Ok(Some(ApiOptions {
            addr,
            token: (!cfg.token.is_empty()).then(|| cfg.token.clone()),
            cfg: cfg.clone(),
        }))
    }
}

/// The API's own counters (metrics and tests read them).
#[derive(Debug, Default)]
pub struct ApiCounters {
    /// WebSocket clients connected now.
    pub clients: AtomicU64,
    pub clients_total: AtomicU64,
    /// Clients disconnected for being too slow.
    pub dropped_slow: AtomicU64,
    /// Clients refused because `max_clients` were connected.
    pub refused: AtomicU64,
    pub messages_sent: AtomicU64,
    /// Messages a slow client did not get (its queue was full): trades dropped, state
    /// messages conflated away.
    pub messages_skipped: AtomicU64,
    /// Events a client's task fell too far behind to receive (the broadcast lagged).
    pub events_lagged: AtomicU64,
    pub http_requests: AtomicU64,
    pub http_unauthorized: AtomicU64,
}

impl ApiCounters {
    pub fn get(a: &AtomicU64) -> u64 {
        a.load(Ordering::Relaxed)
    }
}

/// What every handler shares.
#[derive(Debug)]
pub struct Shared {
    pub views: watch::Receiver<Arc<View>>,
    pub events: broadcast::Sender<Arc<TapEvent>>,
    pub opts: ApiOptions,
    pub counters: ApiCounters,
    pub shutdown: Shutdown,
    pub schemas: shape::SchemaCache,
}

impl Shared {
    /// The latest view (an `Arc` clone: the watch lock is held for no longer than that).
    pub fn view(&self) -> Arc<View> {
        Arc::clone(&self.views.borrow())
    }
}

pub type AppState = Arc<Shared>;

/// A running server.
#[derive(Debug)]
pub struct ApiHandle {
    /// The address it listens on (the port the OS gave for `:0`).
    pub addr: SocketAddr,
    pub shared: AppState,
    task: tokio::task::JoinHandle<()>,
}

impl ApiHandle {
    /// Waits until the server has ended (it ends with the `shutdown` it was given; open
    /// WebSocket clients are sent a close frame first).
    pub async fn join(self) {
        let _ = self.task.await;
    }
}

/// The routes, with their state (for tests that serve them on their own listener too).
pub fn router(shared: AppState) -> Router {
    Router::new()
        .route("/v1/health", get(rest::health))
        .route("/v1/symbols", get(rest::symbols))
        .route("/v1/book/{symbol}", get(rest::book))
        .route("/v1/features/{symbol}", get(rest::features))
        .route("/v1/signals/{symbol}", get(rest::signals))
        .route("/v1/latency", get(rest::latency))
        .route("/v1/stream", get(stream::upgrade))
        .route("/metrics", get(metrics::serve))
        .fallback(rest::not_found)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared),
            auth::require_token,
        ))
        .with_state(shared)
}

/// A listening socket the server has not started on yet: binding first lets a caller say
/// where it listens before anything else runs (the screen takes the terminal after).
#[derive(Debug)]
pub struct Bound {
    listener: std::net::TcpListener,
    /// The address it listens on (the port the OS gave for `:0`).
    pub addr: SocketAddr,
    opts: ApiOptions,
}

/// Binds `opts.addr` (blocking, no runtime needed). Refuses a non-loopback address without a
/// token.
pub fn bind(opts: ApiOptions) -> Result<Bound, ApiError> {
    if !opts.addr.ip().is_loopback() && opts.token.is_none() {
        return Err(ApiError::TokenRequired { addr: opts.addr });
    }
    let bind_err = |source| ApiError::Bind {
        addr: opts.addr,
        source,
    };
    let listener = std::net::TcpListener::bind(opts.addr).map_err(bind_err)?;
    listener.set_nonblocking(true).map_err(bind_err)?;
    let addr = listener.local_addr().map_err(bind_err)?;
    Ok(Bound {
        listener,
        addr,
        opts,
    })
}

impl Bound {
    /// Serves on the current tokio runtime until `shutdown`. `views` and `events` are what
    /// the driver publishes.
    pub fn serve(
        self,
        views: watch::Receiver<Arc<View>>,
        events: broadcast::Sender<Arc<TapEvent>>,
        shutdown: Shutdown,
    ) -> Result<ApiHandle, ApiError> {
        let Bound {
            listener,
            addr,
            opts,
        } = self;
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|source| ApiError::Bind { addr, source })?;
        let shared = Arc::new(Shared {
            views,
            events,
            opts,
            counters: ApiCounters::default(),
            shutdown: shutdown.clone(),
            schemas: shape::SchemaCache::default(),
        });
        let app = router(Arc::clone(&shared));
        let mut stop = shutdown;
        let task = tokio::spawn(async move {
            let r = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.recv().await })
                .await;
            if let Err(e) = r {
                tracing::warn!("api server ended: {e}");
            }
        });
        Ok(ApiHandle { addr, shared, task })
    }
}

/// [`bind`] and [`Bound::serve`] at once, on the current tokio runtime.
pub async fn start(
    opts: ApiOptions,
    views: watch::Receiver<Arc<View>>,
    events: broadcast::Sender<Arc<TapEvent>>,
    shutdown: Shutdown,
) -> Result<ApiHandle, ApiError> {
    bind(opts)?.serve(views, events, shutdown)
}

/// The event channel a driver sends into and the API subscribes to.
pub fn event_channel(cfg: &ApiConfig) -> broadcast::Sender<Arc<TapEvent>> {
    broadcast::channel(cfg.events_capacity.max(1)).0
}
