//! The list service behind the provider. The provider's logic (who joins, who leaves,
//! who is updated) talks to this trait only, so another service (Listmonk, Mailchimp,
//! Brevo) is one more implementation.

use outsync_core::{SyncError, async_trait};

/// One member of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The service's id of the membership.
    pub id: String,
    /// The address, lower-case.
    pub email: String,
    /// The name shown with the address.
    pub display_name: Option<String>,
    /// How mail is delivered (`regular`, `mime_digests`, …), if the service has modes.
    pub delivery_mode: Option<String>,
}

/// How new members are admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionPolicy {
    /// The address counts as verified.
    pub pre_verified: bool,
    /// The subscription counts as confirmed by the subscriber.
    pub pre_confirmed: bool,
    /// The subscription counts as approved by a moderator.
    pub pre_approved: bool,
    /// Send the list's welcome message.
    pub send_welcome_message: bool,
}

impl Default for AdmissionPolicy {
    fn default() -> Self {
        Self {
            pre_verified: true,
            pre_confirmed: true,
            pre_approved: true,
            send_welcome_message: false,
        }
    }
}

/// What a subscription request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Joined {
    /// The address is a member now.
    Member(Member),
    /// The service waits for a confirmation or a moderator (its token).
    Pending(String),
    /// The address already was a member.
    AlreadyMember,
}

/// What the provider needs from a list service.
#[async_trait]
pub trait ListBackend: Send + Sync + std::fmt::Debug {
    /// The service's name, for messages.
    fn name(&self) -> &str;

    /// Every member of `list`. An unknown list is a [`SyncError::Config`] naming it. The
    /// provider never reads whole rosters (it looks addresses up one by one); tools and
    /// tests do.
    async fn roster(&self, list: &str) -> Result<Vec<Member>, SyncError>;

    /// The memberships of `email` in `list`: none, one, or (when the service let a
    /// duplicate in) several.
    async fn find(&self, list: &str, email: &str) -> Result<Vec<Member>, SyncError>;

    /// Subscribes `email` with `display_name`.
    async fn subscribe(
        &self,
        list: &str,
        email: &str,
        display_name: Option<&str>,
        policy: AdmissionPolicy,
    ) -> Result<Joined, SyncError>;

    /// Changes the display name shown with `member`'s address.
    async fn set_display_name(&self, member: &Member, display_name: &str) -> Result<(), SyncError>;

    /// Changes `member`'s delivery mode.
    async fn set_delivery_mode(&self, member: &Member, mode: &str) -> Result<(), SyncError>;

    /// Ends `member`'s membership.
    async fn unsubscribe(&self, member: &Member) -> Result<(), SyncError>;
}
