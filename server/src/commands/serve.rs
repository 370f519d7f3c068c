//! `outsync serve`: the HTTP API, a worker and the scheduler in one process.

use super::queue::{WorkerArgs, worker_with};
use super::{Exit, queue_error};
use crate::api::{self, ApiToken, AppState};
use crate::config::ConfigError;
use clap::Args;
use std::sync::Arc;
use std::time::Duration;

/// `outsync serve`.
#[derive(Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    worker: WorkerArgs,
    /// Where to listen (port 0: a free port, printed as the service starts).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Run records older than this many days are pruned by the scheduler.
    #[arg(long, default_value_t = 30)]
    keep_runs_days: u64,
}

/// The API token from `OUTSYNC_API_TOKEN`, or from the file `OUTSYNC_API_TOKEN_FILE` names.
fn api_token() -> Result<String, ConfigError> {
    let token = match (
        std::env::var("OUTSYNC_API_TOKEN"),
        std::env::var("OUTSYNC_API_TOKEN_FILE"),
    ) {
        (Ok(token), _) => token,
        (Err(_), Ok(path)) => std::fs::read_to_string(&path)
            .map_err(|source| ConfigError::TokenUnreadable { path, source })?
            .trim()
            .to_owned(),
        _ => String::new(),
    };
    if token.len() < 16 {
        return Err(ConfigError::WeakToken);
    }
    Ok(token)
}

/// Records what the workers did since `since` (ms) as a scheduler round, if anything;
/// returns when this round began, the next one's `since`.
async fn scheduler_round(
    queue: &outsync_queue::Queue,
    db: &outsync_queue::sea_orm::DatabaseConnection,
    since: i64,
) -> i64 {
    // The queue's clock (the database's across hosts) stamped the runs.
    let now = queue.now_ms();
    let (ok, data) = match queue.runs_since(db, since).await {
        Ok(outcomes) if outcomes.is_empty() => return now,
        Ok(outcomes) => {
            let parts: Vec<String> = outcomes
                .iter()
                .map(|(outcome, runs)| match outcome.as_str() {
                    "success" => format!("{runs} synced"),
                    other => format!("{runs} {other}"),
                })
                .collect();
            (true, serde_json::json!(parts.join(", ")))
        }
        Err(error) => (false, crate::api::exception(error)),
    };
    if let Err(error) = queue.record_round(db, "scheduler", ok, &data).await {
        tracing::warn!(%error, "cannot record the scheduler's round");
    }
    now
}

pub(crate) async fn serve(args: &ServeArgs) -> Result<(), Exit> {
    let stop_signal = super::shutdown_signal();
    let token = api_token()?;
    // Before the worker starts, so that /metrics counts every run.
    crate::api::install_metrics();
    let mut config = args.worker.config.load()?;
    args.worker.options.apply_to_database(&mut config);
    let interval = config.scheduler_interval.max(1);
    let providers = config.require_providers()?;
    let parts = worker_with(
        &config,
        &args.worker.options,
        args.worker.config.write_access(),
        providers.clone(),
    )
    .await?;
    let (worker, queue, db, sources) = (parts.worker, parts.queue, parts.db, parts.sources);
    let worker = Arc::new(worker);
    // One stop for everything at once: the HTTP server, its event streams, the scheduler
    // and the worker (whose running jobs get their grace period).
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let stop = Arc::new(stop);
    tokio::spawn({
        let stop = stop.clone();
        async move {
            stop_signal.await;
            let _ = stop.send(true);
        }
    });
    let state = Arc::new(AppState {
        db: db.clone(),
        queue: queue.clone(),
        worker: worker.clone(),
        token: ApiToken::new(token),
        sessions: crate::dashboard::Sessions::default(),
        providers,
        schema: config.schema.clone(),
        sources,
        reloader: Arc::new(crate::mapping_versions::SettingsReloader::new(&config)),
        stopping: stopped.clone(),
    });
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| Exit::from(format!("cannot listen on {}: {e}", args.listen)))?;
    // The address bound, so that `--listen 127.0.0.1:0` says which port it got.
    let address = listener
        .local_addr()
        .map_or_else(|_| args.listen.clone(), |address| address.to_string());
    eprintln!(
        "outsync serving on http://{address} (worker {}, scheduler every {interval} s)",
        worker.config().id
    );

    let running_worker = tokio::spawn({
        let worker = worker.clone();
        let done = crate::api::stopped(stopped.clone());
        async move { worker.run(done).await }
    });
    let retention = Duration::from_secs(args.keep_runs_days * 86_400);
    let scheduler = tokio::spawn({
        let (queue, db) = (queue.clone(), db.clone());
        let mut done = stopped.clone();
        async move {
            let mut since = queue.now_ms();
            loop {
                tokio::select! {
                    _ = done.wait_for(|stop| *stop) => break,
                    () = tokio::time::sleep(Duration::from_secs(interval)) => {}
                }
                // The worker drains due jobs and reaps leases as it goes; the scheduler
                // wakes it, records what the workers did since its last round, and prunes
                // old run records.
                queue.wake();
                since = scheduler_round(&queue, &db, since).await;
                if let Err(error) = queue.prune_runs(&db, retention).await {
                    tracing::warn!(%error, "pruning runs failed");
                }
            }
        }
    });
    let mut server = tokio::spawn(
        axum::serve(listener, api::router(state))
            .with_graceful_shutdown(crate::api::stopped(stopped.clone()))
            .into_future(),
    );
    // The server ends on its own only if it fails; otherwise it stops with the rest.
    let failed = tokio::select! {
        ended = &mut server => Some(ended),
        () = crate::api::stopped(stopped.clone()) => None,
    };
    let _ = stop.send(true);
    let _ = scheduler.await;
    let summary = running_worker
        .await
        .map_err(|e| e.to_string())?
        .map_err(queue_error)?;
    eprintln!("stopped: {:?}", summary.by_name());
    // Requests still open after the worker stopped get a moment, then the process ends.
    let ended = match failed {
        Some(ended) => ended,
        None => match tokio::time::timeout(REQUESTS_GRACE, &mut server).await {
            Ok(ended) => ended,
            Err(_) => {
                server.abort();
                Ok(Ok(()))
            }
        },
    };
    let failure = match ended {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    };
    Err(Exit::from(format!("the HTTP server failed: {failure}")))
}

/// How long HTTP requests still open when the worker has stopped may take to finish.
const REQUESTS_GRACE: Duration = Duration::from_secs(1);
