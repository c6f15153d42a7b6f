//! The command lines of `replay` and `convert`, and how a pace reads back.

use frametap::replay::Pace;
use std::time::Duration;

#[test]
fn replay_and_convert_command_lines_parse() {
    use clap::{CommandFactory, Parser};
    #[derive(Parser, Debug)]
    struct Cli {
        #[command(subcommand)]
        command: Commands,
    }
    #[derive(clap::Subcommand, Debug)]
    #[allow(clippy::large_enum_variant)]
    enum Commands {
        #[command(subcommand)]
        Replay(frametap::replay::ReplayCommand),
        Convert(frametap::convert::ConvertCommand),
    }
    Cli::command().debug_assert();
    let parsed = Cli::try_parse_from([
        "frametap",
        "replay",
        "send",
        "c.jsonl",
        "--upstream",
        "wss://x",
        "--conn",
        "2",
        "--pace",
        "2",
        "--set",
        "token=abc",
        "--header",
        "Origin: https://a",
        "--ignore",
        "id",
        "--no-capture",
    ])
    .unwrap();
    let Commands::Replay(frametap::replay::ReplayCommand::Send(args)) = parsed.command else { panic!() };
    assert_eq!((args.script.conn, args.script.pace), (Some(2), Pace::Factor(2.0)));
    assert_eq!(args.set, vec![("token".to_owned(), "abc".to_owned())]);
    assert_eq!(args.wait, Duration::from_secs(10), "the default --wait");
    let send = |wait: &str| {
        Cli::try_parse_from(["frametap", "replay", "send", "c.jsonl", "--upstream", "ws://x", "--wait", wait])
    };
    let Commands::Replay(frametap::replay::ReplayCommand::Send(args)) = send("2.5").unwrap().command else { panic!() };
    assert_eq!(args.wait, Duration::from_millis(2500));
    // A wait no clock can hold used to pass the check and panic the replay when it made its Duration.
    for bad in ["1e300", "0", "NaN", "inf", "soon"] {
        let err = send(bad).unwrap_err().to_string();
        assert!(err.contains("--wait") && err.contains(&format!("\"{bad}\"")), "{bad}: {err}");
    }
    let parsed = Cli::try_parse_from(["frametap", "replay", "serve", "c.har", "--pace", "fast"]).unwrap();
    let Commands::Replay(frametap::replay::ReplayCommand::Serve(args)) = parsed.command else { panic!() };
    assert_eq!(args.listen, None, "127.0.0.1:9000, or 127.0.0.1:8080 with --forward");
    let err = Cli::try_parse_from(["frametap", "replay", "serve", "c.jsonl", "--pace", "soon"]).unwrap_err();
    assert!(err.to_string().contains("not a pace"));
    assert!(Cli::try_parse_from(["frametap", "convert", "a.har", "b.jsonl", "--redact"]).is_ok());
}

/// The banner names a pace as it was given: a factor such as `1e-300` (docs/replay.md) used to be printed as its
/// 300 decimal digits, a line no terminal shows whole.
#[test]
fn a_pace_reads_as_it_was_given() {
    for (given, shown) in [("2", "2x"), ("0.5", "0.5x"), ("1e-300", "1e-300x"), ("1e300", "1e300x"), ("fast", "fast")] {
        assert_eq!(Pace::parse(given).unwrap().to_string(), shown, "--pace {given}");
    }
}
