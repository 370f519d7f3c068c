//! `sync_object`: should_sync, mapping order, children, empty ids, `mapped_objects`
//! filtering, `Ok(None)`, finalize and error context.

use outsync_core::mapping::ObjectMapping;
use outsync_core::schema::ChildKey;
use outsync_core::{
    MappedObjects, ObjectRef, OutboundSyncProvider, SourceObject, SyncAction, SyncError,
    SyncOutcome, SyncRequest, async_trait, sync_object,
};
use outsync_tests::schema::{pending_order, pretix_schema};
use serde_json::{Value, json};
use std::sync::Mutex;

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

struct RecordingProvider {
    mappings: Vec<ObjectMapping>,
    log: Mutex<Recording>,
    fail_on: Option<String>,
    skip_mapping: Option<String>,
    accept: bool,
}

impl RecordingProvider {
    fn new(mappings: Value) -> Self {
        Self {
            mappings: ObjectMapping::load_all(&mappings.to_string(), &pretix_schema()).unwrap(),
            log: Mutex::default(),
            fail_on: None,
            skip_mapping: None,
            accept: true,
        }
    }

    fn calls(&self) -> Vec<Call> {
        self.log.lock().unwrap().calls.clone()
    }
}

#[async_trait]
impl OutboundSyncProvider for RecordingProvider {
    fn identifier(&self) -> &str {
        "recording"
    }

    fn mappings(&self) -> &[ObjectMapping] {
        &self.mappings
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
        Ok(Some(SyncOutcome::new(SyncAction::Create, &request)))
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
    let report = sync_object(&provider, &order_ref(), &pending_order())
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
    sync_object(&provider, &order_ref(), &pending_order())
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
    let report = sync_object(&provider, &order_ref(), &order).await.unwrap();
    assert_eq!(report.calls, 4);
    assert_eq!(report.mapped_objects.get("badges").len(), 1);
}

#[tokio::test]
async fn should_sync_false_skips_everything() {
    let provider = RecordingProvider::new(three_mappings());
    let mut order = pending_order();
    order["status"] = json!("c");
    let report = sync_object(&provider, &order_ref(), &order).await.unwrap();
    assert!(report.skipped);
    assert!(provider.calls().is_empty());
    assert!(provider.log.lock().unwrap().finalized.is_empty());
}

#[tokio::test]
async fn none_outcomes_are_not_recorded() {
    let mut provider = RecordingProvider::new(three_mappings());
    provider.skip_mapping = Some("tickets".into());
    let report = sync_object(&provider, &order_ref(), &pending_order())
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
    let error = sync_object(&provider, &order_ref(), &pending_order())
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
    let report = sync_object(&provider, &ObjectRef::new("Customer", "1"), &json!({}))
        .await
        .unwrap();
    assert_eq!(report.calls, 0);
}

#[tokio::test]
async fn a_collection_that_is_not_a_list_is_a_permanent_error() {
    let provider = RecordingProvider::new(three_mappings());
    let mut order = pending_order();
    order["positions"] = json!({"oops": true});
    let error = sync_object(&provider, &order_ref(), &order)
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
