//! Access to the real Mailman the tests run against: its URL from
//! `OUTSYNC_TEST_MAILMAN_URL` (`http://user:password@host:port`; `.ci/run` sets it), the
//! control script from `OUTSYNC_TEST_MAILMAN_CTL`, and an admin client to create lists and
//! read rosters behind the provider's back.

use serde_json::Value;
use std::collections::BTreeMap;

/// Where the test Mailman is.
#[derive(Debug, Clone)]
pub struct MailmanServer {
    /// `http://host:port`.
    pub base_url: String,
    /// The REST user.
    pub user: String,
    /// The REST password.
    pub password: String,
    http: reqwest::Client,
}

impl MailmanServer {
    /// The server from `OUTSYNC_TEST_MAILMAN_URL`, or `None` when it is not set (CI sets it;
    /// without it the Mailman tests say so and do nothing).
    pub fn from_env() -> Option<Self> {
        let url = std::env::var("OUTSYNC_TEST_MAILMAN_URL").ok()?;
        let rest = url.strip_prefix("http://")?;
        let (credentials, host) = rest.split_once('@')?;
        let (user, password) = credentials.split_once(':')?;
        Some(Self {
            base_url: format!("http://{host}"),
            user: user.to_owned(),
            password: password.to_owned(),
            http: reqwest::Client::new(),
        })
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await
            .expect("Mailman reachable");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Creates `domain` if needed.
    pub async fn ensure_domain(&self, domain: &str) {
        let request = self
            .http
            .post(format!("{}/3.1/domains", self.base_url))
            .form(&[("mail_host", domain)]);
        let (status, body) = self.send(request).await;
        assert!(
            status == 201 || status == 400 || status == 409,
            "creating domain {domain}: {status} {body}"
        );
    }

    /// Creates list `name@domain` and returns its posting address.
    pub async fn create_list(&self, name: &str, domain: &str) -> String {
        self.ensure_domain(domain).await;
        let address = format!("{name}@{domain}");
        let request = self
            .http
            .post(format!("{}/3.1/lists", self.base_url))
            .form(&[("fqdn_listname", address.as_str())]);
        let (status, body) = self.send(request).await;
        assert_eq!(status, 201, "creating list {address}: {body}");
        address
    }

    /// The members of `list`: address → display name.
    pub async fn roster(&self, list: &str) -> BTreeMap<String, String> {
        let id = list.replacen('@', ".", 1);
        let request = self.http.get(format!(
            "{}/3.1/lists/{id}/roster/member?count=10000&page=1",
            self.base_url
        ));
        let (_, body) = self.send(request).await;
        body.get("entries")
            .and_then(Value::as_array)
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| {
                        (
                            e["email"].as_str().unwrap_or_default().to_owned(),
                            e["display_name"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every membership of `list` by address, sorted; an address that is a member twice
    /// appears twice.
    pub async fn memberships(&self, list: &str) -> Vec<String> {
        let id = list.replacen('@', ".", 1);
        let mut emails = Vec::new();
        for page in 1.. {
            let request = self.http.get(format!(
                "{}/3.1/lists/{id}/roster/member?count=1000&page={page}",
                self.base_url
            ));
            let (_, body) = self.send(request).await;
            let entries = body["entries"].as_array().cloned().unwrap_or_default();
            emails.extend(
                entries
                    .iter()
                    .map(|e| e["email"].as_str().unwrap_or_default().to_lowercase()),
            );
            if entries.len() < 1000 {
                break;
            }
        }
        emails.sort();
        emails
    }

    /// Subscribes `email` to `list` directly in Mailman (as the person would).
    pub async fn join(&self, list: &str, email: &str) {
        let id = list.replacen('@', ".", 1);
        let request = self
            .http
            .post(format!("{}/3.1/members", self.base_url))
            .form(&[
                ("list_id", id.as_str()),
                ("subscriber", email),
                ("pre_verified", "true"),
                ("pre_confirmed", "true"),
                ("pre_approved", "true"),
                ("send_welcome_message", "false"),
            ]);
        let (status, body) = self.send(request).await;
        assert_eq!(status, 201, "subscribing {email} to {list}: {body}");
    }

    /// Adds many addresses to `list` at once, with Mailman's own `addmembers` command
    /// (through the control script).
    pub fn add_members(&self, list: &str, emails: impl IntoIterator<Item = String>) {
        let script = control_script();
        let file = std::env::temp_dir().join(format!(
            "outsync-addmembers-{}-{}.txt",
            std::process::id(),
            list.replace('@', "_")
        ));
        let lines: Vec<String> = emails.into_iter().collect();
        std::fs::write(&file, lines.join("\n") + "\n").expect("write the member file");
        let output = std::process::Command::new("bash")
            .args([
                script.as_str(),
                "addmembers",
                list,
                &file.display().to_string(),
            ])
            .output()
            .expect("run the Mailman control script");
        std::fs::remove_file(&file).ok();
        assert!(
            output.status.success(),
            "scripts/mailman.sh addmembers failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// How many REST requests Mailman has logged whose line contains `needle` (Mailman
    /// logs one line per request; the control script says where).
    pub fn logged_requests(&self, needle: &str) -> usize {
        let script = control_script();
        let output = std::process::Command::new("bash")
            .args([script.as_str(), "log"])
            .output()
            .expect("run the Mailman control script");
        let path = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .filter(|line| line.contains(needle))
            .count()
    }

    /// Unsubscribes `email` from `list` directly in Mailman (as the person would).
    pub async fn leave(&self, list: &str, email: &str) {
        let id = list.replacen('@', ".", 1);
        let request = self
            .http
            .get(format!("{}/3.1/members/find", self.base_url))
            .query(&[("list_id", id.as_str()), ("subscriber", email)]);
        let (_, body) = self.send(request).await;
        let member = body["entries"][0]["member_id"]
            .as_str()
            .expect("a member")
            .to_owned();
        let request = self
            .http
            .delete(format!("{}/3.1/members/{member}", self.base_url));
        let (status, _) = self.send(request).await;
        assert_eq!(status, 204);
    }

    /// Runs the control script (`stop` or `start`), from `OUTSYNC_TEST_MAILMAN_CTL`.
    pub fn control(&self, command: &str) {
        let script = control_script();
        let status = std::process::Command::new("bash")
            .args([script.as_str(), command])
            .status()
            .expect("run the Mailman control script");
        assert!(status.success(), "scripts/mailman.sh {command} failed");
    }
}

/// The control script, from `OUTSYNC_TEST_MAILMAN_CTL`.
fn control_script() -> String {
    std::env::var("OUTSYNC_TEST_MAILMAN_CTL")
        .expect("OUTSYNC_TEST_MAILMAN_CTL names scripts/mailman.sh")
}
