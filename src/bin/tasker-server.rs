//! `tasker-server`: the orchestration server. `tasker-server migrate` applies the schema and exits.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "tasker-server", version, about = "Tasker orchestration server")]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Apply pgmq, migrations/ and sql/ to DATABASE_URL, then exit.
    Migrate {
        /// Database URL (defaults to $DATABASE_URL).
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let cli = Cli::parse();
    match cli.command {
        Some(Cmd::Migrate { database_url }) => {
            let pool = tasker_orchestration::db::connect(&database_url, &Default::default()).await?;
            let report = tasker_orchestration::db::migrate(&pool).await?;
            println!(
                "migrated: pgmq {}, {} migrations, {} sql files applied",
                report.pgmq, report.migrations, report.sql_files_applied
            );
            Ok(())
        }
        None => anyhow::bail!("the server is not built yet; use `tasker-server migrate`"),
    }
}
