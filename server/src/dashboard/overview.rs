//! The overview: queue depth by provider and state, the oldest due job's age, runs per
//! minute over the last hour as a server-rendered SVG chart, recent runs and providers.

use super::layout::{ago, object_link, page, respond};
use super::pages::{Shared, failure};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, PreEscaped, html};
use outsync_queue::RunOutcome;

/// Minutes the throughput chart covers.
const MINUTES: usize = 60;

/// Runs per minute over the last hour, successes and failures stacked, as inline SVG.
fn throughput_chart(per_minute: &[(i64, bool, u64)], now_ms: i64) -> Markup {
    let mut ok = [0u64; MINUTES];
    let mut bad = [0u64; MINUTES];
    let this_minute = now_ms / 60_000;
    for (minute, succeeded, runs) in per_minute {
        let minutes_ago = usize::try_from(this_minute - minute).unwrap_or(usize::MAX);
        if minutes_ago < MINUTES {
            let slot = MINUTES - 1 - minutes_ago;
            if *succeeded {
                ok[slot] += runs
            } else {
                bad[slot] += runs
            }
        }
    }
    let peak = (0..MINUTES)
        .map(|i| ok[i] + bad[i])
        .max()
        .unwrap_or(0)
        .max(1);
    let (width, height, bar) = (600.0, 120.0, 10.0);
    #[allow(clippy::cast_precision_loss)]
    let scale = |runs: u64| runs as f64 / peak as f64 * height;
    let mut bars = String::new();
    for slot in 0..MINUTES {
        #[allow(clippy::cast_precision_loss)]
        let x = slot as f64 * bar;
        let (ok_height, bad_height) = (scale(ok[slot]), scale(bad[slot]));
        bars.push_str(&format!(
            "<rect x=\"{x}\" y=\"{}\" width=\"9\" height=\"{ok_height}\" fill=\"#1b7f3b\"><title>{} ok</title></rect>\
             <rect x=\"{x}\" y=\"{}\" width=\"9\" height=\"{bad_height}\" fill=\"#b00020\"><title>{} not ok</title></rect>",
            height - ok_height, ok[slot], height - ok_height - bad_height, bad[slot]
        ));
    }
    let total_ok: u64 = ok.iter().sum();
    let total_bad: u64 = bad.iter().sum();
    html! {
        figure {
            svg width=(width) height=(height) viewBox={ "0 0 " (width) " " (height) } role="img"
                aria-label={ "runs per minute over the last hour: " (total_ok) " succeeded, " (total_bad) " did not" } {
                (PreEscaped(bars))
            }
            figcaption.muted { "Runs per minute, last hour (peak " (peak) "/min): "
                span.ok { (total_ok) " succeeded" } ", " span.bad { (total_bad) " did not" } }
        }
    }
}

/// `GET /dashboard`.
pub(crate) async fn overview(State(state): Shared) -> Response {
    let now = state.queue.now_ms();
    let found = tokio::try_join!(
        state.queue.stats(&state.db),
        state.queue.recent_runs(&state.db, 25, None),
        state.queue.oldest_due_ms(&state.db),
        state.queue.runs_per_minute(&state.db, now - 3_600_000)
    );
    let (stats, runs, oldest, per_minute) = match found {
        Ok(found) => found,
        Err(error) => return failure(&error),
    };
    let body = html! {
        h2 { "Queue" }
        p { @if let Some(due) = oldest { "The longest-waiting due job became due " (ago(now, due)) "." }
            @else { "No job is waiting to run." } }
        table {
            tr { th { "provider" } th { "state" } th { "jobs" } }
            @for (provider, states) in &stats.by_provider {
                @for (job_state, jobs) in states {
                    tr { td { (provider) } td { (job_state) } td { (jobs) } }
                }
            }
            @if stats.by_provider.is_empty() { tr { td.muted colspan="3" { "none" } } }
        }
        h2 { "Throughput" }
        (throughput_chart(&per_minute, now))
        h2 { "Recent runs" }
        table {
            tr { th { "when" } th { "provider" } th { "object" } th { "outcome" } th { "error" } }
            @for run in &runs {
                tr {
                    td { (ago(now, run.at)) }
                    td { (run.provider) }
                    td { (object_link(&run.object)) }
                    td.ok[run.outcome == RunOutcome::Success] .bad[run.outcome != RunOutcome::Success] { (run.outcome.as_str()) }
                    td { (run.error.as_deref().unwrap_or("")) }
                }
            }
            @if runs.is_empty() { tr { td.muted colspan="5" { "none" } } }
        }
        h2 { "Providers" }
        ul { @for provider in &state.providers {
            li { a href={ "/dashboard/providers/" (provider.identifier()) } { (provider.display_name()) } " " span.muted { "(" (provider.identifier()) ")" } }
        } }
    };
    respond(StatusCode::OK, page("Overview", true, body))
}
