//! `tasker`: the command-line client.
fn main() {}
