//! The mailing-list provider against a real Mailman 3 (see `scripts/mailman.sh`).

use outsync_core::schema::SourceSchema;
use outsync_core::{
    ConfiguredProvider, ObjectRef, ProviderConfig, ProviderType, SyncAction, SyncError, async_trait,
};
use outsync_mailing_list::{
    AdmissionPolicy, Joined, ListBackend, MailingListProvider, Member, MembershipPolicy,
};
use outsync_queue::{EnqueueOptions, RunOutcome, Worker, WorkerConfig};
use outsync_queue::{JobFilter, Queue, RetryPolicy, connect};
use outsync_testkit::{Fixture, Records, Scenarios, Target};
use outsync_tests::db::temp_dir;
use outsync_tests::mailman::MailmanServer;
use outsync_tests::schema::{pending_order, pretix_schema};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The Mailman tests share one server and one of them stops it: one at a time.
pub(super) static MAILMAN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub(super) const DOMAIN: &str = "lists.example.org";

pub(super) fn server() -> Option<MailmanServer> {
    let server = MailmanServer::from_env();
    assert!(
        server.is_some() || std::env::var("CI").is_err(),
        "CI must run the Mailman tests: set OUTSYNC_TEST_MAILMAN_URL (see .ci/run)"
    );
    if server.is_none() {
        eprintln!(
            "OUTSYNC_TEST_MAILMAN_URL is not set: Mailman tests need `scripts/mailman.sh start` (CI does it)"
        );
    }
    server
}

pub(super) fn unique(label: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{label}-{}-{nanos:x}", std::process::id())
}

fn mapping(list: &str) -> Value {
    json!([{"id": "attendees", "source_model": "OrderPosition", "external_object_type": list,
    "source_id_field": "attendee_email", "external_id_field": "email",
    "property_mappings": [
        {"source_field": "attendee_name", "external_field": "display_name"},
        {"source_field": "order_status", "external_field": "subscribed",
         "value_map": {"n": true, "p": true, "e": false, "c": false, "r": false}}
    ]}])
}

fn settings(server: &MailmanServer, password: &str, list: &str) -> Value {
    json!({"base_url": server.base_url, "user": server.user, "password": password, "timeout_seconds": 5,
           "max_attempts": 100, "mappings": mapping(list)})
}

fn config(server: &MailmanServer, password: &str, list: &str) -> ProviderConfig {
    ProviderConfig {
        settings: settings(server, password, list),
        schema: Arc::new(pretix_schema()),
    }
}

fn provider(server: &MailmanServer, password: &str, list: &str) -> ConfiguredProvider {
    MailingListProvider::configure(&config(server, password, list)).unwrap()
}

fn order(index: usize, status: &str) -> Value {
    let mut order = pending_order();
    order["code"] = json!(format!("O{index}"));
    order["status"] = json!(status);
    for position in 0..2 {
        order["positions"][position]["attendee_email"] =
            json!(format!("o{index}p{position}@example.org"));
        order["positions"][position]["attendee_name"] =
            json!(format!("Attendee {index}-{position}"));
    }
    order
}

fn expected(range: std::ops::Range<usize>) -> BTreeMap<String, String> {
    range
        .flat_map(|i| {
            (0..2).map(move |p| (format!("o{i}p{p}@example.org"), format!("Attendee {i}-{p}")))
        })
        .collect()
}

/// Mailman seen through a counter and a switch: roster reads and writes are counted, and
/// while `unavailable` every call fails as an unreachable service does.
#[derive(Debug)]
struct Counting {
    inner: Arc<dyn ListBackend>,
    roster_reads: AtomicUsize,
    lookups: AtomicUsize,
    writes: AtomicUsize,
    unavailable: std::sync::atomic::AtomicBool,
    /// The list whose members are the scenarios' records.
    list: String,
}

impl Counting {
    fn new(inner: Arc<dyn ListBackend>, list: &str) -> Self {
        Self {
            inner,
            roster_reads: AtomicUsize::new(0),
            lookups: AtomicUsize::new(0),
            writes: AtomicUsize::new(0),
            unavailable: std::sync::atomic::AtomicBool::new(false),
            list: list.to_owned(),
        }
    }

    fn gate(&self, write: bool) -> Result<(), SyncError> {
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(SyncError::unavailable(
                "Mailman is unreachable (switched off by the test)",
            ));
        }
        if write {
            self.writes.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

#[async_trait]
impl Target for Counting {
    async fn records(&self) -> Result<Records, String> {
        let roster = self
            .inner
            .roster(&self.list)
            .await
            .map_err(|e| e.to_string())?;
        let mut records = Records::new();
        for member in roster {
            let record = json!({"name": member.display_name, "mode": member.delivery_mode});
            records.entry(member.email).or_default().push(record);
        }
        Ok(records)
    }

    async fn writes(&self) -> Result<usize, String> {
        Ok(self.writes.load(Ordering::SeqCst))
    }

    async fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }
}

#[async_trait]
impl ListBackend for Counting {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn roster(&self, list: &str) -> Result<Vec<Member>, SyncError> {
        self.gate(false)?;
        self.roster_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.roster(list).await
    }
    async fn find(&self, list: &str, email: &str) -> Result<Vec<Member>, SyncError> {
        self.gate(false)?;
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.inner.find(list, email).await
    }
    async fn subscribe(
        &self,
        list: &str,
        email: &str,
        name: Option<&str>,
        policy: AdmissionPolicy,
    ) -> Result<Joined, SyncError> {
        self.gate(false)?;
        let joined = self.inner.subscribe(list, email, name, policy).await?;
        if matches!(joined, Joined::Member(_) | Joined::Pending(_)) {
            self.writes.fetch_add(1, Ordering::SeqCst);
        }
        Ok(joined)
    }
    async fn set_display_name(&self, member: &Member, name: &str) -> Result<(), SyncError> {
        self.gate(true)?;
        self.inner.set_display_name(member, name).await
    }
    async fn set_delivery_mode(&self, member: &Member, mode: &str) -> Result<(), SyncError> {
        self.gate(true)?;
        self.inner.set_delivery_mode(member, mode).await
    }
    async fn unsubscribe(&self, member: &Member) -> Result<(), SyncError> {
        self.gate(true)?;
        self.inner.unsubscribe(member).await
    }
}

async fn enqueue_orders(
    queue: &Queue,
    db: &sea_orm::DatabaseConnection,
    orders: impl IntoIterator<Item = (usize, &'static str)>,
) {
    for (index, status) in orders {
        let options = EnqueueOptions {
            snapshot: Some(order(index, status)),
            ..EnqueueOptions::default()
        };
        queue
            .enqueue(
                db,
                "mailing_list",
                &ObjectRef::new("Order", format!("O{index}")),
                "test",
                options,
            )
            .await
            .unwrap();
    }
}

async fn actions(
    queue: &Queue,
    db: &sea_orm::DatabaseConnection,
    count: u64,
) -> BTreeMap<String, usize> {
    let mut totals = BTreeMap::new();
    for run in queue.recent_runs(db, count, None).await.unwrap() {
        for (action, n) in run.actions {
            *totals.entry(action).or_insert(0) += usize::try_from(n).unwrap();
        }
    }
    totals
}

#[tokio::test]
async fn orders_become_list_members_and_leave_as_they_should() {
    let Some(server) = server() else { return };
    let _turn = MAILMAN.lock().await;
    let list = server.create_list(&unique("attendees"), DOMAIN).await;
    let real = provider(&server, &server.password.clone(), &list);
    let schema: Arc<SourceSchema> = Arc::new(pretix_schema());
    let mailman: Arc<dyn ListBackend> = Arc::new(
        outsync_mailing_list::MailmanBackend::new(
            &server.base_url,
            &server.user,
            &server.password,
            Duration::from_secs(5),
        )
        .unwrap(),
    );
    let counting = Arc::new(Counting::new(mailman, &list));
    let mappings =
        outsync_core::mapping::ObjectMapping::load_value(&mapping(&list), &schema).unwrap();
    let provider = Arc::new(ConfiguredProvider::new(
        outsync_mailing_list::IDENTIFIER,
        mappings,
        Arc::new(MailingListProvider::new(
            counting.clone(),
            MembershipPolicy::default(),
        )),
    ));
    drop(real);
    let db = connect(&format!(
        "sqlite://{}?mode=rwc",
        temp_dir("mailman").join("q.db").display()
    ))
    .await
    .unwrap();
    let queue = Queue::new(["mailing_list"]);
    let worker = Worker::new(
        db.clone(),
        queue.clone(),
        vec![provider.clone()],
        WorkerConfig::default(),
    );

    enqueue_orders(&queue, &db, (0..50).map(|i| (i, "p"))).await;
    let summary = worker.drain().await.unwrap();
    assert_eq!(summary.count(RunOutcome::Success), 50, "{summary:?}");
    assert_eq!(
        server.roster(&list).await,
        expected(0..50),
        "exactly the expected members, with their names"
    );
    assert_eq!(
        counting.roster_reads.load(Ordering::SeqCst),
        0,
        "the provider never reads the whole roster"
    );
    assert_eq!(
        counting.lookups.load(Ordering::SeqCst),
        100,
        "one lookup per address"
    );
    assert_eq!(
        actions(&queue, &db, 50).await,
        BTreeMap::from([("create".to_owned(), 100)])
    );

    enqueue_orders(&queue, &db, (0..50).map(|i| (i, "p"))).await;
    worker.drain().await.unwrap();
    assert_eq!(
        actions(&queue, &db, 50).await,
        BTreeMap::from([("nothing_to_do".to_owned(), 100)]),
        "a second sync changes nothing"
    );
    assert_eq!(server.roster(&list).await, expected(0..50));

    // Order 0 is canceled; the first attendee of order 1 leaves the list in Mailman.
    server.leave(&list, "o1p0@example.org").await;
    enqueue_orders(&queue, &db, [(0, "c"), (1, "p")]).await;
    worker.drain().await.unwrap();
    let roster = server.roster(&list).await;
    let mut wanted = expected(2..50);
    wanted.insert("o1p1@example.org".into(), "Attendee 1-1".into());
    assert_eq!(
        roster, wanted,
        "canceled order unsubscribed; the leaver is not subscribed again"
    );
    let results = queue
        .results(&db, &ObjectRef::new("Order", "O1"), None)
        .await
        .unwrap();
    let leaver = results
        .iter()
        .find(|r| r.id_value == "o1p0@example.org")
        .unwrap();
    assert_eq!(leaver.action, SyncAction::NothingToDo);
    assert!(
        leaver.info["note"]
            .as_str()
            .unwrap()
            .starts_with("left the list (noticed 20"),
        "{:?}",
        leaver.info
    );
    let canceled = queue
        .results(&db, &ObjectRef::new("Order", "O0"), None)
        .await
        .unwrap();
    assert!(
        canceled.iter().all(|r| r.action == SyncAction::Delete),
        "{canceled:?}"
    );
}

#[tokio::test]
async fn a_renamed_attendee_is_updated_in_place() {
    let Some(server) = server() else { return };
    let _turn = MAILMAN.lock().await;
    let list = server.create_list(&unique("rename"), DOMAIN).await;
    let provider = provider(&server, &server.password.clone(), &list);
    let reference = ObjectRef::new("Order", "O1007");
    outsync_core::sync_object(&provider, &reference, &order(1007, "n"))
        .await
        .unwrap();
    let mut renamed = order(1007, "p");
    renamed["positions"][1]["attendee_name"] = json!("Grace B. Hopper");
    let report = outsync_core::sync_object(&provider, &reference, &renamed)
        .await
        .unwrap();
    let actions: Vec<String> = report
        .mapped_objects
        .get("attendees")
        .iter()
        .map(|r| r.outcome.action.to_string())
        .collect();
    assert_eq!(actions, ["nothing_to_do", "update"]);
    assert_eq!(
        server.roster(&list).await["o1007p1@example.org"],
        "Grace B. Hopper"
    );
}

#[tokio::test]
async fn wrong_credentials_and_unknown_lists_are_config_errors() {
    let Some(server) = server() else { return };
    let _turn = MAILMAN.lock().await;
    let list = server.create_list(&unique("auth"), DOMAIN).await;
    let reference = ObjectRef::new("Order", "O1");
    let wrong = provider(&server, "not-the-password", &list);
    let error = outsync_core::sync_object(&wrong, &reference, &order(1, "p"))
        .await
        .unwrap_err();
    assert!(matches!(error, SyncError::Config { .. }), "{error:?}");
    assert_eq!(
        error.messages()[0],
        format!(
            "mapping attendees, OrderPosition 1: looking up o1p0@example.org in list {list}: Mailman refused the REST credentials of user \"{}\" (HTTP 401); check the provider's user and password settings",
            server.user
        )
    );
    assert!(
        !format!(
            "{error:?}{:?}",
            MailingListProvider::from_settings(&config(&server, "not-the-password", &list))
        )
        .contains("not-the-password"),
        "the password never appears"
    );

    let missing = format!("no-such-list@{DOMAIN}");
    let unknown = provider(&server, &server.password.clone(), &missing);
    let error = outsync_core::sync_object(&unknown, &reference, &order(1, "p"))
        .await
        .unwrap_err();
    assert!(matches!(error, SyncError::Config { .. }), "{error:?}");
    assert!(
        error.messages()[0].contains(&format!(
            "to list {missing}: Mailman has no such list; create it or fix the mapping's external_object_type"
        )),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn mailman_down_mid_run_then_back_loses_nothing() {
    let Some(server) = server() else { return };
    let _turn = MAILMAN.lock().await;
    let list = server.create_list(&unique("outage"), DOMAIN).await;
    let provider = Arc::new(provider(&server, &server.password.clone(), &list));
    let db = connect(&format!(
        "sqlite://{}?mode=rwc",
        temp_dir("outage").join("q.db").display()
    ))
    .await
    .unwrap();
    let queue = Queue::new(["mailing_list"]);
    let config = WorkerConfig {
        concurrency: 1,
        poll_interval: Duration::from_millis(100),
        retry: RetryPolicy {
            base: Duration::from_millis(300),
            cap: Duration::from_secs(2),
            jitter: 0.1,
            ..RetryPolicy::default()
        },
        ..WorkerConfig::default()
    };
    let worker = Worker::new(db.clone(), queue.clone(), vec![provider], config);
    enqueue_orders(&queue, &db, (0..80).map(|i| (i, "p"))).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        worker
            .run(async {
                stopped.await.ok();
            })
            .await
            .unwrap()
    });
    while server.roster(&list).await.len() < 10 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.control("stop");
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.control("start");
    let started = std::time::Instant::now();
    while queue.stats(&db).await.unwrap().jobs() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "jobs did not complete after Mailman came back"
        );
        let failed = queue
            .list_jobs(
                &db,
                &JobFilter {
                    state: Some(outsync_queue::StateFilter::Stopped),
                    ..JobFilter::default()
                },
            )
            .await
            .unwrap();
        assert!(failed.is_empty(), "no job may give up: {failed:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.send(()).unwrap();
    let summary = running.await.unwrap();
    assert!(
        summary.count(RunOutcome::Retry) + summary.count(RunOutcome::Snoozed) > 0,
        "the outage made jobs wait: {summary:?}"
    );
    assert_eq!(summary.count(RunOutcome::Success), 80);
    assert_eq!(
        server.roster(&list).await,
        expected(0..80),
        "no member lost or duplicated"
    );
}

/// Orders whose two attendees join the list; versions differ in the attendees' names.
struct Attendees;

impl Fixture for Attendees {
    fn object(&self, key: &str, version: u32) -> (ObjectRef, Value) {
        let mut order = pending_order();
        order["code"] = json!(key);
        order["status"] = json!("p");
        for position in 0..2 {
            order["positions"][position]["attendee_email"] =
                json!(format!("{key}-{position}@example.org"));
            order["positions"][position]["attendee_name"] =
                json!(format!("Attendee {position} v{version}"));
        }
        (ObjectRef::new("Order", key), order)
    }

    /// Two orders with the same attendees.
    fn sharing(&self, key: &str, index: usize) -> (ObjectRef, Value) {
        let (_, mut order) = self.object(key, 1);
        let code = format!("{key}-order{index}");
        order["code"] = json!(code);
        (ObjectRef::new("Order", code), order)
    }
}

#[tokio::test]
async fn real_mailman_passes_the_standard_provider_scenarios() {
    let Some(server) = server() else { return };
    let _turn = MAILMAN.lock().await;
    let list = server.create_list(&unique("scenarios"), DOMAIN).await;
    let mailman: Arc<dyn ListBackend> = Arc::new(
        outsync_mailing_list::MailmanBackend::new(
            &server.base_url,
            &server.user,
            &server.password,
            Duration::from_secs(5),
        )
        .unwrap(),
    );
    let counting = Arc::new(Counting::new(mailman, &list));
    let mappings =
        outsync_core::mapping::ObjectMapping::load_value(&mapping(&list), &pretix_schema())
            .unwrap();
    let provider = ConfiguredProvider::new(
        outsync_mailing_list::IDENTIFIER,
        mappings,
        Arc::new(MailingListProvider::new(
            counting.clone(),
            MembershipPolicy::default(),
        )),
    );
    Scenarios::new(&provider, counting.as_ref(), &Attendees, unique("o"))
        .run_all()
        .await
        .unwrap();
}
