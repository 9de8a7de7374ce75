//! The `tasker` binary, run as a process against a server started in this process on a fresh
//! PostgreSQL database: every subcommand over REST, the main ones over gRPC, `--json` output
//! compared with the REST API's JSON, and the exit codes.

mod errors;
mod grpc;
mod ops;
mod steps;
mod support;
mod tasks;
mod templates;
