//! The Mailman 3 core REST API (version 3.1) as a [`ListBackend`].

use crate::backend::{AdmissionPolicy, Joined, ListBackend, Member};
use outsync_core::{SyncError, async_trait};
use outsync_http::status::{transient_error, transport_error, truncated};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::fmt;
use std::time::Duration;

/// Mailman's REST API with Basic authentication.
#[derive(Clone)]
pub struct MailmanBackend {
    http: reqwest::Client,
    base_url: String,
    user: String,
    password: outsync_core::Secret,
}

impl fmt::Debug for MailmanBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailmanBackend")
            .field("base_url", &self.base_url)
            .field("user", &self.user)
            .field("password", &"***")
            .finish()
    }
}

/// Mailman's list id for a list name: `attendees@lists.example.org` →
/// `attendees.lists.example.org` (a list id is returned as it is).
pub fn list_id(list: &str) -> String {
    list.replacen('@', ".", 1)
}

impl MailmanBackend {
    /// A backend for the REST API at `base_url` (`http://127.0.0.1:8001`, without `/3.1`).
    pub fn new(
        base_url: &str,
        user: &str,
        password: &str,
        timeout: Duration,
    ) -> Result<Self, SyncError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|error| SyncError::config(format!("cannot build the HTTP client: {error}")))?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            user: user.to_owned(),
            password: outsync_core::Secret::new(password),
        })
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        form: Option<&[(&str, String)]>,
        what: &str,
    ) -> Result<(StatusCode, Value, Option<String>), SyncError> {
        self.call_with_query(method, path, &[], form, what).await
    }

    async fn call_with_query(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        form: Option<&[(&str, String)]>,
        what: &str,
    ) -> Result<(StatusCode, Value, Option<String>), SyncError> {
        let mut request = self
            .http
            .request(method, format!("{}/3.1{path}", self.base_url))
            .basic_auth(&self.user, Some(self.password.expose()));
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(form) = form {
            request = request.form(form);
        }
        let response = request
            .send()
            .await
            .map_err(|error| transport_error(what, "Mailman", &self.base_url, error))?;
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok((status, body, location));
        }
        let description = body
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let detail = format!(
            "HTTP {} from {path}: {}",
            status.as_u16(),
            truncated(&text, 1000)
        );
        if let Some(error) = transient_error(what, "Mailman", status, &headers) {
            return Err(error.with_full_message(detail));
        }
        let error = match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => SyncError::config(format!(
                "{what}: Mailman refused the REST credentials of user \"{}\" (HTTP {}); check the provider's user and password settings",
                self.user,
                status.as_u16()
            )),
            StatusCode::CONFLICT => return Ok((status, body, location)),
            StatusCode::BAD_REQUEST if description == "No such list" => SyncError::config(format!(
                "{what}: Mailman has no such list; create it or fix the mapping's external_object_type"
            )),
            // Mailman creates an address and its user without guarding against a
            // concurrent request for the same address: the loser's insert fails. Trying
            // again finds the address the winner created.
            StatusCode::BAD_REQUEST if description.contains("IntegrityError") => {
                SyncError::recoverable(format!("{what}: {LOST_RACE}"))
            }
            StatusCode::BAD_REQUEST => SyncError::permanent(format!(
                "{what}: Mailman rejected the request: {}",
                if description.is_empty() {
                    "bad request"
                } else {
                    &description
                }
            )),
            StatusCode::NOT_FOUND => return Ok((status, body, location)),
            status => SyncError::recoverable(format!(
                "{what}: unexpected answer from Mailman (HTTP {})",
                status.as_u16()
            )),
        };
        Err(error.with_full_message(detail))
    }
}

/// How a request that lost a race inside Mailman is described.
const LOST_RACE: &str = "Mailman lost a race with a concurrent request for the same address";

/// Whether `error` is Mailman losing a race with a concurrent request for the same address
/// (look the address up, then try once more).
pub(crate) fn lost_race(error: &SyncError) -> bool {
    matches!(error, SyncError::Recoverable { .. })
        && error
            .messages()
            .iter()
            .any(|message| message.ends_with(LOST_RACE))
}

fn member_from(entry: &Value) -> Option<Member> {
    Some(Member {
        id: entry.get("member_id")?.as_str()?.to_owned(),
        email: entry.get("email")?.as_str()?.to_lowercase(),
        display_name: entry
            .get("display_name")
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty())
            .map(str::to_owned),
        delivery_mode: entry
            .get("delivery_mode")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

fn flag(value: bool) -> String {
    if value { "true" } else { "false" }.to_owned()
}

#[async_trait]
impl ListBackend for MailmanBackend {
    fn name(&self) -> &str {
        "Mailman"
    }

    async fn roster(&self, list: &str) -> Result<Vec<Member>, SyncError> {
        let id = list_id(list);
        let what = format!("reading the roster of list {list}");
        let mut members = Vec::new();
        let count = 500;
        for page in 1.. {
            let path = format!("/lists/{id}/roster/member?count={count}&page={page}");
            let (status, body, _) = self.call(Method::GET, &path, None, &what).await?;
            if status == StatusCode::NOT_FOUND {
                return Err(SyncError::config(format!(
                    "{what}: Mailman has no list \"{list}\"; create it or fix the mapping's external_object_type"
                )));
            }
            let entries = body
                .get("entries")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            members.extend(entries.iter().filter_map(member_from));
            let total = body.get("total_size").and_then(Value::as_u64).unwrap_or(0);
            if entries.len() < count || members.len() as u64 >= total {
                break;
            }
        }
        Ok(members)
    }

    async fn find(&self, list: &str, email: &str) -> Result<Vec<Member>, SyncError> {
        let id = list_id(list);
        let what = format!("looking up {email} in list {list}");
        let query = [
            ("list_id", id.as_str()),
            ("subscriber", email),
            ("role", "member"),
        ];
        let (status, body, _) = self
            .call_with_query(Method::GET, "/members/find", &query, None, &what)
            .await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(Vec::new());
        }
        Ok(body
            .get("entries")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(member_from)
            // `subscriber` also matches a user's other addresses: keep this one.
            .filter(|member| member.email == email)
            .collect())
    }

    async fn subscribe(
        &self,
        list: &str,
        email: &str,
        display_name: Option<&str>,
        policy: AdmissionPolicy,
    ) -> Result<Joined, SyncError> {
        let what = format!("subscribing {email} to list {list}");
        let mut form = vec![
            ("list_id", list_id(list)),
            ("subscriber", email.to_owned()),
            ("pre_verified", flag(policy.pre_verified)),
            ("pre_confirmed", flag(policy.pre_confirmed)),
            ("pre_approved", flag(policy.pre_approved)),
            ("send_welcome_message", flag(policy.send_welcome_message)),
        ];
        if let Some(name) = display_name.filter(|name| !name.is_empty()) {
            form.push(("display_name", name.to_owned()));
        }
        let (status, body, location) = self
            .call(Method::POST, "/members", Some(&form), &what)
            .await?;
        match status {
            StatusCode::CONFLICT => Ok(Joined::AlreadyMember),
            StatusCode::ACCEPTED => Ok(Joined::Pending(
                body.get("token")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            )),
            _ => {
                let id = location
                    .as_deref()
                    .and_then(|url| url.rsplit('/').next())
                    .unwrap_or_default()
                    .to_owned();
                let member = Member {
                    id,
                    email: email.to_owned(),
                    display_name: display_name.map(str::to_owned),
                    delivery_mode: Some("regular".to_owned()),
                };
                // Mailman keeps display names per address, shared by all lists: an address
                // known from another list keeps its old name unless it is set explicitly.
                if let Some(name) = display_name.filter(|name| !name.is_empty()) {
                    self.set_display_name(&member, name).await?;
                }
                Ok(Joined::Member(member))
            }
        }
    }

    async fn set_display_name(&self, member: &Member, display_name: &str) -> Result<(), SyncError> {
        let what = format!("renaming {}", member.email);
        let form = [("display_name", display_name.to_owned())];
        self.call(
            Method::PATCH,
            &format!("/addresses/{}", member.email),
            Some(&form),
            &what,
        )
        .await?;
        Ok(())
    }

    async fn set_delivery_mode(&self, member: &Member, mode: &str) -> Result<(), SyncError> {
        let what = format!("setting the delivery mode of {}", member.email);
        let form = [("delivery_mode", mode.to_owned())];
        let (status, _, _) = self
            .call(
                Method::PATCH,
                &format!("/members/{}/preferences", member.id),
                Some(&form),
                &what,
            )
            .await?;
        if status == StatusCode::NOT_FOUND {
            return Err(SyncError::recoverable(format!(
                "{what}: the membership vanished meanwhile"
            )));
        }
        Ok(())
    }

    async fn unsubscribe(&self, member: &Member) -> Result<(), SyncError> {
        let what = format!("unsubscribing {}", member.email);
        // 404: already gone, which is what we wanted.
        self.call(
            Method::DELETE,
            &format!("/members/{}", member.id),
            None,
            &what,
        )
        .await?;
        Ok(())
    }
}
