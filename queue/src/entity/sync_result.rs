//! `sync_result`: the latest outcome per object, child and mapping.

use sea_orm::entity::prelude::*;

/// What the last sync did to one external object.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_result")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The provider.
    pub provider: String,
    /// The source object's type.
    pub object_type: String,
    /// The source object's id.
    pub object_id: String,
    /// The child (e.g. `OrderPosition 2`), empty for the object itself.
    pub child_id: String,
    /// The mapping that produced it.
    pub mapping_id: String,
    /// The external object type.
    pub external_object_type: String,
    /// The external identifier field.
    pub external_id_field: String,
    /// The identifier value.
    pub id_value: String,
    /// Link to the external object.
    pub external_link_href: Option<String>,
    /// The link's text.
    pub external_link_display_name: Option<String>,
    /// What was done (`create`, `update`, …).
    pub action: String,
    /// The provider's extra information, as JSON text.
    pub sync_info: Option<String>,
    /// When it was transmitted (ms).
    pub transmitted_at: i64,
    /// Digest of what was sent, for providers that skip unchanged payloads.
    pub payload_digest: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
