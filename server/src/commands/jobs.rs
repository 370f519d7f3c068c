//! `outsync jobs`: list, retry, cancel, and purge a provider's jobs.

use super::{ConfigArg, Exit, queue_error};
use crate::job_filter::parse_filter;
use crate::table;
use clap::{Args, Subcommand};
use outsync_queue::sea_orm::DatabaseConnection;
use outsync_queue::{JobFilter, JobPage, Queue};

/// `outsync jobs`.
#[derive(Args)]
pub(crate) struct JobsArgs {
    #[command(flatten)]
    config: ConfigArg,
    #[command(subcommand)]
    action: JobsAction,
}

/// Which jobs: the same filter fields as the HTTP API's.
#[derive(Args, Default)]
struct FilterArgs {
    /// Only jobs in this state (`pending`, `snoozed`, `running`, `failed`, or a failure
    /// mode).
    #[arg(long)]
    state: Option<String>,
    /// Only stopped jobs with this failure mode (`permanent`, `config`, `exceeded`, …).
    #[arg(long)]
    failure: Option<String>,
    /// Only jobs of this provider.
    #[arg(long)]
    provider: Option<String>,
    /// Only jobs of objects of this type.
    #[arg(long = "type")]
    object_type: Option<String>,
    /// Only jobs whose object id or last error contains this text.
    #[arg(long)]
    search: Option<String>,
    /// Only jobs enqueued since then: an RFC 3339 time or a duration ago (`1h`, `2days`).
    #[arg(long)]
    since: Option<String>,
    /// Only jobs enqueued before then (same forms as `--since`).
    #[arg(long)]
    until: Option<String>,
}

impl FilterArgs {
    fn field(&self, name: &str) -> Option<String> {
        match name {
            "state" => self.state.clone(),
            "failure" => self.failure.clone(),
            "provider" => self.provider.clone(),
            "type" => self.object_type.clone(),
            "search" => self.search.clone(),
            "since" => self.since.clone(),
            "until" => self.until.clone(),
            _ => None,
        }
    }

    fn is_empty(&self) -> bool {
        [
            "state", "failure", "provider", "type", "search", "since", "until",
        ]
        .iter()
        .all(|name| self.field(name).is_none())
    }

    /// The queue filter, with `page`'s fields (`sort`, `after`, `limit`) if given.
    fn filter(&self, queue: &Queue, page: &[(&str, Option<String>)]) -> Result<JobFilter, Exit> {
        parse_filter(
            |name| {
                page.iter()
                    .find(|(field, _)| *field == name)
                    .and_then(|(_, value)| value.clone())
                    .or_else(|| self.field(name))
            },
            queue.now_ms(),
        )
        .map_err(|error| Exit::bad_input(format!("--{}", error)))
    }
}

#[derive(Subcommand)]
enum JobsAction {
    /// List jobs, a page at a time, with how many match in all.
    List {
        #[command(flatten)]
        filter: FilterArgs,
        /// The order: `oldest` (default), `newest`, `attempts`.
        #[arg(long)]
        sort: Option<String>,
        /// Start after this position (printed at the end of the previous page).
        #[arg(long)]
        after: Option<String>,
        /// At most this many (1 to 1,000; default 100).
        #[arg(long)]
        limit: Option<String>,
    },
    /// Retry one job (by id), or every job the filter selects, now (clears failure modes).
    Retry {
        /// The job id; without it, the filter options select the jobs.
        id: Option<i64>,
        #[command(flatten)]
        filter: FilterArgs,
        /// Retry every job when no filter option is given.
        #[arg(long)]
        all: bool,
    },
    /// Cancel one job (by id), or every job the filter selects (with `--yes`; without it,
    /// say how many it would cancel).
    Cancel {
        /// The job id; without it, the filter options select the jobs.
        id: Option<i64>,
        #[command(flatten)]
        filter: FilterArgs,
        /// Cancel every job when no filter option is given.
        #[arg(long)]
        all: bool,
        /// Really cancel the selected jobs.
        #[arg(long)]
        yes: bool,
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

/// The filter of a bulk `retry` or `cancel`: refused with an id, or empty without `--all`.
fn bulk_filter(
    queue: &Queue,
    verb: &str,
    id: Option<i64>,
    filter: &FilterArgs,
    all: bool,
) -> Result<Option<JobFilter>, Exit> {
    match (id, filter.is_empty(), all) {
        (Some(_), false, _) | (Some(_), _, true) => Err(Exit::bad_input(format!(
            "{verb} takes a job id or filter options (or --all), not both"
        ))),
        (Some(_), true, false) => Ok(None),
        (None, true, false) => Err(Exit::bad_input(format!(
            "{verb} needs a job id, filter options (--provider, --failure, --since, …) or --all"
        ))),
        (None, _, _) => filter.filter(queue, &[]).map(Some),
    }
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
        JobsAction::List {
            filter,
            sort,
            after,
            limit,
        } => {
            let page = [
                ("sort", sort.clone()),
                ("after", after.clone()),
                ("limit", limit.clone()),
            ];
            let filter = filter.filter(queue, &page)?;
            let page = queue.page_jobs(db, &filter).await.map_err(queue_error)?;
            print_page(&page);
        }
        JobsAction::Retry { id, filter, all } => {
            match bulk_filter(queue, "retry", *id, filter, *all)? {
                None => {
                    let id = id.unwrap_or_default();
                    queue.retry(db, id).await.map_err(queue_error)?;
                    println!("job {id} is due now");
                }
                Some(filter) => {
                    let count = queue
                        .retry_matching(db, &filter)
                        .await
                        .map_err(queue_error)?;
                    println!("retried {count} job(s); they are due now");
                }
            }
        }
        JobsAction::Cancel {
            id,
            filter,
            all,
            yes,
        } => match bulk_filter(queue, "cancel", *id, filter, *all)? {
            None => {
                let id = id.unwrap_or_default();
                queue.cancel(db, id).await.map_err(queue_error)?;
                println!("job {id} cancelled");
            }
            Some(filter) if !*yes => {
                let count = queue.count_jobs(db, &filter).await.map_err(queue_error)?;
                println!("{count} job(s) would be cancelled; run again with --yes to cancel them");
            }
            Some(filter) => {
                let count = queue
                    .cancel_matching(db, &filter)
                    .await
                    .map_err(queue_error)?;
                println!("cancelled {count} job(s)");
            }
        },
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

/// Prints a page of jobs, and on stderr where it stands in the whole list.
fn print_page(page: &JobPage) {
    table::print(
        &[
            "id",
            "provider",
            "object",
            "attempts",
            "state",
            "last error",
        ],
        &page
            .jobs
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
    // On stderr, so that the table alone goes to a pipe.
    match (page.jobs.len(), &page.next) {
        (shown, Some(next)) => eprintln!(
            "{shown} of {} job(s); next page: --after {next}",
            page.total
        ),
        (shown, _) => eprintln!("{shown} of {} job(s)", page.total),
    }
}
