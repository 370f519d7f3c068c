//! A fake application API (AMO-like) for HTTP object sources: users and add-ons that tests
//! change between requests, a token endpoint, and switchable failures.
//!
//! - `GET /api/users/{id}/` → `{"data": user}`; `GET /api/addons/{id}/` → `{"data": addon}`
//!   (the add-on embeds its authors' current records);
//! - `GET /api/users/{id}/addons/` → `{"ids": [...]}`, the add-ons the user authors;
//! - `POST /api/token/` with `{"username", "password"}` → `{"token", "expires_in"}`.
//!
//! Every `GET` needs `Authorization: Bearer <a token issued here>` when a password is set.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the fake answers `GET`s until changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppMode {
    /// Normally.
    Normal,
    /// With this status (and for 429 and 503 a `Retry-After: 7`).
    Status(u16),
    /// After this long.
    Slow(Duration),
}

#[derive(Debug, Default)]
struct AppState {
    users: BTreeMap<String, Value>,
    addons: BTreeMap<String, Value>,
    authors: BTreeMap<String, Vec<String>>,
    mode: Option<AppMode>,
    password: Option<(String, String)>,
    tokens: HashSet<String>,
    issued: usize,
    gets: usize,
    delay: Duration,
}

/// The running fake; dropping it stops it.
pub struct FakeApp {
    /// `http://127.0.0.1:PORT/api`.
    pub base_url: String,
    state: Arc<Mutex<AppState>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

type Shared = State<Arc<Mutex<AppState>>>;

fn lock(state: &Mutex<AppState>) -> std::sync::MutexGuard<'_, AppState> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn gate(state: &Mutex<AppState>, headers: &HeaderMap) -> Option<Response> {
    let (mode, delay, needs_token, token_ok) = {
        let mut app = lock(state);
        app.gets += 1;
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let token_ok = bearer.is_some_and(|token| app.tokens.contains(&token));
        (
            app.mode.unwrap_or(AppMode::Normal),
            app.delay,
            app.password.is_some(),
            token_ok,
        )
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match mode {
        AppMode::Normal => {}
        AppMode::Slow(wait) => tokio::time::sleep(wait).await,
        AppMode::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT);
            let mut response = (status, "switched by the test").into_response();
            if code == 429 || code == 503 {
                response
                    .headers_mut()
                    .insert("retry-after", "7".parse().expect("header"));
            }
            return Some(response);
        }
    }
    if needs_token && !token_ok {
        return Some((StatusCode::UNAUTHORIZED, "token missing or expired").into_response());
    }
    None
}

async fn user(State(state): Shared, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Some(refused) = gate(&state, &headers).await {
        return refused;
    }
    match lock(&state).users.get(&id) {
        Some(user) => axum::Json(json!({"data": user})).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn addon(State(state): Shared, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Some(refused) = gate(&state, &headers).await {
        return refused;
    }
    let app = lock(&state);
    let Some(addon) = app.addons.get(&id) else {
        return StatusCode::GONE.into_response();
    };
    let mut addon = addon.clone();
    let authors: Vec<Value> = app
        .authors
        .iter()
        .filter(|(_, addons)| addons.contains(&id))
        .filter_map(|(user, _)| app.users.get(user).cloned())
        .collect();
    addon["authors"] = Value::Array(authors);
    axum::Json(json!({"data": addon})).into_response()
}

async fn authored(State(state): Shared, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Some(refused) = gate(&state, &headers).await {
        return refused;
    }
    let ids = lock(&state).authors.get(&id).cloned().unwrap_or_default();
    axum::Json(json!({"ids": ids})).into_response()
}

async fn token(State(state): Shared, axum::Json(body): axum::Json<Value>) -> Response {
    let mut app = lock(&state);
    let given = (
        body["username"].as_str().unwrap_or_default().to_owned(),
        body["password"].as_str().unwrap_or_default().to_owned(),
    );
    if app.password.as_ref() != Some(&given) {
        return (StatusCode::UNAUTHORIZED, "bad credentials").into_response();
    }
    app.issued += 1;
    let token = format!("issued-token-{}", app.issued);
    app.tokens.insert(token.clone());
    axum::Json(json!({"token": token, "expires_in": 3600})).into_response()
}

impl FakeApp {
    /// Starts the fake on a loopback port.
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(AppState::default()));
        let app = axum::Router::new()
            .route("/api/users/{id}/", get(user))
            .route("/api/users/{id}/addons/", get(authored))
            .route("/api/addons/{id}/", get(addon))
            .route("/api/token/", post(token))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base_url: format!("http://{address}/api"),
            state,
            server,
        }
    }

    /// Adds or replaces user `id`.
    pub fn set_user(&self, id: &str, user: Value) {
        lock(&self.state).users.insert(id.to_owned(), user);
    }

    /// Adds or replaces add-on `id`, authored by `authors`.
    pub fn set_addon(&self, id: &str, addon: Value, authors: &[&str]) {
        let mut app = lock(&self.state);
        app.addons.insert(id.to_owned(), addon);
        for author in authors {
            let authored = app.authors.entry((*author).to_owned()).or_default();
            if !authored.iter().any(|a| a == id) {
                authored.push(id.to_owned());
            }
        }
    }

    /// Removes user `id` (its `GET` answers 404).
    pub fn remove_user(&self, id: &str) {
        lock(&self.state).users.remove(id);
    }

    /// Switches the answers of every `GET`.
    pub fn set_mode(&self, mode: AppMode) {
        lock(&self.state).mode = Some(mode);
    }

    /// Every `GET` takes `delay` (for benchmarks).
    pub fn set_delay(&self, delay: Duration) {
        lock(&self.state).delay = delay;
    }

    /// Requires a bearer token issued for `user` and `password`.
    pub fn require_login(&self, user: &str, password: &str) {
        lock(&self.state).password = Some((user.to_owned(), password.to_owned()));
    }

    /// Accepts `token` as if it had been issued (a static token the operator was given);
    /// from then on every `GET` needs a token.
    pub fn accept_token(&self, token: &str) {
        let mut app = lock(&self.state);
        app.tokens.insert(token.to_owned());
        if app.password.is_none() {
            app.password = Some((String::new(), String::new()));
        }
    }

    /// Forgets every issued token (as when they expire server-side).
    pub fn expire_tokens(&self) {
        lock(&self.state).tokens.clear();
    }

    /// How many tokens were issued.
    pub fn tokens_issued(&self) -> usize {
        lock(&self.state).issued
    }

    /// How many `GET`s arrived.
    pub fn gets(&self) -> usize {
        lock(&self.state).gets
    }
}
