//! The subcommands.

pub(crate) mod demo;
mod mapping;
mod queue;
mod serve;

pub(crate) use mapping::{MappingArgs, mapping};
pub(crate) use queue::{EnqueueArgs, JobsArgs, enqueue, jobs, migrate, status, sync, worker};
pub(crate) use serve::{ServeArgs, serve};

use crate::config::Config;
use clap::Args;
use std::path::PathBuf;

/// The `--config` option shared by most commands.
#[derive(Args)]
pub(crate) struct ConfigArg {
    /// The configuration file.
    #[arg(short, long, env = "OUTSYNC_CONFIG", default_value_os_t = crate::default_config())]
    pub(crate) config: PathBuf,
}

impl ConfigArg {
    pub(crate) fn load(&self) -> Result<Config, String> {
        Config::load(&self.config)
    }
}
