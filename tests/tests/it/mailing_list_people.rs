//! Membership per person against a real Mailman 3: an address is on the list while at
//! least one live order holds it, whatever the other orders do, at the worker's default
//! concurrency (16). Each test is one defect found with real data; the last one is the
//! whole story (50 orders, shared addresses, cancellations, leavers, a corrected address,
//! an outage).

use super::mailing_list::{DOMAIN, MAILMAN, server, unique};
use outsync_core::{ObjectRef, ProviderConfig, ProviderType};
use outsync_mailing_list::MailingListProvider;
use outsync_queue::{EnqueueOptions, JobFilter, Queue, RunOutcome, StateFilter, Worker};
use outsync_queue::{WorkSummary, WorkerConfig, connect, sea_orm::DatabaseConnection};
use outsync_tests::db::temp_dir;
use outsync_tests::mailman::MailmanServer;
use outsync_tests::schema::{pending_order, pretix_schema};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// The attendees of an order: (address, name) per position.
type Attendees<'a> = [(&'a str, &'a str); 2];

/// An order with `status` and two attendees.
fn order(code: &str, status: &str, attendees: Attendees<'_>) -> Value {
    let mut order = pending_order();
    order["code"] = json!(code);
    order["status"] = json!(status);
    for (position, (email, name)) in attendees.iter().enumerate() {
        order["positions"][position]["attendee_email"] = json!(email);
        order["positions"][position]["attendee_name"] = json!(name);
    }
    order
}

/// A list, the provider configured from settings as a user would, and a worker with the
/// default configuration (concurrency 16) on an SQLite queue.
struct Setup {
    server: MailmanServer,
    list: String,
    db: DatabaseConnection,
    queue: Queue,
    worker: Worker,
    provider: Arc<outsync_core::ConfiguredProvider>,
}

impl Setup {
    async fn new(server: MailmanServer, label: &str) -> Self {
        let list = server.create_list(&unique(label), DOMAIN).await;
        Self::for_list(server, list).await
    }

    async fn for_list(server: MailmanServer, list: String) -> Self {
        let settings = json!({
            "base_url": server.base_url, "user": server.user, "password": server.password,
            "timeout_seconds": 10,
            "mappings": [{"id": "attendees", "source_model": "OrderPosition",
                "external_object_type": list,
                "source_id_field": "attendee_email", "external_id_field": "email",
                "property_mappings": [
                    {"source_field": "attendee_name", "external_field": "display_name"},
                    {"source_field": "order_status", "external_field": "subscribed",
                     "value_map": {"n": true, "p": true, "e": false, "c": false}}]}]});
        let provider = Arc::new(
            MailingListProvider::configure(&ProviderConfig {
                settings,
                schema: Arc::new(pretix_schema()),
            })
            .unwrap(),
        );
        let db = connect(&format!(
            "sqlite://{}?mode=rwc",
            temp_dir("people").join("q.db").display()
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
        Self {
            server,
            list,
            db,
            queue,
            worker,
            provider,
        }
    }

    /// Enqueues the orders and runs every job with the worker.
    async fn sync(&self, orders: &[(String, Value)]) -> WorkSummary {
        for (code, data) in orders {
            let options = EnqueueOptions {
                snapshot: Some(data.clone()),
                ..EnqueueOptions::default()
            };
            self.queue
                .enqueue(
                    &self.db,
                    "mailing_list",
                    &ObjectRef::new("Order", code.as_str()),
                    "test",
                    options,
                )
                .await
                .unwrap();
        }
        self.worker.drain().await.unwrap()
    }

    /// Syncs and asserts that every job succeeded at its first attempt.
    async fn sync_cleanly(&self, orders: &[(String, Value)]) {
        let summary = self.sync(orders).await;
        assert_eq!(
            summary.count(RunOutcome::Success),
            orders.len(),
            "every job succeeds at once: {summary:?}; stopped: {:?}",
            self.stopped().await
        );
    }

    /// The stopped jobs and their errors.
    async fn stopped(&self) -> Vec<String> {
        let filter = JobFilter {
            state: Some(StateFilter::Stopped),
            ..JobFilter::default()
        };
        let jobs = self.queue.list_jobs(&self.db, &filter).await.unwrap();
        jobs.iter()
            .map(|job| format!("{}: {:?}", job.object, job.last_error))
            .collect()
    }

    /// Every membership of the list (an address twice if it is a member twice).
    async fn memberships(&self) -> Vec<String> {
        self.server.memberships(&self.list).await
    }
}

fn sorted(emails: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut emails: Vec<String> = emails.into_iter().collect();
    emails.sort();
    emails
}

#[tokio::test(flavor = "multi_thread")]
async fn a_canceled_order_does_not_remove_a_person_a_live_order_still_holds() {
    let Some(server) = server() else { return };
    let _turn = MAILMAN.lock().await;
    let setup = Setup::new(server, "held").await;
    let live = (
        "A".to_owned(),
        order("A", "p", [("x@example.org", "X"), ("a@example.org", "A")]),
    );
    let canceled = (
        "B".to_owned(),
        order("B", "c", [("x@example.org", "X"), ("b@example.org", "B")]),
    );
    setup.sync_cleanly(std::slice::from_ref(&live)).await;
    setup.sync_cleanly(std::slice::from_ref(&canceled)).await;
    assert_eq!(
        setup.memberships().await,
        ["a@example.org", "x@example.org"],
        "x@ still holds live order A"
    );
    setup.sync_cleanly(&[live]).await;
    assert_eq!(
        setup.memberships().await,
        ["a@example.org", "x@example.org"]
    );
    let results = setup
        .queue
        .results(&setup.db, &ObjectRef::new("Order", "A"), None)
        .await
        .unwrap();
    assert!(
        results
            .iter()
            .all(|result| result.info.get("note").is_none()),
        "nobody left: {results:?}"
    );
}

/// Orders in pairs: each pair shares its first attendee; every second attendee is the
/// order's own.
fn pairs(round: &str, count: usize) -> Vec<(String, Value)> {
    (0..count)
        .map(|index| {
            let code = format!("{round}-{index}");
            let shared = format!("{round}-shared{}@example.org", index / 2);
            let own = format!("{round}-own{index}@example.org");
            let data = order(&code, "p", [(&shared, "Shared"), (&own, "Own")]);
            (code, data)
        })
        .collect()
}

fn pair_addresses(round: &str, count: usize) -> Vec<String> {
    sorted((0..count).flat_map(|index| {
        [
            format!("{round}-shared{}@example.org", index / 2),
            format!("{round}-own{index}@example.org"),
        ]
    }))
    .into_iter()
    .collect::<BTreeSet<_>>()
    .into_iter()
    .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn orders_sharing_a_new_address_synced_at_once_end_in_one_membership_each() {
    let Some(server) = server() else { return };
    let _turn = MAILMAN.lock().await;
    let setup = Setup::new(server, "race").await;
    let mut expected = Vec::new();
    for round in ["r1", "r2", "r3"] {
        setup.sync_cleanly(&pairs(round, 32)).await;
        expected.extend(pair_addresses(round, 32));
        assert_eq!(
            setup.memberships().await,
            sorted(expected.clone()),
            "round {round}: everyone once, nobody twice"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn orders_sharing_an_address_mailman_already_knows_end_in_one_membership_each() {
    let Some(server) = server() else { return };
    let _turn = MAILMAN.lock().await;
    // The addresses are known to Mailman from another list.
    let other = server.create_list(&unique("other"), DOMAIN).await;
    let orders = pairs("known", 32);
    for shared in 0..16 {
        server
            .join(&other, &format!("known-shared{shared}@example.org"))
            .await;
    }
    let setup = Setup::new(server, "known").await;
    setup.sync_cleanly(&orders).await;
    assert_eq!(
        setup.memberships().await,
        pair_addresses("known", 32),
        "everyone once, nobody twice"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corrected_attendee_address_joins_and_the_old_one_leaves() {
    let Some(server) = server() else { return };
    let _turn = MAILMAN.lock().await;
    let setup = Setup::new(server, "moved").await;
    let first = order(
        "M",
        "p",
        [("typo@exmaple.org", "T"), ("m@example.org", "M")],
    );
    setup.sync_cleanly(&[("M".to_owned(), first)]).await;
    assert_eq!(
        setup.memberships().await,
        ["m@example.org", "typo@exmaple.org"]
    );
    let corrected = order(
        "M",
        "p",
        [("typo@example.org", "T"), ("m@example.org", "M")],
    );
    setup.sync_cleanly(&[("M".to_owned(), corrected)]).await;
    assert_eq!(
        setup.memberships().await,
        ["m@example.org", "typo@example.org"],
        "the corrected address is on the list, the old one is not"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_who_left_stays_off_when_their_canceled_order_is_reactivated() {
    let Some(server) = server() else { return };
    let _turn = MAILMAN.lock().await;
    let setup = Setup::new(server, "leaver").await;
    let attendees = [("leaver@example.org", "L"), ("stayer@example.org", "S")];
    let sync = |status: &str| vec![("R".to_owned(), order("R", status, attendees))];
    setup.sync_cleanly(&sync("p")).await;
    setup.server.leave(&setup.list, "leaver@example.org").await;
    setup.sync_cleanly(&sync("c")).await;
    assert_eq!(setup.memberships().await, Vec::<String>::new());
    setup.sync_cleanly(&sync("p")).await;
    assert_eq!(
        setup.memberships().await,
        ["stayer@example.org"],
        "the person who left is not subscribed again; the other attendee is"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn orders_into_a_large_list_are_looked_up_address_by_address() {
    let Some(server) = server() else { return };
    let _turn = MAILMAN.lock().await;
    let list = server.create_list(&unique("large"), DOMAIN).await;
    server.add_members(&list, (0..3000).map(|i| format!("existing{i}@example.org")));
    let id = list.replacen('@', ".", 1);
    let roster_reads = format!("/3.1/lists/{id}/roster/");
    let lookups = format!("/3.1/members/find?list_id={id}&");
    let setup = Setup::for_list(server, list).await;
    let before = (
        setup.server.logged_requests(&roster_reads),
        setup.server.logged_requests(&lookups),
    );
    setup.sync_cleanly(&pairs("large", 32)).await;
    let after = (
        setup.server.logged_requests(&roster_reads),
        setup.server.logged_requests(&lookups),
    );
    assert_eq!(after.0, before.0, "the sync never read the whole roster");
    assert_eq!(
        after.1 - before.1,
        64,
        "one lookup per position (32 orders × 2)"
    );
    let members = setup.memberships().await;
    assert_eq!(members.len(), 3000 + 48);
    assert_eq!(
        members
            .iter()
            .filter(|email| email.starts_with("large-"))
            .cloned()
            .collect::<Vec<_>>(),
        pair_addresses("large", 32)
    );
}

/// The story: 50 orders × 2 attendees, 16 addresses on two orders, 3 canceled orders.
struct Story {
    orders: BTreeMap<usize, (String, Attendees<'static>)>,
}

impl Story {
    fn new() -> Self {
        let address =
            |n: usize| -> &'static str { Box::leak(format!("p{n}@example.org").into_boxed_str()) };
        let mut orders = BTreeMap::new();
        for index in 0..50 {
            // Orders 0..16 share their first attendee with order index + 16.
            let first = if (16..32).contains(&index) {
                index - 16
            } else {
                index
            };
            let attendees = [(address(first), "First"), (address(100 + index), "Second")];
            let status = if [40, 41, 42].contains(&index) {
                "c"
            } else {
                "p"
            };
            orders.insert(index, (status.to_owned(), attendees));
        }
        Self { orders }
    }

    fn jobs(&self, indexes: impl IntoIterator<Item = usize>) -> Vec<(String, Value)> {
        indexes
            .into_iter()
            .map(|index| {
                let (status, attendees) = &self.orders[&index];
                let code = format!("S{index}");
                let data = order(&code, status, *attendees);
                (code, data)
            })
            .collect()
    }

    fn all(&self) -> Vec<(String, Value)> {
        self.jobs(self.orders.keys().copied())
    }

    /// The addresses with a live order, minus `left`.
    fn expected(&self, left: &BTreeSet<&str>) -> Vec<String> {
        let live: BTreeSet<String> = self
            .orders
            .values()
            .filter(|(status, _)| status == "p")
            .flat_map(|(_, attendees)| attendees.iter().map(|(email, _)| (*email).to_owned()))
            .filter(|email| !left.contains(email.as_str()))
            .collect();
        live.into_iter().collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_orders_with_shared_addresses_cancellations_leavers_and_an_outage() {
    let Some(server) = server() else { return };
    let _turn = MAILMAN.lock().await;
    let setup = Setup::new(server, "story").await;
    let mut story = Story::new();
    let mut left = BTreeSet::new();
    setup.sync_cleanly(&story.all()).await;
    assert_eq!(
        setup.memberships().await,
        story.expected(&left),
        "first sync"
    );

    // Cancel 3 more: orders 0 and 1 share their first attendee with live orders 16 and 17,
    // order 45 shares nothing.
    for index in [0, 1, 45] {
        story.orders.get_mut(&index).unwrap().0 = "c".to_owned();
    }
    setup.sync_cleanly(&story.jobs([0, 1, 45])).await;
    let members = setup.memberships().await;
    assert_eq!(members, story.expected(&left), "after 3 more cancellations");
    assert!(
        members.contains(&"p0@example.org".to_owned())
            && !members.contains(&"p100@example.org".to_owned())
    );

    // Three people unsubscribe in Mailman; their orders are synced again.
    for email in ["p2@example.org", "p103@example.org", "p133@example.org"] {
        setup.server.leave(&setup.list, email).await;
        left.insert(email);
    }
    setup.sync_cleanly(&story.jobs([2, 18, 3, 33])).await;
    assert_eq!(
        setup.memberships().await,
        story.expected(&left),
        "leavers stay off"
    );

    // An attendee's address is corrected.
    story.orders.get_mut(&5).unwrap().1[1].0 = "p105-corrected@example.org";
    setup.sync_cleanly(&story.jobs([5])).await;
    let members = setup.memberships().await;
    assert_eq!(members, story.expected(&left), "corrected address");
    assert!(!members.contains(&"p105@example.org".to_owned()));

    // Mailman is down when the worker starts and comes back while it runs: every order
    // again, with new names. (`mailing_list::mailman_down_mid_run_then_back_loses_nothing`
    // stops it after the first members joined.)
    for (_, attendees) in story.orders.values_mut() {
        attendees[1].1 = "Renamed";
    }
    let jobs = story.all();
    for (code, data) in &jobs {
        let options = EnqueueOptions {
            snapshot: Some(data.clone()),
            ..EnqueueOptions::default()
        };
        setup
            .queue
            .enqueue(
                &setup.db,
                "mailing_list",
                &ObjectRef::new("Order", code.as_str()),
                "test",
                options,
            )
            .await
            .unwrap();
    }
    let config = WorkerConfig {
        poll_interval: Duration::from_millis(100),
        retry: outsync_queue::RetryPolicy {
            base: Duration::from_millis(300),
            cap: Duration::from_secs(2),
            jitter: 0.1,
            ..outsync_queue::RetryPolicy::default()
        },
        ..WorkerConfig::default()
    };
    let worker = Worker::new(
        setup.db.clone(),
        setup.queue.clone(),
        vec![setup.provider.clone()],
        config,
    );
    setup.server.control("stop");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        worker
            .run(async {
                stopped.await.ok();
            })
            .await
            .unwrap()
    });
    // Mailman comes back once jobs have found it down and wait for it.
    let waiting = JobFilter {
        state: Some("snoozed".parse().unwrap()),
        ..JobFilter::default()
    };
    while setup.queue.count_jobs(&setup.db, &waiting).await.unwrap() == 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    setup.server.control("start");
    let started = std::time::Instant::now();
    while setup.queue.stats(&setup.db).await.unwrap().jobs() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "jobs did not complete"
        );
        assert!(
            setup.stopped().await.is_empty(),
            "no job gives up: {:?}",
            setup.stopped().await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.send(()).unwrap();
    let summary = running.await.unwrap();
    assert_eq!(summary.count(RunOutcome::Success), 50, "{summary:?}");
    assert!(
        summary.count(RunOutcome::Retry) + summary.count(RunOutcome::Snoozed) > 0,
        "the outage made jobs wait: {summary:?}"
    );
    assert_eq!(
        setup.memberships().await,
        story.expected(&left),
        "after the outage"
    );
    let roster = setup.server.roster(&setup.list).await;
    for (status, attendees) in story.orders.values() {
        let (email, _) = attendees[1];
        if status == "p" && !left.contains(email) {
            assert_eq!(roster[email], "Renamed", "{email} renamed after the outage");
        }
    }
}
