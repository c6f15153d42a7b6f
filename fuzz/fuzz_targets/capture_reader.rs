//! Fuzz target `capture_reader`: the body is `frametap::fuzzing::capture_reader`, replayed on stable by tests/fuzz_corpus.rs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| frametap::fuzzing::capture_reader(data));
