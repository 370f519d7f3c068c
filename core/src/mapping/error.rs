//! Configuration errors found while loading or evaluating mappings.

use crate::SyncError;
use std::fmt;

/// One problem in a mapping configuration, located by mapping, entry and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingProblem {
    /// The mapping's id, or `#N` (1-based position) when it has none.
    pub mapping: String,
    /// The 1-based position of the property entry, for entry-level problems.
    pub entry: Option<usize>,
    /// The field concerned (source field, or a JSON key of the mapping).
    pub field: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for MappingProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mapping {}", self.mapping)?;
        if let Some(entry) = self.entry {
            write!(f, ", entry {entry}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ", field \"{field}\"")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// All problems found in a mapping configuration (loading reports every problem, not
/// just the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingConfigError {
    /// The problems, in document order.
    pub problems: Vec<MappingProblem>,
}

impl MappingConfigError {
    pub(crate) fn single(problem: MappingProblem) -> Self {
        Self {
            problems: vec![problem],
        }
    }
}

impl fmt::Display for MappingConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.problems.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl std::error::Error for MappingConfigError {}

impl From<MappingConfigError> for SyncError {
    fn from(error: MappingConfigError) -> Self {
        SyncError::config_many(error.problems.iter().map(ToString::to_string).collect())
    }
}
