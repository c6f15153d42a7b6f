//! `frametap inspect` on capture files in tests/fixtures: a normal one, a cut-off one, a corrupt one.

mod common;

use frametap::inspect::command::{inspect, InspectOutput};
use frametap::inspect::{run_inspect, AnalysisArgs, InspectCommand};
use serde_json::Value;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn command(name: &str, conn: Option<u64>, json: bool) -> InspectCommand {
    InspectCommand { file: fixture(name), conn, json, analysis: AnalysisArgs::default() }
}

fn run(name: &str, conn: Option<u64>, json: bool) -> InspectOutput {
    inspect(&command(name, conn, json), false).expect("inspect succeeds")
}

#[test]
fn a_normal_capture_prints_timelines_and_recomputed_diagnoses() {
    let out = run("seed-story.jsonl", None, false);
    assert!(out.stderr.is_empty(), "{:?}", out.stderr);
    let text = out.stdout;
    assert!(text.contains("connection 1 GET /v1?deploymentId="), "{text}");
    assert!(text.contains("#1    client→server text"), "{text}");
    assert!(
        text.contains("‹request without action ⚠ no `action`, no `token`, sent before any `configureSession`›"),
        "{text}"
    );
    assert!(text.contains("▶ preceding frame #1 client→server text, 51 ms before the close"), "{text}");
    assert!(text.contains("protocol-lint: client frame #1"), "{text}");
    assert!(text.contains("ruled out: no JWT"), "{text}");
    assert!(!text.contains("other findings"), "findings the lint cause cites are not listed twice: {text}");
    assert!(!text.contains("stale guess"), "a diagnosis already in the file must be recomputed, not repeated");
    assert!(text.contains("SessionResponse 200 ← #1 configureSession in 20 ms"), "{text}");
    assert!(
        text.contains("client-closed: the client closed the connection itself (1000 \"Guest client disconnect\")"),
        "{text}"
    );
    assert!(!text.contains("no `end` record"));
}

#[test]
fn json_report_has_the_documented_shape() {
    let out = run("seed-story.jsonl", None, true);
    let report: Value = serde_json::from_str(&out.stdout).expect("valid JSON");
    assert_eq!(report["complete"], true);
    let conns = report["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 2);
    let first = &conns[0];
    assert_eq!(first["conn"], 1);
    assert_eq!(first["profile"], "genesys");
    assert_eq!(first["opened"], true);
    let close = &first["close"];
    assert_eq!(
        (close["initiator"].as_str(), close["code"].as_u64(), close["reason"].as_str()),
        (Some("server"), Some(1000), Some(""))
    );
    assert_eq!(close["clean"], true);
    assert_eq!(close["preceding_seq"], 1);
    let rules: Vec<&str> = first["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert_eq!(rules, ["genesys-no-action", "genesys-no-token", "genesys-before-configure"]);
    for finding in first["findings"].as_array().unwrap() {
        assert_eq!(finding["severity"], "error");
        assert_eq!(finding["seq"], 1);
        assert!(finding["message"].is_string());
    }
    assert!(first["tokens"].is_array());
    assert!(first["causes"].as_array().unwrap().iter().all(|c| c["rule"] != "token-expired"));
    assert_eq!(conns[1]["close"]["initiator"], "client");
    assert_eq!(conns[1]["close"]["preceding_seq"], 4);
    assert_eq!(conns[1]["findings"].as_array().unwrap().len(), 0);
    assert_eq!(conns[1]["annotations"][1]["text"], "SessionResponse 200 ← #1 configureSession in 20 ms");
}

#[test]
fn a_cut_off_capture_is_read_and_the_cut_reported() {
    let out = run("cut-off.jsonl", None, false);
    assert_eq!(out.stderr.len(), 1, "{:?}", out.stderr);
    assert!(out.stderr[0].contains("cut off mid-record"), "{:?}", out.stderr);
    // `inspect` of the capture a running proxy is writing has no `end` either: the note used to say only that
    // frametap had stopped or crashed.
    assert!(out.stdout.contains("no `end` record"), "{}", out.stdout);
    assert!(out.stdout.contains("or a frametap still running is writing it"), "{}", out.stdout);
    assert!(out.stdout.contains("protocol-lint: client frame #1"), "connection 1 is still diagnosed");
    assert!(out.stdout.contains(
        "no close record: the capture was cut short while this connection was open; how it ended is unknown"
    ));
    let json: Value = serde_json::from_str(&run("cut-off.jsonl", None, true).stdout).unwrap();
    assert_eq!(json["complete"], false);
    assert_eq!(json["problems"][0]["truncated"], true);
    assert_eq!(json["connections"][1]["close"], Value::Null);
    // A connection with no close (so no diagnosis) still says which profile read it.
    assert_eq!(json["connections"][1]["profile"], "genesys");
}

#[test]
fn an_end_record_that_says_records_are_missing_makes_the_report_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lossy.jsonl");
    let text = std::fs::read_to_string(fixture("seed-story.jsonl")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut end: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(end["kind"], "end");
    end["dropped"] = 5.into();
    end["complete"] = false.into();
    end["errors"] = serde_json::json!(["5 records were dropped because the capture lagged behind"]);
    *lines.last_mut().unwrap() = end.to_string();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let cmd = |json| InspectCommand { file: path.clone(), conn: None, json, analysis: Default::default() };
    let report: Value = serde_json::from_str(&inspect(&cmd(true), false).unwrap().stdout).unwrap();
    assert_eq!((report["complete"].as_bool(), report["dropped"].as_u64()), (Some(false), Some(5)));
    assert_eq!(report["losses"][0], "5 records were dropped because the capture lagged behind");
    let text = inspect(&cmd(false), false).unwrap().stdout;
    assert!(
        text.starts_with("note: the capture is incomplete: 5 records were dropped because the capture lagged behind\n"),
        "{text}"
    );
}

#[test]
fn a_corrupt_line_is_reported_with_its_number_and_skipped() {
    let out = run("corrupt.jsonl", None, false);
    assert_eq!(out.stderr.len(), 1, "{:?}", out.stderr);
    assert!(out.stderr[0].contains("line 4: corrupt record (skipped)"), "{:?}", out.stderr);
    assert!(out.stdout.contains("▶ preceding frame #1 client→server"), "{}", out.stdout);
    assert!(out.stdout.contains("connection 2"));
}

#[test]
fn conn_selects_one_connection_and_names_the_ones_that_exist() {
    let out = run("seed-story.jsonl", Some(2), false);
    assert!(out.stdout.contains("connection 2") && !out.stdout.contains("connection 1"), "{}", out.stdout);
    let json: Value = serde_json::from_str(&run("seed-story.jsonl", Some(2), true).stdout).unwrap();
    assert_eq!(json["connections"].as_array().unwrap().len(), 1);
    let err = inspect(&command("seed-story.jsonl", Some(7), false), false).unwrap_err().to_string();
    assert!(err.contains("connection 7 is not in") && err.contains("the connections it holds are 1, 2"), "{err}");
}

#[test]
fn a_missing_or_unusable_file_is_a_clear_error() {
    let err = run_inspect(command("no-such-capture.jsonl", None, false)).unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("could not read the capture") && text.contains("no-such-capture.jsonl"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.jsonl");
    std::fs::write(&junk, "this is not a capture\n").unwrap();
    let cmd = InspectCommand { file: junk, conn: None, json: false, analysis: AnalysisArgs::default() };
    let text = format!("{:#}", inspect(&cmd, false).unwrap_err());
    assert!(text.contains("not a usable frametap capture") && text.contains("line 1"), "{text}");
}

#[test]
fn a_capture_and_a_har_given_each_others_names_say_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let inspect_file = |file: PathBuf| {
        let cmd = InspectCommand { file, conn: None, json: false, analysis: AnalysisArgs::default() };
        format!("{:#}", inspect(&cmd, false).unwrap_err())
    };
    let capture_as_har = dir.path().join("session.har");
    std::fs::copy(fixture("seed-story.jsonl"), &capture_as_har).unwrap();
    let text = inspect_file(capture_as_har);
    assert!(text.contains("this is a frametap capture, not a HAR") && text.contains("name it .jsonl"), "{text}");
    for har in ["chrome-genesys.har", "mitmproxy-echo.har"] {
        let har_as_capture = dir.path().join(har.replace(".har", ".jsonl"));
        std::fs::copy(fixture(&format!("har/{har}")), &har_as_capture).unwrap();
        let text = inspect_file(har_as_capture);
        assert!(text.contains("this looks like a HAR") && text.contains("name it .har"), "{har}: {text}");
    }
}

#[test]
fn redact_then_inspect_gives_the_same_diagnosis() {
    use frametap::redact::{run_redact, RedactCommand};
    let dir = tempfile::tempdir().unwrap();
    let redacted = dir.path().join("shared.jsonl");
    run_redact(RedactCommand { input: fixture("seed-story.jsonl"), output: redacted.clone() }).unwrap();
    let original: Value = serde_json::from_str(&run("seed-story.jsonl", None, true).stdout).unwrap();
    let cmd = InspectCommand { file: redacted, conn: None, json: true, analysis: AnalysisArgs::default() };
    let shared: Value = serde_json::from_str(&inspect(&cmd, false).unwrap().stdout).unwrap();
    let view = |report: &Value| -> Vec<(Value, Value, Vec<String>, Vec<String>)> {
        report["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let rules = |key: &str| c[key].as_array().unwrap().iter().map(|x| x["rule"].to_string()).collect();
                (c["conn"].clone(), c["close"].clone(), rules("causes"), rules("findings"))
            })
            .collect()
    };
    assert_eq!(view(&original), view(&shared));
    assert!(
        !std::fs::read_to_string(dir.path().join("shared.jsonl")).unwrap().contains("0c6f1f0e-8a7b"),
        "the token was masked"
    );
}

#[test]
fn the_command_line_parses_into_inspect_options() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        inspect: InspectCommand,
    }
    let cli = Cli::try_parse_from([
        "inspect",
        "cap.jsonl",
        "--conn",
        "2",
        "--json",
        "--profile",
        "generic",
        "--require-scope",
        "a",
        "--require-scope",
        "b",
    ])
    .unwrap();
    assert_eq!(cli.inspect.file, PathBuf::from("cap.jsonl"));
    assert_eq!((cli.inspect.conn, cli.inspect.json), (Some(2), true));
    let options = cli.inspect.analysis.options();
    assert_eq!(options.profile, frametap::inspect::ProfileChoice::Generic);
    assert_eq!(options.require_scopes, ["a", "b"]);
    let defaults = Cli::try_parse_from(["inspect", "cap.jsonl"]).unwrap();
    assert_eq!(defaults.inspect.analysis.options().profile, frametap::inspect::ProfileChoice::Auto);
    assert!(Cli::try_parse_from(["inspect", "cap.jsonl", "--profile", "nope"]).is_err());
}

/// The JSON of the seed story's diagnosis is a contract (the web UI reads it): compare it with the golden file.
/// After an intended change, regenerate it with `FRAMETAP_BLESS=1 cargo test --test inspect`.
#[test]
fn the_seed_story_diagnosis_matches_its_golden_file() {
    let report: Value = serde_json::from_str(&run("seed-story.jsonl", Some(1), true).stdout).unwrap();
    let diagnosis = serde_json::to_string_pretty(&report["connections"][0]["diagnosis"]).unwrap() + "\n";
    let golden = fixture("seed-story.diagnosis.json");
    if std::env::var_os("FRAMETAP_BLESS").is_some() {
        std::fs::write(&golden, &diagnosis).unwrap();
    }
    let expected = std::fs::read_to_string(&golden).expect("the golden file exists (FRAMETAP_BLESS=1 writes it)");
    assert_eq!(diagnosis, expected, "the diagnosis JSON changed");
}

#[test]
fn run_inspect_prints_and_succeeds_on_a_readable_capture() {
    run_inspect(command("seed-story.jsonl", Some(1), true)).expect("inspect succeeds");
}

/// `inspect FILE.har` (and `.zhar`) reports what `inspect` of the HAR's conversion reports.
#[test]
fn a_har_is_inspected_like_its_conversion() {
    use frametap::convert::{convert, ConvertCommand};
    let dir = tempfile::tempdir().unwrap();
    for name in ["har/frametap-export.har", "har/chrome-genesys.har", "har/mitmproxy-echo.zhar"] {
        let converted = dir.path().join(name.replace(['/', '.'], "_") + ".jsonl");
        convert(&ConvertCommand { input: fixture(name), output: converted.clone(), redact: false, partial: false })
            .unwrap();
        let of_har = inspect(&command(name, None, false), false).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let cmd = InspectCommand { file: converted, conn: None, json: false, analysis: AnalysisArgs::default() };
        let of_capture = inspect(&cmd, false).unwrap();
        assert!(of_har.stdout.contains("connection 1 "), "{name}: {}", of_har.stdout);
        assert_eq!(of_har.stdout, of_capture.stdout, "{name}");
    }
}

#[test]
fn the_profile_and_scopes_the_capture_was_recorded_with_are_used_unless_others_are_given() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("forced.jsonl");
    let lines = [
        r#"{"kind":"meta","ts":"2026-11-26T10:00:00.000000Z","format":"frametap-capture","version":1,"frametap":"test","command":["frametap","proxy","--profile","genesys","--require-scope=chat:write","--upstream","ws://127.0.0.1:9/chat"],"mode":"proxy","upstream":"ws://127.0.0.1:9/chat","redacted":false,"insecure_upstream":false}"#,
        r#"{"kind":"open","conn":1,"ts":"2026-11-26T10:00:00.000000Z","request":{"method":"GET","path":"/chat","headers":[]},"upstream":"ws://127.0.0.1:9/chat","response":{"status":101,"headers":[]},"handshake_ms":1.0}"#,
        r#"{"kind":"frame","conn":1,"ts":"2026-11-26T10:00:00.100000Z","seq":1,"from":"client","to":"server","opcode":"text","fin":true,"len":18,"text":"{\"type\":\"message\"}"}"#,
        r#"{"kind":"frame","conn":1,"ts":"2026-11-26T10:00:00.120000Z","seq":2,"from":"server","to":"client","opcode":"close","fin":true,"len":2,"code":1000,"reason":""}"#,
        r#"{"kind":"close","conn":1,"ts":"2026-11-26T10:00:00.121000Z","initiator":"server","code":1000,"reason":"","clean":true,"duration_ms":121.0}"#,
        r#"{"kind":"end","ts":"2026-11-26T10:00:01.000000Z","connections":1,"frames":2,"records":5,"dropped":0,"complete":true}"#,
    ];
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let capture = frametap::capture::read_capture(&path).unwrap();
    let recorded = frametap::inspect::command::recorded_options(&capture, &AnalysisArgs::default());
    assert_eq!(recorded.profile, frametap::inspect::ProfileChoice::Genesys);
    assert_eq!(recorded.require_scopes, ["chat:write"]);
    let cmd = |profile| InspectCommand {
        file: path.clone(),
        conn: None,
        json: true,
        analysis: AnalysisArgs { profile, require_scope: vec![] },
    };
    let report: Value =
        serde_json::from_str(&inspect(&cmd(frametap::inspect::ProfileChoice::Auto), false).unwrap().stdout).unwrap();
    assert_eq!(report["connections"][0]["profile"], "genesys", "as the live run read it");
    let given: Value =
        serde_json::from_str(&inspect(&cmd(frametap::inspect::ProfileChoice::Generic), false).unwrap().stdout).unwrap();
    assert_eq!(given["connections"][0]["profile"], "generic", "a profile given to inspect wins");
}

/// The printed report wraps as the live log does: to `COLUMNS` (or the terminal) with every word kept, and not at
/// all in a pipe without it, so `grep` still finds a whole cause on one line. `--json` is never wrapped.
#[test]
fn the_printed_report_wraps_to_columns_and_keeps_whole_lines_in_a_pipe() {
    let printed = |columns: Option<&str>, json: bool| {
        let mut command = crate::common::binary::frametap_command();
        command.arg("inspect").arg(fixture("seed-story.jsonl")).env("NO_COLOR", "1");
        if json {
            command.arg("--json");
        }
        if let Some(columns) = columns {
            command.env("COLUMNS", columns);
        }
        let output = command.output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    let (whole, wrapped) = (printed(None, false), printed(Some("60"), false));
    let words = |text: &str| text.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(words(&wrapped), words(&whole), "every word kept, in order");
    for line in wrapped.lines() {
        let fits = line.chars().count() <= 60 || line.split_whitespace().count() == 1;
        assert!(fits, "a line past 60 columns that is not one long word: {line:?}\n{wrapped}");
    }
    assert!(whole.lines().any(|l| l.contains("[likely] protocol-lint") && l.contains("the server likely closed")));
    assert!(wrapped.lines().count() > whole.lines().count());
    assert_eq!(printed(Some("60"), true), printed(None, true), "JSON is never wrapped");
}

/// A JWT's claims are whatever its issuer wrote: control characters in them (ESC sequences that clear the screen
/// or set the window title, BEL, NUL) reach the printed token report as spaces, as they do in a frame's preview,
/// never as raw bytes a terminal would obey.
#[test]
fn control_characters_in_jwt_claims_never_reach_the_terminal_raw() {
    use frametap::inspect::jwt::encode_part;
    let claims = serde_json::json!({"exp": 4102444800u64, "name\u{1b}[2J": "\u{1b}]0;pwned\u{7}x\u{0}y\u{1b}[31m"});
    let jwt = format!(
        "{}.{}.{}",
        encode_part(br#"{"alg":"HS256","typ":"JWT"}"#),
        encode_part(claims.to_string().as_bytes()),
        encode_part(b"sig")
    );
    let body =
        serde_json::json!({"type":"response","class":"JwtResponse","code":200,"body":{"jwt":jwt,"exp":4102444800u64}});
    let text = body.to_string();
    let frame = serde_json::json!({"kind":"frame","conn":1,"ts":"2026-11-25T10:00:00.120000Z","seq":1,"from":"server",
        "to":"client","opcode":"text","fin":true,"len":text.len(),"text":text});
    let capture = [
        r#"{"kind":"meta","ts":"2026-11-25T10:00:00.000000Z","format":"frametap-capture","version":1,"frametap":"0.1.0","command":["frametap","proxy"],"mode":"proxy","upstream":"ws://127.0.0.1:1","redacted":false}"#.to_owned(),
        r#"{"kind":"open","conn":1,"ts":"2026-11-25T10:00:00.010000Z","request":{"method":"GET","path":"/v1","headers":[]},"upstream":"ws://127.0.0.1:1/v1","response":{"status":101,"headers":[]},"handshake_ms":1.0}"#.to_owned(),
        frame.to_string(),
        r#"{"kind":"close","conn":1,"ts":"2026-11-25T10:00:01.000000Z","initiator":"client","clean":true,"duration_ms":990.0,"code":1000,"reason":""}"#.to_owned(),
        r#"{"kind":"end","ts":"2026-11-25T10:00:02.000000Z","connections":1,"frames":1,"records":5,"dropped":0,"complete":true}"#.to_owned(),
    ]
    .join("\n");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("claims.jsonl");
    std::fs::write(&file, capture + "\n").unwrap();
    let output =
        crate::common::binary::frametap_command().arg("inspect").arg(&file).env("NO_COLOR", "1").output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed = String::from_utf8(output.stdout).unwrap();
    assert!(printed.contains("token conn 1: jwt in frame:body.jwt"), "{printed}");
    assert!(!printed.contains(['\u{1b}', '\u{7}', '\u{0}']), "raw control characters printed: {printed:?}");
    assert!(printed.contains("exp=4102444800 name [2J= ]0;pwned x y [31m"), "{printed}");
}
