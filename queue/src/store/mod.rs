//! The worker's side of the queue, by what it does: claiming jobs under a lease
//! ([`claim`]), recording how they ended ([`record`]), and the stored results and runs
//! ([`results`]).

mod claim;
mod record;
mod results;

pub(crate) use claim::{ClaimedJob, claim, claim_job, expired_leases};
pub(crate) use record::{Completion, RunRecord, Setback, record};
pub(crate) use results::{insert_runs, previous_results};
