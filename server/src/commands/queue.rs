//! Commands on the queue: migrate, worker, enqueue, sync, status, jobs.

use super::ConfigArg;
use crate::config::error_chain;
use crate::table;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use outsync_core::queue::{EnqueueItem, JobFilter, JobState, to_datetime};
use outsync_core::{EnqueueOptions, ObjectRef, Worker, WorkerConfig};
use serde_json::Value;
use std::io::BufRead;

pub(crate) fn queue_error(error: outsync_core::QueueError) -> String {
    let causes = error_chain(&error);
    if causes.is_empty() {
        error.to_string()
    } else {
        format!("{error}: {causes}")
    }
}

/// `outsync migrate`.
pub(crate) async fn migrate(args: &ConfigArg) -> Result<(), String> {
    let config = args.load()?;
    config.open_queue().await?;
    println!(
        "queue tables are up to date in {}",
        redact(&config.database_url)
    );
    Ok(())
}

/// A database URL without its password.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// A worker, its queue and database, with a handle on the three together.
pub(crate) type WorkerParts = (
    Worker,
    outsync_core::queue::Queue,
    outsync_core::sea_orm::DatabaseConnection,
);

/// A worker for every configured provider.
pub(crate) async fn worker_for(args: &ConfigArg) -> Result<WorkerParts, String> {
    let config = args.load()?;
    let providers = config
        .build_providers()
        .map_err(|problems| problems.join("\n"))?;
    worker_with(&config, providers).await
}

/// A worker for `providers` on the configured queue.
pub(crate) async fn worker_with(
    config: &crate::config::Config,
    providers: Vec<std::sync::Arc<dyn outsync_core::OutboundSyncProvider>>,
) -> Result<WorkerParts, String> {
    let (queue, db) = config.open_queue().await?;
    let worker_config = WorkerConfig {
        postgres_listen_url: config
            .database_url
            .starts_with("postgres")
            .then(|| config.database_url.clone()),
        reap_interval: std::time::Duration::from_secs(config.scheduler_interval.max(1)),
        ..WorkerConfig::default()
    };
    Ok((
        Worker::new(db.clone(), queue.clone(), providers, worker_config),
        queue,
        db,
    ))
}

/// `outsync worker`.
pub(crate) async fn worker(args: &ConfigArg) -> Result<(), String> {
    let (worker, _, _) = worker_for(args).await?;
    eprintln!(
        "worker {} running; Ctrl-C stops it (running jobs finish or go back to the queue)",
        worker.config().id
    );
    let summary = worker
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(queue_error)?;
    println!("worker stopped: {:?}", summary.outcomes);
    Ok(())
}

/// `outsync enqueue`.
#[derive(Args)]
pub(crate) struct EnqueueArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The provider.
    #[arg(long)]
    provider: Option<String>,
    /// The object type (a root model of the schema).
    #[arg(long = "type")]
    object_type: Option<String>,
    /// The object id.
    #[arg(long)]
    id: Option<String>,
    /// The object's state as JSON.
    #[arg(long)]
    snapshot: Option<String>,
    /// Why (recorded with the job).
    #[arg(long, default_value = "cli")]
    triggered_by: String,
    /// A JSON-lines file (`-` for stdin): one `{"provider", "object_type", "object_id",
    /// "snapshot"?, "triggered_by"?}` per line.
    #[arg(long)]
    file: Option<String>,
}

fn item_from_line(line: &str, number: usize, default_trigger: &str) -> Result<EnqueueItem, String> {
    let value: Value =
        serde_json::from_str(line).map_err(|e| format!("line {number}: not valid JSON: {e}"))?;
    let text = |key: &str| {
        value
            .get(key)
            .and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .ok_or_else(|| format!("line {number}: \"{key}\" is missing"))
    };
    Ok(EnqueueItem {
        provider: text("provider")?,
        object: ObjectRef::new(text("object_type")?, text("object_id")?),
        triggered_by: value
            .get("triggered_by")
            .and_then(Value::as_str)
            .unwrap_or(default_trigger)
            .to_owned(),
        options: EnqueueOptions {
            snapshot: value.get("snapshot").cloned(),
            ..EnqueueOptions::default()
        },
    })
}

pub(crate) async fn enqueue(args: &EnqueueArgs) -> Result<(), String> {
    let config = args.config.load()?;
    let (queue, db) = config.open_queue().await?;
    if let Some(file) = &args.file {
        let reader: Box<dyn BufRead> = if file == "-" {
            Box::new(std::io::BufReader::new(std::io::stdin()))
        } else {
            Box::new(std::io::BufReader::new(
                std::fs::File::open(file).map_err(|e| format!("cannot open {file}: {e}"))?,
            ))
        };
        let progress = ProgressBar::new_spinner();
        progress.set_style(
            ProgressStyle::with_template("{spinner} {pos} enqueued ({per_sec}) {msg}")
                .map_err(|e| e.to_string())?,
        );
        let (mut batch, mut created, mut merged) = (Vec::new(), 0, 0);
        for (index, line) in reader.lines().enumerate() {
            let line = line.map_err(|e| format!("cannot read {file}: {e}"))?;
            if line.trim().is_empty() {
                continue;
            }
            batch.push(item_from_line(&line, index + 1, &args.triggered_by)?);
            if batch.len() == 5000 {
                let summary = queue.enqueue_many(&db, &batch).await.map_err(queue_error)?;
                (created, merged) = (created + summary.created, merged + summary.coalesced);
                progress.inc(batch.len() as u64);
                batch.clear();
            }
        }
        let summary = queue.enqueue_many(&db, &batch).await.map_err(queue_error)?;
        progress.inc(batch.len() as u64);
        progress.finish();
        println!(
            "{} new jobs, {} merged into pending ones",
            created + summary.created,
            merged + summary.coalesced
        );
        return Ok(());
    }
    let (Some(provider), Some(object_type), Some(id)) =
        (&args.provider, &args.object_type, &args.id)
    else {
        return Err("give --provider, --type and --id, or --file".into());
    };
    let snapshot = args
        .snapshot
        .as_deref()
        .map(|text| {
            serde_json::from_str(text).map_err(|e| format!("--snapshot is not valid JSON: {e}"))
        })
        .transpose()?;
    let job = queue
        .enqueue(
            &db,
            provider,
            &ObjectRef::new(object_type, id),
            &args.triggered_by,
            EnqueueOptions {
                snapshot,
                ..EnqueueOptions::default()
            },
        )
        .await
        .map_err(queue_error)?;
    println!(
        "job {} {}",
        job.id,
        if job.created {
            "created"
        } else {
            "updated (merged into the pending job)"
        }
    );
    Ok(())
}

/// `outsync sync`.
pub(crate) async fn sync(args: &ConfigArg) -> Result<(), String> {
    let (worker, queue, db) = worker_for(args).await?;
    let due = queue.stats(&db).await.map_err(queue_error)?.total("due");
    let progress = ProgressBar::new_spinner();
    progress.set_message(format!("syncing {due} due job(s)…"));
    progress.enable_steady_tick(std::time::Duration::from_millis(120));
    let summary = worker.drain().await.map_err(queue_error)?;
    progress.finish_and_clear();
    let rows: Vec<Vec<String>> = summary
        .outcomes
        .iter()
        .map(|(outcome, n)| vec![outcome.clone(), n.to_string()])
        .collect();
    println!("synced {} job(s):", summary.processed());
    table::print(&["outcome", "jobs"], &rows);
    Ok(())
}

/// `outsync status`.
pub(crate) async fn status(args: &ConfigArg) -> Result<(), String> {
    let config = args.load()?;
    let (queue, db) = config.open_queue().await?;
    let stats = queue.stats(&db).await.map_err(queue_error)?;
    let mut rows = Vec::new();
    for (provider, states) in &stats.by_provider {
        for (state, jobs) in states {
            rows.push(vec![provider.clone(), state.clone(), jobs.to_string()]);
        }
    }
    println!("queue ({} jobs):", stats.jobs());
    table::print(&["provider", "state", "jobs"], &rows);
    let runs = queue
        .recent_runs(&db, 10, None)
        .await
        .map_err(queue_error)?;
    println!("\nlatest runs:");
    table::print(
        &["when (UTC)", "provider", "object", "outcome", "error"],
        &runs
            .iter()
            .map(|r| {
                vec![
                    to_datetime(r.at).format("%Y-%m-%d %H:%M:%S").to_string(),
                    r.provider.clone(),
                    format!("{} {}", r.object_type, r.object_id),
                    r.outcome.clone(),
                    r.error.clone().unwrap_or_default(),
                ]
            })
            .collect::<Vec<_>>(),
    );
    Ok(())
}

/// `outsync jobs`.
#[derive(Args)]
pub(crate) struct JobsArgs {
    #[command(flatten)]
    config: ConfigArg,
    #[command(subcommand)]
    action: JobsAction,
}

#[derive(Subcommand)]
enum JobsAction {
    /// List jobs (`--state pending|running|failed`).
    List {
        /// Only jobs in this state.
        #[arg(long)]
        state: Option<String>,
        /// Only jobs of this provider.
        #[arg(long)]
        provider: Option<String>,
    },
    /// Retry a job now (clears its failure mode).
    Retry {
        /// The job id.
        id: i64,
    },
    /// Cancel a job.
    Cancel {
        /// The job id.
        id: i64,
    },
}

pub(crate) async fn jobs(args: &JobsArgs) -> Result<(), String> {
    let config = args.config.load()?;
    let (queue, db) = config.open_queue().await?;
    match &args.action {
        JobsAction::List { state, provider } => {
            let state = match state.as_deref() {
                None => None,
                Some("pending") => Some(JobState::Pending),
                Some("running") => Some(JobState::Running),
                Some("failed") => Some(JobState::Failed),
                Some(other) => match outsync_core::queue::FailureMode::parse(other) {
                    Some(mode) => Some(JobState::FailedWith(mode)),
                    None => {
                        return Err(format!(
                            "--state {other}: use pending, running, failed or a failure mode"
                        ));
                    }
                },
            };
            let filter = JobFilter {
                state,
                provider: provider.clone(),
                limit: 200,
                ..JobFilter::default()
            };
            let jobs = queue.list_jobs(&db, &filter).await.map_err(queue_error)?;
            table::print(
                &[
                    "id",
                    "provider",
                    "object",
                    "attempts",
                    "state",
                    "last error",
                ],
                &jobs
                    .iter()
                    .map(|j| {
                        let state = j.failure_mode.clone().unwrap_or_else(|| {
                            if j.lease_owner.is_some() {
                                "running".into()
                            } else {
                                "pending".into()
                            }
                        });
                        vec![
                            j.id.to_string(),
                            j.provider.clone(),
                            format!("{} {}", j.object_type, j.object_id),
                            j.failed_attempts.to_string(),
                            state,
                            j.last_error.clone().unwrap_or_default(),
                        ]
                    })
                    .collect::<Vec<_>>(),
            );
        }
        JobsAction::Retry { id } => {
            queue.retry(&db, *id).await.map_err(queue_error)?;
            println!("job {id} is due now");
        }
        JobsAction::Cancel { id } => {
            queue.cancel(&db, *id).await.map_err(queue_error)?;
            println!("job {id} cancelled");
        }
    }
    Ok(())
}
