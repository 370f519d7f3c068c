//! Settling one address on one list: given who holds it (the ledger), what outsync did
//! before (the note) and what the list service says now (one lookup), subscribe, update,
//! unsubscribe or leave it alone. Always called on the address's turn
//! ([`ExternalLedger::lock`]), so two jobs never settle the same address at once.

use crate::backend::{Joined, ListBackend, Member};
use crate::note::{Intent, Note};
use crate::provider::MembershipPolicy;
use chrono::{DateTime, Utc};
use outsync_core::{ExternalKey, ExternalLedger, Holder, SyncAction, SyncError};

/// What the holder being synced wants of the address (`None` in [`Address::settle`]: it
/// lets go).
#[derive(Debug, Default)]
pub(crate) struct Wish<'a> {
    /// The name shown with the address.
    pub display_name: Option<&'a str>,
    /// The delivery mode.
    pub delivery_mode: Option<&'a str>,
    /// When the person last agreed to be on the list (the mapping's `consent_at`).
    pub consent_at: Option<DateTime<Utc>>,
    /// The membership an earlier run of this holder recorded: adopts memberships that
    /// outsync created before it kept notes.
    pub earlier_member_id: Option<&'a str>,
}

/// How an address was settled.
#[derive(Debug)]
pub(crate) struct Settled {
    /// What was done.
    pub action: SyncAction,
    /// The membership afterwards.
    pub member: Option<Member>,
    /// How many holders the address has afterwards.
    pub holders: usize,
    /// Why nothing was done, when that needs saying.
    pub remark: Option<String>,
}

/// One address on one list, with what settling it needs.
pub(crate) struct Address<'a> {
    pub backend: &'a dyn ListBackend,
    pub policy: &'a MembershipPolicy,
    pub ledger: &'a dyn ExternalLedger,
    pub list: &'a str,
    pub email: &'a str,
    pub key: &'a ExternalKey,
}

impl Address<'_> {
    /// Settles the address for `holder`, which holds it (`wish` is `Some`, and the ledger
    /// already says so) or lets go of it (`None`; the ledger still lists it, and the
    /// caller releases it once this succeeded).
    pub(crate) async fn settle(
        &self,
        holder: &Holder,
        wish: Option<&Wish<'_>>,
    ) -> Result<Settled, SyncError> {
        let holders = self
            .ledger
            .holders(self.key)
            .await?
            .iter()
            .filter(|other| wish.is_some() || *other != holder)
            .count();
        let mut note = Note::read(self.ledger, self.key).await?;
        let stored = note.clone();
        let member = self.one_membership(&note).await?;
        catch_up(&mut note, member.as_ref(), wish);
        let settled = if holders > 0 {
            self.keep(&mut note, member, wish, holders).await
        } else {
            self.end(&mut note, member).await
        };
        // The note is written even when a call failed: an intent written before the call
        // must stay recorded.
        if note != stored {
            note.write(self.ledger, self.key).await?;
        }
        settled
    }

    /// The address's membership: one lookup. Should the service hold it twice (two
    /// subscriptions that raced outside outsync), the extra ones end here.
    async fn one_membership(&self, note: &Note) -> Result<Option<Member>, SyncError> {
        let mut members = self.backend.find(self.list, self.email).await?;
        if members.len() > 1 {
            let keep = members
                .iter()
                .position(|member| Some(&member.id) == note.member_id.as_ref())
                .unwrap_or(0);
            let kept = members.swap_remove(keep);
            for extra in &members {
                self.backend.unsubscribe(extra).await?;
            }
            return Ok(Some(kept));
        }
        Ok(members.pop())
    }

    /// Somebody holds the address: it should be a member.
    async fn keep(
        &self,
        note: &mut Note,
        member: Option<Member>,
        wish: Option<&Wish<'_>>,
        holders: usize,
    ) -> Result<Settled, SyncError> {
        let settled = |action, member, remark: Option<String>| Settled {
            action,
            member,
            holders,
            remark,
        };
        let Some(wish) = wish else {
            // Another holder still wants it; its own sync subscribes or updates it.
            return Ok(settled(SyncAction::NothingToDo, member, None));
        };
        if let Some(member) = member {
            let changed = self.update(&member, wish).await?;
            let action = if changed {
                SyncAction::Update
            } else {
                SyncAction::NothingToDo
            };
            return Ok(settled(action, Some(member), None));
        }
        if let Some(left_at) = note.left_at {
            let consented = wish.consent_at.is_some_and(|consent| consent > left_at);
            if !consented && !self.policy.resubscribe_leavers {
                let remark = format!(
                    "left the list (noticed {}); not subscribed again without newer consent",
                    left_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
                return Ok(settled(SyncAction::NothingToDo, None, Some(remark)));
            }
        }
        if note.pending_token.is_some() {
            let remark = "waits for the subscriber's confirmation or a moderator".to_owned();
            return Ok(settled(SyncAction::Pending, None, Some(remark)));
        }
        note.intent = Some(Intent::Join);
        note.write(self.ledger, self.key).await?;
        match self.join(wish).await? {
            Joined::Member(member) => {
                note.intent = None;
                note.ours = true;
                note.member_id = Some(member.id.clone());
                note.left_at = None;
                Ok(settled(SyncAction::Create, Some(member), None))
            }
            Joined::Pending(token) => {
                note.intent = None;
                note.pending_token = Some(token);
                note.left_at = None;
                let remark = "waits for the subscriber's confirmation or a moderator".to_owned();
                Ok(settled(SyncAction::Pending, None, Some(remark)))
            }
            Joined::AlreadyMember => {
                // Subscribed meanwhile from outside outsync: it is not ours to end.
                note.intent = None;
                let member = self.backend.find(self.list, self.email).await?.pop();
                Ok(settled(SyncAction::NothingToDo, member, None))
            }
        }
    }

    /// Subscribes the address. Mailman may fail a subscription that raced with another
    /// one for the same new address; the address is then looked up, and the subscription
    /// tried once more only if it is still not a member.
    async fn join(&self, wish: &Wish<'_>) -> Result<Joined, SyncError> {
        let subscribe = || {
            self.backend.subscribe(
                self.list,
                self.email,
                wish.display_name,
                self.policy.admission,
            )
        };
        let joined = match subscribe().await {
            Err(error) if crate::mailman::lost_race(&error) => {
                if let Some(member) = self.backend.find(self.list, self.email).await?.pop() {
                    Joined::Member(member)
                } else {
                    subscribe().await?
                }
            }
            answer => answer?,
        };
        if let Joined::Member(member) = &joined
            && let Some(mode) = wish.delivery_mode.filter(|mode| *mode != "regular")
        {
            self.backend.set_delivery_mode(member, mode).await?;
        }
        Ok(joined)
    }

    /// Brings a member's name and delivery mode in line with `wish`; `true` if it wrote.
    async fn update(&self, member: &Member, wish: &Wish<'_>) -> Result<bool, SyncError> {
        let mut changed = false;
        if let Some(name) = wish.display_name
            && member.display_name.as_deref() != Some(name)
        {
            self.backend.set_display_name(member, name).await?;
            changed = true;
        }
        if let Some(mode) = wish.delivery_mode
            && member.delivery_mode.as_deref() != Some(mode)
        {
            self.backend.set_delivery_mode(member, mode).await?;
            changed = true;
        }
        Ok(changed)
    }

    /// Nobody holds the address any more: end the membership if outsync created it.
    async fn end(&self, note: &mut Note, member: Option<Member>) -> Result<Settled, SyncError> {
        let settled = |action, member, remark: Option<&str>| Settled {
            action,
            member,
            holders: 0,
            remark: remark.map(str::to_owned),
        };
        note.pending_token = None;
        let Some(member) = member else {
            return Ok(settled(SyncAction::NothingToDo, None, None));
        };
        if !note.ours {
            let remark = "a member outsync did not subscribe; left as it is";
            return Ok(settled(SyncAction::NothingToDo, Some(member), Some(remark)));
        }
        note.intent = Some(Intent::Leave);
        note.write(self.ledger, self.key).await?;
        self.backend.unsubscribe(&member).await?;
        note.intent = None;
        note.ours = false;
        note.member_id = None;
        Ok(settled(SyncAction::Delete, None, None))
    }
}

/// Brings the note up to date with what the service says: finishes a call that was
/// interrupted, and notices an address that left after outsync subscribed it.
fn catch_up(note: &mut Note, member: Option<&Member>, wish: Option<&Wish<'_>>) {
    match (note.intent.take(), member) {
        (Some(Intent::Join), Some(member)) => {
            note.ours = true;
            note.member_id = Some(member.id.clone());
        }
        // The subscription never happened (or waits, if a token was recorded).
        (Some(Intent::Join), None) => {}
        // Ending the membership happened: nobody left by themselves.
        (Some(Intent::Leave), None) => {
            note.ours = false;
            note.member_id = None;
        }
        // Ending the membership still has to happen.
        (Some(Intent::Leave), Some(_)) => note.ours = true,
        (None, _) => {}
    }
    match member {
        Some(member) => {
            if note.pending_token.take().is_some() {
                // The subscriber confirmed (or a moderator approved) the subscription.
                note.ours = true;
                note.member_id = Some(member.id.clone());
            }
            let earlier = wish.and_then(|wish| wish.earlier_member_id);
            if !note.ours && note.member_id.is_none() && earlier == Some(member.id.as_str()) {
                // Subscribed by an outsync that kept no notes yet.
                note.ours = true;
                note.member_id = Some(member.id.clone());
            }
        }
        None if note.ours => {
            note.ours = false;
            note.member_id = None;
            note.left_at = Some(Utc::now());
        }
        None => {}
    }
}
