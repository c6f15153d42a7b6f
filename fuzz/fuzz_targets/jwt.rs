//! Fuzz target `jwt`: the body is `frametap::fuzzing::jwt`, replayed on stable by tests/fuzz_corpus.rs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| frametap::fuzzing::jwt(data));
