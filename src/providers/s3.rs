//! S3 object storage through the AWS SDK: the newest backup under a prefix, and
//! uploads (the maintenance page).

use std::path::Path;
use std::time::SystemTime;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::Object;

use super::aws::{describe, s3_client};
use super::{ObjectInfo, ObjectStore};
use crate::error::Error;
use crate::model::BackupLocation;

const PROVIDER: &str = "s3";

/// Buckets in S3 (or any S3-compatible endpoint).
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
}

impl S3Store {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self { client: s3_client(sdk) }
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    /// Lists every page under the prefix; "folder" keys (ending in `/`) are not
    /// backups. Of two objects modified in the same second, the greater key wins.
    async fn newest(&self, location: &BackupLocation, before: Option<SystemTime>) -> Result<Option<ObjectInfo>, Error> {
        let mut pages =
            self.client.list_objects_v2().bucket(&location.bucket).prefix(&location.prefix).into_paginator().send();
        let mut newest = None;
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| describe(PROVIDER, &format!("list {}", location.url()), &err))?;
            let candidates = page.contents().iter().filter_map(backup);
            let page_newest = candidates.filter(|(modified, _)| before.is_none_or(|b| *modified < b)).max();
            newest = newest.max(page_newest.map(|(modified, key)| (modified, key.to_string())));
        }
        Ok(newest.map(|(last_modified, key)| ObjectInfo { url: format!("s3://{}/{key}", location.bucket), last_modified }))
    }

    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), Error> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|err| describe(PROVIDER, &format!("upload s3://{bucket}/{key}"), &err))?;
        Ok(())
    }
}

/// An object's modification time and key, unless it is a "folder" or has no time.
fn backup(object: &Object) -> Option<(SystemTime, &str)> {
    let key = object.key().filter(|key| !key.ends_with('/'))?;
    let modified = SystemTime::try_from(*object.last_modified()?).ok()?;
    Some((modified, key))
}

/// The content type to upload a file named `file_name` with.
pub fn content_type_for(file_name: &str) -> &'static str {
    let extension = Path::new(file_name).extension().and_then(|e| e.to_str()).unwrap_or_default();
    match extension.to_ascii_lowercase().as_str() {
        "html" => "text/html; charset=utf-8",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "png" => "image/png",
        _ => "application/octet-stream",
    }
}
