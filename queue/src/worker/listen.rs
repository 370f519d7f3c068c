//! Wake-ups across processes on PostgreSQL: enqueues `NOTIFY outsync_queue` (delivered at
//! commit) and workers `LISTEN`, so a job enqueued on one host starts at once on another.

use std::sync::Arc;
#[cfg(feature = "postgres")]
use std::time::Duration;
use tokio::sync::Notify;

/// Without the `postgres` feature there is nothing to listen to; polling does the work.
#[cfg(not(feature = "postgres"))]
pub(crate) async fn listen(_url: String, _wake: Arc<Notify>) {}

/// Listens until the task is aborted, reconnecting after errors; polling covers the gaps.
#[cfg(feature = "postgres")]
pub(crate) async fn listen(url: String, wake: Arc<Notify>) {
    use sea_orm::sqlx::postgres::PgListener;
    loop {
        match PgListener::connect(&url).await {
            Ok(mut listener) => {
                if let Err(error) = listener.listen("outsync_queue").await {
                    tracing::warn!(%error, "LISTEN outsync_queue failed; relying on polling");
                } else {
                    loop {
                        match listener.recv().await {
                            Ok(_) => wake.notify_one(),
                            Err(error) => {
                                tracing::warn!(%error, "queue notification stream broke; reconnecting");
                                break;
                            }
                        }
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "cannot LISTEN for queue notifications; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
