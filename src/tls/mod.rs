//! TLS: the local CA (`certs` commands), leaf certificates per host, frametap's server configs, and the
//! upstream client configuration.
//!
//! - [`ca`]: create/load the per-user CA (`$FRAMETAP_HOME/certs`, else `~/.frametap/certs`).
//! - [`leaf`]: leaf certificates signed by the CA, one cached [`rustls::ServerConfig`] per SNI name.
//! - [`server`]: server configs (ring provider, ALPN `http/1.1`), including the `--tls` one, and its accept path.
//! - [`command`]: `frametap certs init|show`, and the shared `--certs DIR` and `--tls` options.
//! - [`upstream`]: the client config for `wss://` upstreams (system and webpki roots, `--upstream-ca`).
//! - [`errors`]: upstream TLS failures in plain words, with what to do.

pub mod ca;
pub mod command;
pub mod errors;
pub mod leaf;
pub mod server;
pub mod upstream;

pub use ca::{default_certs_dir, CaError, CertAuthority};
pub use command::{run_certs, CertsCommand, CertsDirArg, ListenTlsArgs};
pub use leaf::{issue_leaf, LeafIssuer};
pub use server::{listener_server_config, localhost_server_config};
