//! The `"sources"` section of the configuration, read into typed specs. Every problem names
//! its key (`sources."UserProfile".url`).

use outsync_core::{Secret, SyncError};
use serde_json::{Map, Value};
use std::time::Duration;

/// Where objects of one object type (for one provider, or all) come from.
#[derive(Debug, Clone)]
pub struct SourceEntry {
    /// How objects are loaded.
    pub kind: SourceKind,
    /// Load from the source even when the job carries a snapshot (`"prefer": "source"`).
    pub prefer_source: bool,
    /// Objects of other types to enqueue when an object of this type is enqueued, e.g. the
    /// add-ons a user authors (`"related": {"Addon": {...}}`).
    pub related: Vec<RelatedSpec>,
}

/// How objects are loaded.
#[derive(Debug, Clone)]
pub enum SourceKind {
    /// Only from the job's snapshot (a job without one fails as a configuration error).
    Snapshot,
    /// `GET` from the application's HTTP API.
    Http(HttpSpec),
    /// A query against the application's database.
    Sql(SqlSpec),
}

/// An HTTP source.
#[derive(Debug, Clone)]
pub struct HttpSpec {
    /// The URL template: `{base_url}`, `{type}` and `{id}` are replaced (the last two
    /// percent-encoded).
    pub url: String,
    /// What `{base_url}` stands for.
    pub base_url: String,
    /// A JSON pointer to the object in the answer (`/data`); the whole answer if empty.
    pub pointer: String,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// The time a request may take.
    pub timeout: Duration,
    /// How requests authenticate.
    pub auth: Option<AuthSpec>,
}

/// How an HTTP source authenticates.
#[derive(Debug, Clone)]
pub enum AuthSpec {
    /// A bearer token taken as always valid.
    Token(Secret),
    /// A user and password exchanged for a bearer token at `token_url` (a JSON `POST` of
    /// `{"username", "password"}` answered with `{"token" or "access_token",
    /// "expires_in"?}`), renewed before it expires and after a 401.
    Password {
        /// The token endpoint (`{base_url}` is replaced).
        token_url: String,
        /// The user.
        user: String,
        /// The password.
        password: Secret,
        /// How long to wait between tries while the token endpoint is unreachable.
        retry_interval: Duration,
    },
}

/// A SQL source.
#[derive(Debug, Clone)]
pub struct SqlSpec {
    /// The application's database (a connection of its own, never the queue's).
    pub database_url: Secret,
    /// The query returning the object's row; the id is its only parameter (`$1`, or `?`
    /// on MySQL).
    pub query: String,
    /// A column holding the whole object as JSON, instead of one field per column.
    pub json_column: Option<String>,
    /// Child models and the query returning their rows, keyed by the parent's id.
    pub children: Vec<(String, String)>,
}

/// Objects of another type to enqueue along with an object.
#[derive(Debug, Clone)]
pub struct RelatedSpec {
    /// Their object type.
    pub object_type: String,
    /// Where their ids come from: an HTTP URL template answered with a list (or an object
    /// with a list at `pointer`), or a SQL query returning one id per row.
    pub lookup: RelatedLookup,
}

/// How related ids are found.
#[derive(Debug, Clone)]
pub enum RelatedLookup {
    /// `GET` the URL (same template rules and authentication as the object's source).
    Http {
        /// The URL template.
        url: String,
        /// A JSON pointer to the list of ids (or of objects with an `id`).
        pointer: String,
    },
    /// A query returning the ids in its first column.
    Sql {
        /// The query, with the object's id as its parameter.
        query: String,
    },
}

/// Reads `section` (the value of `"sources"`): keys are `*` (every object), an object
/// type, `provider/*` or `provider/Type`.
pub fn read_sources(section: &Value) -> Result<Vec<(String, SourceEntry)>, SyncError> {
    let Value::Object(entries) = section else {
        return Err(SyncError::config(
            "\"sources\" must be an object: {\"*\" | \"Type\" | \"provider/Type\": {\"kind\": ...}}",
        ));
    };
    entries
        .iter()
        .map(|(key, value)| Ok((key.clone(), read_entry(key, value)?)))
        .collect()
}

struct At<'a> {
    key: &'a str,
    object: &'a Map<String, Value>,
}

impl At<'_> {
    fn name(&self, field: &str) -> String {
        format!("sources.\"{}\".{field}", self.key)
    }

    fn fail(&self, field: &str, problem: impl std::fmt::Display) -> SyncError {
        SyncError::config(format!("{} {problem}", self.name(field)))
    }

    fn text(&self, field: &str) -> Result<Option<String>, SyncError> {
        match self.object.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(self.fail(field, format!("must be a string, got {other}"))),
        }
    }

    fn required(&self, field: &str) -> Result<String, SyncError> {
        self.text(field)?
            .filter(|text| !text.is_empty())
            .ok_or_else(|| self.fail(field, "is missing"))
    }

    /// `field`, or the environment variable `field_env` names, or the file `field_file`
    /// names.
    fn indirect(&self, field: &str) -> Result<Option<String>, SyncError> {
        if let Some(value) = self.text(field)? {
            return Ok(Some(value));
        }
        if let Some(variable) = self.text(&format!("{field}_env"))? {
            return match std::env::var(&variable) {
                Ok(value) if !value.is_empty() => Ok(Some(value)),
                _ => Err(self.fail(
                    &format!("{field}_env"),
                    format!("names {variable}, which is not set"),
                )),
            };
        }
        if let Some(path) = self.text(&format!("{field}_file"))? {
            return std::fs::read_to_string(&path)
                .map(|text| Some(text.trim().to_owned()))
                .map_err(|error| {
                    self.fail(
                        &format!("{field}_file"),
                        format!("cannot read {path}: {error}"),
                    )
                });
        }
        Ok(None)
    }

    /// [`indirect`](Self::indirect), listed for redaction.
    fn secret(&self, field: &str) -> Result<Option<Secret>, SyncError> {
        Ok(self.indirect(field)?.map(Secret::new))
    }

    fn seconds(&self, field: &str, default: f64) -> Result<Duration, SyncError> {
        match self.object.get(field) {
            None => Ok(Duration::from_secs_f64(default)),
            Some(value) => value
                .as_f64()
                .filter(|n| n.is_finite() && *n > 0.0 && *n <= 3600.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| {
                    self.fail(
                        field,
                        format!("must be a number of seconds up to 3600, got {value}"),
                    )
                }),
        }
    }

    fn only(&self, allowed: &[&str]) -> Result<(), SyncError> {
        match self
            .object
            .keys()
            .find(|key| !allowed.contains(&key.as_str()))
        {
            None => Ok(()),
            Some(unknown) => Err(SyncError::config(format!(
                "unknown key \"{unknown}\" in sources.\"{}\"{} (known keys: {})",
                self.key,
                outsync_core::keys::did_you_mean(unknown, allowed.iter().copied()),
                allowed.join(", ")
            ))),
        }
    }
}

const COMMON_KEYS: [&str; 3] = ["kind", "prefer", "related"];
const HTTP_KEYS: [&str; 13] = [
    "url",
    "base_url",
    "pointer",
    "headers",
    "timeout_seconds",
    "token",
    "token_env",
    "token_file",
    "user",
    "user_env",
    "password",
    "password_env",
    "token_url",
];
const HTTP_MORE_KEYS: [&str; 2] = ["password_file", "token_retry_seconds"];
const SQL_KEYS: [&str; 6] = [
    "database_url",
    "database_url_env",
    "database_url_file",
    "query",
    "json_column",
    "children",
];

fn read_entry(key: &str, value: &Value) -> Result<SourceEntry, SyncError> {
    let Value::Object(object) = value else {
        return Err(SyncError::config(format!(
            "sources.\"{key}\" must be an object with a \"kind\" (snapshot, http or sql)"
        )));
    };
    let at = At { key, object };
    let kind = match at.required("kind")?.as_str() {
        "snapshot" => {
            at.only(&COMMON_KEYS)?;
            SourceKind::Snapshot
        }
        "http" => {
            let mut allowed = COMMON_KEYS.to_vec();
            allowed.extend(HTTP_KEYS);
            allowed.extend(HTTP_MORE_KEYS);
            at.only(&allowed)?;
            SourceKind::Http(read_http(&at)?)
        }
        "sql" => {
            let mut allowed = COMMON_KEYS.to_vec();
            allowed.extend(SQL_KEYS);
            at.only(&allowed)?;
            SourceKind::Sql(read_sql(&at)?)
        }
        other => {
            return Err(at.fail(
                "kind",
                format!("\"{other}\" is not one of snapshot, http, sql"),
            ));
        }
    };
    let prefer_source = match at.text("prefer")?.as_deref() {
        None | Some("snapshot") => false,
        Some("source") => true,
        Some(other) => {
            return Err(at.fail(
                "prefer",
                format!("\"{other}\" is not one of snapshot, source"),
            ));
        }
    };
    let related = read_related(&at, &kind)?;
    if prefer_source && matches!(kind, SourceKind::Snapshot) {
        return Err(at.fail("prefer", "\"source\" needs an http or sql source"));
    }
    Ok(SourceEntry {
        kind,
        prefer_source,
        related,
    })
}

fn read_http(at: &At<'_>) -> Result<HttpSpec, SyncError> {
    let url = at.required("url")?;
    let base_url = at.text("base_url")?.unwrap_or_default();
    if url.contains("{base_url}") && base_url.is_empty() {
        return Err(at.fail("base_url", "is missing (the url uses {base_url})"));
    }
    let expanded = url.replace("{base_url}", base_url.trim_end_matches('/'));
    if !(expanded.starts_with("http://") || expanded.starts_with("https://")) {
        return Err(at.fail("url", format!("must be an http(s) URL, got \"{expanded}\"")));
    }
    if !url.contains("{id}") {
        return Err(at.fail("url", "must contain {id}"));
    }
    let pointer = at.text("pointer")?.unwrap_or_default();
    if !(pointer.is_empty() || pointer.starts_with('/')) {
        return Err(at.fail(
            "pointer",
            "must be a JSON pointer starting with / (e.g. /data)",
        ));
    }
    let headers = match at.object.get("headers") {
        None => Vec::new(),
        Some(Value::Object(headers)) => headers
            .iter()
            .map(|(name, value)| match value {
                Value::String(text) => {
                    if names_a_secret(name) {
                        Secret::new(text.clone());
                    }
                    Ok((name.clone(), text.clone()))
                }
                other => Err(at.fail(
                    "headers",
                    format!("\"{name}\" must be a string, got {other}"),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(at.fail("headers", format!("must be an object, got {other}"))),
    };
    let configured = (
        at.secret("token")?,
        // A user name is not a secret: messages name it ("refused user …").
        at.indirect("user")?,
        at.secret("password")?,
    );
    let (token, user, password) = match configured {
        (None, None, None) => environment_auth(),
        configured => configured,
    };
    let auth = match (token, user, password) {
        (Some(token), _, _) => Some(AuthSpec::Token(token)),
        (None, Some(user), Some(password)) => Some(AuthSpec::Password {
            token_url: at.required("token_url")?,
            user,
            password,
            retry_interval: match environment("OUTSYNC_TOKEN_RETRY_SECONDS", "INTERVAL_RETRY_TOKEN_SECONDS") {
                Some(seconds) if !at.object.contains_key("token_retry_seconds") => seconds
                    .parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite() && *n > 0.0 && *n <= 3600.0)
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| {
                        SyncError::config(format!(
                            "OUTSYNC_TOKEN_RETRY_SECONDS (or INTERVAL_RETRY_TOKEN_SECONDS) must be a number of seconds up to 3600, got \"{seconds}\""
                        ))
                    })?,
                _ => at.seconds("token_retry_seconds", 5.0)?,
            },
        }),
        (None, Some(_), None) => return Err(at.fail("password", "is missing (a user is set)")),
        (None, None, Some(_)) => return Err(at.fail("user", "is missing (a password is set)")),
        (None, None, None) => None,
    };
    Ok(HttpSpec {
        url,
        base_url,
        pointer,
        headers,
        timeout: at.seconds("timeout_seconds", 10.0)?,
        auth,
    })
}

/// Whether a header's value is a credential (listed for redaction): its name mentions
/// authorization, a key, a token or a secret.
fn names_a_secret(header: &str) -> bool {
    let name = header.to_ascii_lowercase();
    ["auth", "key", "token", "secret", "password"]
        .iter()
        .any(|word| name.contains(word))
}

/// The variable `name`, or Soukosync's `alias`, if set and not empty.
fn environment(name: &str, alias: &str) -> Option<String> {
    [name, alias].into_iter().find_map(|variable| {
        std::env::var(variable)
            .ok()
            .filter(|value| !value.is_empty())
    })
}

/// Credentials from the environment for an HTTP source that configures none:
/// `OUTSYNC_SOURCE_TOKEN`, or `OUTSYNC_SOURCE_USER` and `OUTSYNC_SOURCE_PASSWORD`
/// (Soukosync's `API_TOKEN`, `API_USER`, `API_PASSWORD` are aliases).
fn environment_auth() -> (Option<Secret>, Option<String>, Option<Secret>) {
    let secret = |name, alias| environment(name, alias).map(Secret::new);
    (
        secret("OUTSYNC_SOURCE_TOKEN", "API_TOKEN"),
        environment("OUTSYNC_SOURCE_USER", "API_USER"),
        secret("OUTSYNC_SOURCE_PASSWORD", "API_PASSWORD"),
    )
}

fn read_sql(at: &At<'_>) -> Result<SqlSpec, SyncError> {
    let database_url = at.secret("database_url")?.ok_or_else(|| {
        at.fail(
            "database_url",
            "is missing (or database_url_env, database_url_file)",
        )
    })?;
    outsync_core::secret::register_url_password(database_url.expose());
    let query = at.required("query")?;
    check_read_only(at, "query", &query)?;
    let children = match at.object.get("children") {
        None => Vec::new(),
        Some(Value::Object(children)) => children
            .iter()
            .map(|(model, query)| match query {
                Value::String(query) => {
                    check_read_only(at, &format!("children.\"{model}\""), query)?;
                    Ok((model.clone(), query.clone()))
                }
                other => Err(at.fail(
                    &format!("children.\"{model}\""),
                    format!("must be a query, got {other}"),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(at.fail("children", format!("must be an object, got {other}"))),
    };
    Ok(SqlSpec {
        database_url,
        query,
        json_column: at.text("json_column")?,
        children,
    })
}

/// Only reading statements are accepted (the connection is read-only too).
fn check_read_only(at: &At<'_>, field: &str, query: &str) -> Result<(), SyncError> {
    let first = query
        .trim_start()
        .split(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if first == "select" || first == "with" {
        Ok(())
    } else {
        Err(at.fail(
            field,
            "must be a SELECT (or WITH … SELECT) query: sources only read",
        ))
    }
}

fn read_related(at: &At<'_>, kind: &SourceKind) -> Result<Vec<RelatedSpec>, SyncError> {
    let Some(section) = at.object.get("related") else {
        return Ok(Vec::new());
    };
    let Value::Object(types) = section else {
        return Err(at.fail("related", "must be an object: {\"Type\": {...}}"));
    };
    let mut related = Vec::new();
    for (object_type, spec) in types {
        let field = format!("related.\"{object_type}\"");
        let lookup = match (kind, spec) {
            (SourceKind::Http(_), Value::Object(spec)) => {
                let url = spec
                    .get("url")
                    .and_then(Value::as_str)
                    .filter(|u| u.contains("{id}"));
                let url = url.ok_or_else(|| at.fail(&field, "needs a \"url\" containing {id}"))?;
                let pointer = spec
                    .get("pointer")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                RelatedLookup::Http {
                    url: url.to_owned(),
                    pointer: pointer.to_owned(),
                }
            }
            (SourceKind::Sql(_), Value::Object(spec)) => {
                let query = spec.get("query").and_then(Value::as_str);
                let query = query.ok_or_else(|| at.fail(&field, "needs a \"query\""))?;
                check_read_only(at, &field, query)?;
                RelatedLookup::Sql {
                    query: query.to_owned(),
                }
            }
            (SourceKind::Snapshot, _) => {
                return Err(at.fail("related", "needs an http or sql source to look ids up"));
            }
            (_, other) => return Err(at.fail(&field, format!("must be an object, got {other}"))),
        };
        related.push(RelatedSpec {
            object_type: object_type.clone(),
            lookup,
        });
    }
    Ok(related)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn credentials_in_headers_are_redacted_and_others_kept() {
        let section = json!({"Order": {"kind": "http", "url": "http://app/orders/{id}/",
            "headers": {"X-Api-Key": "header-key-SECRET-0c3", "Accept": "application/vnd.app+json"}}});
        let sources = read_sources(&section).unwrap();
        let SourceKind::Http(spec) = &sources[0].1.kind else {
            panic!("an http source");
        };
        assert_eq!(spec.headers.len(), 2);
        let text = "sent header-key-SECRET-0c3 with application/vnd.app+json";
        assert_eq!(
            outsync_core::secret::redact(text),
            "sent *** with application/vnd.app+json"
        );
    }
}
