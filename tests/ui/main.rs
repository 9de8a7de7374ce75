//! The web dashboard (`/ui`) against a server started in this process on a fresh PostgreSQL
//! database: every page and action over HTTP (status, permissions, CSRF), and in a real headless
//! Chromium (the DAG, live updates, screenshots under `target/ui-screenshots/`).

mod browser;
mod cdp;
mod handlers;
mod support;
