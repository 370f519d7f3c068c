//! Providers that push into a [`FakeApi`], reproducing pretix's documented examples:
//! orders → `ticketorders`, and positions → `tickets` linked from their order.

use crate::FakeApi;
use outsync_core::mapping::{
    ObjectMapping, Property, UpdateMode, assign_properties, value_to_string,
};
use outsync_core::schema::SourceSchema;
use outsync_core::{
    ConfiguredProvider, OutboundSyncProvider, SyncAction, SyncError, SyncOutcome, SyncRequest,
    async_trait,
};
use serde_json::{Value, json};
use std::sync::Arc;

/// pretix's first scenario: orders → `ticketorders` (email, status through a value map,
/// total, payment date), in pretix's JSON format verbatim.
pub const ORDER_MAPPINGS: &str = r#"[
  {"id": 1, "pretix_model": "Order", "external_object_type": "ticketorders",
   "pretix_id_field": "event_order_code", "external_id_field": "ordernumber",
   "property_mappings": "[{\"pretix_field\": \"email\", \"external_field\": \"orderemail\", \"value_map\": \"\", \"overwrite\": \"overwrite\"}, {\"pretix_field\": \"order_status\", \"external_field\": \"status\", \"value_map\": \"{\\\"n\\\": \\\"pending\\\", \\\"p\\\": \\\"paid\\\", \\\"e\\\": \\\"expired\\\", \\\"c\\\": \\\"canceled\\\", \\\"r\\\": \\\"refunded\\\"}\", \"overwrite\": \"overwrite\"}, {\"pretix_field\": \"order_total\", \"external_field\": \"total\", \"value_map\": \"\", \"overwrite\": \"overwrite\"}, {\"pretix_field\": \"payment_date\", \"external_field\": \"paymentdate\", \"value_map\": \"\", \"overwrite\": \"overwrite\"}]"}
]"#;

/// pretix's second scenario, in outsync's format: positions → `tickets` first, then
/// orders → `ticketorders`, which link to the tickets of the same run.
pub const ORDER_AND_TICKET_MAPPINGS: &str =
    include_str!("../fixtures/order-and-ticket-mappings.json");

/// A provider writing into a [`FakeApi`] with `assign_properties`, as pretix's
/// `SimpleOrderSync` does; optionally links each object to the external ids produced by
/// an earlier mapping of the same run (pretix's `OrderAndTicketAssociationSync`).
pub struct FakeApiProvider {
    /// The external system.
    pub api: Arc<FakeApi>,
    /// `(earlier mapping id, external field)`: where to store associated ids.
    association: Option<(String, String)>,
}

impl FakeApiProvider {
    /// pretix's `SimpleOrderSync`.
    pub fn simple_order_sync(
        api: Arc<FakeApi>,
        schema: &SourceSchema,
    ) -> Result<ConfiguredProvider, SyncError> {
        let mappings = ObjectMapping::load_all(ORDER_MAPPINGS, schema)?;
        Ok(Self::configured(api, mappings, None))
    }

    /// pretix's `OrderAndTicketAssociationSync`.
    pub fn order_and_ticket_sync(
        api: Arc<FakeApi>,
        schema: &SourceSchema,
    ) -> Result<ConfiguredProvider, SyncError> {
        let mappings = ObjectMapping::load_all(ORDER_AND_TICKET_MAPPINGS, schema)?;
        Ok(Self::configured(
            api,
            mappings,
            Some(("tickets".into(), "tickets".into())),
        ))
    }

    fn configured(
        api: Arc<FakeApi>,
        mappings: Vec<ObjectMapping>,
        association: Option<(String, String)>,
    ) -> ConfiguredProvider {
        let provider = Self { api, association };
        ConfiguredProvider::new("fake_api", mappings, Arc::new(provider))
            .with_display_name("In-memory fake API")
    }
}

#[async_trait]
impl OutboundSyncProvider for FakeApiProvider {
    async fn sync_object_with_properties(
        &self,
        request: SyncRequest<'_>,
    ) -> Result<Option<SyncOutcome>, SyncError> {
        let object_type = request.mapping.external_object_type();
        let existing =
            self.api
                .retrieve_object(object_type, request.external_id_field, request.id_value);
        let mut properties = request.properties.clone();
        if let Some((source_mapping, field)) = &self.association
            && request.mapping.id() != source_mapping
        {
            // This external system stores lists as `;`-separated text.
            let linked: Vec<String> = request
                .mapped_objects
                .outcomes(source_mapping)
                .map(|outcome| value_to_string(&outcome.info["_id"]))
                .collect();
            properties.push(Property::new(
                field,
                Value::String(linked.join(";")),
                UpdateMode::Overwrite,
            ));
        }
        let updates = assign_properties(
            &properties,
            existing.as_ref().unwrap_or(&Default::default()),
            existing.is_none(),
            Some(";"),
        );
        let (stored, created) = self.api.create_or_update_object(
            object_type,
            request.external_id_field,
            request.id_value,
            &updates,
        );
        let action = if created {
            SyncAction::Create
        } else {
            SyncAction::Update
        };
        let href = format!(
            "https://external.example/{object_type}/{}/",
            request.id_value
        );
        let display = format!("{object_type} #{}", request.id_value);
        Ok(Some(
            SyncOutcome::new(action, &request)
                .with_link(href, display)
                .with_info(json!({"_id": stored["_id"]})),
        ))
    }
}
