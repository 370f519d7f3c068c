//! What a drain or a run processed.

use crate::store::Completion;
use std::collections::BTreeMap;

/// What a drain or a run processed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkSummary {
    /// Jobs processed, by run outcome (`success`, `retry`, `config`, …).
    pub outcomes: BTreeMap<String, usize>,
    /// Jobs whose end could not be recorded because their lease was lost.
    pub lease_lost: usize,
}

impl WorkSummary {
    /// Jobs processed.
    pub fn processed(&self) -> usize {
        self.outcomes.values().sum()
    }

    /// Jobs with outcome `outcome`.
    pub fn count(&self, outcome: &str) -> usize {
        self.outcomes.get(outcome).copied().unwrap_or(0)
    }

    pub(super) fn add(&mut self, completion: &Completion) {
        let outcome = match completion {
            Completion::Done { run, .. } => run.outcome.as_str(),
            Completion::Setback { run: Some(run), .. } => run.outcome.as_str(),
            Completion::Setback { run: None, .. } => "released",
        };
        *self.outcomes.entry(outcome.to_owned()).or_insert(0) += 1;
    }
}
