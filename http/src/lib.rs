//! # outsync-http
//!
//! What outsync's HTTP providers and object sources share, kept out of `outsync-core` so
//! that a provider without HTTP needs none of it: [`token`], API tokens (static, or
//! credentials exchanged for a token that is renewed before it expires or on a 401), and
//! [`status`], which turns HTTP answers and transport errors into the `SyncError` that tells
//! the queue what to do next (with `Retry-After`); [`login`], a user and password
//! exchanged for a token at a JSON endpoint.

pub mod login;
pub mod status;
pub mod token;
