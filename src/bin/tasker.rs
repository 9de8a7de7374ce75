//! `tasker`: the command-line client of the Tasker orchestrator (see `docs/cli.md`).

fn main() -> std::process::ExitCode {
    tasker_orchestration::cli::main()
}
