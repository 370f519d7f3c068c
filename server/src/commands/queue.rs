//! Commands that run or inspect the queue: migrate, worker, sync, status.

use super::{ConfigArg, Exit, WorkerOptions, queue_error};
use crate::config::{Access, Config};
use crate::table;
use clap::Args;
use indicatif::ProgressBar;
use outsync_core::ConfiguredProvider;
use outsync_queue::Worker;
use outsync_queue::sea_orm::DatabaseConnection;
use outsync_queue::{Queue, RunOutcome, to_datetime};
use std::sync::Arc;

/// `outsync migrate`: creates the database if needed and applies the migrations.
pub(crate) async fn migrate(args: &ConfigArg) -> Result<(), Exit> {
    let config = args.load()?;
    let (_, db) = config.open_queue(Access::Create, None).await?;
    super::close(db).await;
    println!(
        "queue tables are up to date in {}",
        outsync_queue::describe(&config.database_url)
    );
    Ok(())
}

/// The options of the commands that run a worker.
#[derive(Args)]
pub(crate) struct WorkerArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    #[command(flatten)]
    pub(crate) options: WorkerOptions,
}

/// A worker, its queue and database.
pub(crate) struct WorkerParts {
    pub(crate) worker: Worker,
    pub(crate) queue: Queue,
    pub(crate) db: DatabaseConnection,
    /// The configured object sources, if any (the worker loads through them).
    pub(crate) sources: Option<Arc<outsync_sources::Sources>>,
}

/// A worker for every configured provider (there must be at least one).
pub(crate) async fn worker_for(args: &WorkerArgs) -> Result<(WorkerParts, Config), Exit> {
    let mut config = args.config.load()?;
    args.options.apply_to_database(&mut config);
    let providers = config.require_providers()?;
    let parts = worker_with(
        &config,
        &args.options,
        args.config.write_access(),
        providers,
    )
    .await?;
    Ok((parts, config))
}

/// A worker for `providers` on the configured queue.
pub(crate) async fn worker_with(
    config: &Config,
    options: &WorkerOptions,
    access: Access,
    providers: Vec<Arc<ConfiguredProvider>>,
) -> Result<WorkerParts, Exit> {
    let (queue, db) = config.open_queue(access, Some(&providers)).await?;
    crate::mapping_versions::seed(&queue, &db, &providers)
        .await
        .map_err(queue_error)?;
    let identifiers: Vec<String> = providers
        .iter()
        .map(|provider| provider.identifier().to_owned())
        .collect();
    let mut worker = Worker::new(
        db.clone(),
        queue.clone(),
        providers,
        options.worker_config(config),
    )
    .with_mapping_versions(Arc::new(crate::mapping_versions::SettingsReloader::new(
        config,
    )));
    let sources = config.open_sources().await?;
    if let Some(sources) = &sources {
        // A broken query, or a related object no source could load, stops the start,
        // naming it, rather than every job (or enqueue) later.
        let identifiers: Vec<&str> = identifiers.iter().map(String::as_str).collect();
        let problems = sources.problems_for(&identifiers).await;
        if !problems.is_empty() {
            return Err(Exit::bad_input(problems.join("\n")));
        }
        worker = worker.with_source(sources.clone());
    }
    Ok(WorkerParts {
        worker,
        queue,
        db,
        sources,
    })
}

/// `outsync worker`: runs until SIGTERM or Ctrl-C, then shuts down gracefully.
pub(crate) async fn worker(args: &WorkerArgs) -> Result<(), Exit> {
    let (parts, _) = worker_for(args).await?;
    let shutdown = super::shutdown_signal();
    let config = parts.worker.config();
    eprintln!(
        "worker {} running (concurrency {}, lease {} s); SIGTERM or Ctrl-C stops it: \
         running jobs get {} s to finish, the rest go back to the queue at once",
        config.id,
        config.concurrency,
        config.lease.as_secs_f64(),
        config.shutdown_grace.as_secs_f64()
    );
    let summary = parts.worker.run(shutdown).await.map_err(queue_error)?;
    println!("worker stopped: {:?}", summary.by_name());
    Ok(())
}

/// `outsync sync`: runs every due job now and prints a summary; exits 1 if any job
/// stopped. SIGTERM or Ctrl-C stops it as it stops a worker: running jobs get the grace
/// period, the rest go back to the queue at once (exit code 130).
pub(crate) async fn sync(args: &WorkerArgs) -> Result<(), Exit> {
    let interrupted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = {
        let signal = super::shutdown_signal();
        let interrupted = interrupted.clone();
        async move {
            signal.await;
            interrupted.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    };
    let (parts, _) = worker_for(args).await?;
    let due = parts
        .queue
        .stats(&parts.db)
        .await
        .map_err(queue_error)?
        .total("due");
    let progress = ProgressBar::new_spinner();
    progress.set_message(format!("syncing {due} due job(s)…"));
    progress.enable_steady_tick(std::time::Duration::from_millis(120));
    let summary = parts.worker.drain_until(stop).await.map_err(queue_error)?;
    progress.finish_and_clear();
    let rows: Vec<Vec<String>> = summary
        .by_name()
        .iter()
        .map(|(outcome, n)| vec![(*outcome).to_owned(), n.to_string()])
        .collect();
    if interrupted.load(std::sync::atomic::Ordering::SeqCst) {
        println!(
            "stopped by a signal: {} job(s) ran, {} went back to the queue:",
            summary.processed() - summary.released,
            summary.released
        );
    } else {
        println!("synced {} job(s):", summary.processed());
    }
    table::print(&["outcome", "jobs"], &rows);
    let stopped: usize = summary
        .outcomes
        .iter()
        .filter(|(outcome, _)| matches!(outcome, RunOutcome::Failed(_)))
        .map(|(_, n)| n)
        .sum();
    if interrupted.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(Exit {
            message: format!(
                "interrupted: {} job(s) went back to the queue unrun, for the next sync or a worker{}",
                summary.released,
                if stopped > 0 {
                    format!("; {stopped} job(s) stopped and wait for an operator")
                } else {
                    String::new()
                }
            ),
            code: 130,
        });
    }
    if stopped > 0 {
        return Err(Exit::from(format!(
            "{stopped} job(s) stopped and wait for an operator: see `outsync jobs list --state failed`, \
             then `outsync jobs retry` or `outsync jobs cancel`"
        )));
    }
    Ok(())
}

/// `outsync status`: read-only, so it also works on a database it may not write.
pub(crate) async fn status(args: &ConfigArg) -> Result<(), Exit> {
    let config = args.load()?;
    let (queue, db) = config.open_queue(args.read_access(), None).await?;
    let stats = queue.stats(&db).await.map_err(queue_error)?;
    let mut rows = Vec::new();
    for (provider, states) in &stats.by_provider {
        for (state, jobs) in states {
            rows.push(vec![provider.clone(), state.clone(), jobs.to_string()]);
        }
    }
    println!("queue ({} jobs):", stats.jobs());
    table::print(&["provider", "state", "jobs"], &rows);
    let configured: Vec<&str> = config.providers.iter().map(|(id, _)| id.as_str()).collect();
    for provider in stats.by_provider.keys() {
        if !configured.contains(&provider.as_str()) {
            println!(
                "note: provider \"{provider}\" is not configured here; its jobs wait for a worker that runs it \
                 (`outsync jobs purge --provider {provider} --yes` removes them)"
            );
        }
    }
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
                    r.object.to_string(),
                    r.outcome.to_string(),
                    r.error.clone().unwrap_or_default(),
                ]
            })
            .collect::<Vec<_>>(),
    );
    Ok(())
}
