//! When to sync: a full sync of a user or an add-on whenever a field Basket receives
//! changed. An add-on's payload embeds its authors, so a user change also syncs every
//! add-on the user authors, and adding or removing an author syncs the add-on.

use crate::changes::{addon_changed, user_changed};
use crate::provider::IDENTIFIER;
use outsync_core::ObjectRef;
use outsync_queue::sea_orm::ConnectionTrait;
use outsync_queue::{EnqueueOptions, Queue, QueueError};
use serde_json::Value;

/// Enqueues Basket syncs from application events.
#[derive(Debug, Clone)]
pub struct Triggers {
    queue: Queue,
}

impl Triggers {
    /// Triggers enqueuing on `queue` (which must know the `basket` provider).
    pub fn new(queue: Queue) -> Self {
        Self { queue }
    }

    async fn enqueue<C: ConnectionTrait>(
        &self,
        conn: &C,
        object: ObjectRef,
        trigger: &str,
        snapshot: Option<Value>,
    ) -> Result<ObjectRef, QueueError> {
        let options = EnqueueOptions {
            snapshot,
            ..EnqueueOptions::default()
        };
        self.queue
            .enqueue(conn, IDENTIFIER, &object, trigger, options)
            .await?;
        Ok(object)
    }

    /// A user was saved. If a field Basket receives changed, enqueues the user (with the new
    /// state as snapshot) and each add-on in `authored_addons` (loaded through the
    /// application's `ObjectSource`, since their payload embeds this user). Returns what
    /// was enqueued.
    pub async fn user_saved<C: ConnectionTrait>(
        &self,
        conn: &C,
        old: Option<&Value>,
        new: &Value,
        authored_addons: &[String],
    ) -> Result<Vec<ObjectRef>, QueueError> {
        if !user_changed(old, new) {
            return Ok(Vec::new());
        }
        self.user_and_addons(conn, new.clone(), authored_addons, "user_changed")
            .await
    }

    /// A user account was deleted: Basket receives it with `deleted: true`, and the
    /// add-ons the user authored are synced again.
    pub async fn user_deleted<C: ConnectionTrait>(
        &self,
        conn: &C,
        user: &Value,
        authored_addons: &[String],
    ) -> Result<Vec<ObjectRef>, QueueError> {
        let mut deleted = user.clone();
        if let Value::Object(map) = &mut deleted {
            map.insert("deleted".into(), Value::Bool(true));
        }
        self.user_and_addons(conn, deleted, authored_addons, "user_deleted")
            .await
    }

    async fn user_and_addons<C: ConnectionTrait>(
        &self,
        conn: &C,
        user: Value,
        authored_addons: &[String],
        trigger: &str,
    ) -> Result<Vec<ObjectRef>, QueueError> {
        let id = object_id(&user);
        let mut enqueued = vec![
            self.enqueue(conn, ObjectRef::new("UserProfile", id), trigger, Some(user))
                .await?,
        ];
        for addon in authored_addons {
            enqueued.push(
                self.enqueue(conn, ObjectRef::new("Addon", addon.as_str()), trigger, None)
                    .await?,
            );
        }
        Ok(enqueued)
    }

    /// An add-on was saved. If a field Basket receives changed — authors added or removed
    /// included — enqueues a full sync of it with the new state as snapshot.
    pub async fn addon_saved<C: ConnectionTrait>(
        &self,
        conn: &C,
        old: Option<&Value>,
        new: &Value,
    ) -> Result<Vec<ObjectRef>, QueueError> {
        if !addon_changed(old, new) {
            return Ok(Vec::new());
        }
        let object = ObjectRef::new("Addon", object_id(new));
        Ok(vec![
            self.enqueue(conn, object, "addon_changed", Some(new.clone()))
                .await?,
        ])
    }
}

fn object_id(object: &Value) -> String {
    match object.get("id") {
        Some(Value::String(id)) => id.clone(),
        Some(Value::Number(id)) => id.to_string(),
        _ => String::new(),
    }
}
