//! Live run metrics through the `metrics` facade, updated as runs are recorded: the
//! service installs a Prometheus recorder and exports them; without a recorder they cost
//! nothing. Counters only grow (pruning run records does not lower them).

use crate::outcome::RunOutcome;
use crate::store::RunRecord;

/// Runs recorded, by provider and outcome (a counter).
pub const RUNS_TOTAL: &str = "outsync_runs_total";
/// How long runs took, by provider and outcome, in seconds (a histogram; cancellations,
/// which do not run, are not in it).
pub const RUN_DURATION_SECONDS: &str = "outsync_run_duration_seconds";

/// Counts `runs`, just written.
pub(crate) fn observe_runs(runs: &[RunRecord]) {
    for run in runs {
        // The outcome is a static name: only the provider's is copied for the labels.
        let outcome = run.outcome.as_str();
        metrics::counter!(RUNS_TOTAL, "provider" => run.provider.clone(), "outcome" => outcome)
            .increment(1);
        if run.outcome != RunOutcome::Cancelled {
            #[allow(clippy::cast_precision_loss)]
            let seconds = run.duration_ms as f64 / 1000.0;
            metrics::histogram!(RUN_DURATION_SECONDS, "provider" => run.provider.clone(), "outcome" => outcome)
                .record(seconds);
        }
    }
}
