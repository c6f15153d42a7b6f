//! Fuzz target `frame_codec`: the body is `frametap::fuzzing::frame_codec`, replayed on stable by tests/fuzz_corpus.rs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| frametap::fuzzing::frame_codec(data));
