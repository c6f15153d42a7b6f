//! The docs and the source agree on every code frametap emits: each diagnosis rule and lint finding the source
//! creates is listed in docs/diagnosis.md, and each note code in docs/capture-format.md (users look them up there,
//! and scripts match on them); and the other way round, every code those lists document is produced somewhere in
//! src. The codes are read from the source text: string literals, and, for notes whose code is a variable, the
//! literals [`VARIABLE_NOTE_CODES`] says feed it. Every field of a capture record's struct is in the table of its
//! kind in docs/capture-format.md. And what README.md and docs/*.md tell a newcomer to type or open is there: every
//! `--flag` they name is one a frametap command takes (read from its `--help`), and every file and `FRAMETAP_*`
//! variable they name is in the repository.

#[allow(dead_code)]
#[path = "common/binary.rs"]
mod binary;

use std::collections::BTreeSet;
use std::path::Path;

/// Notes whose `code` is not a literal where the note is built: the file that builds them, and the codes that reach
/// it (each must be a string literal somewhere in src). A new such place fails the test until it is listed here.
const VARIABLE_NOTE_CODES: &[(&str, &[&str])] = &[
    // The constructors themselves (`Note::warn(code, …)`); their callers are scanned.
    ("src/event/note.rs", &[]),
    // `emit_handshake`'s `note(code, level, message)` closure.
    ("src/proxy/server.rs", &["compression-off", "cookies-dropped", "handshake-mismatch"]),
    // The (code, message) pairs of a replayed connection's path and subprotocol.
    ("src/replay/serve.rs", &["replay-path", "replay-subprotocol"]),
    // `DIVERGENCE_NOTE`, which `--quiet` logs leave out (src/log.rs).
    ("src/replay/player.rs", &["replay-divergence"]),
    // `ui FILE`'s session notes: HAR import warnings and `CaptureFile::read_warnings` (src/capture/reader.rs).
    ("src/ui/file.rs", &["har-import", "capture-unreadable", "capture-inconsistent", "capture-cut-short"]),
];

/// Codes the docs list that no code in src produces, each with the reason it stays documented (say, a code only
/// older versions wrote, still found in their captures). Empty today: every documented code is produced.
const DOCUMENTED_NOT_PRODUCED: &[(&str, &str)] = &[];

/// The non-test part of every source file under src/, with its path (`src/…`).
fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    let mut files = vec![root.join("src")];
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
        let text = text.split("#[cfg(test)]").next().unwrap_or_default().to_owned();
        found.push((path.strip_prefix(root).unwrap().to_string_lossy().into_owned(), text));
    }
    found.sort();
    found
}

/// `"code"` at the start of `text` (after whitespace): the code, when it looks like one (lowercase, digits, `-`).
fn leading_literal(text: &str) -> Option<&str> {
    let rest = text.trim_start().strip_prefix('"')?;
    let code = &rest[..rest.find('"')?];
    let looks_like_a_code =
        !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    looks_like_a_code.then_some(code)
}

/// The string literals that follow `opening` (then optional whitespace and a quote) in the source:
/// `cause(` + `"token-expired"` gives `token-expired`.
fn literals_after(opening: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (_, text) in sources() {
        for (at, _) in text.match_indices(opening) {
            found.extend(leading_literal(&text[at + opening.len()..]).map(str::to_owned));
        }
    }
    found
}

/// What every `name { … }` struct literal in the source gets as its `field`: the literal, or `Err(file)` where it
/// is a variable (`Note {` + `code` gives each note's code).
fn struct_literal_codes(name: &str, field: &str) -> Vec<Result<String, String>> {
    let (opening, field) = (format!("{name} {{"), format!("{field}:"));
    let mut found = Vec::new();
    for (file, text) in sources() {
        for (at, _) in text.match_indices(&opening) {
            if text[..at].ends_with("struct ") || !text[..at].ends_with(|c: char| !c.is_alphanumeric()) {
                continue;
            }
            // The field, before the literal's closing brace (these records hold no braces of their own).
            let body = &text[at..at + text[at..].find('}').unwrap()];
            let Some(value) = body.find(&field) else { continue };
            found.push(leading_literal(&body[value + field.len()..]).map(str::to_owned).ok_or(file.clone()));
        }
    }
    found
}

/// The literal `field`s of the `name { … }` struct literals in the source.
fn struct_literal_literals(name: &str, field: &str) -> impl Iterator<Item = String> {
    struct_literal_codes(name, field).into_iter().filter_map(Result::ok)
}

/// What every note built with a constructor (`Note::warn(code, …)`, `Note::info`, `Note::new`) gets as its code:
/// the literal, or `Err(file)` where it is a variable.
fn constructed_note_codes() -> Vec<Result<String, String>> {
    let mut found = Vec::new();
    for (file, text) in sources() {
        for constructor in ["Note::new(", "Note::info(", "Note::warn("] {
            for (at, _) in text.match_indices(constructor) {
                found.push(leading_literal(&text[at + constructor.len()..]).map(str::to_owned).ok_or(file.clone()));
            }
        }
    }
    found
}

/// Every code the source gives a note: the literals, and the codes [`VARIABLE_NOTE_CODES`] lists.
fn note_codes() -> BTreeSet<String> {
    let mut built = struct_literal_codes("Note", "code");
    built.extend(constructed_note_codes());
    let variable_sites: BTreeSet<&str> =
        built.iter().filter_map(|code| code.as_ref().err()).map(String::as_str).collect();
    let listed: BTreeSet<&str> = VARIABLE_NOTE_CODES.iter().map(|(file, _)| *file).collect();
    assert_eq!(
        variable_sites, listed,
        "files building notes with a variable code: list their codes in VARIABLE_NOTE_CODES"
    );
    let sources = sources();
    let is_a_literal = |code: &str| sources.iter().any(|(_, text)| text.contains(&format!("\"{code}\"")));
    let mut codes: BTreeSet<String> = built.into_iter().filter_map(Result::ok).collect();
    for (file, fed) in VARIABLE_NOTE_CODES {
        for code in *fed {
            assert!(is_a_literal(code), "{code} (listed for {file}) is no string literal in src");
            codes.insert((*code).to_owned());
        }
    }
    codes
}

fn doc(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs").join(name)).unwrap()
}

/// The part of `doc` from the line `start` to the next heading after it.
fn section<'a>(doc: &'a str, start: &str) -> &'a str {
    let from = doc.find(start).unwrap_or_else(|| panic!("no {start:?} in the doc"));
    let rest = &doc[from + start.len()..];
    &rest[..rest.find("\n#").unwrap_or(rest.len())]
}

/// The codes a section documents: the first column of its table rows (`` | `code` | … ``), and, when
/// `with_prose`, the hyphenated codes in backticks of its lines outside the table.
fn documented(section: &str, with_prose: bool) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in section.lines() {
        if let Some(row) = line.strip_prefix("| `") {
            found.insert(row[..row.find('`').unwrap()].to_owned());
        } else if with_prose && !line.starts_with('|') {
            let quoted = line.split('`').skip(1).step_by(2);
            found.extend(
                quoted.filter(|q| q.contains('-') && leading_literal(&format!("\"{q}\"")).is_some()).map(str::to_owned),
            );
        }
    }
    found
}

/// The codes among `documented` that `produced` lacks, less those [`DOCUMENTED_NOT_PRODUCED`] explains.
fn not_produced(documented: &BTreeSet<String>, produced: &BTreeSet<String>) -> Vec<String> {
    let excused = |code: &String| DOCUMENTED_NOT_PRODUCED.iter().any(|(excused, _)| excused == code);
    documented.iter().filter(|code| !produced.contains(*code) && !excused(code)).cloned().collect()
}

/// The diagnosis rules the source creates: `cause("…"`, `"rule": "…"` in JSON, `Cause { rule: "…"`.
fn rules() -> BTreeSet<String> {
    let literals = literals_after("cause(").into_iter().chain(literals_after("\"rule\": "));
    literals.chain(struct_literal_literals("Cause", "rule")).collect()
}

/// The lint findings the source creates: `finding("…"`, `Finding { rule: "…"`.
fn findings() -> BTreeSet<String> {
    literals_after("finding(").into_iter().chain(struct_literal_literals("Finding", "rule")).collect()
}

/// The codes the docs' lists document: diagnosis rules and lint findings (docs/diagnosis.md), note codes
/// (docs/capture-format.md).
struct Documented {
    rules: BTreeSet<String>,
    findings: BTreeSet<String>,
    notes: BTreeSet<String>,
}

fn documented_codes() -> Documented {
    let diagnosis = doc("diagnosis.md");
    let capture_format = doc("capture-format.md");
    let codes = Documented {
        rules: documented(section(&diagnosis, "\n## The rules\n"), false),
        findings: documented(section(&diagnosis, "\n### Genesys lint\n"), false),
        notes: documented(section(&capture_format, "\nNote codes written today:\n"), true),
    };
    // The doc scan must see what it checks: a change in the docs' layout would otherwise pass unchecked.
    assert!(codes.rules.contains("tcp-drop") && codes.rules.len() > 15, "{:?}", codes.rules);
    assert!(codes.findings.contains("genesys-no-token") && codes.findings.len() > 10, "{:?}", codes.findings);
    assert!(codes.notes.contains("cookies-dropped") && codes.notes.contains("capture-cut-short"), "{:?}", codes.notes);
    codes
}

/// The codes among `produced` that `documented` lacks.
fn undocumented(produced: &BTreeSet<String>, documented: &BTreeSet<String>) -> Vec<String> {
    produced.difference(documented).cloned().collect()
}

#[test]
fn every_diagnosis_rule_and_lint_finding_is_in_the_diagnosis_doc() {
    let rules = rules();
    let findings = findings();
    // The scan must see what it checks: a change in how causes are made would otherwise pass unchecked.
    for known in ["token-expired", "protocol-lint", "server-announced", "tcp-drop", "idle"] {
        assert!(rules.contains(known), "the source scan no longer finds the rule {known}: {rules:?}");
    }
    for known in ["genesys-no-action", "genesys-before-configure", "genesys-downgrade"] {
        assert!(findings.contains(known), "the source scan no longer finds the finding {known}: {findings:?}");
    }
    let documented = documented_codes();
    assert_eq!(undocumented(&rules, &documented.rules), Vec::<String>::new(), "rules missing from docs/diagnosis.md");
    assert_eq!(
        undocumented(&findings, &documented.findings),
        Vec::<String>::new(),
        "lint findings missing from docs/diagnosis.md"
    );
}

#[test]
fn every_note_code_is_in_the_capture_format_doc() {
    let codes = note_codes();
    for known in ["upgrade-malformed", "request-refused", "message-too-big", "compression-off", "capture-cut-short"] {
        assert!(codes.contains(known), "the source scan no longer finds the note code {known}: {codes:?}");
    }
    let documented = documented_codes();
    assert_eq!(
        undocumented(&codes, &documented.notes),
        Vec::<String>::new(),
        "note codes missing from docs/capture-format.md"
    );
}

#[test]
fn every_documented_rule_lint_finding_and_note_code_is_produced_in_src() {
    let documented = documented_codes();
    let (rules, findings, notes) = (rules(), findings(), note_codes());
    assert_eq!(not_produced(&documented.rules, &rules), Vec::<String>::new(), "docs/diagnosis.md rules no cause has");
    assert_eq!(
        not_produced(&documented.findings, &findings),
        Vec::<String>::new(),
        "docs/diagnosis.md lint no finding has"
    );
    assert_eq!(
        not_produced(&documented.notes, &notes),
        Vec::<String>::new(),
        "docs/capture-format.md notes src never writes"
    );

    // An excuse names a documented code that is indeed not produced.
    for (code, reason) in DOCUMENTED_NOT_PRODUCED {
        let code = (*code).to_owned();
        let lists = [&documented.rules, &documented.findings, &documented.notes];
        assert!(lists.iter().any(|list| list.contains(&code)), "{code} ({reason}) is not documented: drop its excuse");
        let produced = rules.contains(&code) || findings.contains(&code) || notes.contains(&code);
        assert!(!produced, "{code} ({reason}) is produced again: drop its excuse from DOCUMENTED_NOT_PRODUCED");
    }
}

/// Flags the docs name that are other tools' (the bench's own are read from benches/relay/main.rs).
const OTHER_TOOLS_FLAGS: &[&str] = &[
    // cargo
    "--release",
    "--test",
    "--bench",
    "--ignored",
    "--nocapture",
    "--path",
    "--all-targets",
    // Chromium
    "--proxy-server",
    "--proxy-bypass-list",
    "--user-data-dir",
    "--ignore-certificate-errors-spki-list",
    // docs/redaction.md's `--option=value`: any option of the recorded command line
    "--option",
];

/// Paths the docs name that a tool makes when it runs, not kept in the repository (cargo-fuzz's folders).
const MADE_AT_RUN_TIME: &[&str] = &["fuzz/corpus/", "fuzz/artifacts/"];

/// README.md and every docs/*.md, with their paths.
fn readme_and_docs() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = vec![root.join("README.md")];
    let docs = std::fs::read_dir(root.join("docs")).unwrap().map(|entry| entry.unwrap().path());
    paths.extend(docs.filter(|path| path.extension().is_some_and(|ext| ext == "md")));
    paths.sort();
    let name = |path: &Path| path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
    paths.iter().map(|path| (name(path), std::fs::read_to_string(path).unwrap())).collect()
}

/// The `--flags` in `text`: `--` after a character that cannot be part of a word, then a lowercase name.
fn flags_in(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in text.match_indices("--") {
        if text[..at].ends_with(|c: char| c.is_alphanumeric() || c == '-') {
            continue;
        }
        let name: String =
            text[at + 2..].chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-').collect();
        if name.starts_with(|c: char| c.is_ascii_lowercase()) {
            found.insert(format!("--{name}"));
        }
    }
    found
}

/// `frametap COMMAND… --help`.
fn help(command: &[String]) -> String {
    let output = binary::frametap_command().args(command).arg("--help").output().unwrap();
    assert!(output.status.success(), "frametap {command:?} --help: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// The subcommands a help text lists under `Commands:`, but `help`.
fn subcommands(help: &str) -> Vec<String> {
    let Some(list) = help.split("\nCommands:\n").nth(1) else { return Vec::new() };
    let names = list.lines().take_while(|line| !line.is_empty()).filter_map(|line| line.strip_prefix("  "));
    // A description's further lines are indented more.
    let names = names.filter(|line| !line.starts_with(' ')).filter_map(|line| line.split_whitespace().next());
    names.filter(|name| *name != "help").map(str::to_owned).collect()
}

#[test]
fn every_flag_the_docs_name_is_one_a_frametap_command_or_the_bench_takes() {
    let mut helps = Vec::new();
    let mut commands = vec![Vec::<String>::new()];
    while let Some(command) = commands.pop() {
        let text = help(&command);
        commands.extend(subcommands(&text).into_iter().map(|name| [command.clone(), vec![name]].concat()));
        helps.push(text);
    }
    // The scan must reach the subcommands' own help: `replay send` is two levels down.
    assert!(helps.len() > 10, "{} help texts", helps.len());
    let mut known = flags_in(&helps.join("\n"));
    let bench = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/relay/main.rs")).unwrap();
    known.extend(flags_in(&bench));
    known.extend(OTHER_TOOLS_FLAGS.iter().map(|flag| (*flag).to_owned()));
    for flag in ["--upstream", "--fail-on-divergence", "--auth-code-margin", "--force", "--write-docs"] {
        assert!(known.contains(flag), "the help scan no longer finds {flag}: {known:?}");
    }
    let unknown: Vec<String> = readme_and_docs()
        .into_iter()
        .flat_map(|(name, text)| flags_in(&text).into_iter().map(move |flag| (name.clone(), flag)))
        .filter(|(_, flag)| !known.contains(flag))
        .map(|(name, flag)| format!("{name}: {flag}"))
        .collect();
    assert_eq!(unknown, Vec::<String>::new(), "flags the docs name that no frametap command (nor the bench) takes");
}

#[test]
fn every_file_and_frametap_variable_the_docs_name_is_in_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources: String = sources().into_iter().map(|(_, text)| text).collect();
    let mut folders = vec![root.join("tests")];
    while let Some(path) = folders.pop() {
        if path.is_dir() {
            folders.extend(std::fs::read_dir(&path).unwrap().map(|entry| entry.unwrap().path()));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            sources.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
    let mut missing = Vec::new();
    let mut seen = 0;
    for (name, text) in readme_and_docs() {
        // A path of this repository: `src/…`, `tests/…`, `docs/…`, …, not part of a longer path (another
        // project's `transport/src/…`).
        for folder in ["src/", "tests/", "benches/", "docs/", "certs/", "scripts/", "fuzz/"] {
            for (at, _) in text.match_indices(folder) {
                if text[..at].ends_with(|c: char| c.is_alphanumeric() || "_./-".contains(c)) {
                    continue;
                }
                let path: String =
                    text[at..].chars().take_while(|c| c.is_alphanumeric() || "_./-<>*…".contains(*c)).collect();
                let path = path.trim_end_matches(['.', '-']);
                if path.contains(['<', '>', '*', '…']) || MADE_AT_RUN_TIME.contains(&path) {
                    continue;
                }
                seen += 1;
                if !root.join(path).exists() {
                    missing.push(format!("{name}: {path}"));
                }
            }
        }
        for (at, _) in text.match_indices("FRAMETAP_") {
            let variable: String =
                text[at..].chars().take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_').collect();
            if !sources.contains(&format!("\"{variable}\"")) {
                missing.push(format!("{name}: {variable} (no source or test reads it)"));
            }
        }
    }
    assert!(seen > 100, "the scan finds only {seen} paths in the docs");
    assert_eq!(missing, Vec::<String>::new(), "files and variables the docs name that the repository lacks");
}

/// The fields of `struct NAME` (`pub struct NAME {`, or `struct NAME<'a> {`) in the source: the names before `:` on
/// the lines of its body.
fn struct_fields(name: &str) -> Vec<String> {
    let sources = sources();
    let (file, text) = sources
        .iter()
        .find(|(_, text)| text.contains(&format!("struct {name} {{")) || text.contains(&format!("struct {name}<")))
        .unwrap_or_else(|| panic!("no struct {name} in src"));
    let start = text.find(&format!("struct {name} {{")).or_else(|| text.find(&format!("struct {name}<"))).unwrap();
    let body = &text[start..];
    let body = &body[body.find('{').unwrap() + 1..body.find("\n}").unwrap_or_else(|| panic!("{file}: {name}'s end"))];
    let field = |line: &str| {
        let line = line.trim().trim_start_matches("pub ");
        let name = &line[..line.find(':')?];
        name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_').then(|| name.to_owned())
    };
    body.lines().filter_map(field).collect()
}

#[test]
fn every_field_of_a_capture_record_is_in_the_capture_format_doc() {
    let doc = doc("capture-format.md");
    // Each kind's section, and the structs written as its JSON (a frame through its wire form; an `open` holds the
    // request and response heads, whose fields its table names).
    let kinds: &[(&str, &[&str])] = &[
        ("meta", &["Meta"]),
        ("open", &["Open", "HttpRequest", "HttpResponse"]),
        ("frame", &["FrameWire"]),
        ("close", &["Close"]),
        ("note", &["Note"]),
        ("end", &["End"]),
    ];
    let mut missing = Vec::new();
    for (kind, structs) in kinds {
        let table = section(&doc, &format!("\n## `{kind}`"));
        let documented: BTreeSet<&str> = table
            .lines()
            .filter(|line| line.starts_with("| `"))
            .flat_map(|line| line.split('`').skip(1).step_by(2))
            .collect();
        for name in *structs {
            let fields = struct_fields(name);
            assert!(fields.len() > 1, "the scan finds no fields in {name}: {fields:?}");
            // `conn` and `ts` are the common fields, documented once above the kinds.
            let undocumented =
                fields.into_iter().filter(|f| f != "conn" && f != "ts" && !documented.contains(f.as_str()));
            missing.extend(undocumented.map(|field| format!("{kind} ({name}): {field}")));
        }
    }
    assert_eq!(missing, Vec::<String>::new(), "record fields missing from docs/capture-format.md");
}
