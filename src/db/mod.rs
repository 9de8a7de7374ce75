//! Database access: the connection pool, the migrator (`migrations/` then `sql/`), the embedded
//! PostgreSQL used in development and tests, and the mapping of engine SQLSTATEs to errors.

pub mod embedded;
pub mod engine;
pub mod listen;
pub mod migrate;
pub mod pool;
pub mod worker;

pub use embedded::{EmbeddedOptions, EmbeddedPostgres};
pub use migrate::{migrate, MigrationReport};
pub use pool::{connect, PoolOptions};
