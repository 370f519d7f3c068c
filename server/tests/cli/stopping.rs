//! SIGTERM (`docker stop`, systemd, Kubernetes): running jobs get their grace period, the
//! rest go back to the queue at once, with no attempt charged.

use super::safe_operation::{config_dir, enqueue_users, job_rows, sqlite_url};
use super::{OUTSYNC, run};
use std::path::Path;
use std::process::Command;

/// Sends SIGTERM, as `docker stop`, systemd and Kubernetes do.
pub(super) fn terminate(child: &std::process::Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// A Basket that accepts connections and never answers; counts the connections.
pub(super) fn silent_basket() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(stream);
        }
    });
    (url, accepted)
}

/// Which process gets SIGTERM with jobs in flight.
#[derive(Clone, Copy, PartialEq)]
enum Stopped {
    /// `outsync worker`.
    Worker,
    /// `outsync serve` while an open dashboard page listens to its events.
    ServiceWithDashboardOpen,
    /// `outsync sync` (a cron job or a Kubernetes Job stopped by a deployment); it exits
    /// with 130 and says how many jobs went back.
    Sync,
}

async fn sigterm_releases_in_flight_jobs(label: &str, database: String, stopped: Stopped) {
    let (basket, accepted) = silent_basket();
    let (config, _) = config_dir(label, move |_| {
        serde_json::json!({"database_url": database, "schema": "basket",
            "providers": {"basket": {"base_url": basket, "api_key": "k", "timeout_seconds": 120}}})
    });
    assert!(run(&["migrate", "--config", &config]).status.success());
    enqueue_users(&config, 40);
    let grace = 2.0;
    let mut args = vec![
        "worker",
        "--config",
        &config,
        "--concurrency",
        "20",
        "--shutdown-grace-seconds",
        "2",
    ];
    let log = Path::new(&config).with_file_name("worker.log");
    let mut command = Command::new(OUTSYNC);
    command
        .env("OUTSYNC_API_TOKEN", super::TOKEN)
        .env("OUTSYNC_LOG", "debug");
    if stopped == Stopped::Sync {
        args[0] = "sync";
    }
    let (mut worker, base) = if stopped == Stopped::ServiceWithDashboardOpen {
        args[0] = "serve";
        args.extend(["--listen", "127.0.0.1:0"]);
        super::start_serving_child(command.args(&args), Some(&log))
    } else {
        let child = command
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        (child, String::new())
    };
    let waiting = std::time::Instant::now();
    while accepted.load(std::sync::atomic::Ordering::SeqCst) < 20 {
        assert!(
            waiting.elapsed().as_secs() < 20,
            "the worker never had 20 jobs in flight"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let rows = job_rows(&config);
    assert!(
        rows.iter().filter(|row| row.contains("running")).count() >= 20,
        "{rows:?}"
    );
    // A dashboard page's event stream never ends by itself.
    let mut _listening = None;
    if stopped == Stopped::ServiceWithDashboardOpen {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let cookie = super::dashboard::log_in(&http, &base).await;
        let mut events = http
            .get(format!("{base}/dashboard/events"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(events.status(), 200);
        assert!(events.chunk().await.unwrap().is_some(), "the stream opened");
        _listening = Some(events);
    }
    terminate(&worker);
    let signalled = std::time::Instant::now();
    let status = loop {
        if let Some(status) = worker.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed().as_secs_f64() < grace + 1.0,
            "still running a second after the grace period"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let stopped_after = signalled.elapsed().as_secs_f64();
    if stopped == Stopped::Sync {
        let said = std::fs::read_to_string(&log).unwrap_or_default();
        assert_eq!(status.code(), Some(130), "{said}");
        assert!(
            said.contains("interrupted: 40 job(s) went back to the queue unrun"),
            "{said}"
        );
    } else {
        assert!(status.success(), "{status}");
    }
    assert!(
        stopped_after >= grace - 0.2,
        "running jobs got their grace period: {stopped_after}"
    );
    // Every job is back in the queue for another worker, no attempt charged.
    let rows = job_rows(&config);
    assert_eq!(rows.len(), 40, "{rows:?}");
    for row in &rows {
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[4], "0", "no attempt charged: {row}");
        assert_eq!(
            cells[5],
            "pending",
            "released: {row}\n{}",
            std::fs::read_to_string(Path::new(&config).with_file_name("worker.log"))
                .unwrap_or_default()
        );
    }
    super::report_figure(&format!(
        "SIGTERM: 20 in-flight jobs released; outsync {} exited {stopped_after:.2} s after the signal (grace {grace} s)",
        args[0]
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_releases_in_flight_jobs_within_the_grace_period_on_sqlite() {
    sigterm_releases_in_flight_jobs(
        "sigterm-sqlite",
        sqlite_url("sigterm-sqlite-db"),
        Stopped::Worker,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_releases_in_flight_jobs_within_the_grace_period_on_postgres() {
    sigterm_releases_in_flight_jobs(
        "sigterm-postgres",
        super::fresh_postgres_url().await,
        Stopped::Worker,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_a_sync_within_the_grace_period_on_sqlite() {
    sigterm_releases_in_flight_jobs(
        "sigterm-sync-sqlite",
        sqlite_url("sigterm-sync-sqlite-db"),
        Stopped::Sync,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_a_sync_within_the_grace_period_on_postgres() {
    sigterm_releases_in_flight_jobs(
        "sigterm-sync-postgres",
        super::fresh_postgres_url().await,
        Stopped::Sync,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_the_service_within_the_grace_period_while_a_dashboard_listens() {
    sigterm_releases_in_flight_jobs(
        "sigterm-serve",
        sqlite_url("sigterm-serve-db"),
        Stopped::ServiceWithDashboardOpen,
    )
    .await;
}
