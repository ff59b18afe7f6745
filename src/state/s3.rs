//! The S3 state backend (`state = "s3://bucket/key.json"`): the state is one JSON
//! object whose `ETag` is its version. Every write is conditional, so two writers never
//! silently overwrite each other: `If-Match: <ETag read>`, or `If-None-Match: *` for
//! the first write. The lock is the object `key.json.lock`, created with
//! `If-None-Match: *` and holding the [`LockInfo`]; it is deleted with `If-Match`, so
//! only the lock that was read is ever removed. A lock left by a crashed process of
//! this host is taken over, as with local state. Each watcher's observations are the
//! object `key.json.watchers/NAME.json`, replaced with the same conditional writes.

use std::path::PathBuf;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::observations::{Observations, entry_name};
use super::{LockInfo, State, StateBackend, StateVersion};
use crate::error::Error;
use crate::providers::aws::{Failure, s3_client};
use crate::providers::s3::fetch;

const PROVIDER: &str = "s3";

/// The state of one environment in an S3 object.
#[derive(Debug, Clone)]
pub struct S3State {
    client: Client,
    environment: String,
    bucket: String,
    key: String,
    /// The lock object: the state's key with `.lock` appended.
    lock_key: String,
}

/// What became of a lock drplan tried to delete.
enum Removal {
    Removed,
    /// Another lock took its place between reading and deleting it.
    Replaced,
}

impl S3State {
    /// The state of `environment` in `s3://bucket/key`.
    pub fn new(sdk: &SdkConfig, environment: &str, bucket: &str, key: &str) -> Self {
        Self {
            client: s3_client(sdk),
            environment: environment.to_string(),
            bucket: bucket.to_string(),
            key: key.to_string(),
            lock_key: format!("{key}.lock"),
        }
    }

    fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// The object at `key`, decoded, and its `ETag`; `None` when there is none.
    async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<(T, String)>, Error> {
        let Some(fetched) = fetch(&self.client, &self.bucket, key).await? else {
            return Ok(None);
        };
        let etag = etag(fetched.etag.as_deref(), &format!("read {}", self.url(key)))?;
        let value = serde_json::from_slice(&fetched.body).map_err(|err| Error::CorruptState {
            path: PathBuf::from(self.url(key)),
            detail: err.to_string(),
        })?;
        Ok(Some((value, etag)))
    }

    /// Writes `value` to `key` on `condition`; returns the new `ETag`, or `Ok(Err(_))`
    /// when S3 refused, for the caller to judge.
    async fn put<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        condition: Condition<'_>,
    ) -> Result<Result<String, Failure>, Error> {
        let action = format!("write {}", self.url(key));
        let body = serde_json::to_vec_pretty(value).map_err(|err| Error::Bug {
            detail: format!("cannot {action}: {err}"),
        })?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json");
        let request = match condition {
            Condition::Absent => request.if_none_match("*"),
            Condition::Unchanged(etag) => request.if_match(etag),
        };
        match request.body(ByteStream::from(body)).send().await {
            Ok(output) => etag(output.e_tag(), &action).map(Ok),
            Err(err) => Ok(Err(Failure::of(&err))),
        }
    }

    async fn read_lock(&self) -> Result<Option<(LockInfo, String)>, Error> {
        self.get(&self.lock_key).await
    }

    /// Creates the lock object holding `info`; `false` when one already exists.
    async fn create_lock(&self, info: &LockInfo) -> Result<bool, Error> {
        let action = format!("take the lock {}", self.url(&self.lock_key));
        self.create_absent(&self.lock_key, info, &action).await
    }

    /// Creates the object `key` holding `value`; `false` when one already exists.
    async fn create_absent<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        action: &str,
    ) -> Result<bool, Error> {
        match self.put(key, value, Condition::Absent).await? {
            Ok(_) => Ok(true),
            Err(failure) if lost_race(&failure) => Ok(false),
            Err(failure) => Err(failure.into_error(PROVIDER, action)),
        }
    }

    /// Deletes the lock object if it still has the `ETag` `etag`.
    async fn remove_lock(&self, etag: &str) -> Result<Removal, Error> {
        let request = self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(&self.lock_key)
            .if_match(etag);
        match request.send().await {
            Ok(_) => Ok(Removal::Removed),
            Err(err) => {
                let failure = Failure::of(&err);
                if failure.is("NoSuchKey") {
                    Ok(Removal::Removed)
                } else if lost_race(&failure) {
                    Ok(Removal::Replaced)
                } else {
                    Err(failure.into_error(
                        PROVIDER,
                        &format!("release the lock {}", self.url(&self.lock_key)),
                    ))
                }
            }
        }
    }
}

/// The precondition of a conditional write.
enum Condition<'a> {
    /// `If-None-Match: *`: only if no object exists.
    Absent,
    /// `If-Match: <etag>`: only if the object still has this `ETag`.
    Unchanged(&'a str),
}

/// Whether S3 refused a conditional request because someone else got there first:
/// 412 Precondition Failed, or 409 `ConditionalRequestConflict` while racing a writer.
fn lost_race(failure: &Failure) -> bool {
    matches!(failure.status, Some(409 | 412))
        || failure.is("PreconditionFailed")
        || failure.is("ConditionalRequestConflict")
}

fn etag(etag: Option<&str>, action: &str) -> Result<String, Error> {
    etag.map(str::to_string).ok_or_else(|| Error::Api {
        provider: PROVIDER,
        message: format!("cannot {action}: the answer carried no ETag"),
        help: "use an S3-compatible endpoint that returns ETags; drplan needs them to detect concurrent writers",
    })
}

#[async_trait]
impl StateBackend for S3State {
    async fn read(&self) -> Result<Option<(State, StateVersion)>, Error> {
        Ok(self
            .get(&self.key)
            .await?
            .map(|(state, etag)| (state, StateVersion(etag))))
    }

    async fn write(
        &self,
        state: &State,
        expected: Option<&StateVersion>,
    ) -> Result<StateVersion, Error> {
        let url = self.url(&self.key);
        let condition = expected.map_or(Condition::Absent, |version| {
            Condition::Unchanged(&version.0)
        });
        match self.put(&self.key, state, condition).await? {
            Ok(etag) => Ok(StateVersion(etag)),
            // With If-Match, a deleted object answers NoSuchKey rather than 412.
            Err(failure) if lost_race(&failure) || failure.is("NoSuchKey") => {
                Err(Error::StateConflict {
                    detail: match expected {
                        Some(version) => format!(
                            "{url} no longer has the version this operation read (ETag {})",
                            version.0
                        ),
                        None => format!(
                            "{url} was created by someone else after this operation found none"
                        ),
                    },
                })
            }
            Err(failure) => Err(failure.into_error(PROVIDER, &format!("write {url}"))),
        }
    }

    /// A lock released between the failed create and the read is tried once more; a
    /// lock left by a dead process of this host ([`LockInfo::is_stale`]) is removed
    /// (only if unchanged since read) and taken.
    async fn lock(&self, info: &LockInfo) -> Result<(), Error> {
        for _ in 0..3 {
            if self.create_lock(info).await? {
                return Ok(());
            }
            if let Some((holder, etag)) = self.read_lock().await? {
                if !holder.is_stale() {
                    return Err(holder.locked_error(&self.environment));
                }
                self.remove_lock(&etag).await?;
            }
        }
        Err(Error::StateConflict {
            detail: format!(
                "the lock {} changed hands while it was being taken",
                self.url(&self.lock_key)
            ),
        })
    }

    /// Leaves a lock with another id (or none) alone.
    async fn unlock(&self, id: &str) -> Result<(), Error> {
        match self.read_lock().await? {
            Some((holder, etag)) if holder.id == id => self.remove_lock(&etag).await.map(drop),
            _ => Ok(()),
        }
    }

    async fn force_unlock(&self, id: &str) -> Result<(), Error> {
        if let Some((holder, etag)) = self.read_lock().await?
            && holder.id == id
            && let Removal::Removed = self.remove_lock(&etag).await?
        {
            return Ok(());
        }
        Err(Error::LockMismatch {
            given: id.to_string(),
            holder: self.lock_holder().await?.map(|holder| holder.id),
        })
    }

    async fn lock_holder(&self) -> Result<Option<LockInfo>, Error> {
        Ok(self.read_lock().await?.map(|(holder, _)| holder))
    }

    /// Replaces the lock object only if it is still the one read just before and holds
    /// `info`'s id.
    async fn renew(&self, info: &LockInfo) -> Result<(), Error> {
        let Some((holder, etag)) = self.read_lock().await? else {
            return Ok(());
        };
        if holder.id != info.id {
            return Ok(());
        }
        match self
            .put(&self.lock_key, info, Condition::Unchanged(&etag))
            .await?
        {
            Ok(_) => Ok(()),
            Err(failure) if lost_race(&failure) => Ok(()),
            Err(failure) => Err(failure.into_error(
                PROVIDER,
                &format!("renew the lock {}", self.url(&self.lock_key)),
            )),
        }
    }

    /// Replaces the watcher's object only if it is still the one read just before (or
    /// still absent): two processes publishing under one name are told, not mixed.
    async fn publish(&self, observations: &Observations) -> Result<(), Error> {
        let key = format!(
            "{}{}",
            self.watchers_prefix(),
            entry_name(&observations.watcher)
        );
        let previous = self.get::<serde::de::IgnoredAny>(&key).await?;
        let condition = previous
            .as_ref()
            .map_or(Condition::Absent, |(_, etag)| Condition::Unchanged(etag));
        match self.put(&key, observations, condition).await? {
            Ok(_) => Ok(()),
            Err(failure) if lost_race(&failure) || failure.is("NoSuchKey") => {
                Err(Error::StateConflict {
                    detail: format!(
                        "{} changed while watcher `{}` published: does another process run as `{}`?",
                        self.url(&key),
                        observations.watcher,
                        observations.watcher
                    ),
                })
            }
            Err(failure) => Err(failure.into_error(PROVIDER, &format!("write {}", self.url(&key)))),
        }
    }

    /// A claim is an object of its own under `KEY.claims/`, created only if absent.
    async fn claim(&self, name: &str, by: &str) -> Result<bool, Error> {
        let key = format!("{}.claims/{name}.json", self.key);
        let action = format!("claim {}", self.url(&key));
        self.create_absent(&key, &serde_json::json!({ "by": by }), &action)
            .await
    }

    async fn observations(&self) -> Result<Vec<Observations>, Error> {
        let prefix = self.watchers_prefix();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&prefix)
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| {
                Failure::of(&err).into_error(PROVIDER, &format!("list {}", self.url(&prefix)))
            })?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
        }
        keys.retain(|k| {
            std::path::Path::new(k)
                .extension()
                .is_some_and(|e| e == "json")
        });
        keys.sort();
        let mut all = Vec::new();
        for key in keys {
            all.extend(self.get::<Observations>(&key).await?.map(|(o, _)| o));
        }
        Ok(all)
    }
}

impl S3State {
    /// Where the watchers' observations live: `key.watchers/`.
    fn watchers_prefix(&self) -> String {
        format!("{}.watchers/", self.key)
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_s3::config::http::HttpResponse;

    use super::*;
    use crate::providers::aws::replay::{client, sdk_config, xml};

    fn object(body: &str, etag: &str) -> HttpResponse {
        let mut response = xml(200, body);
        response.headers_mut().insert("etag", format!("\"{etag}\""));
        response
    }

    fn lock_object(info: &LockInfo, etag: &str) -> HttpResponse {
        object(&serde_json::to_string(info).unwrap(), etag)
    }

    fn precondition_failed() -> HttpResponse {
        xml(
            412,
            "<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>",
        )
    }

    #[tokio::test]
    async fn force_unlock_refuses_a_lock_replaced_before_the_delete() {
        let (old, new) = (LockInfo::new("apply"), LockInfo::new("apply"));
        let replay = client(vec![
            lock_object(&old, "a"),
            precondition_failed(),
            lock_object(&new, "b"),
        ]);
        let backend = S3State::new(
            &sdk_config(&replay),
            "production",
            "bucket",
            "production.json",
        );

        let error = backend.force_unlock(&old.id).await.unwrap_err();

        assert!(
            matches!(&error, Error::LockMismatch { given, holder } if *given == old.id && holder.as_ref() == Some(&new.id)),
            "{error:?}"
        );
        let delete = replay.actual_requests().nth(1).unwrap();
        assert_eq!(delete.method(), "DELETE");
        assert_eq!(delete.headers().get("if-match"), Some("\"a\""));
    }

    #[tokio::test]
    async fn an_unreadable_state_is_reported_as_corrupt() {
        let replay = client(vec![object("{ not json", "a")]);
        let backend = S3State::new(
            &sdk_config(&replay),
            "production",
            "bucket",
            "production.json",
        );

        let error = backend.read().await.unwrap_err();

        assert!(
            matches!(&error, Error::CorruptState { path, .. } if path.to_str() == Some("s3://bucket/production.json")),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_conflicting_concurrent_write_is_a_state_conflict() {
        let conflict = xml(
            409,
            "<Error><Code>ConditionalRequestConflict</Code><Message>try again</Message></Error>",
        );
        let replay = client(vec![conflict]);
        let backend = S3State::new(
            &sdk_config(&replay),
            "production",
            "bucket",
            "production.json",
        );

        let error = backend
            .write(
                &State::new("production"),
                Some(&StateVersion("\"a\"".to_string())),
            )
            .await
            .unwrap_err();

        assert!(matches!(&error, Error::StateConflict { .. }), "{error:?}");
        let put = replay.actual_requests().next().unwrap();
        assert_eq!(put.headers().get("if-match"), Some("\"a\""));
    }
}
