//! Job filters written as text, the same in the HTTP API (query parameters, or a JSON
//! body for bulk actions), the CLI (`outsync jobs list|retry|cancel --provider …`) and the
//! dashboard: `state` (or `failure`), `provider`, `type`, `search`, `since`, `until`,
//! `sort`, `after`, `limit`.

use outsync_queue::{JobFilter, JobSort, StateFilter};

/// A filter field that does not parse, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub(crate) struct FilterError {
    /// The field (`since`, `state`, …).
    pub field: &'static str,
    /// What is wrong with its value.
    pub problem: String,
}

/// The largest page the API and the dashboard serve.
pub(crate) const MAX_PAGE: u64 = 1000;

/// Reads a point in time: an RFC 3339 time, or a duration before `now_ms` (`90s`, `30m`,
/// `1h`, `2days`).
pub(crate) fn parse_time(field: &'static str, text: &str, now_ms: i64) -> Result<i64, FilterError> {
    let text = text.trim();
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(time.timestamp_millis());
    }
    humantime::parse_duration(text)
        .ok()
        .and_then(|ago| i64::try_from(ago.as_millis()).ok())
        .map(|ago| now_ms.saturating_sub(ago))
        .ok_or_else(|| FilterError {
            field,
            problem: format!(
                "\"{text}\" is neither an RFC 3339 time nor a duration ago such as 30m, 1h or 2days"
            ),
        })
}

/// Builds a filter from named text fields (`field(name)` gives a field's value, if set).
pub(crate) fn parse_filter(
    field: impl Fn(&str) -> Option<String>,
    now_ms: i64,
) -> Result<JobFilter, FilterError> {
    let text = |name: &str| field(name).filter(|value| !value.trim().is_empty());
    let state = match (text("state"), text("failure")) {
        (Some(_), Some(_)) => {
            return Err(FilterError {
                field: "failure",
                problem: "give either state or failure, not both".to_owned(),
            });
        }
        (Some(value), None) => Some(("state", value)),
        (None, Some(value)) => Some(("failure", value)),
        (None, None) => None,
    };
    let state = state
        .map(|(name, value)| {
            value.parse::<StateFilter>().map_err(|problem| FilterError {
                field: if name == "state" { "state" } else { "failure" },
                problem,
            })
        })
        .transpose()?;
    let sort = text("sort")
        .map(|value| {
            value.parse::<JobSort>().map_err(|problem| FilterError {
                field: "sort",
                problem,
            })
        })
        .transpose()?
        .unwrap_or_default();
    let limit = text("limit")
        .map(|value| {
            value
                .parse::<u64>()
                .ok()
                .filter(|limit| (1..=MAX_PAGE).contains(limit))
                .ok_or_else(|| FilterError {
                    field: "limit",
                    problem: format!("\"{value}\" is not a whole number from 1 to {MAX_PAGE}"),
                })
        })
        .transpose()?
        .unwrap_or(100);
    Ok(JobFilter {
        state,
        provider: text("provider"),
        object_type: text("type"),
        search: text("search"),
        since_ms: text("since")
            .map(|value| parse_time("since", &value, now_ms))
            .transpose()?,
        until_ms: text("until")
            .map(|value| parse_time("until", &value, now_ms))
            .transpose()?,
        sort,
        after: text("after"),
        limit,
        ..JobFilter::default()
    })
}

/// Whether `filter` selects every job (a bulk action on it needs an explicit "all").
pub(crate) fn selects_everything(filter: &JobFilter) -> bool {
    JobFilter {
        sort: JobSort::default(),
        after: None,
        limit: 0,
        offset: 0,
        ..filter.clone()
    } == JobFilter::default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<JobFilter, FilterError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        parse_filter(|name| map.get(name).cloned(), 10_000_000)
    }

    #[test]
    fn fields_read_as_the_queue_filters() {
        let filter = parse(&[
            ("provider", "basket"),
            ("failure", "permanent"),
            ("since", "1h"),
            ("until", "2026-11-28T10:00:00Z"),
            ("search", "x"),
            ("sort", "attempts"),
            ("limit", "50"),
        ])
        .unwrap();
        assert_eq!(filter.provider.as_deref(), Some("basket"));
        assert_eq!(filter.state, Some("permanent".parse().unwrap()));
        assert_eq!(filter.since_ms, Some(10_000_000 - 3_600_000));
        assert_eq!(filter.until_ms, Some(1_795_860_000_000));
        assert_eq!(filter.sort, JobSort::MostAttempts);
        assert_eq!(filter.limit, 50);
        assert!(!selects_everything(&filter));
        assert!(selects_everything(
            &parse(&[("sort", "newest"), ("limit", "5")]).unwrap()
        ));
    }

    #[test]
    fn a_bad_field_is_named() {
        assert_eq!(parse(&[("since", "yesterday")]).unwrap_err().field, "since");
        assert_eq!(parse(&[("limit", "5000")]).unwrap_err().field, "limit");
        assert_eq!(parse(&[("failure", "bad")]).unwrap_err().field, "failure");
        assert_eq!(
            parse(&[("state", "failed"), ("failure", "permanent")])
                .unwrap_err()
                .field,
            "failure"
        );
    }
}
