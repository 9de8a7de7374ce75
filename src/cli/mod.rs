//! The `tasker` command-line client: every operation of the REST API (or of the gRPC API with
//! `--grpc`) as a subcommand, human tables by default and the API's JSON with `--json`.
//!
//! | module | what |
//! |---|---|
//! | [`args`] | the command line (clap) |
//! | [`client`] | one client, REST or gRPC, answering the REST JSON |
//! | [`cmd`] | the subcommands and their human output |
//! | [`output`] | table printer and value formatting |
//! | [`parse`] | parsers of argument values (NAMESPACE/NAME[@VERSION], --since) |
//! | [`graph`] | `task graph`: text tree, Mermaid, DOT |
//! | [`watch`] | `task watch`: progress bar or lines, exit code of the final state |
//! | [`error`] | errors and exit codes |
//!
//! `docs/cli.md` is the user's guide.

pub mod args;
pub mod client;
pub mod cmd;
pub mod error;
pub mod graph;
pub mod output;
pub mod parse;
pub mod watch;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use args::{Cli, Command};
use client::Client;
use error::{CliError, CliResult, Kind};

/// Runs the client with the process's arguments and returns its exit code: clap exits by itself
/// on a usage error (2) or `--help`/`--version` (0); any other error is printed as
/// `error: <title>: <detail>` on stderr.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return report(&CliError::new(Kind::Other, "starting the runtime", e.to_string())),
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(&e),
    }
}

fn report(e: &CliError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(e.exit_code())
}

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> CliResult<()> {
    let json = cli.global.json;
    match cli.command {
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "tasker", &mut out);
            output::emit(&String::from_utf8_lossy(&out));
            Ok(())
        }
        Command::Task(c) => cmd::task::run(&Client::connect(&cli.global).await?, c, json).await,
        Command::Step(c) => cmd::step::run(&Client::connect(&cli.global).await?, c, json).await,
        Command::Retry(a) => cmd::admin::retry(&Client::connect(&cli.global).await?, a, json).await,
        Command::Template(c) => cmd::admin::template(&Client::connect(&cli.global).await?, c, json).await,
        Command::Dlq(c) => cmd::dlq::run(&Client::connect(&cli.global).await?, c, json).await,
        Command::Health => cmd::admin::health(&Client::connect(&cli.global).await?, json).await,
    }
}
