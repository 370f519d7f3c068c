//! Dotted paths into JSON objects (`customer.address.city`, `positions.0.price`).

use serde_json::Value;
use std::fmt;

/// A path into a JSON value, parsed once when the schema loads.
///
/// Segments are separated by dots; a segment that is a number indexes into an array
/// (and is used as a key on objects). A path that does not exist reads as `null`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    text: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Segment {
    key: String,
    index: Option<usize>,
}

impl FieldPath {
    /// Parses `path`; returns `None` for an empty path or an empty segment (`a..b`).
    pub fn parse(path: &str) -> Option<Self> {
        if path.is_empty() {
            return None;
        }
        let mut segments = Vec::new();
        for part in path.split('.') {
            if part.is_empty() {
                return None;
            }
            segments.push(Segment {
                key: part.to_owned(),
                index: part.parse().ok(),
            });
        }
        Some(Self {
            text: path.to_owned(),
            segments,
        })
    }

    /// Follows the path from `root`; `None` where it leads nowhere.
    pub fn lookup<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        let mut current = root;
        for segment in &self.segments {
            current = match current {
                Value::Object(map) => map.get(&segment.key)?,
                Value::Array(items) => items.get(segment.index?)?,
                _ => return None,
            };
        }
        Some(current)
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn follows_objects_and_arrays() {
        let doc = json!({"a": {"b": [10, {"c": "x"}]}});
        let path = FieldPath::parse("a.b.1.c").unwrap();
        assert_eq!(path.lookup(&doc), Some(&json!("x")));
        assert_eq!(FieldPath::parse("a.b.7").unwrap().lookup(&doc), None);
        assert_eq!(FieldPath::parse("a.z").unwrap().lookup(&doc), None);
    }

    #[test]
    fn rejects_empty_segments() {
        assert!(FieldPath::parse("").is_none());
        assert!(FieldPath::parse("a..b").is_none());
        assert!(FieldPath::parse(".a").is_none());
    }
}
