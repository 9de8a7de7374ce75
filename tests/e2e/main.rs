//! End-to-end tests with real processes: `tasker-server` and `tasker-worker` binaries on a fresh
//! test database each, tasks created over REST, faults made real (SIGKILL, terminated
//! connections, two servers on one database).
//!
//! Layout: [`support`] starts and guards the processes and reads the engine's views;
//! [`workflows`] runs the example templates, retries, failures and cancellation; [`faults`]
//! kills workers and servers and drops notifications; [`compose`] runs the services of
//! `docker-compose.yml` as written (host and ports rewritten).

mod compose;
mod faults;
mod python_worker;
mod support;
mod workflows;
