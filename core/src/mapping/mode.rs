//! Update modes.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How a property is written to an external object (pretix's modes, same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateMode {
    /// Always write the value, even an empty one.
    #[default]
    Overwrite,
    /// Write only when the external object is being created.
    IfNew,
    /// Write only when the external value is empty or missing.
    IfEmpty,
    /// Add the value to the external list if it is not there yet.
    Append,
}

impl UpdateMode {
    /// All modes, in documentation order.
    pub const ALL: [UpdateMode; 4] = [Self::Overwrite, Self::IfNew, Self::IfEmpty, Self::Append];

    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Overwrite => "overwrite",
            Self::IfNew => "if_new",
            Self::IfEmpty => "if_empty",
            Self::Append => "append",
        }
    }
}

impl fmt::Display for UpdateMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for UpdateMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|mode| mode.as_str() == text)
            .ok_or_else(|| {
                format!("\"{text}\" is not an update mode; use one of overwrite, if_new, if_empty, append")
            })
    }
}
