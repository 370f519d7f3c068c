//! The standard provider scenarios (`outsync-testkit`) against an in-memory list service
//! that behaves like Mailman where it matters: one membership per address and list (a
//! second subscription answers "already a member"), and every call may interleave with
//! others. The same scenarios run against a real Mailman in `outsync-tests`.

use outsync_core::schema::{ComputedFields, SourceSchema};
use outsync_core::{ConfiguredProvider, mapping::ObjectMapping};
use outsync_core::{ObjectRef, ProviderConfig, ProviderType, SyncError, async_trait};
use outsync_mailing_list::{
    AdmissionPolicy, IDENTIFIER, Joined, ListBackend, MailingListProvider, Member, MembershipPolicy,
};
use outsync_testkit::{Fixture, Records, Scenarios, Target};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const LIST: &str = "buyers@lists.example.org";

/// Lists in memory.
#[derive(Debug, Default)]
struct MemoryLists {
    members: Mutex<HashMap<String, Vec<Member>>>,
    writes: AtomicUsize,
    next_id: AtomicUsize,
    unavailable: AtomicBool,
    /// Behave like a naive service that adds an address twice.
    duplicates: AtomicBool,
}

impl MemoryLists {
    /// Lets other tasks run first (as a network round trip does), then fails while the
    /// service is unavailable.
    async fn call(&self) -> Result<(), SyncError> {
        tokio::task::yield_now().await;
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(SyncError::unavailable("the list service is down (503)"));
        }
        Ok(())
    }

    /// Every membership of the list, by address (twice if held twice).
    fn emails(&self) -> Vec<String> {
        let lists = self.members.lock().unwrap();
        let mut emails: Vec<String> = lists
            .get(LIST)
            .into_iter()
            .flatten()
            .map(|member| member.email.clone())
            .collect();
        emails.sort();
        emails
    }

    /// Removes `email` as its owner would, behind outsync's back.
    fn remove(&self, email: &str) {
        let mut lists = self.members.lock().unwrap();
        lists
            .values_mut()
            .for_each(|roster| roster.retain(|m| m.email != email));
    }

    fn edit(&self, member: &Member, change: impl FnOnce(&mut Member)) {
        self.writes.fetch_add(1, Ordering::SeqCst);
        let mut lists = self.members.lock().unwrap();
        let found = lists.values_mut().flatten().find(|m| m.id == member.id);
        if let Some(found) = found {
            change(found);
        }
    }
}

#[async_trait]
impl ListBackend for MemoryLists {
    fn name(&self) -> &str {
        "memory"
    }

    async fn roster(&self, list: &str) -> Result<Vec<Member>, SyncError> {
        self.call().await?;
        Ok(self
            .members
            .lock()
            .unwrap()
            .get(list)
            .cloned()
            .unwrap_or_default())
    }

    async fn find(&self, list: &str, email: &str) -> Result<Vec<Member>, SyncError> {
        let roster = self.roster(list).await?;
        Ok(roster
            .into_iter()
            .filter(|member| member.email == email)
            .collect())
    }

    async fn subscribe(
        &self,
        list: &str,
        email: &str,
        display_name: Option<&str>,
        _policy: AdmissionPolicy,
    ) -> Result<Joined, SyncError> {
        self.call().await?;
        let mut lists = self.members.lock().unwrap();
        let roster = lists.entry(list.to_owned()).or_default();
        let naive = self.duplicates.load(Ordering::SeqCst);
        if !naive && roster.iter().any(|member| member.email == email) {
            return Ok(Joined::AlreadyMember);
        }
        self.writes.fetch_add(1, Ordering::SeqCst);
        let member = Member {
            id: self.next_id.fetch_add(1, Ordering::SeqCst).to_string(),
            email: email.to_owned(),
            display_name: display_name.map(str::to_owned),
            delivery_mode: Some("regular".to_owned()),
        };
        roster.push(member.clone());
        Ok(Joined::Member(member))
    }

    async fn set_display_name(&self, member: &Member, name: &str) -> Result<(), SyncError> {
        self.call().await?;
        self.edit(member, |found| found.display_name = Some(name.to_owned()));
        Ok(())
    }

    async fn set_delivery_mode(&self, member: &Member, mode: &str) -> Result<(), SyncError> {
        self.call().await?;
        self.edit(member, |found| found.delivery_mode = Some(mode.to_owned()));
        Ok(())
    }

    async fn unsubscribe(&self, member: &Member) -> Result<(), SyncError> {
        self.call().await?;
        self.writes.fetch_add(1, Ordering::SeqCst);
        for roster in self.members.lock().unwrap().values_mut() {
            roster.retain(|m| m.id != member.id);
        }
        Ok(())
    }
}

#[async_trait]
impl Target for MemoryLists {
    async fn records(&self) -> Result<Records, String> {
        let mut records = Records::new();
        for member in self.members.lock().unwrap().get(LIST).into_iter().flatten() {
            let record = json!({"name": member.display_name, "mode": member.delivery_mode});
            records
                .entry(member.email.clone())
                .or_default()
                .push(record);
        }
        Ok(records)
    }

    async fn writes(&self) -> Result<usize, String> {
        Ok(self.writes.load(Ordering::SeqCst))
    }

    async fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }
}

/// Orders whose buyers join the list.
struct Orders;

impl Fixture for Orders {
    fn object(&self, key: &str, version: u32) -> (ObjectRef, Value) {
        let data = json!({"code": key, "email": format!("{key}@example.org"),
                          "name": format!("Buyer {key} v{version}"), "status": "p"});
        (ObjectRef::new("Order", key), data)
    }

    /// Two orders of one buyer.
    fn sharing(&self, key: &str, index: usize) -> (ObjectRef, Value) {
        let code = format!("{key}-{index}");
        let data = json!({"code": code, "email": format!("{key}@example.org"),
                          "name": format!("Buyer {key}"), "status": "p"});
        (ObjectRef::new("Order", code), data)
    }
}

fn schema() -> Arc<SourceSchema> {
    let schema = r#"{"models": [{"name": "Order", "id_path": "code"}], "fields": [
      {"key": "email", "type": "string", "model": "Order", "path": "email"},
      {"key": "name", "type": "string", "model": "Order", "path": "name"},
      {"key": "status", "type": "enum", "model": "Order", "path": "status", "options": ["n", "p", "c"]},
      {"key": "consent", "type": "string", "model": "Order", "path": "consent"}]}"#;
    Arc::new(SourceSchema::from_json(schema, &ComputedFields::new()).unwrap())
}

fn mappings() -> Value {
    json!([{"id": "buyers", "source_model": "Order", "external_object_type": LIST,
            "source_id_field": "email", "external_id_field": "email",
            "property_mappings": [
                {"source_field": "name", "external_field": "display_name"},
                {"source_field": "status", "external_field": "subscribed",
                 "value_map": {"n": true, "p": true, "c": false}},
                {"source_field": "consent", "external_field": "consent_at"}]}])
}

fn provider(lists: Arc<MemoryLists>) -> ConfiguredProvider {
    let mappings = ObjectMapping::load_value(&mappings(), &schema()).unwrap();
    let behaviour = MailingListProvider::new(lists, MembershipPolicy::default());
    ConfiguredProvider::new(IDENTIFIER, mappings, Arc::new(behaviour))
}

#[tokio::test]
async fn the_mailing_list_passes_the_standard_scenarios() {
    let lists = Arc::new(MemoryLists::default());
    let provider = provider(lists.clone());
    Scenarios::new(&provider, lists.as_ref(), &Orders, "list")
        .run_all()
        .await
        .unwrap();
}

#[test]
fn the_framework_refuses_a_mapping_that_sets_an_unknown_member_field() {
    let mut mappings = mappings();
    mappings[0]["property_mappings"][0]["external_field"] = json!("phone");
    let settings = json!({"base_url": "http://127.0.0.1:9", "password": "p", "mappings": mappings});
    let error = MailingListProvider::configure(&ProviderConfig {
        settings,
        schema: schema(),
    });
    assert_eq!(
        error.unwrap_err().messages(),
        [
            "mapping buyers, entry 1, field \"phone\": a mailing list member has only display_name, delivery_mode, subscribed, consent_at"
        ]
    );
}

#[tokio::test]
async fn a_service_that_would_add_an_address_twice_still_holds_it_once() {
    // The service adds an address again on every subscription; two jobs holding it at once
    // take turns on the address, so the second finds the first one's membership.
    let lists = Arc::new(MemoryLists::default());
    lists.duplicates.store(true, Ordering::SeqCst);
    let provider = provider(lists.clone());
    Scenarios::new(&provider, lists.as_ref(), &Orders, "naive")
        .concurrent_shared_object()
        .await
        .unwrap();
}

#[tokio::test]
async fn an_address_twice_on_the_list_is_brought_back_to_one_membership() {
    let lists = Arc::new(MemoryLists::default());
    lists.duplicates.store(true, Ordering::SeqCst);
    for _ in 0..2 {
        lists
            .subscribe(LIST, "twice@example.org", None, AdmissionPolicy::default())
            .await
            .unwrap();
    }
    let provider = provider(lists.clone());
    sync(&provider, "T", "twice@example.org", "p", None).await;
    assert_eq!(lists.emails(), ["twice@example.org"]);
}

/// Syncs order `code` of buyer `email` with `status` (and `consent_at`).
async fn sync(
    provider: &ConfiguredProvider,
    code: &str,
    email: &str,
    status: &str,
    consent_at: Option<&str>,
) -> outsync_core::ObjectSyncReport {
    let data = json!({"code": code, "email": email, "name": "Buyer", "status": status,
                      "consent": consent_at});
    outsync_core::sync_object(provider, &ObjectRef::new("Order", code), &data)
        .await
        .unwrap()
}

fn note_of(report: &outsync_core::ObjectSyncReport) -> Option<String> {
    report.mapped_objects.get("buyers")[0]
        .outcome
        .info
        .get("note")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

#[tokio::test]
async fn an_address_stays_while_any_live_order_holds_it() {
    let lists = Arc::new(MemoryLists::default());
    let provider = provider(lists.clone());
    sync(&provider, "A", "x@example.org", "p", None).await;
    sync(&provider, "B", "x@example.org", "p", None).await;
    let report = sync(&provider, "A", "x@example.org", "c", None).await;
    assert_eq!(
        report.mapped_objects.get("buyers")[0].outcome.info["holders"],
        1
    );
    assert_eq!(lists.emails(), ["x@example.org"], "B still holds it");
    sync(&provider, "B", "x@example.org", "c", None).await;
    assert!(lists.emails().is_empty(), "the last holder let go");
    sync(&provider, "A", "x@example.org", "p", None).await;
    assert_eq!(
        lists.emails(),
        ["x@example.org"],
        "outsync removed it, nobody left: a reactivated order subscribes again"
    );
}

#[tokio::test]
async fn a_changed_address_moves_and_a_deleted_order_lets_go() {
    let lists = Arc::new(MemoryLists::default());
    let provider = provider(lists.clone());
    sync(&provider, "A", "old@example.org", "p", None).await;
    sync(&provider, "A", "new@example.org", "p", None).await;
    assert_eq!(lists.emails(), ["new@example.org"]);
    let ledger = provider.memory_ledger();
    provider
        .provider()
        .object_missing(&ObjectRef::new("Order", "A"), ledger.as_ref())
        .await
        .unwrap();
    assert!(lists.emails().is_empty(), "a deleted order lets go");
}

#[tokio::test]
async fn a_leaver_comes_back_only_with_newer_consent() {
    let lists = Arc::new(MemoryLists::default());
    let provider = provider(lists.clone());
    sync(&provider, "A", "l@example.org", "p", Some("2020-01-01")).await;
    lists.remove("l@example.org");
    let report = sync(&provider, "A", "l@example.org", "p", Some("2020-01-01")).await;
    assert!(lists.emails().is_empty());
    let note = note_of(&report).unwrap();
    assert!(note.starts_with("left the list (noticed "), "{note}");
    // Another order of the same person without consent does not bring them back.
    sync(&provider, "B", "l@example.org", "p", None).await;
    assert!(lists.emails().is_empty(), "leaving is respected");
    let later = (chrono::Utc::now() + chrono::Duration::seconds(5)).to_rfc3339();
    sync(&provider, "B", "l@example.org", "p", Some(&later)).await;
    assert_eq!(
        lists.emails(),
        ["l@example.org"],
        "consent newer than leaving"
    );
}

#[tokio::test]
async fn a_member_outsync_did_not_subscribe_is_left_alone() {
    let lists = Arc::new(MemoryLists::default());
    lists
        .subscribe(LIST, "own@example.org", None, AdmissionPolicy::default())
        .await
        .unwrap();
    let provider = provider(lists.clone());
    sync(&provider, "A", "own@example.org", "p", None).await;
    let report = sync(&provider, "A", "own@example.org", "c", None).await;
    assert_eq!(lists.emails(), ["own@example.org"]);
    assert_eq!(
        note_of(&report).as_deref(),
        Some("a member outsync did not subscribe; left as it is")
    );
}

#[tokio::test]
async fn a_failed_unsubscription_is_finished_on_the_next_try() {
    let lists = Arc::new(MemoryLists::default());
    let provider = provider(lists.clone());
    sync(&provider, "A", "old@example.org", "p", None).await;
    lists.unavailable.store(true, Ordering::SeqCst);
    let data = json!({"code": "A", "email": "new@example.org", "name": "Buyer", "status": "p"});
    let reference = ObjectRef::new("Order", "A");
    outsync_core::sync_object(&provider, &reference, &data)
        .await
        .unwrap_err();
    lists.unavailable.store(false, Ordering::SeqCst);
    outsync_core::sync_object(&provider, &reference, &data)
        .await
        .unwrap();
    assert_eq!(
        lists.emails(),
        ["new@example.org"],
        "the old address, let go of during the outage, leaves on the next try"
    );
}

#[tokio::test]
async fn an_unreadable_consent_time_names_the_mapping_and_the_value() {
    let lists = Arc::new(MemoryLists::default());
    let provider = provider(lists.clone());
    let data = json!({"code": "A", "email": "a@example.org", "name": "Buyer", "status": "p",
                      "consent": "yesterday"});
    let error = outsync_core::sync_object(&provider, &ObjectRef::new("Order", "A"), &data)
        .await
        .unwrap_err();
    assert_eq!(
        error.messages()[0],
        "mapping buyers: mapping buyers, field \"consent_at\": \"yesterday\" is not a time (use RFC 3339, a YYYY-MM-DD date or seconds since the epoch)"
    );
    assert!(lists.emails().is_empty());
}
