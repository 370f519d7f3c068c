//! `outsync enqueue`: one object, or JSON lines from a file or stdin. A file is all or
//! nothing: every line is read and checked first, then all of them are enqueued in one
//! transaction, so a bad line or a database error leaves the queue as it was.

use super::{ConfigArg, Exit, queue_error};
use crate::enqueue_body::{BodyError, EnqueueRequest};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use outsync_core::ObjectRef;
use outsync_queue::EnqueueOptions;
use outsync_queue::sea_orm::{DatabaseConnection, TransactionTrait};
use outsync_queue::{EnqueueItem, Queue};
use serde_json::Value;
use std::io::BufRead;

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
    /// The object's state as JSON, or `@file.json`.
    #[arg(long)]
    snapshot: Option<String>,
    /// Why (recorded with the job).
    #[arg(long, default_value = "cli")]
    triggered_by: String,
    /// A JSON-lines file (`-` for stdin): one `{"provider", "object_type", "object_id",
    /// "snapshot"?, "triggered_by"?}` per line. All lines are enqueued, or none.
    #[arg(long)]
    file: Option<String>,
}

/// A line of an enqueue file that is not an item.
#[derive(Debug, thiserror::Error)]
enum LineError {
    #[error("not valid JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    #[error(transparent)]
    Item(#[from] BodyError),
}

/// One line of an enqueue file: the same object `POST /api/enqueue` takes.
fn item_from_line(line: &str, default_trigger: &str) -> Result<EnqueueItem, LineError> {
    let value: Value = serde_json::from_str(line)?;
    Ok(EnqueueRequest::item_from_json(&value, default_trigger)?)
}

/// Reads and checks every line; the errors name the line (at most 20 are listed).
fn read_items(
    reader: Box<dyn BufRead>,
    file: &str,
    queue: &Queue,
    default_trigger: &str,
) -> Result<Vec<EnqueueItem>, Exit> {
    let mut items = Vec::new();
    let mut problems = Vec::new();
    let mut bad = 0;
    for (index, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| format!("cannot read {file}: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let checked = item_from_line(&line, default_trigger)
            .map_err(|error| error.to_string())
            .and_then(|item| queue.check(&item).map(|()| item).map_err(queue_error));
        match checked {
            Ok(item) => items.push(item),
            Err(problem) => {
                bad += 1;
                if problems.len() < 20 {
                    problems.push(format!("line {}: {problem}", index + 1));
                }
            }
        }
    }
    if bad > 0 {
        let more = if bad > problems.len() {
            format!("\n  … and {} more", bad - problems.len())
        } else {
            String::new()
        };
        return Err(Exit::bad_input(format!(
            "{file}: {bad} bad line(s); nothing was enqueued:\n  {}{more}",
            problems.join("\n  ")
        )));
    }
    Ok(items)
}

async fn enqueue_file(
    args: &EnqueueArgs,
    file: &str,
    queue: &Queue,
    db: &DatabaseConnection,
) -> Result<(), Exit> {
    let reader: Box<dyn BufRead> = if file == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(std::fs::File::open(file).map_err(
            |e| Exit::bad_input(format!("cannot open {file}: {e}")),
        )?))
    };
    let items = read_items(reader, file, queue, &args.triggered_by)?;
    let progress = ProgressBar::new(items.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} checked lines enqueued ({per_sec})")
            .map_err(|e| e.to_string())?,
    );
    let tx = db.begin().await.map_err(|e| {
        queue_error(outsync_queue::QueueError::db(
            "starting the enqueue transaction",
        )(e))
    })?;
    let (mut created, mut merged) = (0, 0);
    for chunk in items.chunks(5000) {
        let summary = queue
            .enqueue_many(&tx, chunk)
            .await
            .map_err(|error| format!("{}; nothing was enqueued", queue_error(error)))?;
        (created, merged) = (created + summary.created, merged + summary.coalesced);
        progress.inc(chunk.len() as u64);
    }
    tx.commit().await.map_err(|e| {
        format!(
            "{}; nothing was enqueued",
            queue_error(outsync_queue::QueueError::db(
                "committing the enqueued jobs"
            )(e))
        )
    })?;
    queue.wake();
    progress.finish_and_clear();
    println!("{created} new jobs, {merged} merged into pending ones");
    Ok(())
}

/// `outsync enqueue`.
pub(crate) async fn enqueue(args: &EnqueueArgs) -> Result<(), Exit> {
    let config = args.config.load()?;
    let providers = config.require_providers()?;
    let (queue, db) = config
        .open_queue(args.config.write_access(), Some(&providers))
        .await?;
    let result = match &args.file {
        Some(file) => enqueue_file(args, file, &queue, &db).await,
        None => enqueue_one(args, &queue, &db).await,
    };
    super::close(db).await;
    result
}

/// `outsync enqueue --provider … --type … --id …`.
async fn enqueue_one(
    args: &EnqueueArgs,
    queue: &Queue,
    db: &DatabaseConnection,
) -> Result<(), Exit> {
    let (Some(provider), Some(object_type), Some(id)) =
        (&args.provider, &args.object_type, &args.id)
    else {
        return Err(Exit::bad_input(
            "give --provider, --type and --id, or --file",
        ));
    };
    let snapshot = match args.snapshot.as_deref() {
        None => None,
        Some(text) => {
            let text = match text.strip_prefix('@') {
                Some(path) => std::fs::read_to_string(path)
                    .map_err(|e| Exit::bad_input(format!("--snapshot: cannot read {path}: {e}")))?,
                None => text.to_owned(),
            };
            Some(
                serde_json::from_str(&text)
                    .map_err(|e| Exit::bad_input(format!("--snapshot is not valid JSON: {e}")))?,
            )
        }
    };
    let job = queue
        .enqueue(
            db,
            provider,
            &ObjectRef::new(object_type, id),
            &args.triggered_by,
            EnqueueOptions {
                snapshot,
                ..EnqueueOptions::default()
            },
        )
        .await?;
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
