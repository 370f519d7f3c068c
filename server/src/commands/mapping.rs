//! `outsync mapping check` and `outsync mapping preview`; the versions are in
//! [`mapping_versions`](super::mapping_versions).

use super::{ConfigArg, Exit};
use crate::table;
use clap::{Args, Subcommand};
use outsync_core::{ObjectRef, preview};

/// `outsync mapping`.
#[derive(Args)]
pub(crate) struct MappingArgs {
    #[command(flatten)]
    config: ConfigArg,
    #[command(subcommand)]
    action: MappingAction,
}

#[derive(Subcommand)]
enum MappingAction {
    /// Validate every provider's settings and mappings; print every problem.
    Check,
    /// Show the properties a provider's mappings produce for an object, sending nothing.
    Preview {
        /// The provider.
        #[arg(long)]
        provider: String,
        /// The object type (a root model).
        #[arg(long = "type")]
        object_type: String,
        /// The object as JSON, or `@file.json`.
        #[arg(long)]
        object: String,
    },
    #[command(flatten)]
    Versions(super::mapping_versions::VersionAction),
}

pub(crate) async fn mapping(args: &MappingArgs) -> Result<(), Exit> {
    if let MappingAction::Versions(action) = &args.action {
        return super::mapping_versions::versions(&args.config, action).await;
    }
    let config = args.config.load()?;
    match &args.action {
        MappingAction::Versions(_) => unreachable!("handled above"),
        MappingAction::Check => match config.build_providers() {
            Ok(providers) => {
                for provider in providers {
                    println!(
                        "{}: {} mapping(s) OK",
                        provider.identifier(),
                        provider.mappings().len()
                    );
                }
                Ok(())
            }
            Err(problems) => Err(Exit::bad_input(format!(
                "{} problem(s):\n{}",
                problems.len(),
                problems.join("\n")
            ))),
        },
        MappingAction::Preview {
            provider,
            object_type,
            object,
        } => {
            let text = match object.strip_prefix('@') {
                Some(path) => {
                    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?
                }
                None => object.clone(),
            };
            let data = serde_json::from_str(&text)
                .map_err(|e| format!("--object is not valid JSON: {e}"))?;
            let providers = config
                .build_providers()
                .map_err(|problems| problems.join("\n"))?;
            let found = providers
                .iter()
                .find(|p| p.identifier() == provider)
                .ok_or_else(|| format!("provider \"{provider}\" is not configured"))?;
            let entries = preview(
                found.as_ref(),
                &ObjectRef::new(object_type, "preview"),
                &data,
            )
            .map_err(|e| e.to_string())?;
            if entries.is_empty() {
                println!("no mapping of {provider} reads {object_type}");
            }
            for entry in entries {
                let child = if entry.child.0.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", entry.child)
                };
                let skipped = if entry.id_value.is_empty() {
                    " — empty id: skipped"
                } else {
                    ""
                };
                println!(
                    "mapping {}{child}: id {:?}{skipped}",
                    entry.mapping_id, entry.id_value
                );
                table::print(
                    &["external field", "mode", "value"],
                    &entry
                        .properties
                        .iter()
                        .map(|p| {
                            vec![
                                p.external_field.to_string(),
                                p.mode.to_string(),
                                p.value.to_string(),
                            ]
                        })
                        .collect::<Vec<_>>(),
                );
            }
            Ok(())
        }
    }
}
