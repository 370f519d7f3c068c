//! The four standard scenarios.

use crate::target::{Fixture, Records, Target};
use outsync_core::{
    ConfiguredProvider, ObjectRef, ObjectSyncReport, PreviousResults, SyncAction, SyncError,
    SyncOptions, sync_object_with,
};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

/// A scenario the provider did not pass, and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scenario \"{scenario}\": {message}")]
pub struct ScenarioFailure {
    /// The scenario's name (`create_update_unchanged`, …).
    pub scenario: &'static str,
    /// What the scenario saw.
    pub message: String,
}

/// Runs the standard scenarios of one provider against one target.
pub struct Scenarios<'a> {
    provider: &'a ConfiguredProvider,
    target: &'a dyn Target,
    fixture: &'a dyn Fixture,
    run: String,
    /// What the last successful run of each object stored, as the queue keeps it.
    previous: Mutex<HashMap<ObjectRef, PreviousResults>>,
}

/// A failure of scenario `scenario`.
fn failure(scenario: &'static str, message: impl Into<String>) -> ScenarioFailure {
    ScenarioFailure {
        scenario,
        message: message.into(),
    }
}

/// The external ids the run's outcomes name.
fn external_ids(report: &ObjectSyncReport) -> BTreeSet<String> {
    report
        .mapped_objects
        .iter()
        .flat_map(|(_, results)| results)
        .map(|result| result.outcome.id_value.clone())
        .collect()
}

fn actions(report: &ObjectSyncReport) -> Vec<SyncAction> {
    report
        .mapped_objects
        .iter()
        .flat_map(|(_, results)| results)
        .map(|result| result.outcome.action.clone())
        .collect()
}

impl<'a> Scenarios<'a> {
    /// Scenarios for `provider` writing to `target`, syncing `fixture`'s objects. `run`
    /// makes this run's object keys unique (a test name, a timestamp).
    pub fn new(
        provider: &'a ConfiguredProvider,
        target: &'a dyn Target,
        fixture: &'a dyn Fixture,
        run: impl Into<String>,
    ) -> Self {
        Self {
            provider,
            target,
            fixture,
            run: run.into(),
            previous: Mutex::default(),
        }
    }

    /// Runs all four scenarios in turn; the first failure ends the run.
    pub async fn run_all(&self) -> Result<(), ScenarioFailure> {
        self.create_update_unchanged().await?;
        self.duplicate_delivery().await?;
        self.recoverable_then_success().await?;
        self.concurrent_shared_object().await
    }

    fn key(&self, scenario: &str) -> String {
        format!("{}-{scenario}", self.run)
    }

    fn previous_of(&self, object: &ObjectRef) -> PreviousResults {
        let previous = self.previous.lock();
        let previous = previous.unwrap_or_else(std::sync::PoisonError::into_inner);
        previous.get(object).cloned().unwrap_or_default()
    }

    /// Syncs as the worker does: with the object's previous results, remembering the new
    /// ones after a success.
    async fn sync(
        &self,
        object: &ObjectRef,
        data: &Value,
        force: bool,
    ) -> Result<ObjectSyncReport, SyncError> {
        let options = SyncOptions {
            force,
            previous: self.previous_of(object),
            ..SyncOptions::default()
        };
        let report = sync_object_with(self.provider, object, data, &options).await?;
        let stored = PreviousResults::from_mapped(&report.mapped_objects, 0);
        let mut previous = self.previous.lock();
        let previous = previous
            .as_mut()
            .unwrap_or_else(|poisoned| poisoned.get_mut());
        previous.insert(object.clone(), stored);
        Ok(report)
    }

    async fn records(&self, scenario: &'static str) -> Result<Records, ScenarioFailure> {
        let records = self.target.records().await;
        records.map_err(|error| failure(scenario, format!("cannot read the target: {error}")))
    }

    async fn writes(&self, scenario: &'static str) -> Result<usize, ScenarioFailure> {
        let writes = self.target.writes().await;
        writes.map_err(|error| failure(scenario, format!("cannot count writes: {error}")))
    }

    /// Fails unless each of `ids` has exactly one record.
    fn one_record_each(
        scenario: &'static str,
        records: &Records,
        ids: &BTreeSet<String>,
    ) -> Result<(), ScenarioFailure> {
        if ids.is_empty() {
            return Err(failure(scenario, "the sync recorded no outcome"));
        }
        for id in ids {
            let count = records.get(id).map_or(0, Vec::len);
            if count != 1 {
                return Err(failure(
                    scenario,
                    format!("the target holds {count} records for \"{id}\", expected exactly 1"),
                ));
            }
        }
        Ok(())
    }

    /// A new object is created; a changed one updated; the same data again sends nothing.
    pub async fn create_update_unchanged(&self) -> Result<(), ScenarioFailure> {
        const NAME: &str = "create_update_unchanged";
        let key = self.key("create");
        let (object, first) = self.fixture.object(&key, 1);
        let (_, second) = self.fixture.object(&key, 2);
        let sync_failed = |step: &str, error: SyncError| {
            failure(NAME, format!("{step} of {object} failed: {error}"))
        };

        let writes_before = self.writes(NAME).await?;
        let created = self.sync(&object, &first, false).await;
        let created = created.map_err(|error| sync_failed("the first sync", error))?;
        if !actions(&created).contains(&SyncAction::Create) {
            return Err(failure(
                NAME,
                format!(
                    "the first sync answered {:?}, expected a create",
                    actions(&created)
                ),
            ));
        }
        let after_create = self.records(NAME).await?;
        Self::one_record_each(NAME, &after_create, &external_ids(&created))?;
        let writes_created = self.writes(NAME).await?;
        if writes_created <= writes_before {
            return Err(failure(NAME, "the first sync wrote nothing to the target"));
        }

        let updated = self.sync(&object, &second, false).await;
        let updated =
            updated.map_err(|error| sync_failed("the sync of the changed object", error))?;
        if !actions(&updated).contains(&SyncAction::Update) {
            return Err(failure(
                NAME,
                format!(
                    "the changed object answered {:?}, expected an update",
                    actions(&updated)
                ),
            ));
        }
        let after_update = self.records(NAME).await?;
        Self::one_record_each(NAME, &after_update, &external_ids(&updated))?;
        if after_update == after_create {
            return Err(failure(
                NAME,
                "the update did not change the target's records",
            ));
        }
        let writes_updated = self.writes(NAME).await?;

        let unchanged = self.sync(&object, &second, false).await;
        let unchanged = unchanged.map_err(|error| sync_failed("the unchanged sync", error))?;
        let writes_after = self.writes(NAME).await?;
        if writes_after != writes_updated {
            return Err(failure(
                NAME,
                format!(
                    "syncing unchanged data wrote {} time(s) to the target, expected none",
                    writes_after - writes_updated
                ),
            ));
        }
        if actions(&unchanged)
            .iter()
            .any(|action| *action != SyncAction::NothingToDo)
        {
            return Err(failure(
                NAME,
                format!(
                    "unchanged data answered {:?}, expected nothing_to_do",
                    actions(&unchanged)
                ),
            ));
        }
        Ok(())
    }

    /// The same job delivered twice, the first run's results never recorded (a worker
    /// that died after the call): no error, and the target as after one delivery.
    pub async fn duplicate_delivery(&self) -> Result<(), ScenarioFailure> {
        const NAME: &str = "duplicate_delivery";
        let (object, data) = self.fixture.object(&self.key("duplicate"), 1);
        let options = SyncOptions::default();
        for delivery in ["first", "second"] {
            let report = sync_object_with(self.provider, &object, &data, &options).await;
            let report = report.map_err(|error| {
                failure(
                    NAME,
                    format!("the {delivery} delivery of {object} failed: {error}"),
                )
            })?;
            let records = self.records(NAME).await?;
            Self::one_record_each(NAME, &records, &external_ids(&report))?;
        }
        let once = self.records(NAME).await?;
        sync_object_with(self.provider, &object, &data, &options)
            .await
            .map_err(|error| failure(NAME, format!("a third delivery failed: {error}")))?;
        if self.records(NAME).await? != once {
            return Err(failure(
                NAME,
                "delivering the same job again changed the target",
            ));
        }
        Ok(())
    }

    /// While the target is unavailable the sync fails with a recoverable error; then it
    /// succeeds and the target holds the object once.
    pub async fn recoverable_then_success(&self) -> Result<(), ScenarioFailure> {
        const NAME: &str = "recoverable_then_success";
        let (object, data) = self.fixture.object(&self.key("recover"), 1);
        self.target.set_unavailable(true).await;
        let during = self.sync(&object, &data, false).await;
        self.target.set_unavailable(false).await;
        match during {
            Err(SyncError::Recoverable { .. }) => {}
            Err(other) => {
                return Err(failure(
                    NAME,
                    format!("an unavailable target gave a non-recoverable error: {other}"),
                ));
            }
            Ok(report) => {
                return Err(failure(
                    NAME,
                    format!("an unavailable target answered {:?}", actions(&report)),
                ));
            }
        }
        let report = self.sync(&object, &data, false).await;
        let report = report
            .map_err(|error| failure(NAME, format!("the retry after recovery failed: {error}")))?;
        Self::one_record_each(NAME, &self.records(NAME).await?, &external_ids(&report))
    }

    /// Two different objects sharing one external object, synced at the same time: both
    /// succeed, one record, and the same records as syncing them one after the other.
    pub async fn concurrent_shared_object(&self) -> Result<(), ScenarioFailure> {
        const NAME: &str = "concurrent_shared_object";
        let key = self.key("shared");
        let (first, first_data) = self.fixture.sharing(&key, 0);
        let (second, second_data) = self.fixture.sharing(&key, 1);
        if first == second {
            return Err(failure(
                NAME,
                "the fixture's two sharing objects are the same object",
            ));
        }
        let (one, two) = tokio::join!(
            self.sync(&first, &first_data, false),
            self.sync(&second, &second_data, false)
        );
        let one = one.map_err(|error| failure(NAME, format!("{first} failed: {error}")))?;
        let two = two.map_err(|error| failure(NAME, format!("{second} failed: {error}")))?;
        let mut ids = external_ids(&one);
        ids.extend(external_ids(&two));
        let together = self.records(NAME).await?;
        Self::one_record_each(NAME, &together, &ids)?;

        for (object, data) in [(&first, &first_data), (&second, &second_data)] {
            self.sync(object, data, true)
                .await
                .map_err(|error| failure(NAME, format!("re-syncing {object} failed: {error}")))?;
        }
        let in_turn = self.records(NAME).await?;
        if in_turn != together {
            return Err(failure(
                NAME,
                "syncing the objects one after the other changed the records the concurrent syncs left (a lost update)",
            ));
        }
        Ok(())
    }
}
