//! # outsync-mailing-list
//!
//! An outsync provider that keeps mailing-list subscribers in step with the application:
//! each mapped object (an order's buyer, each order position's attendee) becomes a member of
//! the list named by the mapping's `external_object_type`, with its display name and
//! delivery mode; a mapped `subscribed` flag (e.g. the order status through a value map)
//! unsubscribes; people who leave the list by themselves are not subscribed again.
//!
//! The list service sits behind [`ListBackend`]; [`MailmanBackend`] speaks Mailman 3's
//! REST API. Linking the crate registers the provider as `mailing_list`.

mod backend;
mod config;
mod mailman;
mod provider;

pub use backend::{AdmissionPolicy, Joined, ListBackend, Member};
pub use mailman::{MailmanBackend, list_id};
pub use provider::{IDENTIFIER, MailingListProvider, MembershipPolicy, PROPERTIES};

outsync_core::register_provider!(MailingListProvider);
