//! Fuzz target `genesys`: the body is `frametap::fuzzing::genesys`, replayed on stable by tests/fuzz_corpus.rs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| frametap::fuzzing::genesys(data));
