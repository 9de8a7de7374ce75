//! Database access: the connection pool, the migrator (`migrations/` then `sql/`), the embedded
//! PostgreSQL used in development and tests, and [`engine`], the one seam through which the
//! server calls the engine's SQL functions, with database errors translated once into
//! [`EngineError`]; [`worker`], the worker protocol's calls; [`listen`], the reconnecting LISTEN
//! connection shared by the notification hub and the worker.

pub mod access;
pub mod embedded;
pub mod engine;
pub mod error;
pub mod listen;
pub mod migrate;
pub mod pool;
pub mod worker;

pub use embedded::{EmbeddedOptions, EmbeddedPostgres};
pub use error::{EngineError, EngineResult};
pub use migrate::{migrate, MigrationReport};
pub use pool::{connect, PoolOptions};
