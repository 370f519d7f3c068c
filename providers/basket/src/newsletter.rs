//! Newsletters: subscribe and unsubscribe through Basket's newsletter API. AMO does not
//! store opt-ins, so these are sent directly whenever they change.

use crate::client::{BasketClient, Call, codes};
use outsync_core::{SyncAction, SyncError};
use serde_json::Value;

/// Options of a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The e-mail address.
    pub email: String,
    /// The newsletters (Basket's slugs).
    pub newsletters: Vec<String>,
    /// Whether the person already confirmed (double opt-in done elsewhere).
    pub optin: bool,
    /// The language (`en-US`).
    pub lang: Option<String>,
    /// `H` (HTML) or `T` (text).
    pub format: Option<String>,
    /// Where the subscription came from.
    pub source_url: Option<String>,
}

/// What to unsubscribe from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsubscribe {
    /// These newsletters.
    Newsletters(Vec<String>),
    /// Every newsletter (`optout=Y`).
    Everything,
}

fn yes_no(flag: bool) -> String {
    if flag { "Y" } else { "N" }.to_owned()
}

impl BasketClient {
    /// Subscribes `subscription.email` (form POST `/news/subscribe/` with `sync=Y`).
    ///
    /// Outcomes: success → `Create`; invalid e-mail (code 2) → permanent; bad key (code 7,
    /// HTTP 401) or unknown newsletter (code 9) → config; 429 and 5xx → recoverable.
    pub async fn subscribe(&self, subscription: &Subscription) -> Result<SyncAction, SyncError> {
        let mut form = vec![
            ("email", subscription.email.clone()),
            ("newsletters", subscription.newsletters.join(",")),
            ("sync", "Y".to_owned()),
            ("optin", yes_no(subscription.optin)),
        ];
        for (key, value) in [
            ("lang", &subscription.lang),
            ("format", &subscription.format),
            ("source_url", &subscription.source_url),
        ] {
            if let Some(value) = value {
                form.push((key, value.clone()));
            }
        }
        self.post_form(
            Call {
                what: "newsletter subscription",
                path: "/news/subscribe/",
            },
            &form,
        )
        .await?;
        Ok(SyncAction::Create)
    }

    /// Unsubscribes `email`: looks up the person's token (GET `/api/v1/users/lookup/`), then
    /// posts to `/news/unsubscribe/{token}/`.
    ///
    /// Outcomes: success → `Delete`; unknown e-mail (code 3) → `NothingToDo`; otherwise as
    /// for [`BasketClient::subscribe`].
    pub async fn unsubscribe(
        &self,
        email: &str,
        what: &Unsubscribe,
    ) -> Result<SyncAction, SyncError> {
        let lookup = Call {
            what: "newsletter unsubscription (lookup)",
            path: "/api/v1/users/lookup/",
        };
        let answer = self.get_raw(lookup, &[("email", email)]).await?;
        if answer.code() == Some(codes::UNKNOWN_EMAIL) {
            return Ok(SyncAction::NothingToDo);
        }
        let found = crate::client::classify(lookup, answer.status, &answer.headers, &answer.body)?;
        let token = found.get("token").and_then(Value::as_str).ok_or_else(|| {
            SyncError::recoverable("newsletter unsubscription: Basket's lookup returned no token")
        })?;
        if token.is_empty() || !token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(SyncError::permanent(
                "newsletter unsubscription: Basket returned a malformed token",
            ));
        }
        let mut form = vec![("email", email.to_owned())];
        match what {
            Unsubscribe::Newsletters(list) => form.push(("newsletters", list.join(","))),
            Unsubscribe::Everything => form.push(("optout", "Y".to_owned())),
        }
        let path = format!("/news/unsubscribe/{token}/");
        self.post_form(
            Call {
                what: "newsletter unsubscription",
                path: &path,
            },
            &form,
        )
        .await?;
        Ok(SyncAction::Delete)
    }
}
