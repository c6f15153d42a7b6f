//! Replays every fuzz corpus and crasher in tests/fuzz_corpus/<target>/ through the same bodies as the cargo-fuzz
//! targets (`frametap::fuzzing`), so CI checks them on stable Rust. Adding a file there adds a case.

use std::path::{Path, PathBuf};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_corpus").join(target)
}

fn replay(target: &str) {
    let (_, body) = frametap::fuzzing::TARGETS.iter().find(|(name, _)| *name == target).expect("a known target");
    let dir = corpus_dir(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("no corpus at {}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable corpus entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the corpus {} is empty", dir.display());
    for path in &files {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("could not read {}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(|| body(&data));
        assert!(outcome.is_ok(), "{target}: {} fails (replay it with the fuzz target to see why)", path.display());
    }
}

#[test]
fn every_target_has_a_corpus() {
    for (name, _) in frametap::fuzzing::TARGETS {
        assert!(corpus_dir(name).is_dir(), "tests/fuzz_corpus/{name} is missing");
    }
}

#[test]
fn capture_reader_corpus() {
    replay("capture_reader");
}

#[test]
fn har_import_corpus() {
    replay("har_import");
}

#[test]
fn jwt_corpus() {
    replay("jwt");
}

#[test]
fn genesys_corpus() {
    replay("genesys");
}

#[test]
fn frame_codec_corpus() {
    replay("frame_codec");
}

#[test]
fn redact_corpus() {
    replay("redact");
}

/// The capture reader's corpus starts from the golden captures (docs/reliability.md, Fuzzing): each file in
/// tests/golden/ has a copy of the same name in tests/fuzz_corpus/capture_reader/, kept byte for byte what the golden
/// file is today, so the fuzzer starts from what frametap writes now (a copy once kept an old note wording).
/// `FRAMETAP_UPDATE_GOLDEN=1 cargo test --test golden` writes the copies with the golden files.
#[test]
fn the_golden_captures_are_in_the_capture_reader_corpus_as_they_are_now() {
    let refresh = "FRAMETAP_UPDATE_GOLDEN=1 cargo test --test golden writes it";
    assert_seeds_are_current("tests/golden", "jsonl", "capture_reader", refresh);
}

/// The HAR import's corpus starts from the HAR fixtures the same way: each tests/fixtures/har/*.har has a copy of
/// the same name in tests/fuzz_corpus/har_import/ (copies once kept a Chrome HAR's older timings and an older
/// export), copied by hand after the fixture changes (`FRAMETAP_BLESS=1 cargo test --test har` rewrites
/// frametap-export.har).
#[test]
fn the_har_fixtures_are_in_the_har_import_corpus_as_they_are_now() {
    let refresh = "copy it from tests/fixtures/har/";
    assert_seeds_are_current("tests/fixtures/har", "har", "har_import", refresh);
}

/// Every `*.ext` file of `dir` has a byte-identical copy in the corpus of `target`.
fn assert_seeds_are_current(dir: &str, ext: &str, target: &str, refresh: &str) {
    let seeds_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut checked = 0;
    for entry in std::fs::read_dir(&seeds_dir).unwrap() {
        let original = entry.unwrap().path();
        if original.extension().is_none_or(|e| e != ext) {
            continue;
        }
        let seed = corpus_dir(target).join(original.file_name().unwrap());
        let copy = std::fs::read(&seed).unwrap_or_else(|e| panic!("{}: {e} ({refresh})", seed.display()));
        assert!(
            copy == std::fs::read(&original).unwrap(),
            "{} is not {} as it is now: copy it again ({refresh})",
            seed.display(),
            original.display()
        );
        checked += 1;
    }
    assert!(checked >= 2, "no *.{ext} file was found in {}", seeds_dir.display());
}
