//! Database access: the connection pool, the migrator (`migrations/` then `sql/`), the embedded
//! PostgreSQL used in development and tests, and [`engine`], the one seam through which the
//! server calls the engine's SQL functions, with database errors translated once into
//! [`EngineError`].

pub mod embedded;
pub mod engine;
pub mod error;
pub mod migrate;
pub mod pool;

pub use embedded::{EmbeddedOptions, EmbeddedPostgres};
pub use error::{EngineError, EngineResult};
pub use migrate::{migrate, MigrationReport};
pub use pool::{connect, PoolOptions};
