//! `outsync jobs`: list, retry, cancel, and purge a provider's jobs.

use super::{ConfigArg, Exit, queue_error};
use crate::table;
use clap::{Args, Subcommand};
use outsync_queue::sea_orm::DatabaseConnection;
use outsync_queue::{JobFilter, Queue, StateFilter};

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
    /// List jobs (`--state pending|snoozed|running|failed` or a failure mode).
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
    /// Remove every job of a provider that no worker holds (e.g. an uninstalled provider),
    /// with a run record each. Without `--yes` it only says how many it would remove.
    Purge {
        /// The provider whose jobs to remove.
        #[arg(long)]
        provider: String,
        /// Really remove them.
        #[arg(long)]
        yes: bool,
    },
}

fn parse_state(state: Option<&str>) -> Result<Option<StateFilter>, Exit> {
    state
        .map(|text| {
            text.parse()
                .map_err(|e: String| Exit::bad_input(format!("--state: {e}")))
        })
        .transpose()
}

/// `outsync jobs`.
pub(crate) async fn jobs(args: &JobsArgs) -> Result<(), Exit> {
    let config = args.config.load()?;
    let access = match &args.action {
        JobsAction::List { .. } => args.config.read_access(),
        _ => args.config.write_access(),
    };
    let (queue, db) = config.open_queue(access, None).await?;
    let result = act(&args.action, &queue, &db).await;
    super::close(db).await;
    result
}

/// Carries out one `outsync jobs` action.
async fn act(action: &JobsAction, queue: &Queue, db: &DatabaseConnection) -> Result<(), Exit> {
    match action {
        JobsAction::List { state, provider } => {
            let filter = JobFilter {
                state: parse_state(state.as_deref())?,
                provider: provider.clone(),
                limit: 200,
                ..JobFilter::default()
            };
            let jobs = queue.list_jobs(db, &filter).await.map_err(queue_error)?;
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
                        vec![
                            j.id.to_string(),
                            j.provider.clone(),
                            format!("{} {}", j.object.object_type, j.object.id.escape_debug()),
                            j.failed_attempts.to_string(),
                            j.state.to_string(),
                            j.last_error.clone().unwrap_or_default(),
                        ]
                    })
                    .collect::<Vec<_>>(),
            );
        }
        JobsAction::Retry { id } => {
            queue.retry(db, *id).await.map_err(queue_error)?;
            println!("job {id} is due now");
        }
        JobsAction::Cancel { id } => {
            queue.cancel(db, *id).await.map_err(queue_error)?;
            println!("job {id} cancelled");
        }
        JobsAction::Purge { provider, yes } => {
            if !*yes {
                let count = queue
                    .count_purgeable(db, provider)
                    .await
                    .map_err(queue_error)?;
                println!(
                    "{count} job(s) of provider \"{provider}\" would be removed; \
                     run again with --yes to remove them"
                );
                return Ok(());
            }
            let removed = queue
                .purge_provider(db, provider)
                .await
                .map_err(queue_error)?;
            println!("removed {removed} job(s) of provider \"{provider}\"");
        }
    }
    Ok(())
}
