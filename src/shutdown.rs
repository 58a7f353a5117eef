//! Waiting for the signals that ask a process to stop: SIGINT, and SIGTERM where there is one.

use std::future::Future;

/// Resolves at the first SIGINT or SIGTERM. The handlers are installed when this is called, not
/// when the future is first polled: a signal that came between the two would take its default
/// action and kill the process (`serve` says it is serving before it polls this).
pub fn signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, Signal, SignalKind};
        async fn received(signal: Option<Signal>) {
            match signal {
                Some(mut signal) => {
                    signal.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        let interrupt = signal(SignalKind::interrupt()).ok();
        let terminate = signal(SignalKind::terminate()).ok();
        async move {
            tokio::select! {
                () = received(interrupt) => {},
                () = received(terminate) => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
