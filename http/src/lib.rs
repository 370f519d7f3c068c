//! # outsync-http
//!
//! What outsync's HTTP providers and object sources share, kept out of `outsync-core` so
//! that a provider without HTTP needs none of it: [`token`], API tokens (static, or
//! credentials exchanged for a token that is renewed before it expires or on a 401).

pub mod token;
