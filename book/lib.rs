//! The outsync book. Each chapter is included here as documentation, so `cargo test`
//! compiles and runs every Rust code block of the book against the real crates.

#[doc = include_str!("src/introduction.md")]
pub mod introduction {}

#[doc = include_str!("src/quick-start.md")]
pub mod quick_start {}

#[doc = include_str!("src/service.md")]
pub mod service {}

#[doc = include_str!("src/http-api.md")]
pub mod http_api {}

#[doc = include_str!("src/dashboard.md")]
pub mod dashboard {}

#[doc = include_str!("src/scaling.md")]
pub mod scaling {}

#[doc = include_str!("src/concepts.md")]
pub mod concepts {}

#[doc = include_str!("src/mappings-json.md")]
pub mod mappings_json {}

#[doc = include_str!("src/implementing-a-provider.md")]
pub mod implementing_a_provider {}

#[doc = include_str!("src/enqueuing.md")]
pub mod enqueuing {}

#[doc = include_str!("src/retries.md")]
pub mod retries {}

#[doc = include_str!("src/guarantees.md")]
pub mod guarantees {}

#[doc = include_str!("src/storage.md")]
pub mod storage {}

#[doc = include_str!("src/basket.md")]
pub mod basket {}

#[doc = include_str!("src/mailing-list.md")]
pub mod mailing_list {}

#[doc = include_str!("src/performance.md")]
pub mod performance {}
