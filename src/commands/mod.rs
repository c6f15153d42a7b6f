//! What each subcommand does, on top of the library: parse-time checks, binding, banners, shutdown.

pub mod proxy;
pub mod shutdown;

use std::net::SocketAddr;

/// The banner's warning when a listener is not on loopback (`--listen 0.0.0.0:9000`): anyone who can reach the
/// address can use it, and see what it relays or replays. A `wss://` listener (`tls`) on every address also hears
/// that its certificate names only loopback and the `--listen` address ([`crate::tls::listener_server_config`]).
pub fn warn_unless_loopback(local: SocketAddr, what: &str, tls: bool) {
    if !local.ip().is_loopback() {
        crate::notice!(
            "frametap: WARNING: listening on {local}, not loopback: anyone who can reach it can use this {what}."
        );
    }
    if tls && local.ip().is_unspecified() {
        crate::notice!(
            "frametap: WARNING: the wss:// certificate names localhost, 127.0.0.1 and ::1 only: a client that dials \
             this machine by another address fails its TLS handshake (the name does not match). Give that address \
             to --listen (e.g. --listen 192.168.1.20:{}) and the certificate names it too.",
            local.port()
        );
    }
}

/// The banner's last line for a recording proxy (`proxy`, `proxy --forward`): how to stop it and what stopping does.
pub fn announce_ctrl_c(capture_saved: bool) {
    let saved = if capture_saved { " and the capture is saved" } else { "" };
    crate::notice!("  Ctrl-C stops (open connections get 1001{saved})");
}
