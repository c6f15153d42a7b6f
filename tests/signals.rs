//! Ctrl-C and SIGTERM are caught from the moment a command asks for its shutdown signal (before it prints
//! "Ctrl-C stops"), not from when its accept loop first polls the signal: on a busy machine that came after
//! the first connection was already being served, and a SIGTERM then killed frametap outright (no 1001 to
//! clients, no `end` record in the capture). Its own process: the signals are raised at this test binary.

#![cfg(unix)]

use frametap::commands::shutdown;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_signal_that_arrives_before_the_shutdown_future_is_polled_still_stops() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let stop = shutdown::signal();
        // SAFETY: raising a signal at this process, which `shutdown::signal` has just installed a handler for
        // (without one, the test binary dies here and the test fails).
        assert_eq!(unsafe { libc::raise(signal) }, 0);
        tokio::time::timeout(WAIT, stop).await.unwrap_or_else(|_| panic!("signal {signal} was not seen"));
    }
}
