//! API tokens for providers: a static token, or credentials exchanged for a token that is
//! renewed when it expires or when the external system answers 401 (Soukosync's scheme).

use async_trait::async_trait;
use outsync_core::SyncError;
use std::fmt;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// A token the external system issued.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token.
    pub token: String,
    /// How long it is valid, if the system said.
    pub expires_in: Option<Duration>,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"***")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// Why a token could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// The token endpoint could not be reached: worth retrying.
    Connection(String),
    /// The credentials were refused: an operator must fix them.
    Rejected(String),
}

/// Exchanges credentials for a token (implemented per external system).
#[async_trait]
pub trait TokenFetcher: Send + Sync {
    /// Asks for a new token.
    async fn fetch(&self) -> Result<IssuedToken, TokenError>;
}

enum Mode {
    Static(String),
    Fetched {
        fetcher: Box<dyn TokenFetcher>,
        cached: Mutex<Option<(String, Option<Instant>)>>,
        retry_interval: Duration,
        retries: u32,
    },
}

/// Where a provider gets its token. A static token wins when both are configured, and is
/// taken as always valid.
pub struct TokenSource {
    mode: Mode,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.mode {
            Mode::Static(_) => f.write_str("TokenSource::Static(***)"),
            Mode::Fetched {
                retry_interval,
                retries,
                ..
            } => f
                .debug_struct("TokenSource::Fetched")
                .field("retry_interval", retry_interval)
                .field("retries", retries)
                .finish_non_exhaustive(),
        }
    }
}

/// Renew this long before the expiry the system announced.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);

impl TokenSource {
    /// A token that never expires.
    pub fn fixed(token: impl Into<String>) -> Self {
        Self {
            mode: Mode::Static(token.into()),
        }
    }

    /// Tokens from `fetcher`; on connection errors it tries again every `retry_interval`,
    /// `retries` times, before giving up with a recoverable error.
    pub fn fetched(
        fetcher: impl TokenFetcher + 'static,
        retry_interval: Duration,
        retries: u32,
    ) -> Self {
        Self {
            mode: Mode::Fetched {
                fetcher: Box::new(fetcher),
                cached: Mutex::new(None),
                retry_interval,
                retries,
            },
        }
    }

    /// The static token if there is one, else tokens from `fetcher`.
    pub fn from_parts(
        fixed: Option<String>,
        fetcher: Option<Box<dyn TokenFetcher>>,
        retry_interval: Duration,
        retries: u32,
    ) -> Option<Self> {
        match (fixed, fetcher) {
            (Some(token), _) => Some(Self::fixed(token)),
            (None, Some(fetcher)) => Some(Self {
                mode: Mode::Fetched {
                    fetcher,
                    cached: Mutex::new(None),
                    retry_interval,
                    retries,
                },
            }),
            (None, None) => None,
        }
    }

    /// A valid token: the cached one, or a new one if none is cached or it is about to expire.
    pub async fn token(&self) -> Result<String, SyncError> {
        let Mode::Fetched {
            fetcher,
            cached,
            retry_interval,
            retries,
        } = &self.mode
        else {
            let Mode::Static(token) = &self.mode else {
                unreachable!("two modes")
            };
            return Ok(token.clone());
        };
        let mut cached = cached.lock().await;
        if let Some((token, expires)) = cached.as_ref()
            && expires.is_none_or(|at| Instant::now() + EXPIRY_MARGIN < at)
        {
            return Ok(token.clone());
        }
        let mut attempt = 0;
        loop {
            match fetcher.fetch().await {
                Ok(issued) => {
                    let expires = issued.expires_in.map(|valid| Instant::now() + valid);
                    *cached = Some((issued.token.clone(), expires));
                    return Ok(issued.token);
                }
                Err(TokenError::Rejected(reason)) => {
                    return Err(SyncError::config(format!(
                        "the token endpoint refused the credentials: {reason}"
                    )));
                }
                Err(TokenError::Connection(reason)) if attempt < *retries => {
                    attempt += 1;
                    tracing::warn!(%reason, attempt, "cannot fetch a token; retrying");
                    tokio::time::sleep(*retry_interval).await;
                }
                Err(TokenError::Connection(reason)) => {
                    return Err(SyncError::recoverable(format!(
                        "cannot fetch a token: {reason}"
                    )));
                }
            }
        }
    }

    /// Whether [`invalidate`](Self::invalidate) leads to a new token (fetched tokens do; a
    /// static one stays the same, so asking again with it is pointless).
    pub fn renews(&self) -> bool {
        matches!(self.mode, Mode::Fetched { .. })
    }

    /// Forgets the cached token (call after the system answered 401 to it), so the next
    /// [`TokenSource::token`] fetches a new one. A static token stays.
    pub async fn invalidate(&self) {
        if let Mode::Fetched { cached, .. } = &self.mode {
            *cached.lock().await = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    struct Script {
        calls: Arc<AtomicU32>,
        failures_first: u32,
        rejected: bool,
        expires_in: Option<Duration>,
    }

    #[async_trait]
    impl TokenFetcher for Script {
        async fn fetch(&self) -> Result<IssuedToken, TokenError> {
            let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if self.rejected {
                return Err(TokenError::Rejected("401 bad password".into()));
            }
            if call <= self.failures_first {
                return Err(TokenError::Connection("connection refused".into()));
            }
            Ok(IssuedToken {
                token: format!("token-{call}"),
                expires_in: self.expires_in,
            })
        }
    }

    fn script(
        failures_first: u32,
        rejected: bool,
        expires_in: Option<Duration>,
    ) -> (Script, Arc<AtomicU32>) {
        let calls = Arc::new(AtomicU32::new(0));
        (
            Script {
                calls: calls.clone(),
                failures_first,
                rejected,
                expires_in,
            },
            calls,
        )
    }

    #[tokio::test]
    async fn caches_renews_on_invalidate_and_on_expiry() {
        let (fetcher, calls) = script(0, false, None);
        let source = TokenSource::fetched(fetcher, Duration::from_millis(1), 0);
        assert_eq!(source.token().await.unwrap(), "token-1");
        assert_eq!(source.token().await.unwrap(), "token-1", "cached");
        source.invalidate().await;
        assert_eq!(
            source.token().await.unwrap(),
            "token-2",
            "renewed after a 401"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        let (fetcher, calls) = script(0, false, Some(Duration::from_secs(10)));
        let source = TokenSource::fetched(fetcher, Duration::from_millis(1), 0);
        source.token().await.unwrap();
        source.token().await.unwrap();
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "a token expiring within the margin is renewed"
        );
    }

    #[tokio::test]
    async fn retries_connection_errors_and_reports_rejections() {
        let (fetcher, calls) = script(2, false, None);
        let source = TokenSource::fetched(fetcher, Duration::from_millis(1), 3);
        assert_eq!(source.token().await.unwrap(), "token-3");
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        let (fetcher, _) = script(5, false, None);
        let error = TokenSource::fetched(fetcher, Duration::from_millis(1), 1)
            .token()
            .await
            .unwrap_err();
        assert!(matches!(error, SyncError::Recoverable { .. }));

        let (fetcher, _) = script(0, true, None);
        let error = TokenSource::fetched(fetcher, Duration::from_millis(1), 3)
            .token()
            .await
            .unwrap_err();
        assert_eq!(
            error.messages(),
            ["the token endpoint refused the credentials: 401 bad password"]
        );
    }

    #[tokio::test]
    async fn a_static_token_wins_and_is_never_printed() {
        let (fetcher, calls) = script(0, false, None);
        let source = TokenSource::from_parts(
            Some("static-secret".into()),
            Some(Box::new(fetcher)),
            Duration::ZERO,
            0,
        )
        .unwrap();
        assert_eq!(source.token().await.unwrap(), "static-secret");
        source.invalidate().await;
        assert_eq!(source.token().await.unwrap(), "static-secret");
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        assert!(!format!("{source:?}").contains("static-secret"));
    }
}
