//! The REST API through a real HTTP client against a server started in this process on a fresh
//! PostgreSQL database.

mod analytics;
mod auth;
mod backpressure;
mod contract;
mod dlq;
mod docs;
mod errors;
mod hardening;
mod health;
mod steps;
mod support;
mod tasks;
mod templates;
