//! # outsync-server
//!
//! The `outsync` command: run workers, enqueue and sync objects, inspect the queue, check
//! mappings, and see it all work with `outsync demo`. The library holds the command
//! ([`main`]) and the JSON format of enqueue requests ([`enqueue_body`]), which the HTTP
//! API, `outsync enqueue --file` and the fuzz targets share.

mod api;
mod commands;
mod config;
mod dashboard;
pub mod enqueue_body;
mod job_filter;
mod mapping_versions;
mod table;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

// Linking the provider crates registers their providers.
use outsync_basket as _;
use outsync_mailing_list as _;

#[derive(Parser)]
#[command(
    name = "outsync",
    version,
    about = "Outbound data sync: queue, workers and providers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Everything at once, with no setup (built with `--features demo`): SQLite, a built-in
    /// demo Basket, sample users and
    /// add-ons, a sync, a failure and its retry, and a summary.
    Demo {
        /// The SQLite database to use (default: a fresh file in the temp directory).
        #[arg(long)]
        database: Option<String>,
    },
    /// The service: HTTP API, worker and scheduler (needs OUTSYNC_API_TOKEN).
    Serve(commands::ServeArgs),
    /// Create the queue database if needed and create or upgrade its tables.
    Migrate(commands::ConfigArg),
    /// Run a worker until SIGTERM or Ctrl-C (more workers on more hosts share a PostgreSQL
    /// queue); running jobs get a grace period, the rest go back to the queue at once.
    Worker(commands::WorkerArgs),
    /// Enqueue one object, or JSON lines from a file or stdin (`-`) for backfills.
    Enqueue(commands::EnqueueArgs),
    /// Sync every due job now and print a summary (exit code 1 if any job stopped; 130 if SIGTERM or Ctrl-C stopped it, its unfinished jobs back in the queue).
    Sync(commands::WorkerArgs),
    /// Queue statistics and the latest runs.
    Status(commands::ConfigArg),
    /// List, retry or cancel jobs; purge a provider's jobs.
    Jobs(commands::JobsArgs),
    /// Check a configuration file without starting anything.
    Config(commands::ConfigArgs),
    /// Check mappings, or preview what they produce for an object.
    Mapping(commands::MappingArgs),
}

/// Log lines go to standard error with every listed secret redacted (a database driver
/// may log a connection URL with its password).
struct RedactingStderr;

impl std::io::Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(outsync_core::secret::redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Logs at the level `OUTSYNC_LOG` names (`warn` without it); a value that does not parse
/// is an error naming the variable, never silently the default.
fn init_logging() -> Result<(), commands::Exit> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let refuse = |value: &str, why: String| {
        commands::Exit::bad_input(format!(
            "environment variable OUTSYNC_LOG must be a level (error, warn, info, debug, trace) \
             or filter directives such as outsync_queue=debug,warn; got {value:?}{why}"
        ))
    };
    let filter = match std::env::var("OUTSYNC_LOG") {
        Err(_) => tracing_subscriber::EnvFilter::new("warn"),
        // A bare word is a target's name to tracing (`debgu` would log nothing): only the
        // levels are taken alone.
        Ok(value)
            if !value.contains(['=', ',', ':', '['])
                && !LEVELS.contains(&value.trim().to_ascii_lowercase().as_str()) =>
        {
            let meant = outsync_core::keys::did_you_mean(&value.to_ascii_lowercase(), LEVELS);
            return Err(refuse(&value, meant));
        }
        Ok(value) => tracing_subscriber::EnvFilter::try_new(&value)
            .map_err(|error| refuse(&value, format!(": {error}")))?,
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| RedactingStderr)
        .init();
    Ok(())
}

/// Runs the `outsync` command with the process's arguments.
#[tokio::main]
pub async fn main() -> ExitCode {
    // `outsync status | head` ends quietly when `head` stops reading, as Unix tools do.
    sigpipe::reset();
    if let Err(exit) = init_logging() {
        eprintln!("error: {}", exit.message);
        return ExitCode::from(exit.code);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        #[cfg(feature = "demo")]
        Command::Demo { database } => commands::demo::run(database).await,
        #[cfg(not(feature = "demo"))]
        Command::Demo { .. } => Err(commands::Exit::bad_input(
            "this outsync was built without the demo (it carries no fake Basket): \
             build it with `--features demo`, e.g. `cargo run -p outsync-server --features demo -- demo`",
        )),
        Command::Serve(args) => commands::serve(&args).await,
        Command::Migrate(args) => commands::migrate(&args).await,
        Command::Worker(args) => commands::worker(&args).await,
        Command::Enqueue(args) => commands::enqueue(&args).await,
        Command::Sync(args) => commands::sync(&args).await,
        Command::Status(args) => commands::status(&args).await,
        Command::Jobs(args) => commands::jobs(&args).await,
        Command::Mapping(args) => commands::mapping(&args).await,
        Command::Config(args) => commands::config(&args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(exit) => {
            eprintln!("error: {}", outsync_core::secret::redact(&exit.message));
            ExitCode::from(exit.code)
        }
    }
}

/// The default configuration file.
fn default_config() -> PathBuf {
    PathBuf::from("outsync.json")
}
