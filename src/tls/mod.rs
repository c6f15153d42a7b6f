//! TLS: the local CA (`certs` commands), leaf certificates per host, and frametap's server configs.
//!
//! - [`ca`]: create/load the per-user CA (`$FRAMETAP_HOME/certs`, else `~/.frametap/certs`).
//! - [`leaf`]: leaf certificates signed by the CA, one cached [`rustls::ServerConfig`] per SNI name.
//! - [`server`]: server configs (ring provider, ALPN `http/1.1`), including the `proxy --tls` one.
//! - [`command`]: `frametap certs init|show` and the shared `--certs DIR` option.

pub mod ca;
pub mod command;
pub mod leaf;
pub mod server;

pub use ca::{default_certs_dir, CaError, CertAuthority};
pub use command::{run_certs, CertsCommand, CertsDirArg};
pub use leaf::{issue_leaf, LeafIssuer};
pub use server::localhost_server_config;
