//! `GET /dashboard/events`: server-sent events that tell open dashboard pages when the
//! queue changed, so that they fetch their content again (the page's script, paused while
//! the operator has rows selected or is typing). The server looks every two seconds at the
//! job counts (the tally, a few rows), the newest job and the newest run, and sends a
//! `change` event when any of them moved; a comment keeps idle connections open.

use crate::api::AppState;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::StreamExt;
use futures_util::stream::{self, Stream};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// How often the server looks for changes.
const LOOK_EVERY: Duration = Duration::from_secs(2);

/// What the queue looks like, as far as a page cares: counts, newest job, newest run.
async fn fingerprint(state: &AppState) -> Option<String> {
    let stats = state.queue.stats(&state.db).await.ok()?;
    let (job, run) = state.queue.activity_marker(&state.db).await.ok()?;
    Some(format!("{:?}/{job}/{run}", stats.by_provider))
}

pub(crate) async fn events(
    State(state): State<Arc<AppState>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stopping = state.stopping.clone();
    let first = fingerprint(&state).await;
    let changes = stream::unfold((state, first), |(state, mut last)| async move {
        loop {
            tokio::time::sleep(LOOK_EVERY).await;
            let now = fingerprint(&state).await;
            if now.is_some() && now != last {
                last = now;
                let event = Event::default().event("change").data("queue");
                return Some((Ok(event), (state, last)));
            }
        }
    });
    // The first event says the stream is open (the page shows "live"); the stream ends when
    // the service stops (the page's `EventSource` reconnects to whatever serves next).
    let opened = stream::once(async { Ok(Event::default().event("ready").data("live")) });
    let stream = opened
        .chain(changes)
        .take_until(crate::api::stopped(stopping));
    Sse::new(stream).keep_alive(KeepAlive::default())
}
