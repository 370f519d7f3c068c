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
    // Every problem at once: the providers' settings and mappings, then the sources.
    let mut problems = Vec::new();
    let providers = config.build_providers().unwrap_or_else(|found| {
        problems.extend(found);
        Vec::new()
    });
    let sources = match config.open_sources().await {
        Ok(sources) => sources,
        Err(error) => {
            problems.push(error.to_string());
            None
        }
    };
    if let Some(sources) = &sources {
        let identifiers: Vec<&str> = providers.iter().map(|p| p.identifier()).collect();
        problems.extend(sources.problems_for(&identifiers).await);
    }
    if !problems.is_empty() {
        return Err(Exit::bad_input(format!(
            "configuration {}: {} problem(s):\n  {}",
            args.config.config.display(),
            problems.len(),
            problems.join("\n  ")
        )));
    }
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
    if let Some(sources) = sources {
        println!(
            "  object sources: {} (every query runs)",
            sources.describe()
        );
    }
    Ok(())
}
