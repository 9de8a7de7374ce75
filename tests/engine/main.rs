//! The engine suite: the SQL API (sql/ and migrations/) against a real PostgreSQL, one fresh
//! database per test. Tests call only the engine's functions and views; they read tables to
//! assert, and write them only to put a row into a given state before a state-machine call.
//! `actors` drives the real orchestration actors through their `run_once`.

mod ack_races;
mod actors;
mod batch_retry;
mod chained_claim;
mod channels;
mod concurrency;
mod create_task;
mod durability;
mod embedded;
mod history_cursor;
mod input_hardening;
mod operations_doc;
mod operators;
mod plan_settings;
mod plpgsql_check;
mod property;
mod queue_messages;
mod readiness;
mod results;
mod retention;
mod schema_snapshot;
mod sql_api_examples;
mod sql_docs;
mod stale_steps;
mod support;
mod template_limits;
mod templates;
mod transitions;
mod worker_role;
