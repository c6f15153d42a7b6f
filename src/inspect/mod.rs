//! Analysis over a connection's records: token claims, close diagnosis, protocol profiles (pure, shared by live and `inspect`).

pub mod jwt;
pub mod tokens;
