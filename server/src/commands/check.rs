//! `outsync config check`: validates a configuration file without starting anything.

use super::{ConfigArg, Exit};
use clap::{Args, Subcommand};

/// `outsync config`.
#[derive(Args)]
pub(crate) struct ConfigArgs {
    #[command(flatten)]
    config: ConfigArg,
    #[command(subcommand)]
    action: ConfigAction,
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Check the file, the environment overrides, every provider's settings and mappings,
    /// and the object sources (each SQL query runs against its database with `EXPLAIN`);
    /// print every problem. Opens no queue database and starts nothing.
    Check,
}

/// `outsync config check`.
pub(crate) async fn config(args: &ConfigArgs) -> Result<(), Exit> {
    let ConfigAction::Check = args.action;
    let config = args.config.load()?;
    let providers = config.build_providers().map_err(|problems| {
        Exit::bad_input(format!(
            "configuration {}: {} problem(s):\n  {}",
            args.config.config.display(),
            problems.len(),
            problems.join("\n  ")
        ))
    })?;
    println!(
        "configuration {} is valid: queue database {}",
        args.config.config.display(),
        outsync_queue::describe(&config.database_url)
    );
    for provider in &providers {
        println!(
            "  provider {}: {} mapping(s)",
            provider.identifier(),
            provider.mappings().len()
        );
    }
    if providers.is_empty() {
        println!("  no providers are configured: workers would have nothing to run");
    }
    if let Some(sources) = config.open_sources().await? {
        sources
            .check()
            .await
            .map_err(|error| Exit::bad_input(error.messages().join("\n")))?;
        println!(
            "  object sources: {} (every query runs)",
            sources.describe()
        );
    }
    Ok(())
}
