//! Mapping-engine benchmark: properties evaluated per second, `assign_properties` calls per
//! second and whole-object syncs per second for a realistic 10-property order mapping.
//!
//! Run: `cargo bench -p outsync-core --bench mapping` (prints figures; asserts nothing).

use outsync_core::mapping::{
    ObjectMapping, Property, UpdateMode, assign_properties, assign_properties_into,
};
use outsync_core::schema::{ComputedFields, Inputs, SourceSchema};
use outsync_core::{
    ConfiguredProvider, ObjectRef, OutboundSyncProvider, SyncAction, SyncError, SyncOutcome,
    SyncRequest, async_trait, sync_object,
};
use serde_json::{Map, Value, json};
use std::hint::black_box;
use std::time::{Duration, Instant};

const SCHEMA: &str = r#"{
  "models": [{"name": "Order", "id_path": "code"},
             {"name": "OrderPosition", "parent": "Order", "path": "positions", "id_path": "positionid"}],
  "fields": [
    {"key": "event_order_code", "type": "string", "model": "Order", "computed": "event_order_code"},
    {"key": "email", "type": "string", "model": "Order", "path": "email"},
    {"key": "order_status", "type": "enum", "model": "Order", "path": "status", "options": ["n", "p", "e", "c", "r"]},
    {"key": "order_total", "type": "number", "model": "Order", "path": "total"},
    {"key": "payment_date", "type": "datetime", "model": "Order", "path": "payment_date"},
    {"key": "company", "type": "string", "model": "Order", "path": "invoice_address.company"},
    {"key": "city", "type": "string", "model": "Order", "path": "invoice_address.city"},
    {"key": "country", "type": "string", "model": "Order", "path": "invoice_address.country"},
    {"key": "locale", "type": "string", "model": "Order", "path": "locale"},
    {"key": "tags", "type": "enum_list", "model": "Order", "path": "tags", "options": ["vip", "press", "staff"]},
    {"key": "attendee_email", "type": "string", "model": "OrderPosition", "path": "attendee_email"}
  ]
}"#;

const MAPPINGS: &str = r#"[{"id": 1, "source_model": "Order", "external_object_type": "contacts",
  "source_id_field": "email", "external_id_field": "email", "property_mappings": [
    {"source_field": "event_order_code", "external_field": "order"},
    {"source_field": "email", "external_field": "email"},
    {"source_field": "order_status", "external_field": "status", "value_map": {"n": "pending", "p": "paid", "e": "expired", "c": "canceled", "r": "refunded"}},
    {"source_field": "order_total", "external_field": "total", "convert": "string"},
    {"source_field": "payment_date", "external_field": "paid_at", "mode": "if_empty"},
    {"source_field": "company", "external_field": "company", "mode": "if_new"},
    {"source_field": "city", "external_field": "city"},
    {"source_field": "country", "external_field": "country"},
    {"source_field": "locale", "external_field": "language", "mode": "if_empty"},
    {"source_field": "tags", "external_field": "tags", "mode": "append", "value_map": {"vip": "VIP", "press": "Press", "staff": "Staff"}}
  ]}]"#;

fn order() -> Value {
    json!({"event": "democon", "code": "ABC12", "email": "buyer@example.org", "status": "p",
           "total": 46.5, "payment_date": "2026-11-20T10:15:00+00:00", "locale": "en",
           "invoice_address": {"company": "Example Ltd", "city": "Berlin", "country": "DE"},
           "tags": ["vip", "press"], "positions": []})
}

struct NoopProvider;

#[async_trait]
impl OutboundSyncProvider for NoopProvider {
    async fn sync_object_with_properties(
        &self,
        request: SyncRequest<'_>,
    ) -> Result<Option<SyncOutcome>, SyncError> {
        black_box(&request.properties);
        Ok(Some(SyncOutcome::new(SyncAction::Update, &request)))
    }
}

fn rate(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// Runs `body` repeatedly for about `budget`, returning iterations and time taken.
fn measure(budget: Duration, mut body: impl FnMut()) -> (u64, Duration) {
    let start = Instant::now();
    let mut iterations = 0u64;
    while start.elapsed() < budget {
        for _ in 0..1000 {
            body();
        }
        iterations += 1000;
    }
    (iterations, start.elapsed())
}

fn main() {
    let computed = ComputedFields::new().with("event_order_code", |order, _| {
        json!(format!(
            "{}-{}",
            order["event"].as_str().unwrap_or(""),
            order["code"].as_str().unwrap_or("")
        ))
    });
    let schema = SourceSchema::from_json(SCHEMA, &computed).expect("bench schema");
    let mappings = ObjectMapping::load_all(MAPPINGS, &schema).expect("bench mappings");
    let mapping = &mappings[0];
    let data = order();
    let inputs = Inputs::root("Order", &data);
    let budget = Duration::from_secs(2);
    let per_object = mapping.property_mappings().len() as u64;

    let (iterations, elapsed) = measure(budget, || {
        black_box(
            mapping
                .evaluate(black_box(&inputs), Some(";"))
                .expect("evaluates"),
        );
    });
    println!(
        "evaluate: {:>12.0} properties/s ({:.0} objects/s, {} properties per object, {:.0} ns per object)",
        rate(iterations * per_object, elapsed),
        rate(iterations, elapsed),
        per_object,
        elapsed.as_nanos() as f64 / iterations as f64
    );

    let properties = mapping.evaluate(&inputs, Some(";")).expect("evaluates");
    let old = json!({"email": "buyer@example.org", "status": "pending", "total": "46.5",
                     "paid_at": "", "company": "Example Ltd", "city": "Berlin", "country": "DE",
                     "language": "en", "tags": "VIP;Staff", "order": "democon-ABC12"});
    let old = old.as_object().expect("object").clone();
    let (iterations, elapsed) = measure(budget, || {
        black_box(assign_properties(
            black_box(&properties),
            black_box(&old),
            false,
            Some(";"),
        ));
    });
    println!(
        "assign_properties: {:>12.0} calls/s ({:.0} properties/s, {:.0} ns per call)",
        rate(iterations, elapsed),
        rate(iterations * per_object, elapsed),
        elapsed.as_nanos() as f64 / iterations as f64
    );

    pretix_cases(budget);

    let provider =
        ConfiguredProvider::new("noop", mappings.clone(), std::sync::Arc::new(NoopProvider));
    let reference = ObjectRef::new("Order", "ABC12");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let (iterations, elapsed) = runtime.block_on(async {
        let start = Instant::now();
        let mut iterations = 0u64;
        while start.elapsed() < budget {
            for _ in 0..1000 {
                black_box(
                    sync_object(&provider, &reference, &data)
                        .await
                        .expect("syncs"),
                );
            }
            iterations += 1000;
        }
        (iterations, start.elapsed())
    });
    println!(
        "sync_object (no-op provider): {:>12.0} objects/s ({:.0} ns per object)",
        rate(iterations, elapsed),
        elapsed.as_nanos() as f64 / iterations as f64
    );
}

/// One call's inputs: properties, the external object, whether it is new, the separator.
type Case = (
    Vec<Property>,
    Map<String, Value>,
    bool,
    Option<&'static str>,
);

/// pretix's four kinds of update, one call each in turn: a new object (3 `overwrite`), an
/// existing one (`if_empty` kept and written, `if_new` skipped, `overwrite`), `append` onto
/// a `;`-separated text that already holds the item, and `append` onto a native list that
/// lacks it (which builds a new list). Calls/s of `assign_properties` (a new map per call)
/// and of `assign_properties_into` (a reused buffer).
fn pretix_cases(budget: Duration) {
    let map = |value: Value| value.as_object().expect("object").clone();
    let cases: Vec<Case> = vec![
        (
            vec![
                Property::new("email", json!("a@example.org"), UpdateMode::Overwrite),
                Property::new("status", json!("paid"), UpdateMode::Overwrite),
                Property::new("total", json!(42.5), UpdateMode::Overwrite),
            ],
            Map::new(),
            true,
            Some(";"),
        ),
        (
            vec![
                Property::new("name", json!("Jane"), UpdateMode::IfEmpty),
                Property::new("source", json!("pretix"), UpdateMode::IfNew),
                Property::new("phone", json!("+49 30 1"), UpdateMode::IfEmpty),
                Property::new("email", json!("a@example.org"), UpdateMode::Overwrite),
            ],
            map(json!({"name": "Jo", "phone": "", "source": "web"})),
            false,
            Some(";"),
        ),
        (
            vec![Property::new("tags", json!("VIP"), UpdateMode::Append)],
            map(json!({"tags": "VIP;Staff"})),
            false,
            Some(";"),
        ),
        (
            vec![Property::new(
                "tags",
                json!(["Speaker"]),
                UpdateMode::Append,
            )],
            map(json!({"tags": ["VIP", "Staff"]})),
            false,
            None,
        ),
    ];
    let (iterations, elapsed) = measure(budget, || {
        for (properties, old, is_new, separator) in &cases {
            black_box(assign_properties(
                black_box(properties),
                black_box(old),
                *is_new,
                *separator,
            ));
        }
    });
    let calls = iterations * cases.len() as u64;
    println!(
        "assign_properties, pretix's 4 cases: {:>12.0} calls/s ({:.0} ns per call)",
        rate(calls, elapsed),
        elapsed.as_nanos() as f64 / calls as f64
    );
    let mut out = Vec::with_capacity(8);
    let (iterations, elapsed) = measure(budget, || {
        for (properties, old, is_new, separator) in &cases {
            assign_properties_into(
                black_box(properties),
                black_box(old),
                *is_new,
                *separator,
                &mut out,
            );
            black_box(&out);
        }
    });
    let calls = iterations * cases.len() as u64;
    println!(
        "assign_properties_into, pretix's 4 cases: {:>7.0} calls/s ({:.0} ns per call)",
        rate(calls, elapsed),
        elapsed.as_nanos() as f64 / calls as f64
    );
}
