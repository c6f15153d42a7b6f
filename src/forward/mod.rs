//! Forward-proxy mode (`frametap proxy --forward`) and upstream (corporate) proxies.
//!
//! - [`args`], [`command`]: the `frametap proxy --forward` options and command.
//! - [`server`]: the listener: CONNECT (sniff TLS vs plaintext, terminate or tunnel blind), plain
//!   proxy requests; WebSocket upgrades to intercepted hosts go to a `proxy::Backend` (relay or replay).
//! - [`http`]: HTTP/1.1 inside forward mode: forward requests unchanged, hand WebSocket upgrades on.
//! - [`connector`]: reach an upstream (through the upstream proxy, TLS verified).
//! - [`head`]: read one HTTP/1.1 head off a raw stream (CONNECT requests, proxy answers).
//! - [`intercept`]: which CONNECT hosts are terminated with a leaf from the local CA (`--intercept`).
//! - [`upstream_proxy`]: `--upstream-proxy`, `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`, CONNECT dialing.
//! - [`io`]: replaying already-read bytes, TLS sniffing.

pub mod args;
pub mod command;
pub mod connector;
pub mod head;
pub mod http;
pub mod intercept;
pub mod io;
pub mod server;
pub mod upstream_proxy;

pub use args::ProxyModeArgs;
pub use connector::{Target, UpstreamConnector};
pub use intercept::{InterceptRules, DEFAULT_INTERCEPT};
pub use server::{forward_upstream_label, serve, serve_backend, ForwardOptions};
pub use upstream_proxy::{ProxyEndpoint, UpstreamProxies};
