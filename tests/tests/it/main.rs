//! outsync's integration tests: one binary, one module per area.

mod assign;
mod evaluate;
mod mapping_load;
mod registry;
mod scenarios;
mod schema;
mod sync_flow;
