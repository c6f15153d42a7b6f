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
    let golden_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut checked = 0;
    for entry in std::fs::read_dir(&golden_dir).unwrap() {
        let golden = entry.unwrap().path();
        if golden.extension().is_none_or(|ext| ext != "jsonl") {
            continue;
        }
        let seed = corpus_dir("capture_reader").join(golden.file_name().unwrap());
        let copy = std::fs::read(&seed).unwrap_or_else(|e| {
            panic!("{}: {e} (FRAMETAP_UPDATE_GOLDEN=1 cargo test --test golden writes it)", seed.display())
        });
        assert!(
            copy == std::fs::read(&golden).unwrap(),
            "{} is not {} as it is now: copy it again",
            seed.display(),
            golden.display()
        );
        checked += 1;
    }
    assert!(checked >= 2, "the golden captures were not found in {}", golden_dir.display());
}
