//! The `outsync` command, run as a user would: one test binary, one module per subject,
//! and the helpers they share (running the command, serving, fresh databases, figures).

mod api;
mod bad_input;
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
mod stopping;

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

/// [`start_serving_child`], killed when the returned value is dropped.
fn start_serving(command: &mut Command, log: Option<&std::path::Path>) -> Served {
    let (child, base) = start_serving_child(command, log);
    Served { child, base }
}

/// Starts `command`, an `outsync serve … --listen 127.0.0.1:0` (the service picks a free
/// port itself, so no other test can take it in between), copying its standard error to
/// `log` if given; returns the process and the base URL it printed once it listened.
fn start_serving_child(
    command: &mut Command,
    log: Option<&std::path::Path>,
) -> (std::process::Child, String) {
    use std::io::{BufRead, Write};
    let mut child = command
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start outsync serve");
    let stderr = child.stderr.take().unwrap();
    let mut log = log.map(|path| std::fs::File::create(path).unwrap());
    let (found, address) = std::sync::mpsc::channel();
    // Reads the whole standard error, so that the service never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut found = Some(found);
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(file) = &mut log {
                let _ = writeln!(file, "{line}");
            }
            if let Some(rest) = line.strip_prefix("outsync serving on ")
                && let Some(sender) = found.take()
            {
                let _ = sender.send(rest.split(' ').next().unwrap_or_default().to_owned());
            }
        }
    });
    match address.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(base) => (child, base),
        Err(_) => {
            let _ = child.kill();
            let status = child.wait().ok();
            panic!("outsync serve did not start listening (exit: {status:?})");
        }
    }
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
    start_serving(
        Command::new(OUTSYNC)
            .args([
                "serve",
                "--create",
                "--config",
                config.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
            ])
            .env("OUTSYNC_API_TOKEN", TOKEN)
            .env("OUTSYNC_LOG", "debug"),
        log,
    )
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
