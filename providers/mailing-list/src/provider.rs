//! The mailing-list provider: objects (or their children) become list members.
//!
//! A mapping's `external_object_type` is the list, its external id field the address.
//! Properties: `display_name`, `delivery_mode` and `subscribed` (a boolean, typically an
//! order status through a value map: `false` unsubscribes).

use crate::backend::{AdmissionPolicy, Joined, ListBackend, Member};
use outsync_core::mapping::ObjectMapping;
use outsync_core::{
    MappedObjects, ObjectRef, OutboundSyncProvider, SourceObject, SyncAction, SyncError,
    SyncOutcome, SyncRequest, async_trait,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The provider's identifier.
pub const IDENTIFIER: &str = <MailingListProvider as outsync_core::ProviderType>::IDENTIFIER;

/// The properties a mapping may set.
pub const PROPERTIES: [&str; 3] = ["display_name", "delivery_mode", "subscribed"];

/// How the provider treats people and lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MembershipPolicy {
    /// How new members are admitted.
    pub admission: AdmissionPolicy,
    /// Subscribe again people who left the list by themselves (or were removed in the list
    /// service) after outsync had subscribed them. Off by default: leaving is respected.
    pub resubscribe_leavers: bool,
    /// Recoverable failures before a job stops as `exceeded` (0 = the default, 10).
    pub max_attempts: u32,
}

/// Rosters read during one object's sync, by list.
type Rosters = HashMap<String, Vec<Member>>;

/// Keeps list members in step with the source.
#[derive(Debug)]
pub struct MailingListProvider {
    backend: Arc<dyn ListBackend>,
    policy: MembershipPolicy,
    /// One roster read per object and list: filled by the first call of an object's sync,
    /// dropped by `finalize_sync`.
    rosters: Mutex<HashMap<ObjectRef, (Instant, Rosters)>>,
}

impl MailingListProvider {
    /// A provider for `backend`. Wrap it with its mappings in a
    /// [`ConfiguredProvider`](outsync_core::ConfiguredProvider), or build both from settings
    /// with [`ProviderType::configure`](outsync_core::ProviderType::configure), which also
    /// checks that the mappings set only [`PROPERTIES`].
    pub fn new(backend: Arc<dyn ListBackend>, policy: MembershipPolicy) -> Self {
        Self {
            backend,
            policy,
            rosters: Mutex::default(),
        }
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

    fn cached_roster(&self, object: &ObjectRef, list: &str) -> Option<Vec<Member>> {
        let rosters = self
            .rosters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        rosters
            .get(object)
            .and_then(|(_, lists)| lists.get(list).cloned())
    }

    fn remember(&self, object: &ObjectRef, list: &str, update: impl FnOnce(&mut Vec<Member>)) {
        let mut rosters = self
            .rosters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Entries of syncs that failed (and so were not finalized) expire.
        rosters.retain(|_, (at, _)| at.elapsed() < Duration::from_secs(600));
        let entry = rosters
            .entry(object.clone())
            .or_insert_with(|| (Instant::now(), HashMap::new()));
        update(entry.1.entry(list.to_owned()).or_default());
    }

    async fn member(
        &self,
        object: &ObjectRef,
        list: &str,
        email: &str,
    ) -> Result<Option<Member>, SyncError> {
        let roster = match self.cached_roster(object, list) {
            Some(roster) => roster,
            None => {
                let roster = self.backend.roster(list).await?;
                self.remember(object, list, |cached| *cached = roster.clone());
                roster
            }
        };
        Ok(roster.into_iter().find(|member| member.email == email))
    }
}

/// The mapped properties of one call.
struct Wanted {
    display_name: Option<String>,
    delivery_mode: Option<String>,
    subscribed: bool,
}

fn wanted(request: &SyncRequest<'_>) -> Result<Wanted, SyncError> {
    let mut wanted = Wanted {
        display_name: None,
        delivery_mode: None,
        subscribed: true,
    };
    for property in &request.properties {
        let text = match &property.value {
            Value::String(text) => Some(text.trim().to_owned()).filter(|t| !t.is_empty()),
            Value::Null => None,
            other => Some(other.to_string()),
        };
        match &*property.external_field {
            "display_name" => wanted.display_name = text,
            "delivery_mode" => wanted.delivery_mode = text,
            "subscribed" => {
                wanted.subscribed = match &property.value {
                    Value::Bool(flag) => *flag,
                    Value::Null => true,
                    other => {
                        return Err(SyncError::config(format!(
                            "mapping {}: \"subscribed\" must be true or false (map the field's values with a value map), got {other}",
                            request.mapping.id()
                        )));
                    }
                };
            }
            _ => {}
        }
    }
    Ok(wanted)
}

fn info(subscribed: bool, member: Option<&Member>, note: Option<&str>) -> Value {
    let mut info = json!({"subscribed": subscribed});
    if let Some(member) = member {
        info["member_id"] = json!(member.id);
    }
    if let Some(note) = note {
        info["note"] = json!(note);
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
        let member = self.member(request.object, list, &email).await?;
        let outcome = |action: SyncAction, info: Value| {
            Some(SyncOutcome::new(action, &request).with_info(info))
        };

        let Some(member) = member else {
            if !wanted.subscribed {
                return Ok(outcome(SyncAction::NothingToDo, info(false, None, None)));
            }
            // Subscribed by us before and gone now: the person left (or a list admin
            // removed them). Respect it unless told otherwise.
            let we_subscribed = request
                .previous
                .is_some_and(|previous| previous.info.get("subscribed") == Some(&json!(true)));
            if we_subscribed && !self.policy.resubscribe_leavers {
                return Ok(outcome(
                    SyncAction::NothingToDo,
                    info(true, None, Some("left the list; not subscribed again")),
                ));
            }
            let joined = self
                .backend
                .subscribe(
                    list,
                    &email,
                    wanted.display_name.as_deref(),
                    self.policy.admission,
                )
                .await?;
            return match joined {
                Joined::Member(member) => {
                    if let Some(mode) = wanted.delivery_mode.as_deref().filter(|m| *m != "regular")
                    {
                        self.backend.set_delivery_mode(&member, mode).await?;
                    }
                    let stored = member.clone();
                    self.remember(request.object, list, |roster| roster.push(stored));
                    Ok(outcome(SyncAction::Create, info(true, Some(&member), None)))
                }
                Joined::Pending(token) => Ok(outcome(
                    SyncAction::Pending,
                    json!({"subscribed": true, "pending_token": token}),
                )),
                Joined::AlreadyMember => {
                    // Subscribed meanwhile (another object with the same address).
                    let found = self.backend.find(list, &email).await?;
                    Ok(outcome(
                        SyncAction::NothingToDo,
                        info(true, found.as_ref(), None),
                    ))
                }
            };
        };

        if !wanted.subscribed {
            self.backend.unsubscribe(&member).await?;
            self.remember(request.object, list, |roster| {
                roster.retain(|m| m.email != email)
            });
            return Ok(outcome(SyncAction::Delete, info(false, None, None)));
        }
        let mut changed = false;
        if let Some(name) = wanted.display_name.as_deref()
            && member.display_name.as_deref() != Some(name)
        {
            self.backend.set_display_name(&member, name).await?;
            changed = true;
        }
        if let Some(mode) = wanted.delivery_mode.as_deref()
            && member.delivery_mode.as_deref() != Some(mode)
        {
            self.backend.set_delivery_mode(&member, mode).await?;
            changed = true;
        }
        let action = if changed {
            SyncAction::Update
        } else {
            SyncAction::NothingToDo
        };
        Ok(outcome(action, info(true, Some(&member), None)))
    }

    async fn finalize_sync(
        &self,
        object: &SourceObject<'_>,
        _mapped: &MappedObjects,
    ) -> Result<(), SyncError> {
        self.rosters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(object.reference);
        Ok(())
    }
}
