//! Dashboard sessions: the operator logs in with the API token and gets an HttpOnly
//! session cookie; every form carries the session's CSRF token.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The session cookie's name.
pub(crate) const COOKIE: &str = "outsync_session";

/// How long a session lives without use.
const IDLE: Duration = Duration::from_secs(8 * 3600);

/// A random hex string from the operating system.
pub(crate) fn random_hex() -> String {
    let mut bytes = [0u8; 24];
    if let Ok(mut file) = std::fs::File::open("/dev/urandom") {
        let _ = file.read_exact(&mut bytes);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Live sessions: id → (CSRF token, last use).
#[derive(Default)]
pub(crate) struct Sessions(Mutex<HashMap<String, (String, Instant)>>);

impl Sessions {
    /// Opens a session; returns its id.
    pub(crate) fn open(&self) -> String {
        let id = random_hex();
        let mut sessions = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sessions.retain(|_, (_, used)| used.elapsed() < IDLE);
        sessions.insert(id.clone(), (random_hex(), Instant::now()));
        id
    }

    /// The CSRF token of a live session.
    pub(crate) fn csrf(&self, id: &str) -> Option<String> {
        let mut sessions = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = sessions.get_mut(id)?;
        if entry.1.elapsed() >= IDLE {
            sessions.remove(id);
            return None;
        }
        entry.1 = Instant::now();
        Some(entry.0.clone())
    }

    /// Ends a session.
    pub(crate) fn close(&self, id: &str) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(id);
    }
}

/// The session id in a `Cookie` header.
pub(crate) fn session_id(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}
