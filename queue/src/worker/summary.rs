//! What a drain or a run processed, by typed outcome.

use crate::RunOutcome;
use crate::store::Completion;
use std::collections::BTreeMap;
use std::fmt;

/// What a drain or a run processed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkSummary {
    /// Jobs processed, by run outcome.
    pub outcomes: BTreeMap<RunOutcome, usize>,
    /// Jobs released unchanged at shutdown (no run, no attempt charged).
    pub released: usize,
    /// Jobs whose end could not be recorded because their lease was lost.
    pub lease_lost: usize,
}

impl WorkSummary {
    /// Jobs processed, released ones included.
    pub fn processed(&self) -> usize {
        self.outcomes.values().sum::<usize>() + self.released
    }

    /// Jobs with outcome `outcome`.
    pub fn count(&self, outcome: RunOutcome) -> usize {
        self.outcomes.get(&outcome).copied().unwrap_or(0)
    }

    /// The counts by the outcomes' stored names (`success`, `retry`, …, and `released`),
    /// as the CLI prints them and the HTTP API returns them.
    pub fn by_name(&self) -> BTreeMap<&'static str, usize> {
        let mut names: BTreeMap<&'static str, usize> = self
            .outcomes
            .iter()
            .map(|(outcome, count)| (outcome.as_str(), *count))
            .collect();
        if self.released > 0 {
            names.insert("released", self.released);
        }
        names
    }

    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &WorkSummary) {
        for (outcome, count) in &other.outcomes {
            *self.outcomes.entry(*outcome).or_insert(0) += count;
        }
        self.released += other.released;
        self.lease_lost += other.lease_lost;
    }

    pub(super) fn add(&mut self, completion: &Completion) {
        let outcome = match completion {
            Completion::Done { run, .. } => run.outcome,
            Completion::Setback { run: Some(run), .. } => run.outcome,
            Completion::Setback { run: None, .. } => {
                self.released += 1;
                return;
            }
        };
        *self.outcomes.entry(outcome).or_insert(0) += 1;
    }
}

impl fmt::Display for WorkSummary {
    /// `{"success": 7, "retry": 1}`, the counts by name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.by_name())
    }
}
