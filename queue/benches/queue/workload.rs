//! pretix's workload: orders with 2 positions, pretix's two mappings (orders: 6
//! properties, tickets: 4) with update modes and a value map, and a fake API that reads
//! each external record and writes the changes `assign_properties` computes, as pretix's
//! `SimpleOrderSync` does. Each order is 3 objects (the order and its 2 tickets).

use outsync_core::mapping::{ObjectMapping, assign_properties_into};
use outsync_core::schema::{ComputedFields, SourceSchema};
use outsync_core::{
    ConfiguredProvider, ObjectRef, OutboundSyncProvider, SyncAction, SyncError, SyncOutcome,
    SyncRequest, async_trait,
};
use outsync_queue::{EnqueueItem, EnqueueOptions};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Objects per order: the order and its two tickets.
pub(crate) const OBJECTS_PER_ORDER: usize = 3;

const SCHEMA: &str = r#"{
  "models": [{"name": "Order", "id_path": "code"},
             {"name": "OrderPosition", "parent": "Order", "path": "positions", "id_path": "id"}],
  "fields": [
    {"key": "code", "type": "string", "model": "Order", "path": "code"},
    {"key": "email", "type": "string", "model": "Order", "path": "email"},
    {"key": "status", "type": "enum", "model": "Order", "path": "status", "options": ["n", "p", "e", "c", "r"]},
    {"key": "total", "type": "number", "model": "Order", "path": "total"},
    {"key": "payment_date", "type": "string", "model": "Order", "path": "payment_date"},
    {"key": "tags", "type": "string", "model": "Order", "path": "tags"},
    {"key": "ticket", "type": "string", "model": "OrderPosition", "path": "ticket"},
    {"key": "attendee", "type": "string", "model": "OrderPosition", "path": "attendee"},
    {"key": "attendee_email", "type": "string", "model": "OrderPosition", "path": "attendee_email"},
    {"key": "item", "type": "string", "model": "OrderPosition", "path": "item"},
    {"key": "price", "type": "number", "model": "OrderPosition", "path": "price"}
  ]
}"#;

/// pretix's two mappings: tickets (4 properties) and orders (6).
pub(crate) const MAPPINGS: &str = r#"[
  {"id": "tickets", "source_model": "OrderPosition", "external_object_type": "tickets",
   "source_id_field": "ticket", "external_id_field": "ticketnumber",
   "property_mappings": [
     {"source_field": "attendee", "external_field": "name", "mode": "overwrite"},
     {"source_field": "attendee_email", "external_field": "email", "mode": "if_empty"},
     {"source_field": "item", "external_field": "product", "mode": "overwrite"},
     {"source_field": "price", "external_field": "price", "mode": "overwrite", "convert": "string"}]},
  {"id": "orders", "source_model": "Order", "external_object_type": "ticketorders",
   "source_id_field": "code", "external_id_field": "ordernumber",
   "property_mappings": [
     {"source_field": "email", "external_field": "orderemail", "mode": "overwrite"},
     {"source_field": "status", "external_field": "status", "mode": "overwrite",
      "value_map": {"n": "pending", "p": "paid", "e": "expired", "c": "canceled", "r": "refunded"}},
     {"source_field": "total", "external_field": "total", "mode": "overwrite"},
     {"source_field": "payment_date", "external_field": "paymentdate", "mode": "if_empty"},
     {"constant": "pretix", "external_field": "source", "mode": "if_new"},
     {"source_field": "tags", "external_field": "tags", "mode": "append"}]}
]"#;

/// The source schema of the workload.
pub(crate) fn schema() -> SourceSchema {
    SourceSchema::from_json(SCHEMA, &ComputedFields::new()).expect("schema")
}

/// Order `code` at `version` (the update pass changes the status, a tag and a name).
pub(crate) fn order(code: usize, version: usize) -> Value {
    let status = if version == 0 { "n" } else { "p" };
    json!({"code": format!("O{code:07}"), "email": format!("buyer{code}@example.org"),
           "status": status, "total": 42.5, "payment_date": "2026-11-28",
           "tags": format!("web;v{version}"),
           "positions": [
             {"id": 1, "ticket": format!("O{code:07}-1"), "attendee": format!("Ada {version}"),
              "attendee_email": "ada@example.org", "item": "Conference ticket", "price": 21.25},
             {"id": 2, "ticket": format!("O{code:07}-2"), "attendee": "Grace",
              "attendee_email": "", "item": "Workshop", "price": 21.25}]})
}

/// Enqueue items for orders `codes` at `version`, with their snapshots.
pub(crate) fn items(codes: std::ops::Range<usize>, version: usize) -> Vec<EnqueueItem> {
    codes
        .map(|code| EnqueueItem {
            provider: "fake_api".into(),
            object: ObjectRef::new("Order", format!("O{code:07}")),
            triggered_by: "bench".into(),
            options: EnqueueOptions {
                snapshot: Some(order(code, version)),
                ..EnqueueOptions::default()
            },
        })
        .collect()
}

/// An external system keeping records by type and id, read and written whole (as a
/// JSON API would hand them over).
#[derive(Default)]
pub(crate) struct FakeApi {
    records: Mutex<HashMap<String, Map<String, Value>>>,
    /// Keep nothing (to measure the worker's own memory).
    forgetful: bool,
}

impl FakeApi {
    /// An external system that forgets what it is sent.
    pub(crate) fn forgetful() -> Self {
        Self {
            forgetful: true,
            ..Self::default()
        }
    }

    /// Records stored.
    pub(crate) fn len(&self) -> usize {
        self.records.lock().expect("records").len()
    }
}

struct FakeApiProvider {
    api: Arc<FakeApi>,
}

#[async_trait]
impl OutboundSyncProvider for FakeApiProvider {
    async fn sync_object_with_properties(
        &self,
        request: SyncRequest<'_>,
    ) -> Result<Option<SyncOutcome>, SyncError> {
        let key = format!(
            "{}/{}",
            request.mapping.external_object_type(),
            request.id_value
        );
        let existing = self.api.records.lock().expect("records").get(&key).cloned();
        let mut updates = Vec::with_capacity(request.properties.len());
        assign_properties_into(
            &request.properties,
            existing.as_ref().unwrap_or(&Map::new()),
            existing.is_none(),
            Some(";"),
            &mut updates,
        );
        let mut record = existing.clone().unwrap_or_default();
        for (field, value) in updates {
            record.insert(field.to_owned(), value.into_owned());
        }
        if !self.api.forgetful {
            self.api
                .records
                .lock()
                .expect("records")
                .insert(key, record);
        }
        let action = if existing.is_none() {
            SyncAction::Create
        } else {
            SyncAction::Update
        };
        Ok(Some(SyncOutcome::new(action, &request)))
    }
}

/// The provider `fake_api` writing into `api`.
pub(crate) fn provider(api: Arc<FakeApi>, schema: &SourceSchema) -> Arc<ConfiguredProvider> {
    Arc::new(ConfiguredProvider::new(
        "fake_api",
        ObjectMapping::load_all(MAPPINGS, schema).expect("mappings"),
        Arc::new(FakeApiProvider { api }),
    ))
}
