//! `outsync mapping history|diff|save|rollback`: the mapping versions in the queue's
//! database, which running workers pick up without a restart.

use super::{ConfigArg, Exit, queue_error};
use crate::mapping_versions::{SettingsReloader, diff, mappings_json, seed};
use crate::table;
use clap::Subcommand;
use outsync_queue::sea_orm::DatabaseConnection;
use outsync_queue::{MappingVersion, Queue, to_datetime};

/// What to do with a provider's mapping versions.
#[derive(Subcommand)]
pub(crate) enum VersionAction {
    /// List a provider's mapping versions, newest first.
    History {
        /// The provider.
        #[arg(long)]
        provider: String,
    },
    /// Show what changed between two versions (default: from the one before `--to`).
    Diff {
        /// The provider.
        #[arg(long)]
        provider: String,
        /// The older version (default: the one before `--to`).
        #[arg(long)]
        from: Option<i64>,
        /// The newer version (default: the latest).
        #[arg(long)]
        to: Option<i64>,
    },
    /// Check mappings from a JSON file (outsync's or pretix's format) and save them as the
    /// provider's next version; running workers use it within a second.
    Save {
        /// The provider.
        #[arg(long)]
        provider: String,
        /// The mappings file.
        #[arg(long)]
        file: String,
        /// Why (stored with the version).
        #[arg(long)]
        note: Option<String>,
    },
    /// Save an earlier version again as the newest one.
    Rollback {
        /// The provider.
        #[arg(long)]
        provider: String,
        /// The version to go back to.
        #[arg(long)]
        to: i64,
    },
}

async fn version(
    queue: &Queue,
    db: &DatabaseConnection,
    provider: &str,
    number: i64,
) -> Result<MappingVersion, Exit> {
    queue
        .mapping_version(db, provider, number)
        .await
        .map_err(queue_error)?
        .ok_or_else(|| {
            Exit::bad_input(format!(
                "provider \"{provider}\" has no mapping version {number}"
            ))
        })
}

/// Carries out `action` with the configuration `config_arg` names.
pub(crate) async fn versions(config_arg: &ConfigArg, action: &VersionAction) -> Result<(), Exit> {
    let config = config_arg.load()?;
    let access = match action {
        VersionAction::History { .. } | VersionAction::Diff { .. } => config_arg.read_access(),
        _ => config_arg.write_access(),
    };
    let providers = config.require_providers()?;
    let (queue, db) = config.open_queue(access, Some(&providers)).await?;
    let result = async {
        let known = |id: &str| {
            providers
                .iter()
                .any(|p| p.identifier() == id)
                .then_some(())
                .ok_or_else(|| Exit::bad_input(format!("provider \"{id}\" is not configured")))
        };
        match action {
            VersionAction::History { provider } => {
                known(provider)?;
                let versions = queue
                    .mapping_versions(&db, provider)
                    .await
                    .map_err(queue_error)?;
                table::print(
                    &["version", "saved (UTC)", "by", "mappings", "note"],
                    &versions
                        .iter()
                        .map(|v| {
                            vec![
                                v.version.to_string(),
                                to_datetime(v.created_at)
                                    .format("%Y-%m-%d %H:%M:%S")
                                    .to_string(),
                                v.author.clone(),
                                v.mappings.as_array().map_or(0, Vec::len).to_string(),
                                v.note.clone().unwrap_or_default(),
                            ]
                        })
                        .collect::<Vec<_>>(),
                );
            }
            VersionAction::Diff { provider, from, to } => {
                known(provider)?;
                let latest = queue
                    .latest_mapping_version(&db, provider)
                    .await
                    .map_err(queue_error)?
                    .ok_or_else(|| {
                        Exit::bad_input(format!(
                            "provider \"{provider}\" has no mapping versions yet"
                        ))
                    })?;
                let to = to.unwrap_or(latest);
                let from = from.unwrap_or(to - 1);
                let (old, new) = (
                    version(&queue, &db, provider, from).await?,
                    version(&queue, &db, provider, to).await?,
                );
                println!("--- version {from}\n+++ version {to}");
                print!("{}", diff(&old.mappings, &new.mappings));
            }
            VersionAction::Save {
                provider,
                file,
                note,
            } => {
                known(provider)?;
                let text = std::fs::read_to_string(file)
                    .map_err(|error| Exit::bad_input(format!("cannot read {file}: {error}")))?;
                let value: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|error| Exit::bad_input(format!("{file} is not JSON: {error}")))?;
                // Built the way a worker will build it: the schema and the provider check it.
                let built = SettingsReloader::new(&config)
                    .build(provider, &value)
                    .map_err(|error| Exit::bad_input(error.messages().join("\n")))?;
                seed(&queue, &db, &providers).await.map_err(queue_error)?;
                let number = queue
                    .save_mapping_version(
                        &db,
                        provider,
                        &mappings_json(&built),
                        "cli",
                        note.as_deref(),
                    )
                    .await
                    .map_err(queue_error)?;
                println!(
                    "saved version {number} of {provider}'s mappings ({} mapping(s))",
                    built.mappings().len()
                );
            }
            VersionAction::Rollback { provider, to } => {
                known(provider)?;
                let old = version(&queue, &db, provider, *to).await?;
                SettingsReloader::new(&config)
                    .build(provider, &old.mappings)
                    .map_err(|error| {
                        Exit::bad_input(format!(
                            "version {to} no longer fits the configuration: {}",
                            error.messages().join("; ")
                        ))
                    })?;
                let note = format!("rollback to version {to}");
                let number = queue
                    .save_mapping_version(&db, provider, &old.mappings, "cli", Some(&note))
                    .await
                    .map_err(queue_error)?;
                println!("saved version {number}: version {to}'s mappings again");
            }
        }
        Ok(())
    }
    .await;
    super::close(db).await;
    result
}
