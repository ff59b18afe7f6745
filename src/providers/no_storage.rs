//! `storage = "none"`: an environment without object storage. Validation makes sure
//! nothing declares backups or a maintenance page, so nothing reaches this but an
//! observation that finds no backup.

use std::time::SystemTime;

use async_trait::async_trait;

use super::{ObjectInfo, ObjectStore, StoredObject};
use crate::error::Error;
use crate::model::BackupLocation;

/// Object storage that holds nothing and takes nothing.
pub struct NoStorage;

#[async_trait]
impl ObjectStore for NoStorage {
    async fn newest(
        &self,
        _location: &BackupLocation,
        _before: Option<SystemTime>,
    ) -> Result<Option<ObjectInfo>, Error> {
        Ok(None)
    }

    async fn put(&self, bucket: &str, key: &str, _: Vec<u8>, _: &str) -> Result<(), Error> {
        Err(no_storage(bucket, key))
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<StoredObject>, Error> {
        Err(no_storage(bucket, key))
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), Error> {
        Err(no_storage(bucket, key))
    }
}

fn no_storage(bucket: &str, key: &str) -> Error {
    Error::Bug {
        detail: format!("s3://{bucket}/{key} was reached, but [providers] has storage = \"none\""),
    }
}
