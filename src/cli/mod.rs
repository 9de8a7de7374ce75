//! The `tasker` command-line client.
