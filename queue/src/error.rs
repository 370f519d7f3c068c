//! Queue errors.

use sea_orm::DbErr;

/// A queue operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// A job was enqueued for a provider this queue does not know.
    #[error(
        "cannot enqueue for provider \"{provider}\": it is not registered; known providers: {known}"
    )]
    UnknownProvider {
        /// The requested provider.
        provider: String,
        /// The known providers, comma-separated.
        known: String,
    },
    /// An enqueue that could never sync was refused; nothing was queued.
    #[error("cannot enqueue {object} for provider \"{provider}\": \"{field}\" {problem}")]
    Rejected {
        /// The provider.
        provider: String,
        /// The object (`type id`, the id shortened and escaped for display).
        object: String,
        /// The request field at fault: `object_type`, `object_id`, `snapshot` or
        /// `triggered_by`.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The queue database could not be opened.
    #[error("cannot connect to the queue database ({target}): {problem}")]
    Connect {
        /// What was to be opened (`the SQLite file q.db`, `PostgreSQL at db:5432`), never
        /// with credentials.
        target: String,
        /// What went wrong, redacted.
        problem: String,
    },
    /// The database refused an operation.
    #[error("queue database error while {operation}")]
    Database {
        /// What the queue was doing.
        operation: &'static str,
        /// The database error.
        #[source]
        source: DbErr,
    },
    /// No job has this id.
    #[error("job {0} does not exist (already finished or cancelled?)")]
    JobNotFound(i64),
    /// A worker task (a job's runner or the result writer) panicked or was cancelled.
    #[error("a worker task failed")]
    Task(#[source] tokio::task::JoinError),
    /// A stored result or run record is unreadable.
    #[error("{table} row {id}: {problem}")]
    CorruptRecord {
        /// The table (`sync_result`, `sync_run`).
        table: &'static str,
        /// The row id.
        id: i64,
        /// What is wrong.
        problem: String,
    },
    /// A request to the operator API is malformed (a page position, a filter).
    #[error("{0}")]
    Invalid(String),
    /// A job's stored data is unreadable.
    #[error("job {job}: {problem}")]
    Corrupt {
        /// The job id.
        job: i64,
        /// What is wrong.
        problem: String,
    },
}

impl QueueError {
    /// A closure wrapping a [`DbErr`] with what the queue was doing (for code that runs
    /// queue operations in transactions of its own).
    pub fn db(operation: &'static str) -> impl FnOnce(DbErr) -> Self {
        move |source| Self::Database { operation, source }
    }
}
