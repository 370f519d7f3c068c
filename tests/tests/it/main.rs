//! outsync's integration tests: one binary, one module per area.

mod assign;
mod basket;
mod basket_queue;
mod clocks;
mod evaluate;
mod faults;
mod ledger;
mod mailing_list;
mod mailing_list_people;
mod mapping_load;
mod queue_enqueue;
mod queue_operator;
mod queue_processes;
mod queue_support;
mod queue_worker;
mod registry;
mod safe_processes;
mod safe_queue;
mod scenarios;
mod schema;
mod soak;
mod sources;
mod sync_flow;
