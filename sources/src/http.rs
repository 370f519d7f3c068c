//! An HTTP source: `GET` the object from the application's API.
//!
//! | the API answers | the job |
//! |---|---|
//! | 200 with JSON (at `pointer`) whose id matches | syncs it |
//! | 404, 410 | the object is gone (`object_missing`) |
//! | 401, 403 | a fetched token is renewed and the request sent once more; then `config` |
//! | 429 (with `Retry-After`), 5xx, timeout, no connection | retried (snoozed while unavailable) |
//! | other 4xx, JSON without the object, a different id | `permanent` |

use crate::spec::{AuthSpec, HttpSpec};
use outsync_core::schema::FieldPath;
use outsync_core::{ObjectRef, SyncError};
use outsync_http::login::PasswordLogin;
use outsync_http::status::{transient_error, transport_error, truncated};
use outsync_http::token::TokenSource;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::StatusCode;
use serde_json::Value;

/// Characters left as they are in `{type}` and `{id}` (RFC 3986's unreserved ones).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// What the errors call the peer.
const PEER: &str = "the application's API";

/// Loads objects with `GET` requests.
pub(crate) struct HttpSource {
    client: reqwest::Client,
    spec: HttpSpec,
    token: Option<TokenSource>,
}

impl std::fmt::Debug for HttpSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSource")
            .field("url", &self.spec.url)
            .field("base_url", &self.spec.base_url)
            .finish_non_exhaustive()
    }
}

impl HttpSource {
    /// A source for `spec`.
    pub(crate) fn new(spec: HttpSpec) -> Result<Self, SyncError> {
        let client = reqwest::Client::builder()
            .timeout(spec.timeout)
            .build()
            .map_err(|error| SyncError::config(format!("cannot build an HTTP client: {error}")))?;
        let token = spec.auth.as_ref().map(|auth| match auth {
            AuthSpec::Token(token) => TokenSource::fixed(token.expose()),
            AuthSpec::Password {
                token_url,
                user,
                password,
                retry_interval,
            } => TokenSource::fetched(
                PasswordLogin::new(
                    client.clone(),
                    token_url.replace("{base_url}", spec.base_url.trim_end_matches('/')),
                    user.clone(),
                    password.clone(),
                ),
                *retry_interval,
                2,
            ),
        });
        Ok(Self {
            client,
            spec,
            token,
        })
    }

    fn url(&self, template: &str, object: &ObjectRef) -> String {
        template
            .replace("{base_url}", self.spec.base_url.trim_end_matches('/'))
            .replace(
                "{type}",
                &utf8_percent_encode(&object.object_type, SEGMENT).to_string(),
            )
            .replace(
                "{id}",
                &utf8_percent_encode(&object.id, SEGMENT).to_string(),
            )
    }

    /// The answer to `GET url` as JSON, or `None` for 404 and 410.
    async fn get(&self, url: &str, what: &str) -> Result<Option<Value>, SyncError> {
        for renewed in [false, true] {
            let mut request = self.client.get(url);
            for (name, value) in &self.spec.headers {
                request = request.header(name, value);
            }
            if let Some(token) = &self.token {
                request = request.bearer_auth(token.token().await?);
            }
            let response = request
                .send()
                .await
                .map_err(|error| transport_error(what, PEER, &self.spec.base_url, error))?;
            let status = response.status();
            let headers = response.headers().clone();
            let text = response.text().await.unwrap_or_default();
            let detail = || {
                format!(
                    "HTTP {} from {url}: {}",
                    status.as_u16(),
                    truncated(&text, 1000)
                )
            };
            match status {
                status if status.is_success() => {
                    return serde_json::from_str(&text).map(Some).map_err(|error| {
                        SyncError::permanent(format!("{what}: the answer is not JSON: {error}"))
                            .with_full_message(detail())
                    });
                }
                StatusCode::NOT_FOUND | StatusCode::GONE => return Ok(None),
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    if let Some(token) = self.token.as_ref().filter(|t| !renewed && t.renews()) {
                        token.invalidate().await;
                        continue;
                    }
                    return Err(SyncError::config(format!(
                        "{what}: {PEER} refused the credentials (HTTP {}); check the source's token or user and password",
                        status.as_u16()
                    ))
                    .with_full_message(detail()));
                }
                status => {
                    let error =
                        transient_error(what, PEER, status, &headers).unwrap_or_else(|| {
                            SyncError::permanent(format!(
                                "{what}: {PEER} refused the request (HTTP {})",
                                status.as_u16()
                            ))
                        });
                    return Err(error.with_full_message(detail()));
                }
            }
        }
        unreachable!("the second try returns")
    }

    /// The object's current state, or `None` if the API no longer has it. `id_path` is
    /// where the object's id is in the answer (its model's), checked against the job's.
    pub(crate) async fn load(
        &self,
        object: &ObjectRef,
        id_path: Option<&FieldPath>,
    ) -> Result<Option<Value>, SyncError> {
        let what = format!("loading {object}");
        let Some(answer) = self.get(&self.url(&self.spec.url, object), &what).await? else {
            return Ok(None);
        };
        let found = if self.spec.pointer.is_empty() {
            answer
        } else {
            answer.pointer(&self.spec.pointer).cloned().ok_or_else(|| {
                SyncError::permanent(format!(
                    "{what}: the answer has nothing at \"{}\"",
                    self.spec.pointer
                ))
            })?
        };
        if !found.is_object() {
            return Err(SyncError::permanent(format!(
                "{what}: the answer is not an object but {}",
                outsync_core::sync::kind_of(&found)
            )));
        }
        if let Some(id_path) = id_path {
            let id = id_path
                .lookup(&found)
                .map(outsync_core::mapping::value_to_string)
                .unwrap_or_default();
            if id != object.id {
                return Err(SyncError::permanent(format!(
                    "{what}: the answer is the object with id \"{id}\" at \"{id_path}\", not \"{}\"",
                    object.id
                )));
            }
        }
        Ok(Some(found))
    }

    /// The ids `GET url` lists (at `pointer`): strings, numbers, or objects with an `id`.
    pub(crate) async fn related_ids(
        &self,
        template: &str,
        pointer: &str,
        object: &ObjectRef,
    ) -> Result<Vec<String>, SyncError> {
        let what = format!("looking up what is related to {object}");
        let Some(answer) = self.get(&self.url(template, object), &what).await? else {
            return Ok(Vec::new());
        };
        let list = if pointer.is_empty() {
            Some(&answer)
        } else {
            answer.pointer(pointer)
        };
        let Some(Value::Array(items)) = list else {
            return Err(SyncError::permanent(format!(
                "{what}: the answer has no list at \"{pointer}\""
            )));
        };
        Ok(items
            .iter()
            .map(|item| item.get("id").unwrap_or(item))
            .map(outsync_core::mapping::value_to_string)
            .filter(|id| !id.is_empty())
            .collect())
    }
}
