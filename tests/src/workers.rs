//! Workers running in the background of a test, each on its own connection pool as if on
//! its own host, and a wait for the queue to drain.

use outsync_core::ConfiguredProvider;
use outsync_queue::worker::WorkSummary;
use outsync_queue::{Queue, QueueError, RetryPolicy, connect};
use outsync_queue::{Worker, WorkerConfig};
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Workers started by [`BackgroundWorkers::start`].
pub struct BackgroundWorkers {
    stop: watch::Sender<bool>,
    handles: Vec<JoinHandle<Result<WorkSummary, QueueError>>>,
}

impl BackgroundWorkers {
    /// Starts `count` workers on `url`, each with its own pool, its own [`Queue`] (so no
    /// in-process wake-ups pass between them) and the providers `make_providers` builds.
    pub async fn start(
        url: &str,
        count: usize,
        config: &WorkerConfig,
        make_providers: impl Fn() -> Vec<Arc<ConfiguredProvider>>,
    ) -> Self {
        let (stop, _) = watch::channel(false);
        let mut handles = Vec::new();
        for number in 0..count {
            let db = connect(url).await.expect("worker connects");
            let providers = make_providers();
            let queue = Queue::new(providers.iter().map(|p| p.identifier().to_owned()));
            let config = WorkerConfig {
                id: format!("{}-{number}", config.id),
                postgres_listen_url: url.starts_with("postgres").then(|| url.to_owned()),
                ..config.clone()
            };
            let worker = Worker::new(db, queue, providers, config);
            let mut stopped = stop.subscribe();
            handles.push(tokio::spawn(async move {
                worker
                    .run(async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    })
                    .await
            }));
        }
        Self { stop, handles }
    }

    /// Stops the workers and returns their summaries (a worker's error fails the test).
    pub async fn stop(self) -> Vec<WorkSummary> {
        let _ = self.stop.send(true);
        let mut summaries = Vec::new();
        for handle in self.handles {
            summaries.push(
                handle
                    .await
                    .expect("worker task")
                    .expect("worker ends without error"),
            );
        }
        summaries
    }
}

/// Waits for a worker process to exit successfully, polling without blocking the runtime
/// (a test's in-process target keeps answering meanwhile); panics after `limit`.
pub async fn wait_for_exit(child: &mut std::process::Child, limit: Duration) {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("worker status") {
            assert!(status.success(), "a worker failed: {status}");
            return;
        }
        assert!(
            started.elapsed() < limit,
            "a worker did not finish within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `db` holds no job at all (every job done), polling; panics with the queue's
/// statistics after `limit`. Returns how long it took.
pub async fn wait_until_drained(db: &DatabaseConnection, limit: Duration) -> Duration {
    let queue = Queue::new(Vec::<String>::new());
    let started = Instant::now();
    loop {
        match queue.stats(db).await {
            Ok(stats) if stats.jobs() == 0 => return started.elapsed(),
            Ok(stats) if started.elapsed() > limit => {
                panic!("the queue did not drain within {limit:?}: {stats:?}")
            }
            Err(error) if started.elapsed() > limit => {
                panic!("the queue did not drain within {limit:?}: {error}")
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The worker settings of fault tests: short backoff (100 ms doubling to 2 s) so a run ends
/// in seconds, 32 slots, quick polling and reaping.
pub fn fast_retry_config(name: &str) -> WorkerConfig {
    WorkerConfig {
        id: name.to_owned(),
        concurrency: 32,
        lease: Duration::from_secs(30),
        job_timeout: Duration::from_secs(10),
        poll_interval: Duration::from_millis(50),
        reap_interval: Duration::from_secs(1),
        retry: RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
            jitter: 0.2,
            ..RetryPolicy::default()
        },
        ..WorkerConfig::default()
    }
}
