//! `outsync enqueue`: one object, or JSON lines from a file or stdin. A file is all or
//! nothing: every line is read and checked first, then all of them are enqueued in one
//! transaction, so a bad line or a database error leaves the queue as it was. The file is
//! streamed twice (standard input is spooled to an unlinked temporary file first), so its
//! size is not bounded by memory.

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

/// Items enqueued per statement batch while a file streams in.
const LINES_PER_BATCH: usize = 5000;

/// The non-empty lines of `source` from its start, numbered from 1.
fn numbered_lines(
    source: &std::fs::File,
    file: &str,
) -> Result<impl Iterator<Item = Result<(usize, String), Exit>>, Exit> {
    use std::io::Seek;
    let mut source = source
        .try_clone()
        .map_err(|e| Exit::from(format!("cannot read {file}: {e}")))?;
    source
        .rewind()
        .map_err(|e| Exit::from(format!("cannot read {file}: {e}")))?;
    let file = file.to_owned();
    Ok(std::io::BufReader::new(source)
        .lines()
        .enumerate()
        .map(move |(index, line)| {
            line.map(|line| (index + 1, line))
                .map_err(|e| Exit::from(format!("cannot read {file}: {e}")))
        })
        .filter(|line| !matches!(line, Ok((_, text)) if text.trim().is_empty())))
}

/// Reads and checks every line without keeping them (a backfill of millions of lines
/// needs no more memory than a batch); returns how many items there are. The errors name
/// the line (at most 20 are listed).
fn check_lines(
    source: &std::fs::File,
    file: &str,
    queue: &Queue,
    default_trigger: &str,
) -> Result<u64, Exit> {
    let mut problems = Vec::new();
    let (mut good, mut bad) = (0, 0);
    for line in numbered_lines(source, file)? {
        let (number, line) = line?;
        let checked = item_from_line(&line, default_trigger)
            .map_err(|error| error.to_string())
            .and_then(|item| queue.check(&item).map_err(queue_error));
        match checked {
            Ok(()) => good += 1,
            Err(problem) => {
                bad += 1;
                if problems.len() < 20 {
                    problems.push(format!("line {number}: {problem}"));
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
    Ok(good)
}

/// Standard input copied to a temporary file, so that it can be read twice (checked, then
/// enqueued). The file is removed from its folder at once and lives on only as this open
/// file: nothing is left behind however the process ends, and nobody else can open it.
fn spool_stdin() -> Result<std::fs::File, Exit> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = std::env::temp_dir().join(format!(
        "outsync-enqueue-{}-{}.jsonl",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos())
    ));
    let cannot =
        |e: std::io::Error| format!("cannot spool standard input to {}: {e}", path.display());
    // Readable by this user only (the lines hold the objects' data), never an existing
    // file or link.
    let mut spooled = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(cannot)?;
    std::fs::remove_file(&path).map_err(cannot)?;
    std::io::copy(&mut std::io::stdin().lock(), &mut spooled)
        .map_err(|e| format!("cannot read standard input: {e}"))?;
    Ok(spooled)
}

async fn enqueue_file(
    args: &EnqueueArgs,
    file: &str,
    queue: &Queue,
    db: &DatabaseConnection,
) -> Result<(), Exit> {
    let source = if file == "-" {
        spool_stdin()?
    } else {
        std::fs::File::open(file)
            .map_err(|e| Exit::bad_input(format!("cannot open {file}: {e}")))?
    };
    let total = check_lines(&source, file, queue, &args.triggered_by)?;
    let progress = ProgressBar::new(total);
    progress.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} checked lines enqueued ({per_sec})")
            .map_err(|e| e.to_string())?,
    );
    let nothing = |problem: String| Exit::from(format!("{problem}; nothing was enqueued"));
    let tx = db.begin().await.map_err(|e| {
        queue_error(outsync_queue::QueueError::db(
            "starting the enqueue transaction",
        )(e))
    })?;
    let (mut created, mut merged) = (0, 0);
    let mut batch = Vec::with_capacity(LINES_PER_BATCH);
    let mut lines = numbered_lines(&source, file)?.peekable();
    while let Some(line) = lines.next() {
        let (number, line) = line?;
        // Checked a moment ago; a file changed since is refused as a whole.
        let item = item_from_line(&line, &args.triggered_by)
            .map_err(|error| nothing(format!("{file}: line {number} changed: {error}")))?;
        batch.push(item);
        if batch.len() == LINES_PER_BATCH || lines.peek().is_none() {
            let summary = queue
                .enqueue_many(&tx, &batch)
                .await
                .map_err(|error| nothing(queue_error(error).to_string()))?;
            (created, merged) = (created + summary.created, merged + summary.coalesced);
            progress.inc(batch.len() as u64);
            batch.clear();
        }
    }
    tx.commit().await.map_err(|e| {
        nothing(
            queue_error(outsync_queue::QueueError::db(
                "committing the enqueued jobs",
            )(e))
            .to_string(),
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
