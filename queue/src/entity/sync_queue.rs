//! `sync_queue`: one row per job.

use sea_orm::entity::prelude::*;

/// A queued sync job.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_queue")]
pub struct Model {
    /// The job id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The provider that syncs the object.
    pub provider: String,
    /// The object's type (a root model of the schema).
    pub object_type: String,
    /// The object's id.
    pub object_id: String,
    /// The object's state as JSON text, if the application enqueued a snapshot.
    pub snapshot: Option<String>,
    /// Why the job was enqueued (e.g. the application event).
    pub triggered_by: String,
    /// When it was (last) enqueued, in ms since the epoch.
    pub triggered_at: i64,
    /// Not to be run before this time (ms).
    pub not_before: i64,
    /// Recoverable failures so far.
    pub failed_attempts: i32,
    /// Why the job stopped (`exceeded`, `permanent`, `config`, `internal`, `timeout`);
    /// `None` while it is pending or running.
    pub failure_mode: Option<String>,
    /// The last error's messages.
    pub last_error: Option<String>,
    /// The last error's details.
    pub last_error_detail: Option<String>,
    /// The worker holding the job, while it runs.
    pub lease_owner: Option<String>,
    /// When the lease runs out (ms).
    pub lease_expires_at: Option<i64>,
    /// Incremented at every claim; an ack or fail counts only with the current token.
    pub fencing_token: i64,
    /// How many enqueues were merged into this row.
    pub coalesced: i32,
    /// 1 when the job must send even data the provider believes unchanged.
    pub force_send: i32,
    /// When the job's current snooze began (ms): the target was unavailable or asked to
    /// wait, which costs no attempt until the snooze cap is reached.
    pub snoozed_since: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
