//! Whether a change matters to Basket: a field Basket receives differs.

use crate::payload::{addon_payload, user_payload};
use serde_json::Value;

/// Whether a field Basket receives differs between `old` and `new` user states (no old
/// state counts as a change).
pub fn user_changed(old: Option<&Value>, new: &Value) -> bool {
    old.is_none_or(|old| user_payload(old) != user_payload(new))
}

/// Whether a field Basket receives differs between `old` and `new` add-on states,
/// including its list of authors and their user fields.
pub fn addon_changed(old: Option<&Value>, new: &Value) -> bool {
    old.is_none_or(|old| addon_payload(old) != addon_payload(new))
}
