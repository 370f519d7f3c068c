//! `sync_run`: one record per processed job.

use sea_orm::entity::prelude::*;

/// One processed job: when, what, how it ended and how long it took.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_run")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// When the run ended (ms).
    pub at: i64,
    /// The provider.
    pub provider: String,
    /// The object's type.
    pub object_type: String,
    /// The object's id.
    pub object_id: String,
    /// The job, if the run came from one.
    pub job_id: Option<i64>,
    /// Why the job was enqueued.
    pub triggered_by: Option<String>,
    /// The attempt number (1 = first).
    pub attempt: i32,
    /// How it ended: see `RunOutcome`.
    pub outcome: String,
    /// Counts of actions as JSON text (`{"create": 2, "update": 1}`).
    pub actions: String,
    /// Error messages, if it failed.
    pub error: Option<String>,
    /// Error details.
    pub error_detail: Option<String>,
    /// How long the sync took (ms).
    pub duration_ms: i64,
    /// The worker that ran it.
    pub worker: Option<String>,
    /// The mapping version the run used.
    pub mapping_version: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
