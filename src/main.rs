//! The `switchboard` binary: parse the command line, run the subcommand, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = switchboard::cli::Cli::parse();
    match switchboard::cli::run(cli) {
        Ok(code) => code,
        // The reader of our output went away (`plan ... | head`): it has what it wanted,
        // so no error message; the status is the one a program killed by SIGPIPE gives.
        Err(e) if broken_pipe(&e) => ExitCode::from(141),
        Err(e) => {
            // Not `eprintln!`, which panics when no one reads stderr any more.
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "switchboard: error: {}", said_once(&e));
            ExitCode::from(1)
        }
    }
}

fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

/// The error and its causes, as `{:#}` writes them (`what: why: deeper`), each cause said
/// once: many errors already end with their cause's text (`cannot read x: No such file`),
/// which the chain would say again.
fn said_once(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.is_empty() {
            out = text;
        } else if !out.ends_with(&text) {
            out = format!("{out}: {text}");
        }
    }
    out
}
