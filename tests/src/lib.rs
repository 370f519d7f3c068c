//! Fixtures shared by outsync's tests: a pretix-like source schema, sample orders, an
//! in-memory fake external API and providers reproducing pretix's documented scenarios.

pub mod db;
pub mod fake_api;
pub mod fake_app;
pub mod file_target;
pub mod flaky_target;
pub mod http_target;
pub mod mailman;
pub mod providers;
pub mod schema;
pub mod scripted;
pub mod workers;

pub use fake_api::FakeApi;
