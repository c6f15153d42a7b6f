//! The docs name every code frametap emits: each diagnosis rule and lint finding the source creates is listed in
//! docs/diagnosis.md, and each note code in docs/capture-format.md (users look them up there, and scripts
//! match on them). The codes are read from the source text, where they are string literals.

use std::collections::BTreeSet;
use std::path::Path;

/// The string literals that follow `opening` (then optional whitespace and a quote) in the non-test part of every
/// source file under src/: `cause(` + `"token-expired"` gives `token-expired`.
fn literals_after(opening: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut files = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|entry| entry.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|ext| ext != "rs") || path.ends_with("tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // Unit tests sit at the end of a file, and make up codes of their own.
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (at, _) in text.match_indices(opening) {
            let rest = text[at + opening.len()..].trim_start();
            let Some(rest) = rest.strip_prefix('"') else { continue };
            let code = &rest[..rest.find('"').unwrap()];
            if code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') && !code.is_empty() {
                found.insert(code.to_owned());
            }
        }
    }
    found
}

fn doc(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs").join(name)).unwrap()
}

/// The codes among `codes` that `doc` does not name in backticks.
fn unlisted(codes: &BTreeSet<String>, doc: &str) -> Vec<String> {
    codes.iter().filter(|code| !doc.contains(&format!("`{code}`"))).cloned().collect()
}

#[test]
fn every_diagnosis_rule_and_lint_finding_is_in_the_diagnosis_doc() {
    let rules: BTreeSet<String> = literals_after("cause(").into_iter().chain(literals_after("\"rule\": ")).collect();
    let findings = literals_after("finding(");
    // The scan must see what it checks: a change in how causes are made would otherwise pass unchecked.
    for known in ["token-expired", "protocol-lint", "server-announced", "tcp-drop", "idle"] {
        assert!(rules.contains(known), "the source scan no longer finds the rule {known}: {rules:?}");
    }
    for known in ["genesys-no-action", "genesys-before-configure", "genesys-downgrade"] {
        assert!(findings.contains(known), "the source scan no longer finds the finding {known}: {findings:?}");
    }
    let diagnosis = doc("diagnosis.md");
    assert_eq!(unlisted(&rules, &diagnosis), Vec::<String>::new(), "rules missing from docs/diagnosis.md");
    assert_eq!(unlisted(&findings, &diagnosis), Vec::<String>::new(), "lint findings missing from docs/diagnosis.md");
}

#[test]
fn every_note_code_written_as_a_literal_is_in_the_capture_format_doc() {
    let codes = literals_after("code: ");
    for known in ["upgrade-malformed", "request-refused", "message-too-big"] {
        assert!(codes.contains(known), "the source scan no longer finds the note code {known}: {codes:?}");
    }
    assert_eq!(
        unlisted(&codes, &doc("capture-format.md")),
        Vec::<String>::new(),
        "note codes missing from docs/capture-format.md"
    );
}
