//! `sync_object`: should_sync, mapping order, children, empty ids, `mapped_objects`
//! filtering, `Ok(None)`, finalize, error context, and skipping unchanged payloads.

use outsync_core::mapping::ObjectMapping;
use outsync_core::schema::ChildKey;
use outsync_core::{
    ConfiguredProvider, MappedObjects, ObjectRef, OutboundSyncProvider, PreviousResults,
    SourceObject, SyncAction, SyncError, SyncOptions, SyncOutcome, SyncRequest, async_trait,
    sync_object, sync_object_with,
};
use outsync_tests::schema::{pending_order, pretix_schema};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// What one provider call saw.
#[derive(Debug, Clone, PartialEq)]
struct Call {
    mapping: String,
    id_value: String,
    child: ChildKey,
    visible: Vec<(String, Vec<String>)>,
}

#[derive(Default)]
struct Recording {
    calls: Vec<Call>,
    finalized: Vec<usize>,
}

#[derive(Clone)]
struct RecordingProvider {
    mappings: Vec<ObjectMapping>,
    log: Arc<Mutex<Recording>>,
    fail_on: Option<String>,
    skip_mapping: Option<String>,
    accept: bool,
    skip_unchanged: bool,
    answer: SyncAction,
}

impl RecordingProvider {
    fn new(mappings: Value) -> Self {
        Self {
            mappings: ObjectMapping::load_all(&mappings.to_string(), &pretix_schema()).unwrap(),
            log: Arc::default(),
            fail_on: None,
            skip_mapping: None,
            accept: true,
            skip_unchanged: false,
            answer: SyncAction::Create,
        }
    }

    /// The provider as `sync_object` takes it (sharing this one's log).
    fn configured(&self) -> ConfiguredProvider {
        ConfiguredProvider::new("recording", self.mappings.clone(), Arc::new(self.clone()))
    }

    fn calls(&self) -> Vec<Call> {
        self.log.lock().unwrap().calls.clone()
    }
}

#[async_trait]
impl OutboundSyncProvider for RecordingProvider {
    fn skips_unchanged_payloads(&self) -> bool {
        self.skip_unchanged
    }

    fn should_sync(&self, object: &SourceObject<'_>) -> bool {
        self.accept && object.data["status"] != "c"
    }

    async fn sync_object_with_properties(
        &self,
        request: SyncRequest<'_>,
    ) -> Result<Option<SyncOutcome>, SyncError> {
        let visible = request
            .mapped_objects
            .iter()
            .map(|(id, results)| {
                (
                    id.to_owned(),
                    results.iter().map(|r| r.outcome.id_value.clone()).collect(),
                )
            })
            .collect();
        self.log.lock().unwrap().calls.push(Call {
            mapping: request.mapping.id().to_owned(),
            id_value: request.id_value.to_owned(),
            child: request.inputs.child_key().clone(),
            visible,
        });
        if self.fail_on.as_deref() == Some(request.id_value) {
            return Err(SyncError::recoverable("peer unavailable"));
        }
        if self.skip_mapping.as_deref() == Some(request.mapping.id()) {
            return Ok(None);
        }
        Ok(Some(SyncOutcome::new(self.answer.clone(), &request)))
    }

    async fn finalize_sync(
        &self,
        _object: &SourceObject<'_>,
        mapped: &MappedObjects,
    ) -> Result<(), SyncError> {
        self.log.lock().unwrap().finalized.push(mapped.len());
        Ok(())
    }
}

fn three_mappings() -> Value {
    json!([
        {"id": "tickets", "source_model": "OrderPosition", "external_object_type": "tickets",
         "source_id_field": "ticket_id", "external_id_field": "n", "property_mappings": []},
        {"id": "order", "source_model": "Order", "external_object_type": "orders",
         "source_id_field": "event_order_code", "external_id_field": "n", "property_mappings": []},
        {"id": "badges", "source_model": "OrderPosition", "external_object_type": "badges",
         "source_id_field": "attendee_email", "external_id_field": "email", "property_mappings": []}
    ])
}

fn order_ref() -> ObjectRef {
    ObjectRef::new("Order", "ABC12")
}

fn key(id: &str) -> ChildKey {
    ChildKey(vec![("OrderPosition".into(), id.into())])
}

#[tokio::test]
async fn runs_mappings_in_order_with_one_call_per_child() {
    let provider = RecordingProvider::new(three_mappings());
    let report = sync_object(&provider.configured(), &order_ref(), &pending_order())
        .await
        .unwrap();
    assert_eq!(report.calls, 5);
    assert!(!report.skipped);
    let calls = provider.calls();
    let order: Vec<(&str, &str)> = calls
        .iter()
        .map(|c| (c.mapping.as_str(), c.id_value.as_str()))
        .collect();
    assert_eq!(
        order,
        [
            ("tickets", "democon-ABC12-1"),
            ("tickets", "democon-ABC12-2"),
            ("order", "democon-ABC12"),
            ("badges", "ada@example.org"),
            ("badges", "grace@example.org"),
        ]
    );
    assert_eq!(calls[0].child, key("1"));
    assert_eq!(calls[2].child, ChildKey::default());
    assert_eq!(provider.log.lock().unwrap().finalized, [5]);
    assert_eq!(report.mapped_objects.get("tickets").len(), 2);
}

#[tokio::test]
async fn mapped_objects_show_earlier_results_filtered_per_child() {
    let provider = RecordingProvider::new(three_mappings());
    sync_object(&provider.configured(), &order_ref(), &pending_order())
        .await
        .unwrap();
    let calls = provider.calls();
    // The order (root) mapping sees both tickets.
    assert_eq!(
        calls[2].visible,
        [(
            "tickets".to_owned(),
            vec!["democon-ABC12-1".to_owned(), "democon-ABC12-2".to_owned()]
        )]
    );
    // A child mapping sees its own child's ticket and the root results only.
    assert_eq!(
        calls[4].visible,
        [
            ("tickets".to_owned(), vec!["democon-ABC12-2".to_owned()]),
            ("order".to_owned(), vec!["democon-ABC12".to_owned()]),
        ]
    );
}

#[tokio::test]
async fn empty_id_values_skip_that_object() {
    let provider = RecordingProvider::new(three_mappings());
    let mut order = pending_order();
    order["positions"][0]["attendee_email"] = json!("");
    let report = sync_object(&provider.configured(), &order_ref(), &order)
        .await
        .unwrap();
    assert_eq!(report.calls, 4);
    assert_eq!(report.mapped_objects.get("badges").len(), 1);
}

#[tokio::test]
async fn should_sync_false_skips_everything() {
    let provider = RecordingProvider::new(three_mappings());
    let mut order = pending_order();
    order["status"] = json!("c");
    let report = sync_object(&provider.configured(), &order_ref(), &order)
        .await
        .unwrap();
    assert!(report.skipped);
    assert!(provider.calls().is_empty());
    assert!(provider.log.lock().unwrap().finalized.is_empty());
}

#[tokio::test]
async fn none_outcomes_are_not_recorded() {
    let mut provider = RecordingProvider::new(three_mappings());
    provider.skip_mapping = Some("tickets".into());
    let report = sync_object(&provider.configured(), &order_ref(), &pending_order())
        .await
        .unwrap();
    assert_eq!(report.calls, 5);
    assert!(report.mapped_objects.get("tickets").is_empty());
    assert_eq!(report.mapped_objects.len(), 3);
}

#[tokio::test]
async fn provider_errors_stop_the_run_and_name_mapping_and_child() {
    let mut provider = RecordingProvider::new(three_mappings());
    provider.fail_on = Some("democon-ABC12-2".into());
    let error = sync_object(&provider.configured(), &order_ref(), &pending_order())
        .await
        .unwrap_err();
    assert_eq!(
        error.messages(),
        ["mapping tickets, OrderPosition 2: peer unavailable"]
    );
    assert_eq!(provider.calls().len(), 2);
    assert!(provider.log.lock().unwrap().finalized.is_empty());
}

#[tokio::test]
async fn mappings_of_other_object_types_are_skipped() {
    let provider = RecordingProvider::new(three_mappings());
    let report = sync_object(
        &provider.configured(),
        &ObjectRef::new("Customer", "1"),
        &json!({}),
    )
    .await
    .unwrap();
    assert_eq!(report.calls, 0);
}

#[tokio::test]
async fn a_collection_that_is_not_a_list_is_a_permanent_error() {
    let provider = RecordingProvider::new(three_mappings());
    let mut order = pending_order();
    order["positions"] = json!({"oops": true});
    let error = sync_object(&provider.configured(), &order_ref(), &order)
        .await
        .unwrap_err();
    assert!(matches!(error, SyncError::Permanent { .. }));
    assert_eq!(
        error.messages(),
        [
            r#"mapping tickets: the OrderPosition collection at "positions" of Order is not a list but an object"#
        ]
    );
}

/// What a run stored, as the worker hands it to the next run.
fn previous_of(report: &outsync_core::ObjectSyncReport) -> PreviousResults {
    PreviousResults::from_mapped(&report.mapped_objects, 0)
}

#[tokio::test]
async fn unchanged_payloads_are_skipped_when_the_provider_turns_it_on() {
    let mut provider = RecordingProvider::new(three_mappings());
    provider.skip_unchanged = true;
    let configured = provider.configured();
    let first = sync_object(&configured, &order_ref(), &pending_order())
        .await
        .unwrap();
    assert_eq!(first.calls, 5);
    let options = |force| SyncOptions {
        force,
        previous: previous_of(&first),
        ..SyncOptions::default()
    };

    let same = sync_object_with(&configured, &order_ref(), &pending_order(), &options(false))
        .await
        .unwrap();
    assert_eq!(same.calls, 0, "nothing changed, nothing sent");
    assert_eq!(same.mapped_objects.len(), 5);
    assert!(
        same.mapped_objects
            .iter()
            .flat_map(|(_, results)| results)
            .all(|r| r.outcome.action == SyncAction::NothingToDo
                && r.outcome.payload_digest.is_some())
    );

    let mut changed = pending_order();
    changed["positions"][1]["attendee_email"] = json!("grace@example.net");
    let report = sync_object_with(&configured, &order_ref(), &changed, &options(false))
        .await
        .unwrap();
    assert_eq!(
        report.calls, 1,
        "only the badge whose address changed is sent"
    );
    assert_eq!(
        provider.calls().last().unwrap().id_value,
        "grace@example.net"
    );

    let forced = sync_object_with(&configured, &order_ref(), &pending_order(), &options(true))
        .await
        .unwrap();
    assert_eq!(forced.calls, 5, "a forced job sends everything");
}

#[tokio::test]
async fn payloads_are_not_skipped_unless_asked_or_when_the_target_has_not_applied_them() {
    let plain = RecordingProvider::new(three_mappings());
    let report = sync_object(&plain.configured(), &order_ref(), &pending_order())
        .await
        .unwrap();
    assert!(
        report
            .mapped_objects
            .iter()
            .flat_map(|(_, r)| r)
            .all(|r| r.outcome.payload_digest.is_none()),
        "no digest without the option"
    );

    let mut pending = RecordingProvider::new(three_mappings());
    pending.skip_unchanged = true;
    pending.answer = SyncAction::Pending;
    let configured = pending.configured();
    let first = sync_object(&configured, &order_ref(), &pending_order())
        .await
        .unwrap();
    let options = SyncOptions {
        force: false,
        previous: previous_of(&first),
        ..SyncOptions::default()
    };
    let again = sync_object_with(&configured, &order_ref(), &pending_order(), &options)
        .await
        .unwrap();
    assert_eq!(again.calls, 5, "a pending answer is sent again");
}
