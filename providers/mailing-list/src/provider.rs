//! The mailing-list provider: objects (or their children) become list members.
//!
//! A mapping's `external_object_type` is the list, its external id field the address.
//! Properties: `display_name`, `delivery_mode` and `subscribed` (a boolean, typically an
//! order status through a value map: `false` unsubscribes).

use crate::backend::{AdmissionPolicy, ListBackend};
use crate::settle::{Address, Settled, Wish};
use chrono::{DateTime, Utc};
use outsync_core::ledger::with_key_locked;
use outsync_core::mapping::ObjectMapping;
use outsync_core::{
    ExternalKey, ExternalLedger, Holder, MappedObjects, ObjectRef, OutboundSyncProvider,
    SourceObject, SyncError, SyncOutcome, SyncRequest, async_trait,
};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The provider's identifier.
pub const IDENTIFIER: &str = <MailingListProvider as outsync_core::ProviderType>::IDENTIFIER;

/// The properties a mapping may set.
pub const PROPERTIES: [&str; 4] = ["display_name", "delivery_mode", "subscribed", "consent_at"];

/// How the provider treats people and lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MembershipPolicy {
    /// How new members are admitted.
    pub admission: AdmissionPolicy,
    /// Subscribe again people who left the list by themselves (or were removed in the list
    /// service) after outsync had subscribed them, even without newer consent (a mapped
    /// `consent_at`). Off by default: leaving is respected.
    pub resubscribe_leavers: bool,
    /// Recoverable failures before a job stops as `exceeded` (0 = the default, 10).
    pub max_attempts: u32,
}

/// Keeps list members in step with the source.
#[derive(Debug)]
pub struct MailingListProvider {
    backend: Arc<dyn ListBackend>,
    policy: MembershipPolicy,
}

impl MailingListProvider {
    /// A provider for `backend`. Wrap it with its mappings in a
    /// [`ConfiguredProvider`](outsync_core::ConfiguredProvider), or build both from settings
    /// with [`ProviderType::configure`](outsync_core::ProviderType::configure), which also
    /// checks that the mappings set only [`PROPERTIES`].
    pub fn new(backend: Arc<dyn ListBackend>, policy: MembershipPolicy) -> Self {
        Self { backend, policy }
    }

    /// Refuses a mapping that sets a field other than [`PROPERTIES`], naming it.
    pub(crate) fn check_properties(mapping: &ObjectMapping) -> Result<(), SyncError> {
        for (index, entry) in mapping.property_mappings().iter().enumerate() {
            if !PROPERTIES.contains(&entry.external_field()) {
                return Err(SyncError::config(format!(
                    "mapping {}, entry {}, field \"{}\": a mailing list member has only {}",
                    mapping.id(),
                    index + 1,
                    entry.external_field(),
                    PROPERTIES.join(", ")
                )));
            }
        }
        Ok(())
    }

    fn address<'a>(&'a self, ledger: &'a dyn ExternalLedger, key: &'a ExternalKey) -> Address<'a> {
        Address {
            backend: self.backend.as_ref(),
            policy: &self.policy,
            ledger,
            list: &key.object_type,
            email: &key.id,
            key,
        }
    }

    /// `holder` lets go of `key`: settles the address on its turn, then forgets the
    /// holding (kept if settling failed, so that the next try settles it again).
    async fn let_go(
        &self,
        ledger: &dyn ExternalLedger,
        holder: &Holder,
        key: &ExternalKey,
    ) -> Result<Settled, SyncError> {
        with_key_locked(ledger, key, async {
            let settled = self.address(ledger, key).settle(holder, None).await?;
            ledger.release(holder, key).await?;
            Ok(settled)
        })
        .await
    }

    /// Lets go of every holding of `object` except those in `kept` (mapping, child, key).
    async fn let_go_of_the_rest(
        &self,
        ledger: &dyn ExternalLedger,
        object: &ObjectRef,
        kept: &BTreeSet<(String, String, ExternalKey)>,
    ) -> Result<(), SyncError> {
        for (holder, key) in ledger.holdings_of(object).await? {
            let confirmed = (holder.mapping.clone(), holder.child.clone(), key.clone());
            if !kept.contains(&confirmed) {
                self.let_go(ledger, &holder, &key)
                    .await
                    .map_err(|error| error.in_context(&format!("{holder} let go of {key}")))?;
            }
        }
        Ok(())
    }
}

/// The mapped properties of one call.
struct Wanted {
    display_name: Option<String>,
    delivery_mode: Option<String>,
    subscribed: bool,
    consent_at: Option<DateTime<Utc>>,
}

fn wanted(request: &SyncRequest<'_>) -> Result<Wanted, SyncError> {
    let mut wanted = Wanted {
        display_name: None,
        delivery_mode: None,
        subscribed: true,
        consent_at: None,
    };
    let mapping = request.mapping.id();
    for property in &request.properties {
        let text = match &property.value {
            Value::String(text) => Some(text.trim().to_owned()).filter(|t| !t.is_empty()),
            Value::Null => None,
            other => Some(other.to_string()),
        };
        match &*property.external_field {
            "display_name" => wanted.display_name = text,
            "delivery_mode" => wanted.delivery_mode = text,
            "consent_at" => wanted.consent_at = consent_time(mapping, &property.value)?,
            "subscribed" => {
                wanted.subscribed = match &property.value {
                    Value::Bool(flag) => *flag,
                    Value::Null => true,
                    other => {
                        return Err(SyncError::config(format!(
                            "mapping {mapping}: \"subscribed\" must be true or false (map the field's values with a value map), got {other}"
                        )));
                    }
                };
            }
            _ => {}
        }
    }
    Ok(wanted)
}

/// Reads a `consent_at` value: an RFC 3339 time, a date (midnight UTC) or seconds since
/// the epoch; null or empty means no consent was recorded.
fn consent_time(mapping: &str, value: &Value) -> Result<Option<DateTime<Utc>>, SyncError> {
    let parsed = match value {
        Value::Null => return Ok(None),
        Value::String(text) if text.trim().is_empty() => return Ok(None),
        Value::String(text) => DateTime::parse_from_rfc3339(text.trim())
            .map(|time| time.with_timezone(&Utc))
            .ok()
            .or_else(|| {
                chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                    .ok()
                    .and_then(|date| date.and_hms_opt(0, 0, 0))
                    .map(|time| time.and_utc())
            }),
        Value::Number(number) => number
            .as_f64()
            .and_then(|seconds| DateTime::from_timestamp_millis((seconds * 1000.0) as i64)),
        _ => None,
    };
    parsed.map(Some).ok_or_else(|| {
        SyncError::permanent(format!(
            "mapping {mapping}, field \"consent_at\": {value} is not a time (use RFC 3339, a YYYY-MM-DD date or seconds since the epoch)"
        ))
    })
}

fn info(list: &str, email: &str, holds: bool, settled: &Settled) -> Value {
    let mut info = json!({
        "list": list,
        "address": email,
        "subscribed": holds,
        "member": settled.member.is_some(),
        "holders": settled.holders,
    });
    if let Some(member) = &settled.member {
        info["member_id"] = json!(member.id);
    }
    if let Some(remark) = &settled.remark {
        info["note"] = json!(remark);
    }
    info
}

#[async_trait]
impl OutboundSyncProvider for MailingListProvider {
    fn wants_previous_results(&self) -> bool {
        true
    }

    fn max_attempts(&self) -> u32 {
        if self.policy.max_attempts == 0 {
            10
        } else {
            self.policy.max_attempts
        }
    }

    async fn sync_object_with_properties(
        &self,
        request: SyncRequest<'_>,
    ) -> Result<Option<SyncOutcome>, SyncError> {
        let list = request.mapping.external_object_type();
        let email = request.id_value.trim().to_lowercase();
        let wanted = wanted(&request)?;
        let ledger = request.ledger;
        let key = ExternalKey::new(list, email.as_str());
        let holder = Holder::new(
            request.object.clone(),
            request.mapping.id(),
            request.inputs.child_key().to_string(),
        );
        let settled = if wanted.subscribed {
            let earlier_member_id = request
                .previous
                .and_then(|previous| previous.info.get("member_id"))
                .and_then(Value::as_str);
            let wish = Wish {
                display_name: wanted.display_name.as_deref(),
                delivery_mode: wanted.delivery_mode.as_deref(),
                consent_at: wanted.consent_at,
                earlier_member_id,
            };
            with_key_locked(ledger, &key, async {
                ledger.hold(&holder, &key).await?;
                self.address(ledger, &key)
                    .settle(&holder, Some(&wish))
                    .await
            })
            .await?
        } else {
            self.let_go(ledger, &holder, &key).await?
        };
        let info = info(list, &email, wanted.subscribed, &settled);
        Ok(Some(
            SyncOutcome::new(settled.action, &request).with_info(info),
        ))
    }

    /// Lets go of the addresses the object held before and no longer does: a corrected
    /// e-mail address, a removed position, an emptied address field.
    async fn finalize_sync(
        &self,
        object: &SourceObject<'_>,
        mapped: &MappedObjects,
    ) -> Result<(), SyncError> {
        let mut kept = BTreeSet::new();
        for (mapping, results) in mapped.iter() {
            for result in results {
                let info = &result.outcome.info;
                if info.get("subscribed") != Some(&json!(true)) {
                    continue;
                }
                let (Some(list), Some(email)) = (
                    info.get("list").and_then(Value::as_str),
                    info.get("address").and_then(Value::as_str),
                ) else {
                    continue;
                };
                kept.insert((
                    mapping.to_owned(),
                    result.child.to_string(),
                    ExternalKey::new(list, email),
                ));
            }
        }
        self.let_go_of_the_rest(object.ledger, object.reference, &kept)
            .await
    }

    /// The object is gone: it lets go of every address it held.
    async fn object_missing(
        &self,
        object: &ObjectRef,
        ledger: &dyn ExternalLedger,
    ) -> Result<(), SyncError> {
        self.let_go_of_the_rest(ledger, object, &BTreeSet::new())
            .await
    }
}
