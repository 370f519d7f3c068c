//! The subcommands, and what they share: the `--config` option, worker options, exit
//! codes, error messages and the shutdown signal.

mod check;
#[cfg(feature = "demo")]
pub(crate) mod demo;
mod enqueue;
mod jobs;
mod mapping;
mod mapping_versions;
mod queue;
mod serve;
mod worker_options;

pub(crate) use check::{ConfigArgs, config};
pub(crate) use enqueue::{EnqueueArgs, enqueue};
pub(crate) use jobs::{JobsArgs, jobs};
pub(crate) use mapping::{MappingArgs, mapping};
pub(crate) use queue::{WorkerArgs, migrate, status, sync, worker};
pub(crate) use serve::{ServeArgs, serve};
pub(crate) use worker_options::WorkerOptions;

use crate::config::{Access, Config};
use clap::Args;
use std::path::PathBuf;

/// The `--config` option shared by most commands, and `--create`.
#[derive(Args)]
pub(crate) struct ConfigArg {
    /// The configuration file (before or after the subcommand).
    #[arg(short, long, global = true, env = "OUTSYNC_CONFIG", default_value_os_t = crate::default_config())]
    pub(crate) config: PathBuf,
    /// Create the SQLite queue database if the file does not exist (otherwise only
    /// `outsync migrate` creates it).
    #[arg(long, global = true)]
    pub(crate) create: bool,
}

impl ConfigArg {
    /// Loads the configuration; a problem in it is bad input (exit code 2).
    pub(crate) fn load(&self) -> Result<Config, Exit> {
        Ok(Config::load(&self.config)?)
    }

    /// How a command that writes opens the database: creating it only with `--create`.
    pub(crate) fn write_access(&self) -> Access {
        if self.create {
            Access::Create
        } else {
            Access::Write
        }
    }

    /// How a command that only reads opens the database.
    pub(crate) fn read_access(&self) -> Access {
        if self.create {
            Access::Create
        } else {
            Access::Read
        }
    }
}

/// Closes the queue database before the command ends, so that SQLite checkpoints and
/// removes its write-ahead log: a reader without write access to the folder can open the
/// file afterwards (it could not create the log's shared-memory file).
pub(crate) async fn close(db: outsync_queue::sea_orm::DatabaseConnection) {
    if let Err(error) = db.close().await {
        tracing::warn!("closing the queue database: {error}");
    }
}

/// How a command failed: a message and the process's exit code (1: the operation failed
/// or left stopped jobs; 2: bad input or configuration, nothing was done; 130: stopped by
/// SIGTERM or Ctrl-C before it was done).
#[derive(Debug)]
pub(crate) struct Exit {
    /// The exit code.
    pub(crate) code: u8,
    /// What to tell the user.
    pub(crate) message: String,
}

impl Exit {
    /// Bad input or configuration: exit code 2.
    pub(crate) fn bad_input(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }
}

impl Exit {
    /// A failure that is not the input's fault: exit code 1.
    pub(crate) fn failure(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }
}

impl From<crate::config::ConfigError> for Exit {
    fn from(error: crate::config::ConfigError) -> Self {
        match error {
            // The configuration is fine; the database is not there yet.
            crate::config::ConfigError::MissingSqliteFile { .. } => {
                Self::failure(error.to_string())
            }
            other => Self::bad_input(other.to_string()),
        }
    }
}

impl From<outsync_core::SyncError> for Exit {
    fn from(error: outsync_core::SyncError) -> Self {
        Self::failure(error.to_string())
    }
}

impl From<String> for Exit {
    fn from(message: String) -> Self {
        Self { code: 1, message }
    }
}

impl From<&str> for Exit {
    fn from(message: &str) -> Self {
        Self::from(message.to_owned())
    }
}

impl From<outsync_queue::QueueError> for Exit {
    fn from(error: outsync_queue::QueueError) -> Self {
        let bad_input = matches!(
            error,
            outsync_queue::QueueError::Rejected { .. }
                | outsync_queue::QueueError::UnknownProvider { .. }
        );
        let message = queue_error(error);
        if bad_input {
            Self::bad_input(message)
        } else {
            Self::from(message)
        }
    }
}

/// A queue error with its causes, naming the queue database when it is the database's.
pub(crate) fn queue_error(error: outsync_queue::QueueError) -> String {
    let causes = std::error::Error::source(&error)
        .map(outsync_core::error::chain)
        .unwrap_or_default();
    let database = matches!(error, outsync_queue::QueueError::Database { .. })
        .then(crate::config::database_description)
        .flatten();
    let mut message = error.to_string();
    if let Some(database) = database {
        message.push_str(&format!(" (in {database})"));
    }
    if !causes.is_empty() {
        message.push_str(": ");
        message.push_str(&causes);
    }
    outsync_core::secret::redact(&message).into_owned()
}

/// Completes on Ctrl-C or SIGTERM (`docker stop`, systemd, Kubernetes), whichever comes
/// first. The handlers are installed when this is called, not when it is first awaited,
/// so call it before announcing that the process is running.
pub(crate) fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let terminate = signal(SignalKind::terminate());
    let interrupt = signal(SignalKind::interrupt());
    async move {
        let wait = |listener: std::io::Result<tokio::signal::unix::Signal>| async move {
            match listener {
                Ok(mut listener) => {
                    listener.recv().await;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for a stop signal");
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::select! {
            () = wait(terminate) => {}
            () = wait(interrupt) => {}
        }
    }
}
