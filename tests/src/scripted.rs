//! A provider whose behaviour per object is scripted (fail, panic, hang, succeed), which
//! records every call and detects two calls for one object at the same time.

use outsync_core::mapping::ObjectMapping;
use outsync_core::schema::{ComputedFields, SourceSchema};
use outsync_core::{
    ConfiguredProvider, OutboundSyncProvider, SyncAction, SyncError, SyncOutcome, SyncRequest,
    async_trait,
};
use serde_json::Value;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A one-model schema: `Order` with `code` and `version`.
pub fn record_schema() -> SourceSchema {
    SourceSchema::from_json(
        r#"{"models": [{"name": "Order", "id_path": "code"}],
            "fields": [{"key": "code", "type": "string", "model": "Order", "path": "code"},
                       {"key": "version", "type": "number", "model": "Order", "path": "version"}]}"#,
        &ComputedFields::new(),
    )
    .expect("record schema")
}

/// One mapping on [`record_schema`]: each `Order` becomes a `records` object keyed by
/// `code`, with its `version`.
pub fn record_mappings() -> Vec<ObjectMapping> {
    ObjectMapping::load_all(
        r#"[{"id": "records", "source_model": "Order", "external_object_type": "records",
             "source_id_field": "code", "external_id_field": "code",
             "property_mappings": [{"source_field": "version", "external_field": "version"}]}]"#,
        &record_schema(),
    )
    .expect("record mappings")
}

/// Lets a test hold a call open: the call signals `entered`, then waits for `release`.
#[derive(Debug, Default)]
pub struct Gate {
    /// Signalled when the call starts.
    pub entered: tokio::sync::Notify,
    /// The call waits for this.
    pub release: tokio::sync::Notify,
}

/// One scripted reaction to a call.
#[derive(Debug, Clone)]
pub enum Step {
    /// Signal the gate, wait to be released, then succeed.
    Gate(std::sync::Arc<Gate>),
    /// Succeed.
    Ok,
    /// Fail recoverably.
    Recoverable,
    /// Fail recoverably, asking to wait.
    RetryAfter(Duration),
    /// Fail permanently.
    Permanent,
    /// Fail with a configuration error.
    Config,
    /// Panic.
    Panic,
    /// Never answer.
    Hang,
}

/// The scripted provider.
pub struct ScriptedProvider {
    identifier: String,
    mappings: Vec<ObjectMapping>,
    script: Mutex<HashMap<String, VecDeque<Step>>>,
    calls: Mutex<Vec<(String, Value)>>,
    active: Mutex<HashSet<String>>,
    overlaps: AtomicUsize,
    running: AtomicUsize,
    most_running: AtomicUsize,
    delay: Duration,
    max_attempts: u32,
}

impl ScriptedProvider {
    /// Its identifier.
    pub fn identifier(&self) -> &str {
        &self.identifier
    }

    /// The provider with its identifier and mappings, as the worker and queue take it.
    pub fn configured(self: &Arc<Self>) -> Arc<ConfiguredProvider> {
        Arc::new(ConfiguredProvider::new(
            self.identifier.clone(),
            self.mappings.clone(),
            self.clone(),
        ))
    }

    /// A provider named `identifier` that succeeds unless scripted otherwise.
    pub fn new(identifier: &str) -> Self {
        let mappings = record_mappings();
        Self {
            identifier: identifier.to_owned(),
            mappings,
            script: Mutex::default(),
            calls: Mutex::default(),
            active: Mutex::default(),
            overlaps: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            most_running: AtomicUsize::new(0),
            delay: Duration::ZERO,
            max_attempts: 5,
        }
    }

    /// Each call takes `delay` (simulating the external system's latency).
    #[must_use]
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Sets `max_attempts`.
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Scripts the next reactions for object `code`.
    pub fn script(&self, code: &str, steps: impl IntoIterator<Item = Step>) {
        self.script
            .lock()
            .expect("script")
            .entry(code.to_owned())
            .or_default()
            .extend(steps);
    }

    /// Every call so far: object code and the data sent.
    pub fn calls(&self) -> Vec<(String, Value)> {
        self.calls.lock().expect("calls").clone()
    }

    /// Calls for object `code`.
    pub fn calls_for(&self, code: &str) -> usize {
        self.calls().iter().filter(|(c, _)| c == code).count()
    }

    /// The most calls that ran at the same time.
    pub fn most_running(&self) -> usize {
        self.most_running.load(Ordering::SeqCst)
    }

    /// How often two calls for one object overlapped.
    pub fn overlaps(&self) -> usize {
        self.overlaps.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl OutboundSyncProvider for ScriptedProvider {
    fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    async fn sync_object_with_properties(
        &self,
        request: SyncRequest<'_>,
    ) -> Result<Option<SyncOutcome>, SyncError> {
        let code = request.id_value.to_owned();
        if !self.active.lock().expect("active").insert(code.clone()) {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        let step = self
            .script
            .lock()
            .expect("script")
            .get_mut(&code)
            .and_then(VecDeque::pop_front)
            .unwrap_or(Step::Ok);
        self.calls
            .lock()
            .expect("calls")
            .push((code.clone(), request.inputs.root_object().clone()));
        let now_running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_running.fetch_max(now_running, Ordering::SeqCst);
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        self.running.fetch_sub(1, Ordering::SeqCst);
        let result = match step {
            Step::Gate(gate) => {
                gate.entered.notify_one();
                gate.release.notified().await;
                Ok(Some(SyncOutcome::new(SyncAction::Update, &request)))
            }
            Step::Ok => Ok(Some(SyncOutcome::new(SyncAction::Update, &request))),
            Step::Recoverable => Err(SyncError::recoverable("target unavailable (HTTP 503)")),
            Step::RetryAfter(wait) => {
                Err(SyncError::recoverable("HTTP 429 Too Many Requests").with_retry_after(wait))
            }
            Step::Permanent => Err(SyncError::permanent(
                "target rejected the record (HTTP 400)",
            )),
            Step::Config => Err(SyncError::config("bad API key (HTTP 401)")),
            Step::Panic => {
                self.active.lock().expect("active").remove(&code);
                panic!("scripted panic for {code}")
            }
            Step::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(None)
            }
        };
        self.active.lock().expect("active").remove(&code);
        result
    }
}
