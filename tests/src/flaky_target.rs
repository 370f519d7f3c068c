//! An HTTP target that fails at random, for fault-injection tests.
//!
//! `PUT /objects/{code}` with a JSON body stores the body under `code`. Each request draws a
//! fault from a seeded generator, so a run is reproducible: HTTP 500 (nothing stored), a
//! timeout (the target sits on the request longer than the client waits, nothing stored),
//! HTTP 429 with `Retry-After`, or — the nasty one — the body is stored and then the
//! connection is closed without an answer, so the target applied the change but the client
//! sees an error. The target can also be taken down (connections refused) and brought back.
//!
//! It is served by hyper directly rather than axum: only hyper lets a request end in a
//! dropped connection after the handler ran.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The share of requests that meet each fault (the rest succeed).
#[derive(Debug, Clone, Copy)]
pub struct FaultRates {
    /// HTTP 500, nothing stored.
    pub server_error: f64,
    /// No answer within the client's timeout, nothing stored.
    pub timeout: f64,
    /// HTTP 429 with `Retry-After`.
    pub too_many_requests: f64,
    /// Stored, then the connection is closed without an answer.
    pub reset_after_apply: f64,
}

impl FaultRates {
    /// The soak test's mix: 20 % HTTP 500, 5 % timeouts, 5 % 429, 1 % resets after applying.
    pub const SOAK: Self = Self {
        server_error: 0.20,
        timeout: 0.05,
        too_many_requests: 0.05,
        reset_after_apply: 0.01,
    };

    /// No faults.
    pub const NONE: Self = Self {
        server_error: 0.0,
        timeout: 0.0,
        too_many_requests: 0.0,
        reset_after_apply: 0.0,
    };
}

/// What one request met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Stored and answered 200.
    None,
    /// Answered 500.
    ServerError,
    /// Held past the client's timeout.
    Timeout,
    /// Answered 429.
    TooManyRequests,
    /// Stored, then the connection was dropped.
    ResetAfterApply,
}

/// Settings of a [`FlakyTarget`].
#[derive(Debug, Clone, Copy)]
pub struct FlakyConfig {
    /// The fault mix.
    pub rates: FaultRates,
    /// Seed of the fault generator.
    pub seed: u64,
    /// How long a "timeout" request is held (longer than the client's timeout).
    pub hold: Duration,
    /// The `Retry-After` sent with 429, in seconds.
    pub retry_after_secs: u64,
}

impl Default for FlakyConfig {
    fn default() -> Self {
        Self {
            rates: FaultRates::SOAK,
            seed: 7,
            hold: Duration::from_secs(2),
            retry_after_secs: 1,
        }
    }
}

/// What the target holds and has seen.
#[derive(Debug, Default)]
pub struct TargetState {
    /// The stored body per object code.
    pub objects: HashMap<String, Value>,
    /// Requests per object code (every attempt, whatever it met).
    pub requests: HashMap<String, u32>,
    /// Requests per fault.
    pub faults: HashMap<Fault, u64>,
    /// Writes whose `version` was lower than the stored one (an older snapshot overwrote a
    /// newer change).
    pub stale_writes: Vec<(String, i64, i64)>,
    /// Requests with the wrong or no `Authorization` header.
    pub unauthorized: u64,
    rng: u64,
}

impl TargetState {
    fn next_unit(&mut self) -> f64 {
        // SplitMix64: reproducible and good enough to draw faults.
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        #[allow(clippy::cast_precision_loss)]
        let unit = (z >> 11) as f64 / (1u64 << 53) as f64;
        unit
    }

    fn draw(&mut self, rates: &FaultRates) -> Fault {
        let roll = self.next_unit();
        let mut bound = rates.server_error;
        if roll < bound {
            return Fault::ServerError;
        }
        bound += rates.timeout;
        if roll < bound {
            return Fault::Timeout;
        }
        bound += rates.too_many_requests;
        if roll < bound {
            return Fault::TooManyRequests;
        }
        bound += rates.reset_after_apply;
        if roll < bound {
            return Fault::ResetAfterApply;
        }
        Fault::None
    }

    fn apply(&mut self, code: &str, body: Value) {
        let new_version = body.get("version").and_then(Value::as_i64).unwrap_or(0);
        if let Some(old) = self.objects.get(code)
            && let Some(old_version) = old.get("version").and_then(Value::as_i64)
            && new_version < old_version
        {
            self.stale_writes
                .push((code.to_owned(), old_version, new_version));
        }
        self.objects.insert(code.to_owned(), body);
    }
}

struct Shared {
    config: Mutex<FlakyConfig>,
    state: Mutex<TargetState>,
    token: String,
}

/// A running flaky target on a loopback port.
pub struct FlakyTarget {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Mutex<Option<JoinHandle<()>>>,
}

/// The error that makes hyper drop a connection after the handler ran.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for DropConnection {}

impl FlakyTarget {
    /// Starts a target that accepts `Authorization: Bearer {token}`.
    pub async fn start(config: FlakyConfig, token: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let shared = Arc::new(Shared {
            config: Mutex::new(config),
            state: Mutex::new(TargetState {
                rng: config.seed,
                ..TargetState::default()
            }),
            token: format!("Bearer {token}"),
        });
        let target = Self {
            addr,
            shared,
            server: Mutex::new(None),
        };
        target.serve(listener);
        target
    }

    /// The base URL (`http://127.0.0.1:port`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Changes the fault mix from now on.
    pub fn set_rates(&self, rates: FaultRates) {
        self.shared.config.lock().expect("config").rates = rates;
    }

    /// Takes the target down: the port refuses connections until [`FlakyTarget::bring_up`].
    pub fn take_down(&self) {
        if let Some(server) = self.server.lock().expect("server").take() {
            server.abort();
        }
    }

    /// Brings the target back on the same port.
    pub async fn bring_up(&self) {
        let listener = TcpListener::bind(self.addr).await.expect("rebind");
        self.serve(listener);
    }

    /// Runs `read` on the state.
    pub fn with_state<T>(&self, read: impl FnOnce(&TargetState) -> T) -> T {
        read(&self.shared.state.lock().expect("state"))
    }

    fn serve(&self, listener: TcpListener) {
        let shared = self.shared.clone();
        let handle = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let shared = shared.clone();
                connections.spawn(async move {
                    let service =
                        hyper::service::service_fn(move |request| handle(shared.clone(), request));
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        *self.server.lock().expect("server") = Some(handle);
    }
}

impl Drop for FlakyTarget {
    fn drop(&mut self) {
        self.take_down();
    }
}

fn reply(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    response
}

async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, DropConnection> {
    let code = match (
        request.method(),
        request.uri().path().strip_prefix("/objects/"),
    ) {
        (&Method::PUT, Some(code)) if !code.is_empty() => code.to_owned(),
        _ => return Ok(reply(StatusCode::NOT_FOUND, "no such route")),
    };
    let authorized = request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .is_some_and(|value| value.as_bytes() == shared.token.as_bytes());
    let Ok(body) = request.into_body().collect().await else {
        return Err(DropConnection);
    };
    let Ok(body) = serde_json::from_slice::<Value>(&body.to_bytes()) else {
        return Ok(reply(StatusCode::BAD_REQUEST, "the body is not JSON"));
    };
    let config = *shared.config.lock().expect("config");
    let fault = {
        let mut state = shared.state.lock().expect("state");
        *state.requests.entry(code.clone()).or_insert(0) += 1;
        if !authorized {
            state.unauthorized += 1;
            return Ok(reply(StatusCode::UNAUTHORIZED, "bad token"));
        }
        let fault = state.draw(&config.rates);
        *state.faults.entry(fault).or_insert(0) += 1;
        if matches!(fault, Fault::None | Fault::ResetAfterApply) {
            state.apply(&code, body);
        }
        fault
    };
    match fault {
        Fault::None => Ok(reply(StatusCode::OK, "{}")),
        Fault::ServerError => Ok(reply(StatusCode::INTERNAL_SERVER_ERROR, "boom")),
        Fault::Timeout => {
            tokio::time::sleep(config.hold).await;
            Ok(reply(StatusCode::GATEWAY_TIMEOUT, "too late"))
        }
        Fault::TooManyRequests => {
            let mut response = reply(StatusCode::TOO_MANY_REQUESTS, "slow down");
            response.headers_mut().insert(
                hyper::header::RETRY_AFTER,
                hyper::header::HeaderValue::from(config.retry_after_secs),
            );
            Ok(response)
        }
        Fault::ResetAfterApply => Err(DropConnection),
    }
}
