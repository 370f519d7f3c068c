//! pretix's two documented scenarios, end to end against the in-memory fake API,
//! including the second sync after the order is paid.

use outsync_core::{ObjectRef, SyncAction, sync_object};
use outsync_tests::FakeApi;
use outsync_tests::providers::FakeApiProvider;
use outsync_tests::schema::{paid_order, pending_order, pretix_schema};
use serde_json::{Value, json};
use std::sync::Arc;

fn actions(report: &outsync_core::ObjectSyncReport) -> Vec<SyncAction> {
    report
        .mapped_objects
        .iter()
        .flat_map(|(_, results)| results.iter().map(|r| r.outcome.action.clone()))
        .collect()
}

#[tokio::test]
async fn simple_order_sync_creates_then_updates_the_same_record() {
    let api = Arc::new(FakeApi::new());
    let provider = FakeApiProvider::simple_order_sync(api.clone(), &pretix_schema()).unwrap();
    let order_ref = ObjectRef::new("Order", "ABC12");

    let first = sync_object(&provider, &order_ref, &pending_order())
        .await
        .unwrap();
    assert_eq!(actions(&first), [SyncAction::Create]);
    assert_eq!(
        Value::Array(
            api.objects_of("ticketorders")
                .into_iter()
                .map(Value::Object)
                .collect()
        ),
        json!([{"_id": 1, "ordernumber": "democon-ABC12", "orderemail": "buyer@example.org",
                "status": "pending", "total": 46.5, "paymentdate": null}])
    );
    let outcome = &first.mapped_objects.get("1")[0].outcome;
    assert_eq!(outcome.object_type, "ticketorders");
    assert_eq!(outcome.external_id_field, "ordernumber");
    assert_eq!(outcome.id_value, "democon-ABC12");
    assert_eq!(
        outcome.external_link_href.as_deref(),
        Some("https://external.example/ticketorders/democon-ABC12/")
    );

    let second = sync_object(&provider, &order_ref, &paid_order())
        .await
        .unwrap();
    assert_eq!(actions(&second), [SyncAction::Update]);
    assert_eq!(
        Value::Array(
            api.objects_of("ticketorders")
                .into_iter()
                .map(Value::Object)
                .collect()
        ),
        json!([{"_id": 1, "ordernumber": "democon-ABC12", "orderemail": "buyer@example.org",
                "status": "paid", "total": 46.5, "paymentdate": "2026-11-20T10:15:00+00:00"}])
    );
    assert_eq!(api.write_counts(), (1, 1));
}

#[tokio::test]
async fn orders_link_to_tickets_created_earlier_in_the_same_run() {
    let api = Arc::new(FakeApi::new());
    let provider = FakeApiProvider::order_and_ticket_sync(api.clone(), &pretix_schema()).unwrap();
    let order_ref = ObjectRef::new("Order", "ABC12");

    let first = sync_object(&provider, &order_ref, &pending_order())
        .await
        .unwrap();
    assert_eq!(
        actions(&first),
        [SyncAction::Create, SyncAction::Create, SyncAction::Create]
    );
    let tickets = api.objects_of("tickets");
    assert_eq!(
        Value::Array(tickets.into_iter().map(Value::Object).collect()),
        json!([
            {"_id": 1, "ticketnumber": "democon-ABC12-1", "name": "Ada Lovelace",
             "email": "ada@example.org", "product": "Conference ticket", "price": "23.25"},
            {"_id": 2, "ticketnumber": "democon-ABC12-2", "name": "Grace Hopper",
             "email": "grace@example.org", "product": "Conference ticket", "price": "23.25"}
        ])
    );
    assert_eq!(
        Value::Array(
            api.objects_of("ticketorders")
                .into_iter()
                .map(Value::Object)
                .collect()
        ),
        json!([{"_id": 3, "ordernumber": "democon-ABC12", "orderemail": "buyer@example.org",
                "status": "pending", "paymentdate": null, "source": "pretix", "tickets": "1;2"}])
    );

    // Paid, and the first attendee's e-mail changed in the source meanwhile.
    let mut paid = paid_order();
    paid["positions"][0]["attendee_email"] = json!("ada@new.example.org");
    let second = sync_object(&provider, &order_ref, &paid).await.unwrap();
    assert_eq!(
        actions(&second),
        [SyncAction::Update, SyncAction::Update, SyncAction::Update]
    );
    assert_eq!(
        api.write_counts(),
        (3, 3),
        "no new external objects on the second sync"
    );
    let order = &api.objects_of("ticketorders")[0];
    assert_eq!(order["_id"], 3);
    assert_eq!(order["status"], "paid");
    assert_eq!(order["paymentdate"], "2026-11-20T10:15:00+00:00");
    assert_eq!(order["tickets"], "1;2");
    // if_empty keeps the e-mail the external system already has.
    assert_eq!(api.objects_of("tickets")[0]["email"], "ada@example.org");
}
