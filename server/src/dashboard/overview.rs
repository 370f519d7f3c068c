//! The overview: queue depth by provider and state, the oldest due job's age, runs by
//! outcome class per minute over the last hour and per hour over the last day as
//! server-rendered SVG charts, recent runs and providers.

use super::layout::{ago, object_link, page, respond};
use super::pages::{Shared, failure};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, PreEscaped, html};
use outsync_queue::RunOutcome;

/// The outcome classes the charts stack, with their colours, bottom first.
const CLASSES: [(&str, &str); 4] = [
    ("succeeded", "#1b7f3b"),
    ("waiting (retry, snoozed)", "#d08c00"),
    (
        "stopped (permanent, config, exceeded, internal, timeout)",
        "#b00020",
    ),
    ("other (skipped, missing, cancelled)", "#8a8a8a"),
];

fn class_of(outcome: &str) -> usize {
    match outcome {
        "success" => 0,
        "retry" | "snoozed" => 1,
        "permanent" | "config" | "exceeded" | "internal" | "timeout" => 2,
        _ => 3,
    }
}

/// Runs by outcome class over the last `slots` buckets of `bucket_ms`, stacked, as inline
/// SVG with a legend of the totals.
fn chart(
    runs: &[(i64, String, u64)],
    now_ms: i64,
    bucket_ms: i64,
    slots: usize,
    caption: &str,
) -> Markup {
    let mut counts = vec![[0u64; 4]; slots];
    let this_bucket = now_ms / bucket_ms;
    for (bucket, outcome, count) in runs {
        let ago = usize::try_from(this_bucket - bucket).unwrap_or(usize::MAX);
        if ago < slots {
            counts[slots - 1 - ago][class_of(outcome)] += count;
        }
    }
    let peak = counts
        .iter()
        .map(|c| c.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let (height, width) = (120.0, 600.0);
    #[allow(clippy::cast_precision_loss)]
    let bar = width / slots as f64;
    let mut bars = String::new();
    for (slot, classes) in counts.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let x = slot as f64 * bar;
        let mut top = height;
        for (class, count) in classes.iter().enumerate() {
            #[allow(clippy::cast_precision_loss)]
            let h = *count as f64 / peak as f64 * height;
            top -= h;
            if *count > 0 {
                bars.push_str(&format!(
                    "<rect x=\"{x:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\"><title>{count} {}</title></rect>",
                    (bar - 1.0).max(1.0),
                    CLASSES[class].1,
                    CLASSES[class].0
                ));
            }
        }
    }
    let totals: Vec<u64> = (0..4)
        .map(|class| counts.iter().map(|c| c[class]).sum())
        .collect();
    html! {
        figure {
            svg width=(width) height=(height) viewBox={ "0 0 " (width) " " (height) } role="img" aria-label=(caption) {
                (PreEscaped(bars))
            }
            figcaption {
                (caption) " (peak " (peak) " per bar): "
                @for (class, (name, colour)) in CLASSES.iter().enumerate() {
                    span style={ "color:" (colour) } { "■ " } (totals[class]) " " (name) "  "
                }
            }
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
        state
            .queue
            .runs_by_outcome(&state.db, now - 3_600_000, 60_000),
        state
            .queue
            .runs_by_outcome(&state.db, now - 86_400_000, 3_600_000)
    );
    let (stats, runs, oldest, last_hour, last_day) = match found {
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
        (chart(&last_hour, now, 60_000, 60, "Runs per minute, last hour"))
        (chart(&last_day, now, 3_600_000, 24, "Runs per hour, last day"))
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
