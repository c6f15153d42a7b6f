//! What each subcommand does, on top of the library: parse-time checks, binding, banners, shutdown.

pub mod proxy;
pub mod shutdown;
