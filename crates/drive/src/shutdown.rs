//! One shutdown signal for every loop: the live driver, the replay loop, the screen, the local
//! exchange and the process's signal handlers all stop through [`Shutdown`].
//!
//! Owns: the signal. Must not touch: what each loop does to stop (drain, close, join).
//!
//! Like mini-redis's `shutdown.rs`, listeners are cheap clones and the trigger is a separate
//! handle ([`Stop`]). Under it is a `watch<bool>`: a listener made after the stop still sees
//! it, and a synchronous loop (the replay thread) can poll it with [`Shutdown::is_shutdown`]
//! without a runtime. When every [`Stop`] is dropped without stopping, listeners see a
//! shutdown too: nobody is left who could end the run otherwise.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// Listens for the stop. Clone it for every loop that must end with the run.
#[derive(Clone, Debug)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

/// Triggers the stop for every [`Shutdown`] made from it.
#[derive(Clone, Debug)]
pub struct Stop {
    tx: Arc<watch::Sender<bool>>,
}

impl Stop {
    /// A new signal, not yet given.
    pub fn new() -> Stop {
        let (tx, _) = watch::channel(false);
        Stop { tx: Arc::new(tx) }
    }

    /// A listener.
    pub fn shutdown(&self) -> Shutdown {
        Shutdown {
            rx: self.tx.subscribe(),
        }
    }

    /// Gives the signal (again is harmless).
    pub fn stop(&self) {
        self.tx.send_replace(true);
    }

    /// Gives the signal on Ctrl-C (SIGINT), from a task on the current runtime.
    pub fn on_ctrl_c(&self) {
        let stop = self.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.stop();
            }
        });
    }

    /// Gives the signal on Ctrl-C (SIGINT) or SIGTERM, from a task on the current runtime: what
    /// the screen needs so the terminal is restored however the process is asked to end.
    pub fn on_ctrl_c_or_terminate(&self) {
        self.on_ctrl_c();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let stop = self.clone();
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::spawn(async move {
                        if term.recv().await.is_some() {
                            stop.stop();
                        }
                    });
                }
                Err(e) => tracing::warn!("cannot listen for SIGTERM: {e}"),
            }
        }
    }

    /// Gives the signal after `d`, from a task on the current runtime.
    pub fn after(&self, d: Duration) {
        let stop = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(d).await;
            stop.stop();
        });
    }
}

impl Default for Stop {
    fn default() -> Self {
        Stop::new()
    }
}

impl Shutdown {
    /// A signal given after `d` (a task on the current runtime gives it).
    pub fn after(d: Duration) -> Shutdown {
        let stop = Stop::new();
        stop.after(d);
        stop.shutdown()
    }

    /// This signal, or `d` after now, whichever comes first (`None`: this signal only). The
    /// other listeners of this signal are not affected: a session that ends after `--duration`
    /// leaves the screen up.
    pub fn or_after(&self, d: Option<Duration>) -> Shutdown {
        let Some(d) = d else {
            return self.clone();
        };
        let stop = Stop::new();
        let child = stop.shutdown();
        let mut parent = self.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = parent.recv() => {}
                _ = tokio::time::sleep(d) => {}
            }
            stop.stop();
        });
        child
    }

    /// Has the signal been given (or every [`Stop`] dropped)? Does not wait.
    pub fn is_shutdown(&self) -> bool {
        *self.rx.borrow() || self.rx.has_changed().is_err()
    }

    /// Waits for the signal (at once if it was given before).
    pub async fn recv(&mut self) {
        // An error means every `Stop` is gone: nobody can give the signal any more.
        let _ = self.rx.wait_for(|&stopped| stopped).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn every_listener_sees_the_stop_even_one_made_after_it() {
        let stop = Stop::new();
        let mut a = stop.shutdown();
        assert!(!a.is_shutdown());
        stop.stop();
        a.recv().await;
        let mut late = stop.shutdown();
        assert!(late.is_shutdown());
        late.recv().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_stops_its_own_listeners_only() {
        let stop = Stop::new();
        let parent = stop.shutdown();
        let mut child = parent.or_after(Some(Duration::from_secs(5)));
        let t = tokio::time::Instant::now();
        child.recv().await;
        assert_eq!(t.elapsed(), Duration::from_secs(5));
        assert!(!parent.is_shutdown(), "the parent goes on");
        // And the parent's stop reaches a child before its deadline.
        let mut child = parent.or_after(Some(Duration::from_secs(60)));
        stop.stop();
        child.recv().await;
        assert!(t.elapsed() < Duration::from_secs(6));
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_every_trigger_is_a_shutdown() {
        let stop = Stop::new();
        let mut s = stop.shutdown();
        drop(stop);
        assert!(s.is_shutdown());
        s.recv().await;
        let mut timed = Shutdown::after(Duration::from_millis(10));
        timed.recv().await;
        assert!(timed.is_shutdown());
    }
}
