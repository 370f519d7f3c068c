//! The `outsync` command, run as a user would: one test binary, one module per subject,
//! and the helpers they share (running the command, serving, fresh databases, figures).

mod api;
mod browser;
mod bulk;
mod commands;
mod console;
mod dashboard;
mod mailing_list;
mod mapping_versions;
mod safe_operation;
mod scale;
mod secrets_and_limits;
mod sources;

use std::process::{Command, Output};

const OUTSYNC: &str = env!("CARGO_BIN_EXE_outsync");

fn run(args: &[&str]) -> Output {
    Command::new(OUTSYNC)
        .args(args)
        .output()
        .expect("run outsync")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn temp_dir(label: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("outsync-cli-{label}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Served {
    child: std::process::Child,
    base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const TOKEN: &str = "test-token-0123456789";

fn serve(label: &str) -> Served {
    serve_with(
        label,
        &serde_json::json!({"base_url": "http://127.0.0.1:9", "api_key": "k", "timeout_seconds": 1}),
    )
}

/// `outsync serve` on a fresh SQLite queue with the `basket` provider's `settings`.
fn serve_with(label: &str, settings: &serde_json::Value) -> Served {
    serve_logged(label, settings, None)
}

/// [`serve_with`], writing the service's log at debug level to `log` if given.
fn serve_logged(
    label: &str,
    settings: &serde_json::Value,
    log: Option<&std::path::Path>,
) -> Served {
    let dir = temp_dir(label);
    let config = dir.join("outsync.json");
    let database = format!("sqlite://{}?mode=rwc", dir.join("q.db").display());
    let document = serde_json::json!({"database_url": database, "schema": "basket",
        "scheduler_interval_seconds": 1, "providers": {"basket": settings}});
    std::fs::write(&config, document.to_string()).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(OUTSYNC)
        .args([
            "serve",
            "--create",
            "--config",
            config.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("OUTSYNC_API_TOKEN", TOKEN)
        .env("OUTSYNC_LOG", "debug")
        .stderr(match log {
            Some(path) => std::process::Stdio::from(std::fs::File::create(path).unwrap()),
            None => std::process::Stdio::null(),
        })
        .spawn()
        .unwrap();
    let served = Served {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return served;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("outsync serve did not start");
}

/// A URL of a fresh, empty schema on the test PostgreSQL server
/// (`OUTSYNC_TEST_POSTGRES_URL`).
async fn fresh_postgres_url() -> String {
    outsync_tests::db::fresh_url(outsync_tests::db::Backend::Postgres).await
}

/// Prints a measured figure and appends it to `figures.txt` in cargo's temporary directory
/// (`target/tmp/`), which `.ci/run` prints after the tests.
fn report_figure(line: &str) {
    use std::io::Write;
    println!("{line}");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("figures.txt");
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(file, "{line}");
    }
}

/// An authenticated client of one served `outsync`, so that each API call in a test reads
/// in a line.
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    /// A client of `served`, authenticated with [`TOKEN`].
    fn of(served: &Served) -> Self {
        Self {
            base: served.base.clone(),
            http: reqwest::Client::new(),
        }
    }

    /// A request to `path` with the token, to finish and send.
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
    }

    /// `GET path`, answered with JSON.
    async fn get(&self, path: &str) -> serde_json::Value {
        self.json(self.request(reqwest::Method::GET, path)).await
    }

    /// `PATCH path`, answered with JSON.
    async fn patch(&self, path: &str) -> serde_json::Value {
        self.json(self.request(reqwest::Method::PATCH, path)).await
    }

    async fn json(&self, request: reqwest::RequestBuilder) -> serde_json::Value {
        let answer = request.send().await.expect("the service answers");
        answer.json().await.expect("a JSON answer")
    }
}
