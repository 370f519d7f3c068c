//! The standard provider scenarios (`outsync-testkit`) against the fake Basket.

use outsync_basket::fake::{FakeBasket, FakeMode};
use outsync_basket::{ApiKey, BasketConfig, BasketProvider, basket_schema};
use outsync_core::{ObjectRef, async_trait};
use outsync_testkit::{Fixture, Records, Scenarios, Target};
use serde_json::{Value, json};
use std::sync::Mutex;

const KEY: &str = "scenario-key";
const USERS: &str = "/amo-sync/userprofile/";

/// The fake Basket as a target: a user's record is the last payload Basket accepted for it.
struct FakeTarget {
    basket: FakeBasket,
    /// Requests received while unavailable (answered 500, so not applied): their indexes.
    refused: Mutex<Vec<std::ops::Range<usize>>>,
    refusing_since: Mutex<Option<usize>>,
}

#[async_trait]
impl Target for FakeTarget {
    async fn records(&self) -> Result<Records, String> {
        let refused = self.refused.lock().map_err(|e| e.to_string())?.clone();
        let mut records = Records::new();
        for (index, request) in self.basket.received().into_iter().enumerate() {
            if request.path != USERS || refused.iter().any(|range| range.contains(&index)) {
                continue;
            }
            let id = request.body["id"].to_string();
            records.insert(id, vec![request.body]);
        }
        Ok(records)
    }

    async fn writes(&self) -> Result<usize, String> {
        Ok(self.basket.received_at(USERS).len())
    }

    async fn set_unavailable(&self, unavailable: bool) {
        let received = self.basket.received().len();
        let mut since = self.refusing_since.lock().unwrap();
        if unavailable {
            self.basket.set_mode(FakeMode::ServerError);
            *since = Some(received);
        } else {
            self.basket.set_mode(FakeMode::Normal);
            if let Some(start) = since.take() {
                self.refused.lock().unwrap().push(start..received);
            }
        }
    }
}

/// AMO user accounts; an account's Basket id is derived from the key.
struct Users;

fn user_id(key: &str) -> u64 {
    key.bytes().fold(7_u64, |hash, byte| {
        hash.wrapping_mul(31).wrapping_add(u64::from(byte))
    }) % 1_000_000_000
}

fn user(id: u64, display_name: &str) -> Value {
    json!({"id": id, "deleted": false, "display_name": display_name, "email": format!("u{id}@example.org"),
           "homepage": "", "last_login": "2026-11-01T10:00:00Z", "location": "Berlin"})
}

impl Fixture for Users {
    fn object(&self, key: &str, version: u32) -> (ObjectRef, Value) {
        let id = user_id(key);
        let data = user(id, &format!("user {key} v{version}"));
        (ObjectRef::new("UserProfile", id.to_string()), data)
    }

    /// Two accounts of the application (say, one merged into the other) with the same
    /// Basket id and data.
    fn sharing(&self, key: &str, index: usize) -> (ObjectRef, Value) {
        let id = user_id(key);
        let reference = ObjectRef::new("UserProfile", format!("{id}-{index}"));
        (reference, user(id, &format!("user {key}")))
    }
}

#[tokio::test]
async fn basket_passes_the_standard_scenarios() {
    let basket = FakeBasket::start(KEY).await.unwrap();
    let config = BasketConfig::new(&basket.base_url, ApiKey::new(KEY));
    let provider = BasketProvider::configured(config, &basket_schema().unwrap(), None).unwrap();
    let target = FakeTarget {
        basket,
        refused: Mutex::default(),
        refusing_since: Mutex::default(),
    };
    Scenarios::new(&provider, &target, &Users, "basket")
        .run_all()
        .await
        .unwrap();
}

#[tokio::test]
async fn without_skip_unchanged_basket_receives_unchanged_payloads_again() {
    let basket = FakeBasket::start(KEY).await.unwrap();
    let mut config = BasketConfig::new(&basket.base_url, ApiKey::new(KEY));
    config.skip_unchanged = false;
    let provider = BasketProvider::configured(config, &basket_schema().unwrap(), None).unwrap();
    let target = FakeTarget {
        basket,
        refused: Mutex::default(),
        refusing_since: Mutex::default(),
    };
    let failure = Scenarios::new(&provider, &target, &Users, "resend")
        .create_update_unchanged()
        .await
        .unwrap_err();
    assert_eq!(failure.scenario, "create_update_unchanged");
    assert_eq!(
        failure.message,
        "syncing unchanged data wrote 1 time(s) to the target, expected none"
    );
}
