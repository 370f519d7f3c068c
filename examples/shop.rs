//! A small shop that keeps its orders in its own sea-orm table, writes an order and
//! enqueues its sync in one transaction (the outbox pattern), then runs a worker that
//! loads the order's latest state from the shop's table and syncs it.
//!
//! Run: `cargo run --example shop` (SQLite file `shop-example.db`, no setup), or set
//! `DATABASE_URL=postgres://…` to use PostgreSQL.

use outsync_core::schema::{ComputedFields, SourceSchema};
use outsync_core::{
    ConfiguredProvider, ObjectRef, ObjectSource, ProviderConfig, Registry, SyncError, async_trait,
};
use outsync_queue::{EnqueueOptions, Worker, WorkerConfig};
use outsync_queue::{Queue, connect};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, Schema, TransactionTrait};
use serde_json::{Value, json};
use std::sync::Arc;

use outsync_examples as _; // registers the `address_book` provider

/// The shop's own table of orders.
mod shop_order {
    #![allow(missing_docs, unreachable_pub)]
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "shop_order")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub code: String,
        pub email: String,
        pub name: String,
        pub status: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Loads orders from the shop's table, so a late sync sends the latest state.
struct ShopOrders(DatabaseConnection);

#[async_trait]
impl ObjectSource for ShopOrders {
    async fn load(&self, object: &ObjectRef) -> Result<Option<Value>, SyncError> {
        let order = shop_order::Entity::find_by_id(object.id.clone())
            .one(&self.0)
            .await
            .map_err(|error| {
                SyncError::recoverable(format!("cannot read order {}: {error}", object.id))
            })?;
        Ok(order.map(|order| {
            json!({"code": order.code, "email": order.email, "customer": {"name": order.name}, "status": order.status})
        }))
    }
}

const SCHEMA: &str = r#"{
  "models": [{"name": "Order", "id_path": "code"}],
  "fields": [
    {"key": "email", "type": "string", "model": "Order", "path": "email"},
    {"key": "name", "type": "string", "model": "Order", "path": "customer.name"},
    {"key": "status", "type": "enum", "model": "Order", "path": "status", "options": ["n", "p"]}
  ]
}"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "sqlite://shop-example.db?mode=rwc".into());
    // One database for the shop and the queue: the outbox needs them in one transaction.
    let db = connect(&url).await?;
    let builder = db.get_database_backend();
    let mut create = Schema::new(builder).create_table_from_entity(shop_order::Entity);
    db.execute(create.if_not_exists()).await?;

    let schema = Arc::new(SourceSchema::from_json(SCHEMA, &ComputedFields::new())?);
    let settings = json!({"mappings": [{
    "id": "contacts", "source_model": "Order", "external_object_type": "contact",
    "source_id_field": "email", "external_id_field": "email",
    "property_mappings": [
        {"source_field": "name", "external_field": "name", "mode": "if_empty"},
        {"source_field": "status", "external_field": "customer_status", "value_map": {"n": "lead", "p": "customer"}}
    ]}]});
    let registry = Registry::global()?;
    let provider: Arc<ConfiguredProvider> =
        Arc::from(registry.build("address_book", &ProviderConfig { settings, schema })?);
    let queue = Queue::from_registry(&registry);

    // The shop places an order: the row and its sync job commit together.
    let code = format!("ORD-{}", std::process::id());
    let tx = db.begin().await?;
    shop_order::ActiveModel {
        code: Set(code.clone()),
        email: Set(format!("{code}@example.org").to_lowercase()),
        name: Set("Jo Example".into()),
        status: Set("n".into()),
    }
    .insert(&tx)
    .await?;
    let job = queue
        .enqueue(
            &tx,
            "address_book",
            &ObjectRef::new("Order", &code),
            "order_placed",
            EnqueueOptions::default(),
        )
        .await?;
    tx.commit().await?;
    println!(
        "order {code} placed; sync job {} enqueued in the same transaction",
        job.id
    );

    // The order is paid before the worker gets to it: the sync sends the latest state.
    shop_order::ActiveModel {
        code: Set(code.clone()),
        status: Set("p".into()),
        ..Default::default()
    }
    .update(&db)
    .await?;

    let worker = Worker::new(
        db.clone(),
        queue.clone(),
        vec![provider],
        WorkerConfig::default(),
    )
    .with_source(Arc::new(ShopOrders(db.clone())));
    let summary = worker.drain().await?;
    println!(
        "worker processed {} job(s): {:?}",
        summary.processed(),
        summary.by_name()
    );
    for result in queue
        .results(&db, &ObjectRef::new("Order", &code), None)
        .await?
    {
        println!(
            "result: {} {} {}={} ({})",
            result.provider,
            result.external_object_type,
            result.external_id_field,
            result.id_value,
            result.action
        );
    }
    Ok(())
}
