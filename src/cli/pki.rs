//! `switchboard pki init DIR` and `switchboard pki issue DIR --agent NAME | --orchestrator`:
//! the CA and certificates of remote switches ([`crate::pki`]).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::pki::{self, Subject, Validity};

#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Make a CA in DIR (created if missing): ca.pem and ca-key.pem (0600).
    Init {
        dir: PathBuf,
        /// Days the CA is valid.
        #[arg(long, default_value_t = 3650)]
        days: i64,
    },
    /// Issue a certificate from DIR's CA: an agent's (its name is the switch's) or the
    /// orchestrator's.
    Issue(IssueArgs),
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    pub dir: PathBuf,
    /// The switch the agent serves, as the topology names it.
    #[arg(long, required_unless_present = "orchestrator", conflicts_with = "orchestrator")]
    pub agent: Option<String>,
    /// The orchestrator's client certificate.
    #[arg(long)]
    pub orchestrator: bool,
    /// Days the certificate is valid.
    #[arg(long, default_value_t = 825)]
    pub days: i64,
}

pub fn run(cmd: PkiCommand) -> anyhow::Result<ExitCode> {
    let written = match cmd {
        PkiCommand::Init { dir, days } => pki::init(&dir, Validity::days(days))?,
        PkiCommand::Issue(args) => {
            let subject = match args.agent {
                Some(name) => Subject::Agent(name),
                None => Subject::Orchestrator,
            };
            pki::issue(&args.dir, &subject, Validity::days(args.days))?
        }
    };
    out!("{}", written.cert.display());
    out!("{}", written.key.display());
    Ok(ExitCode::SUCCESS)
}
