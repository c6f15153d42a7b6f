//! TLS: the upstream client configuration (and, with `frametap certs`, the local CA and its leaf certificates).

pub mod upstream;
