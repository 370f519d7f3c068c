//! # outsync-mailing-list
//!
//! An outsync provider that keeps mailing-list subscribers in step with the application:
//! each mapped object (an order's buyer, each order position's attendee) becomes a member of
//! the list named by the mapping's `external_object_type`, with its display name and
//! delivery mode. Membership belongs to the address, not to one order: the address stays
//! on the list while at least one live object holds it (outsync's external-object ledger
//! records which), and leaves when the last one lets go (a mapped `subscribed` flag turned
//! false, e.g. a canceled order through a value map; a corrected address; a deleted
//! object). People who leave the list by themselves are not subscribed again unless a
//! mapped `consent_at` is newer than their departure.
//!
//! Each address is looked up on its own (one request, whatever the list's size), on its
//! turn: two jobs never settle the same address at once, in one worker or many.
//!
//! The list service sits behind [`ListBackend`]; [`MailmanBackend`] speaks Mailman 3's
//! REST API. Linking the crate registers the provider as `mailing_list`.

mod backend;
mod config;
mod mailman;
mod note;
mod provider;
mod settle;

pub use backend::{AdmissionPolicy, Joined, ListBackend, Member};
pub use mailman::{MailmanBackend, list_id};
pub use provider::{IDENTIFIER, MailingListProvider, MembershipPolicy, PROPERTIES};

outsync_core::register_provider!(MailingListProvider);
