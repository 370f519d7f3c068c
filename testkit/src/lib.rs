//! # outsync-testkit
//!
//! The scenarios every provider must pass, run against the provider and the external
//! system it writes to (a fake, or the real thing in a test environment). Add the crate as
//! a dev-dependency, describe the target ([`Target`]) and some source objects
//! ([`Fixture`]), and call [`Scenarios::run_all`]:
//!
//! 1. **create → update → unchanged**: a new object is created, a changed one updated,
//!    and the same data again sends nothing;
//! 2. **duplicate delivery**: the same job delivered twice (the first run's results were
//!    never recorded) leaves the target as one delivery did, with no error;
//! 3. **recoverable error, then success**: while the target is unavailable the sync fails
//!    with a recoverable error; afterwards it succeeds;
//! 4. **concurrent shared object**: two different objects that map to one external object,
//!    synced at the same time, both succeed and leave one record, as syncing them one
//!    after the other does.
//!
//! The scenarios call [`sync_object_with`](outsync_core::sync_object_with) the way the
//! queue's worker does, handing each object's previous results to its next run.

mod scenarios;
mod target;

pub use scenarios::{ScenarioFailure, Scenarios};
pub use target::{Fixture, Records, Target};
