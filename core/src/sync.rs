//! Syncing one object: `should_sync`, every mapping in order (one call for a root mapping,
//! one per child for a child mapping), `mapped_objects`, then `finalize_sync`.

use crate::configured::ConfiguredProvider;
use crate::mapping::{LineageStep, ObjectMapping};
use crate::provider::{
    MappedObject, MappedObjects, ObjectRef, SourceObject, SyncAction, SyncOptions, SyncOutcome,
    SyncRequest,
};
use crate::schema::Inputs;
use crate::{SyncError, digest};
use serde_json::Value;

/// What syncing one object did; the queue stores one result per entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectSyncReport {
    /// `true` when nothing was synced: the provider handles no such object type, or its
    /// `should_sync` declined the object.
    pub skipped: bool,
    /// Why the object was skipped.
    pub skip_reason: Option<String>,
    /// The outcomes of every call, by mapping.
    pub mapped_objects: MappedObjects,
    /// How many `sync_object_with_properties` calls were made.
    pub calls: usize,
}

/// Syncs `data` (the current state of `object`) through `provider`.
///
/// Mappings whose root model is not `object.object_type` are skipped, so one provider can
/// serve several object types. An object or child whose id value is empty is not synced
/// in that mapping. Any error stops the run; the queue retries the whole object, which is
/// why providers must be idempotent. Provider errors are prefixed with the mapping and the
/// child they happened in.
pub async fn sync_object(
    provider: &ConfiguredProvider,
    object: &ObjectRef,
    data: &Value,
) -> Result<ObjectSyncReport, SyncError> {
    sync_object_with(provider, object, data, &SyncOptions::default()).await
}

/// [`sync_object`] with options: `force`, and the previous results the worker loaded.
pub async fn sync_object_with(
    provider: &ConfiguredProvider,
    object: &ObjectRef,
    data: &Value,
    options: &SyncOptions,
) -> Result<ObjectSyncReport, SyncError> {
    let ledger = options
        .ledger
        .clone()
        .unwrap_or_else(|| provider.memory_ledger());
    let source = SourceObject {
        reference: object,
        data,
        ledger: ledger.as_ref(),
    };
    let skip = |reason: String| {
        Ok(ObjectSyncReport {
            skipped: true,
            skip_reason: Some(reason),
            ..ObjectSyncReport::default()
        })
    };
    if !provider.handles_object_type(&object.object_type) {
        return skip(format!(
            "no mapping of provider \"{}\" handles object type \"{}\"; nothing was sent",
            provider.identifier(),
            object.object_type
        ));
    }
    if !provider.provider().should_sync(&source) {
        return skip(format!(
            "provider \"{}\" declined the object (should_sync); nothing was sent",
            provider.identifier()
        ));
    }
    let behaviour = provider.provider();
    let joiner = behaviour.list_field_joiner();
    let skip_unchanged = behaviour.skips_unchanged_payloads();
    let mut mapped = MappedObjects::default();
    let mut calls = 0;
    for mapping in provider.mappings() {
        if mapping.root_model() != object.object_type {
            continue;
        }
        let root = Inputs::root(mapping.root_model(), data);
        let mut targets = Vec::new();
        collect_targets(mapping, &mapping.lineage[1..], root, &mut targets)?;
        let mut results = Vec::with_capacity(targets.len());
        for inputs in &targets {
            let id_value = mapping.id_value(inputs);
            if id_value.is_empty() {
                continue;
            }
            let properties = mapping.evaluate(inputs, joiner)?;
            let filtered;
            let visible = if mapping.is_child_mapping() {
                filtered = mapped.visible_to(inputs.child_key());
                &filtered
            } else {
                &mapped
            };
            let request = SyncRequest {
                object,
                external_id_field: mapping.external_id_field(),
                id_value: &id_value,
                properties,
                inputs,
                mapping,
                mapped_objects: visible,
                previous: options.previous.get(mapping.id(), inputs.child_key()),
                force: options.force,
                list_joiner: joiner,
                ledger: ledger.as_ref(),
            };
            let digest = skip_unchanged.then(|| digest::request_digest(&request));
            let outcome = match unchanged_since_last_send(&request, digest.as_deref()) {
                Some(outcome) => Some(outcome),
                None => {
                    calls += 1;
                    behaviour
                        .sync_object_with_properties(request)
                        .await
                        .map_err(|error| error.in_context(&describe_call(mapping, inputs)))?
                        .map(|outcome| with_digest(outcome, digest))
                }
            };
            if let Some(outcome) = outcome {
                results.push(MappedObject {
                    child: inputs.child_key().clone(),
                    outcome,
                });
            }
        }
        mapped.insert(mapping.id(), results);
    }
    behaviour.finalize_sync(&source, &mapped).await?;
    Ok(ObjectSyncReport {
        skipped: false,
        skip_reason: None,
        mapped_objects: mapped,
        calls,
    })
}

/// The `nothing_to_do` outcome for a request whose digest matches the last successful
/// send's (not for a forced job), or `None` to send.
fn unchanged_since_last_send(
    request: &SyncRequest<'_>,
    digest: Option<&str>,
) -> Option<SyncOutcome> {
    let previous = request.previous?;
    if request.force || digest.is_none() || previous.payload_digest.as_deref() != digest {
        return None;
    }
    let mut outcome =
        SyncOutcome::new(SyncAction::NothingToDo, request).with_info(previous.info.clone());
    outcome.external_link_href = previous.external_link_href.clone();
    outcome.external_link_display_name = previous.external_link_display_name.clone();
    outcome.payload_digest = digest.map(str::to_owned);
    Some(outcome)
}

/// Records the digest of what was sent, unless the target has not applied it yet
/// (`pending`), so that the next job sends it again.
fn with_digest(mut outcome: SyncOutcome, digest: Option<String>) -> SyncOutcome {
    if outcome.action != SyncAction::Pending {
        outcome.payload_digest = digest;
    }
    outcome
}

fn describe_call(mapping: &ObjectMapping, inputs: &Inputs<'_>) -> String {
    let child = inputs.child_key();
    if child.0.is_empty() {
        format!("mapping {}", mapping.id())
    } else {
        format!("mapping {}, {child}", mapping.id())
    }
}

/// Expands `inputs` down the remaining lineage steps, one target per deepest child.
fn collect_targets<'a>(
    mapping: &'a ObjectMapping,
    steps: &'a [LineageStep],
    inputs: Inputs<'a>,
    targets: &mut Vec<Inputs<'a>>,
) -> Result<(), SyncError> {
    let Some((step, rest)) = steps.split_first() else {
        targets.push(inputs);
        return Ok(());
    };
    let Some(path) = &step.path else {
        return Ok(());
    };
    let parent = inputs.current().object;
    let children = match path.lookup(parent) {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(children)) => children,
        Some(other) => {
            return Err(SyncError::permanent(format!(
                "mapping {}: the {} collection at \"{path}\" of {} is not a list but {}",
                mapping.id(),
                step.model,
                inputs.current().model,
                kind_of(other)
            )));
        }
    };
    for (index, child) in children.iter().enumerate() {
        let id = step
            .id_path
            .as_ref()
            .and_then(|id_path| id_path.lookup(child))
            .map(crate::mapping::value_to_string)
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| index.to_string());
        let child_inputs = inputs.with_child(&step.model, child, id);
        collect_targets(mapping, rest, child_inputs, targets)?;
    }
    Ok(())
}

/// How a JSON value is named in error messages ("a list", "null").
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// What one call would receive: the mapping, the child, the id value and the properties.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewEntry {
    /// The mapping.
    pub mapping_id: String,
    /// The child (empty for the object itself).
    pub child: crate::schema::ChildKey,
    /// The identifier value (empty: the object would be skipped).
    pub id_value: String,
    /// The evaluated properties.
    pub properties: Vec<crate::mapping::Property>,
}

/// Evaluates `provider`'s mappings for `data` without calling the provider: what a sync
/// would send (`outsync mapping preview`).
pub fn preview(
    provider: &ConfiguredProvider,
    object: &ObjectRef,
    data: &Value,
) -> Result<Vec<PreviewEntry>, SyncError> {
    let mut entries = Vec::new();
    for mapping in provider.mappings() {
        if mapping.root_model() != object.object_type {
            continue;
        }
        let mut targets = Vec::new();
        collect_targets(
            mapping,
            &mapping.lineage[1..],
            Inputs::root(mapping.root_model(), data),
            &mut targets,
        )?;
        for inputs in &targets {
            entries.push(PreviewEntry {
                mapping_id: mapping.id().to_owned(),
                child: inputs.child_key().clone(),
                id_value: mapping.id_value(inputs),
                properties: mapping.evaluate(inputs, provider.provider().list_field_joiner())?,
            });
        }
    }
    Ok(entries)
}
