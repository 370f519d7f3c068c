//! An in-process fake Basket for tests and examples: it checks the API key, method,
//! content type and body shape as Basket does, records what it received, keeps newsletter
//! subscriptions, and can be switched into failure modes.

mod checks;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use checks::{check_addon, check_user, form_object, newsletter_list, parse_form};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the fake answers every request until changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeMode {
    /// Behave like Basket.
    Normal,
    /// Answer 500.
    ServerError,
    /// Wait this long before answering (to provoke client timeouts).
    Slow(Duration),
    /// Answer 429 with `Retry-After: seconds`.
    RateLimited(u64),
    /// Answer 401 with code 7, as for a wrong key.
    Unauthorized,
    /// Answer with this status and a long plain-text body.
    Status(u16),
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// The method.
    pub method: String,
    /// The path.
    pub path: String,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The body: JSON as sent, or the form fields as an object.
    pub body: Value,
}

/// Newsletters Basket knows in the fake.
pub const KNOWN_NEWSLETTERS: [&str; 4] = [
    "about-addons",
    "mozilla-and-you",
    "firefox-tips",
    "about-mozilla",
];

#[derive(Debug)]
struct FakeState {
    api_key: String,
    mode: Mutex<FakeMode>,
    received: Mutex<Vec<Received>>,
    subscribers: Mutex<HashMap<String, (String, BTreeSet<String>)>>,
}

/// A running fake Basket on a loopback port.
#[derive(Debug)]
pub struct FakeBasket {
    /// Its base URL (`http://127.0.0.1:PORT`).
    pub base_url: String,
    state: Arc<FakeState>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeBasket {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeBasket {
    /// Starts a fake that accepts `api_key`.
    pub async fn start(api_key: &str) -> std::io::Result<Self> {
        let state = Arc::new(FakeState {
            api_key: api_key.to_owned(),
            mode: Mutex::new(FakeMode::Normal),
            received: Mutex::default(),
            subscribers: Mutex::default(),
        });
        let app = Router::new()
            .route("/amo-sync/{kind}/", post(amo_sync))
            .route("/news/subscribe/", post(subscribe))
            .route("/news/unsubscribe/{token}/", post(unsubscribe))
            .route("/api/v1/users/lookup/", get(lookup))
            .fallback(unknown_endpoint)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            base_url,
            state,
            server,
        })
    }

    /// Switches the failure mode.
    pub fn set_mode(&self, mode: FakeMode) {
        *lock(&self.state.mode) = mode;
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.state.received).clone()
    }

    /// Requests to `path`.
    pub fn received_at(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// Forgets what was received.
    pub fn clear(&self) {
        lock(&self.state.received).clear();
    }

    /// The newsletters of `email`.
    pub fn newsletters_of(&self, email: &str) -> Option<BTreeSet<String>> {
        lock(&self.state.subscribers)
            .get(email)
            .map(|(_, newsletters)| newsletters.clone())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn error(status: StatusCode, code: i64, desc: &str) -> Response {
    (
        status,
        axum::Json(json!({"status": "error", "desc": desc, "code": code})),
    )
        .into_response()
}

fn ok(extra: Value) -> Response {
    let mut body = json!({"status": "ok"});
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// Records the request and applies the key check and the failure mode.
async fn gate(
    state: &FakeState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Value,
) -> Option<Response> {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    lock(&state.received).push(Received {
        method: method.to_string(),
        path: uri.path().to_owned(),
        content_type,
        body,
    });
    let mode = *lock(&state.mode);
    match mode {
        FakeMode::Normal => {}
        FakeMode::ServerError => {
            return Some(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                99,
                "Internal error",
            ));
        }
        FakeMode::Slow(wait) => tokio::time::sleep(wait).await,
        FakeMode::RateLimited(seconds) => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, 99, "Rate limit exceeded");
            response.headers_mut().insert(
                "retry-after",
                seconds.to_string().parse().expect("header value"),
            );
            return Some(response);
        }
        FakeMode::Unauthorized => {
            return Some(error(StatusCode::UNAUTHORIZED, 7, "Invalid API key"));
        }
        FakeMode::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT);
            return Some((status, "x".repeat(5000)).into_response());
        }
    }
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    if key != Some(state.api_key.as_str()) {
        return Some(error(StatusCode::UNAUTHORIZED, 7, "Invalid API key"));
    }
    None
}

fn has_content_type(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|value| value.starts_with(expected))
}

async fn amo_sync(
    State(state): State<Arc<FakeState>>,
    Path(kind): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let parsed: Result<Value, _> = serde_json::from_str(&body);
    let recorded = parsed
        .as_ref()
        .cloned()
        .unwrap_or(Value::String(body.clone()));
    if let Some(response) = gate(&state, &method, &uri, &headers, recorded).await {
        return response;
    }
    if !has_content_type(&headers, "application/json") {
        return error(
            StatusCode::BAD_REQUEST,
            5,
            "Content-Type must be application/json",
        );
    }
    let Ok(payload) = parsed else {
        return error(StatusCode::BAD_REQUEST, 5, "Invalid JSON");
    };
    let problem = match kind.as_str() {
        "userprofile" => check_user(&payload),
        "addon" => check_addon(&payload),
        _ => return error(StatusCode::NOT_FOUND, 5, "Unknown endpoint"),
    };
    match problem {
        Some(problem) => error(StatusCode::BAD_REQUEST, 5, &problem),
        None => ok(json!({})),
    }
}

async fn subscribe(
    State(state): State<Arc<FakeState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let form = parse_form(&body);
    if let Some(response) = gate(&state, &method, &uri, &headers, form_object(&form)).await {
        return response;
    }
    if !has_content_type(&headers, "application/x-www-form-urlencoded") {
        return error(StatusCode::BAD_REQUEST, 5, "form data expected");
    }
    let email = form.get("email").cloned().unwrap_or_default();
    if !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
        return error(StatusCode::BAD_REQUEST, 2, "Invalid email address");
    }
    let list = match newsletter_list(&form) {
        Ok(list) if !list.is_empty() => list,
        Ok(_) => return error(StatusCode::BAD_REQUEST, 9, "newsletters is required"),
        Err(unknown) => {
            return error(
                StatusCode::BAD_REQUEST,
                9,
                &format!("invalid newsletter: {unknown}"),
            );
        }
    };
    let mut subscribers = lock(&state.subscribers);
    let token = format!("token-{}", subscribers.len() + 1);
    let entry = subscribers.entry(email).or_insert((token, BTreeSet::new()));
    entry.1.extend(list);
    ok(json!({"token": entry.0}))
}

async fn lookup(
    State(state): State<Arc<FakeState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    if let Some(response) = gate(&state, &method, &uri, &headers, form_object(&query)).await {
        return response;
    }
    let email = query.get("email").cloned().unwrap_or_default();
    match lock(&state.subscribers).get(&email) {
        Some((token, _)) => ok(json!({"token": token, "email": email})),
        None => error(StatusCode::NOT_FOUND, 3, "User not found"),
    }
}

async fn unsubscribe(
    State(state): State<Arc<FakeState>>,
    Path(token): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let form = parse_form(&body);
    if let Some(response) = gate(&state, &method, &uri, &headers, form_object(&form)).await {
        return response;
    }
    let list = match newsletter_list(&form) {
        Ok(list) => list,
        Err(unknown) => {
            return error(
                StatusCode::BAD_REQUEST,
                9,
                &format!("invalid newsletter: {unknown}"),
            );
        }
    };
    let mut subscribers = lock(&state.subscribers);
    let Some((_, newsletters)) = subscribers.values_mut().find(|(t, _)| *t == token) else {
        return error(StatusCode::NOT_FOUND, 4, "Unknown token");
    };
    if form.get("optout").map(String::as_str) == Some("Y") {
        newsletters.clear();
    } else {
        for name in list {
            newsletters.remove(&name);
        }
    }
    ok(json!({}))
}

async fn unknown_endpoint(
    State(state): State<Arc<FakeState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Some(response) = gate(&state, &method, &uri, &headers, Value::Null).await {
        return response;
    }
    error(StatusCode::NOT_FOUND, 5, "Unknown endpoint")
}
