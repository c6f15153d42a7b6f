//! Conversations by session token, shared by all connections: who holds a token, and the agent's state.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::mpsc;

/// A note to a connection that another connection configured its token (it must close).
#[derive(Debug)]
pub struct Kicked;

/// One guest's conversation, surviving reconnects with the same token.
#[derive(Clone, Debug)]
pub struct Conversation {
    /// The JWT `sub` of this guest (never the token itself).
    pub subject: String,
    pub guest_messages: u32,
    pub agent_joined: bool,
    /// The agent left: the conversation is read-only.
    pub agent_gone: bool,
    /// Configured with `configureAuthenticatedSession` at least once: a plain `configureSession` may no longer
    /// resume it (4017, cannot downgrade), until the conversation ends.
    pub authenticated: bool,
}

impl Conversation {
    fn fresh() -> Conversation {
        Conversation {
            subject: format!("guest-{}", uuid::Uuid::new_v4()),
            guest_messages: 0,
            agent_joined: false,
            agent_gone: false,
            authenticated: false,
        }
    }
}

struct Entry {
    conversation: Conversation,
    owner: Option<(u64, mpsc::UnboundedSender<Kicked>)>,
}

/// What configuring a token found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// No conversation existed for the token (or `startNew` asked for a fresh one).
    pub new_session: bool,
    pub read_only: bool,
    /// Another connection held the token and has been told to close.
    pub kicked_other: bool,
}

/// How a configure request presents the guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Guest {
    /// `configureSession`.
    Anonymous,
    /// `configureAuthenticatedSession` with an accepted `data.code`; `subject`: its `sub` claim, if any.
    Authenticated { subject: Option<String> },
}

/// A plain `configureSession` for a token whose conversation was configured as authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Downgrade;

/// All conversations of one simulator.
#[derive(Default)]
pub struct Registry {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic elsewhere cannot leave this map half-updated: recover it.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes connection `conn` the holder of `token`; a previous holder gets `Kicked`. An anonymous guest may not
    /// take over an authenticated conversation, not even with `startNew` (`Downgrade`: nothing changes); an
    /// authenticated one marks the conversation authenticated and names its subject.
    pub fn claim(
        &self,
        token: &str,
        conn: u64,
        kick: mpsc::UnboundedSender<Kicked>,
        start_new: bool,
        guest: Guest,
    ) -> Result<Claim, Downgrade> {
        let mut entries = self.lock();
        if guest == Guest::Anonymous && entries.get(token).is_some_and(|e| e.conversation.authenticated) {
            return Err(Downgrade);
        }
        let mut new_session = false;
        let entry = entries.entry(token.to_owned()).or_insert_with(|| {
            new_session = true;
            Entry { conversation: Conversation::fresh(), owner: None }
        });
        if start_new && !new_session {
            entry.conversation = Conversation::fresh();
            new_session = true;
        }
        if let Guest::Authenticated { subject } = guest {
            entry.conversation.authenticated = true;
            if let Some(subject) = subject {
                entry.conversation.subject = subject;
            }
        }
        let mut kicked_other = false;
        if let Some((previous, sender)) = entry.owner.replace((conn, kick)) {
            if previous != conn {
                kicked_other = sender.send(Kicked).is_ok();
            }
        }
        Ok(Claim { new_session, read_only: entry.conversation.agent_gone, kicked_other })
    }

    /// Runs `f` on the token's conversation, if it still exists.
    pub fn with<R>(&self, token: &str, f: impl FnOnce(&mut Conversation) -> R) -> Option<R> {
        self.lock().get_mut(token).map(|entry| f(&mut entry.conversation))
    }

    /// Connection `conn` is gone: it no longer holds `token` (the conversation stays).
    pub fn release(&self, token: &str, conn: u64) {
        if let Some(entry) = self.lock().get_mut(token) {
            if entry.owner.as_ref().is_some_and(|(owner, _)| *owner == conn) {
                entry.owner = None;
            }
        }
    }

    /// Ends the token's conversation (expiry, closeSession, Presence Clear).
    pub fn forget(&self, token: &str) {
        self.lock().remove(token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_claim_kicks_the_first_holder_and_resumes_the_conversation() {
        let registry = Registry::default();
        let (tx1, mut rx1) = mpsc::unbounded_channel();
        let (tx2, mut rx2) = mpsc::unbounded_channel();
        let first = registry.claim("t", 1, tx1, false, Guest::Anonymous).unwrap();
        assert!(first.new_session && !first.kicked_other);
        registry.with("t", |c| c.agent_gone = true);
        let second = registry.claim("t", 2, tx2, false, Guest::Anonymous).unwrap();
        assert_eq!(second, Claim { new_session: false, read_only: true, kicked_other: true });
        assert!(rx1.try_recv().is_ok());
        // The kicked connection's cleanup must not release the new holder.
        registry.release("t", 1);
        let (tx3, _rx3) = mpsc::unbounded_channel();
        assert!(registry.claim("t", 3, tx3, true, Guest::Anonymous).unwrap().kicked_other);
        assert!(rx2.try_recv().is_ok());
    }

    #[test]
    fn start_new_and_forget_give_a_fresh_conversation() {
        let registry = Registry::default();
        let (tx, _rx) = mpsc::unbounded_channel();
        registry.claim("t", 1, tx.clone(), false, Guest::Anonymous).unwrap();
        registry.with("t", |c| c.guest_messages = 5);
        assert!(registry.claim("t", 1, tx.clone(), true, Guest::Anonymous).unwrap().new_session);
        assert_eq!(registry.with("t", |c| c.guest_messages), Some(0));
        registry.forget("t");
        assert_eq!(registry.with("t", |c| c.guest_messages), None);
        assert!(registry.claim("t", 1, tx, false, Guest::Anonymous).unwrap().new_session);
    }

    #[test]
    fn an_authenticated_conversation_refuses_a_downgrade_until_it_ends() {
        let registry = Registry::default();
        let (tx, _rx) = mpsc::unbounded_channel();
        let signed_in = Guest::Authenticated { subject: Some("user-7".into()) };
        assert!(registry.claim("t", 1, tx.clone(), false, signed_in.clone()).unwrap().new_session);
        assert_eq!(registry.with("t", |c| (c.authenticated, c.subject.clone())), Some((true, "user-7".into())));
        registry.release("t", 1);
        // Remembered after the connection ended, whatever startNew says; the authenticated variant resumes it.
        assert_eq!(registry.claim("t", 2, tx.clone(), false, Guest::Anonymous), Err(Downgrade));
        assert_eq!(registry.claim("t", 2, tx.clone(), true, Guest::Anonymous), Err(Downgrade));
        assert!(!registry.claim("t", 2, tx.clone(), false, signed_in).unwrap().new_session);
        registry.forget("t");
        assert!(registry.claim("t", 3, tx, false, Guest::Anonymous).unwrap().new_session);
    }
}
