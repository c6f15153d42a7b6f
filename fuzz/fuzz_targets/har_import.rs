//! Fuzz target `har_import`: the body is `frametap::fuzzing::har_import`, replayed on stable by tests/fuzz_corpus.rs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| frametap::fuzzing::har_import(data));
