//! A target that takes 20 ms per call, run by the service loop at concurrency 1, 16 and
//! 128: how close the loop's refills keep it to the ideal (every slot always busy).

use crate::workload;
use outsync_core::mapping::ObjectMapping;
use outsync_core::{
    ConfiguredProvider, OutboundSyncProvider, SyncAction, SyncError, SyncOutcome, SyncRequest,
    async_trait,
};
use outsync_queue::{EnqueueItem, Queue, Worker, WorkerConfig};
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct SlowTarget;

#[async_trait]
impl OutboundSyncProvider for SlowTarget {
    async fn sync_object_with_properties(
        &self,
        request: SyncRequest<'_>,
    ) -> Result<Option<SyncOutcome>, SyncError> {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(Some(SyncOutcome::new(SyncAction::Update, &request)))
    }
}

/// Prints the rate at each concurrency on `db`, as a share of the ideal
/// (`concurrency / 60 ms`: three calls per order, one after another).
pub(crate) async fn measure(db: &DatabaseConnection, label: &str) {
    let schema = workload::schema();
    let mappings = ObjectMapping::load_all(workload::MAPPINGS, &schema).expect("mappings");
    let provider = Arc::new(ConfiguredProvider::new(
        "slow",
        mappings,
        Arc::new(SlowTarget),
    ));
    let queue = Queue::new(["slow"]);
    for (round, concurrency) in [1usize, 16, 128].into_iter().enumerate() {
        let orders = (concurrency * 50).max(100);
        let offset = 1_000_000 * (round + 1);
        let items: Vec<EnqueueItem> = workload::items(offset..offset + orders, 0)
            .into_iter()
            .map(|item| EnqueueItem {
                provider: "slow".into(),
                ..item
            })
            .collect();
        queue.enqueue_many(db, &items).await.expect("enqueue");
        let config = WorkerConfig {
            concurrency,
            batch_size: concurrency.max(16),
            ..WorkerConfig::default()
        };
        let worker = Worker::new(db.clone(), queue.clone(), vec![provider.clone()], config);
        let started = Instant::now();
        worker
            .run(async {
                loop {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    if queue.stats(db).await.is_ok_and(|stats| stats.jobs() == 0) {
                        return;
                    }
                }
            })
            .await
            .expect("worker");
        let rate = orders as f64 / started.elapsed().as_secs_f64();
        let ideal = concurrency as f64 / 0.060;
        println!(
            "[{label}] 20 ms target (3 calls per order), concurrency {concurrency:>3}: {rate:>6.0} orders/s = {:>5.1} % of ideal {ideal:.0}/s",
            100.0 * rate / ideal
        );
    }
}
