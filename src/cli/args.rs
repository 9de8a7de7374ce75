//! The command line (clap derive): global flags, subcommands and the parsers of their values.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use uuid::Uuid;

pub use super::parse::{parse_since, parse_template_ref, TemplateRef};

/// The exit codes, shown at the end of `tasker --help`.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  other error (internal server error, unexpected answer)
  2  usage: the command line is wrong
  3  not found (HTTP 404, gRPC NOT_FOUND)
  4  invalid input (HTTP 400/405/409/413/415/422, gRPC INVALID_ARGUMENT/ALREADY_EXISTS/FAILED_PRECONDITION/
     OUT_OF_RANGE; bad JSON in --context/--result, unreadable template file)
  5  authentication or permission (HTTP 401/403, gRPC UNAUTHENTICATED/PERMISSION_DENIED)
  6  unavailable (connection refused, timeout, HTTP 408/429/502/503/504, gRPC UNAVAILABLE/RESOURCE_EXHAUSTED/
     DEADLINE_EXCEEDED; tasker health: the server reports itself unhealthy)
  7  the task ended in error or cancelled (task watch, task create --wait)";

/// Command-line client of the Tasker workflow orchestrator: REST by default, gRPC with --grpc.
#[derive(Debug, Parser)]
#[command(name = "tasker", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// Flags every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Print the API's JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Base URL of the REST API.
    #[arg(long, global = true, env = "TASKER_URL", value_name = "URL", default_value = "http://localhost:8080")]
    pub url: String,
    /// API key (sent as X-API-Key, or x-api-key metadata over gRPC).
    #[arg(long, global = true, env = "TASKER_API_KEY", value_name = "KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Talk gRPC to ADDR (host:port or http://host:port) instead of REST.
    #[arg(long, global = true, env = "TASKER_GRPC", value_name = "ADDR")]
    pub grpc: Option<String>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Tasks: create, get, list, cancel, watch, graph.
    #[command(subcommand)]
    Task(TaskCmd),
    /// Steps of a task: list, get, resolve, complete, reset, history.
    #[command(subcommand)]
    Step(StepCmd),
    /// Batch retry of failed steps matching a filter (POST /v1/retries).
    Retry(RetryArgs),
    /// Task templates: list, show, register.
    #[command(subcommand)]
    Template(TemplateCmd),
    /// The dead letter queue: list, show, update, stats.
    #[command(subcommand)]
    Dlq(DlqCmd),
    /// The server's detailed health (exit 6 when unhealthy).
    Health,
    /// Prints a shell completion script to stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `tasker task …`.
#[derive(Debug, Subcommand)]
pub enum TaskCmd {
    /// Creates a task from a template.
    Create(CreateArgs),
    /// Shows a task with its progress.
    Get {
        /// The task.
        task: Uuid,
    },
    /// Lists tasks, newest first.
    List(ListArgs),
    /// Cancels a task and its unfinished steps.
    Cancel {
        /// The task.
        task: Uuid,
        /// Why (recorded in the task's history).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Follows a task until it reaches a final state (exit 0 complete, 7 error/cancelled).
    Watch {
        /// The task.
        task: Uuid,
    },
    /// Draws the task's DAG with each step's state.
    Graph {
        /// The task.
        task: Uuid,
        /// Output format.
        #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
        format: GraphFormat,
    },
}

/// `tasker task create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The template: NAMESPACE/NAME[@VERSION] (latest version when omitted).
    #[arg(value_name = "NAMESPACE/NAME[@VERSION]", value_parser = parse_template_ref)]
    pub template: TemplateRef,
    /// Task context: a JSON object, or @FILE to read it from a file (@- for stdin).
    #[arg(long, value_name = "JSON|@FILE")]
    pub context: Option<String>,
    /// Same key and same request give the same task; same key, different request is refused.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    /// Higher runs first (-1000000..=1000000).
    #[arg(long, allow_negative_numbers = true)]
    pub priority: Option<i32>,
    /// A label (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Who asks.
    #[arg(long)]
    pub initiator: Option<String>,
    /// Why.
    #[arg(long)]
    pub reason: Option<String>,
    /// Follow the task until it is final, like `task watch`, and exit with its code.
    #[arg(long)]
    pub wait: bool,
}

/// `tasker task list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this namespace.
    #[arg(long)]
    pub namespace: Option<String>,
    /// Only this template name.
    #[arg(long)]
    pub name: Option<String>,
    /// Only this state.
    #[arg(long)]
    pub state: Option<String>,
    /// Page size (1-500, server default 50).
    #[arg(long)]
    pub limit: Option<u32>,
    /// The next-page cursor printed by the previous page.
    #[arg(long)]
    pub cursor: Option<String>,
}

/// Formats of `task graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// An indented tree.
    Text,
    /// A Mermaid flowchart.
    Mermaid,
    /// A Graphviz digraph.
    Dot,
}

/// `tasker step …`. STEP is a step uuid or a step name within the task.
#[derive(Debug, Subcommand)]
pub enum StepCmd {
    /// Lists the steps of a task, in template order.
    List {
        /// The task.
        task: Uuid,
    },
    /// Shows one step with its results or last error.
    Get(StepRef),
    /// Marks a step resolved (resolve_manually): dependents go on without its results.
    Resolve {
        /// The step.
        #[command(flatten)]
        step: StepRef,
        /// Why (recorded in the step's history).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Marks a step complete with a result (complete_manually).
    Complete {
        /// The step.
        #[command(flatten)]
        step: StepRef,
        /// Why (recorded in the step's history).
        #[arg(long)]
        reason: Option<String>,
        /// The result: JSON, or @FILE (@- for stdin).
        #[arg(long, value_name = "JSON|@FILE")]
        result: Option<String>,
    },
    /// Puts a failed step back to pending with zero attempts (reset_for_retry).
    Reset {
        /// The step.
        #[command(flatten)]
        step: StepRef,
        /// Why (recorded in the step's history).
        #[arg(long)]
        reason: Option<String>,
    },
    /// A step's state transitions, oldest first.
    History(StepRef),
}

/// A step of a task.
#[derive(Debug, Clone, Args)]
pub struct StepRef {
    /// The task.
    pub task: Uuid,
    /// The step: its uuid or its name.
    pub step: String,
}

/// `tasker retry`.
#[derive(Debug, Args)]
pub struct RetryArgs {
    /// Template namespace.
    #[arg(long)]
    pub namespace: Option<String>,
    /// Template name.
    #[arg(long)]
    pub name: Option<String>,
    /// Template version.
    #[arg(long)]
    pub version: Option<String>,
    /// Only this task (repeatable).
    #[arg(long = "task", value_name = "UUID")]
    pub tasks: Vec<Uuid>,
    /// Only steps of this name (repeatable).
    #[arg(long = "step", value_name = "NAME")]
    pub steps: Vec<String>,
    /// Failed at or after: an RFC 3339 time or a duration ago (30m, 24h, 7d).
    #[arg(long, value_name = "TIME|DURATION", value_parser = parse_since)]
    pub since: Option<DateTime<Utc>>,
    /// Failed before: an RFC 3339 time or a duration ago.
    #[arg(long, value_name = "TIME|DURATION", value_parser = parse_since)]
    pub until: Option<DateTime<Utc>>,
    /// Case-insensitive text in the step's last error.
    #[arg(long, value_name = "TEXT")]
    pub error_contains: Option<String>,
    /// The error's class.
    #[arg(long, value_name = "CLASS")]
    pub error_class: Option<String>,
    /// Most steps reset (server default 1000).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Recorded in each step's history.
    #[arg(long)]
    pub reason: Option<String>,
    /// Only show which steps would be reset.
    #[arg(long)]
    pub dry_run: bool,
}

/// `tasker template …`.
#[derive(Debug, Subcommand)]
pub enum TemplateCmd {
    /// Lists the registered templates.
    List {
        /// Only this namespace.
        #[arg(long)]
        namespace: Option<String>,
    },
    /// Shows a template (the most recently registered version when VERSION is omitted).
    Show {
        /// NAMESPACE/NAME[@VERSION].
        #[arg(value_name = "NAMESPACE/NAME[@VERSION]", value_parser = parse_template_ref)]
        template: TemplateRef,
    },
    /// Registers (or replaces) a template from a YAML or JSON file (- for stdin).
    Register {
        /// The file.
        file: PathBuf,
    },
}

/// `tasker dlq …`.
#[derive(Debug, Subcommand)]
pub enum DlqCmd {
    /// Lists entries, newest first.
    List {
        /// Only this status (pending, investigating, resolved, retried, discarded).
        #[arg(long)]
        status: Option<String>,
        /// Only this namespace.
        #[arg(long)]
        namespace: Option<String>,
        /// Page size (1-500, server default 50).
        #[arg(long)]
        limit: Option<u32>,
        /// The next-page cursor printed by the previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// The entries of one task.
    Show {
        /// The task.
        task: Uuid,
    },
    /// Records an investigation step on an entry.
    Update {
        /// The entry id.
        id: i64,
        /// New status (pending, investigating, resolved, retried, discarded).
        #[arg(long)]
        status: Option<String>,
        /// Notes to append.
        #[arg(long)]
        notes: Option<String>,
        /// Who.
        #[arg(long, value_name = "WHO")]
        by: Option<String>,
    },
    /// Counts per status and the age of the oldest open entry.
    Stats,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
