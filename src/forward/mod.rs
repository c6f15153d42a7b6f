//! Forward-proxy mode (`frametap proxy --forward`) and upstream (corporate) proxies.
//!
//! - [`head`]: read one HTTP/1.1 head off a raw stream (CONNECT requests, proxy answers).
//! - [`intercept`]: which CONNECT hosts are terminated with a leaf from the local CA (`--intercept`).
//! - [`upstream_proxy`]: `--upstream-proxy`, `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`, CONNECT dialing.

pub mod head;
pub mod intercept;
pub mod io;
pub mod upstream_proxy;

pub use intercept::{InterceptRules, DEFAULT_INTERCEPT};
pub use upstream_proxy::{ProxyEndpoint, UpstreamProxies};
