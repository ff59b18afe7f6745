//! S3 object storage through the AWS SDK: the newest backup under a prefix, and
//! the maintenance page (put up, read, taken down).

use std::path::Path;
use std::time::SystemTime;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::Object;

use super::aws::{Failure, describe, s3_client};
use super::{ObjectInfo, ObjectStore, StoredObject};
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
        Self {
            client: s3_client(sdk),
        }
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    /// Lists every page under the prefix; "folder" keys (ending in `/`) are not
    /// backups. Of two objects modified in the same second, the greater key wins.
    async fn newest(
        &self,
        location: &BackupLocation,
        before: Option<SystemTime>,
    ) -> Result<Option<ObjectInfo>, Error> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&location.bucket)
            .prefix(&location.prefix)
            .into_paginator()
            .send();
        let mut newest = None;
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|err| describe(PROVIDER, &format!("list {}", location.url()), &err))?;
            let candidates = page.contents().iter().filter_map(backup);
            let page_newest = candidates
                .filter(|(modified, _)| before.is_none_or(|b| *modified < b))
                .max();
            newest = newest.max(page_newest.map(|(modified, key)| (modified, key.to_string())));
        }
        Ok(newest.map(|(last_modified, key)| ObjectInfo {
            url: format!("s3://{}/{key}", location.bucket),
            last_modified,
        }))
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), Error> {
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

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<StoredObject>, Error> {
        Ok(fetch(&self.client, bucket, key)
            .await?
            .map(|fetched| StoredObject {
                body: fetched.body,
                content_type: fetched
                    .content_type
                    .unwrap_or_else(|| "application/octet-stream".to_string()),
            }))
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), Error> {
        self.client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|err| describe(PROVIDER, &format!("delete s3://{bucket}/{key}"), &err))?;
        Ok(())
    }
}

/// An object as read: its body, content type and `ETag`.
pub struct Fetched {
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    pub etag: Option<String>,
}

/// Reads `s3://bucket/key`; `None` when there is no such object.
pub async fn fetch(client: &Client, bucket: &str, key: &str) -> Result<Option<Fetched>, Error> {
    let action = format!("read s3://{bucket}/{key}");
    let output = match client.get_object().bucket(bucket).key(key).send().await {
        Ok(output) => output,
        Err(err) if Failure::of(&err).is("NoSuchKey") => return Ok(None),
        Err(err) => return Err(describe(PROVIDER, &action, &err)),
    };
    let content_type = output.content_type().map(str::to_string);
    let etag = output.e_tag().map(str::to_string);
    let body = output
        .body
        .collect()
        .await
        .map_err(|err| Error::Unreachable {
            provider: PROVIDER,
            message: format!("cannot {action}: {err}"),
            help: "check the network and try again",
        })?;
    Ok(Some(Fetched {
        body: body.into_bytes().to_vec(),
        content_type,
        etag,
    }))
}

/// An object's modification time and key, unless it is a "folder" or has no time.
fn backup(object: &Object) -> Option<(SystemTime, &str)> {
    let key = object.key().filter(|key| !key.ends_with('/'))?;
    let modified = SystemTime::try_from(*object.last_modified()?).ok()?;
    Some((modified, key))
}

/// The content type to upload a file named `file_name` with.
pub fn content_type_for(file_name: &str) -> &'static str {
    let extension = Path::new(file_name)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;
    use std::time::Duration;

    use super::*;
    use crate::providers::aws::replay::{client, sdk_config, uris, xml};

    fn listing(objects: &[(&str, &str)], next: Option<&str>) -> String {
        let contents = objects.iter().fold(String::new(), |mut contents, (key, modified)| {
            let _ = write!(contents, "<Contents><Key>{key}</Key><LastModified>{modified}</LastModified><Size>1</Size></Contents>");
            contents
        });
        let next = next.map_or(String::new(), |token| {
            format!("<NextContinuationToken>{token}</NextContinuationToken>")
        });
        format!(
            "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>backups</Name><Prefix>db/</Prefix>\
             <IsTruncated>{}</IsTruncated>{next}{contents}</ListBucketResult>",
            !next.is_empty()
        )
    }

    fn pages() -> Vec<aws_sdk_s3::config::http::HttpResponse> {
        vec![
            xml(
                200,
                &listing(
                    &[
                        ("db/", "2026-01-03T00:00:00.000Z"),
                        ("db/b.dump", "2026-01-02T00:00:00.000Z"),
                    ],
                    Some("t1"),
                ),
            ),
            xml(
                200,
                &listing(&[("db/a.dump", "2026-01-01T00:00:00.000Z")], None),
            ),
        ]
    }

    fn at(text: &str) -> SystemTime {
        humantime::parse_rfc3339(text).unwrap()
    }

    #[tokio::test]
    async fn newest_reads_every_page_and_skips_folders() {
        let replay = client(pages());
        let store = S3Store::new(&sdk_config(&replay));
        let location = BackupLocation::parse("s3://backups/db/").unwrap();

        let newest = store.newest(&location, None).await.unwrap();

        let expected = ObjectInfo {
            url: "s3://backups/db/b.dump".to_string(),
            last_modified: at("2026-01-02T00:00:00Z"),
        };
        assert_eq!(newest, Some(expected));
        assert!(
            uris(&replay)[1].contains("continuation-token=t1"),
            "{:?}",
            uris(&replay)
        );
    }

    #[tokio::test]
    async fn newest_before_a_time_ignores_later_objects() {
        let replay = client(pages());
        let store = S3Store::new(&sdk_config(&replay));
        let location = BackupLocation::parse("s3://backups/db/").unwrap();

        let newest = store
            .newest(
                &location,
                Some(at("2026-01-02T00:00:00Z") - Duration::from_secs(1)),
            )
            .await
            .unwrap();

        assert_eq!(
            newest.map(|o| o.url),
            Some("s3://backups/db/a.dump".to_string())
        );
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(
            content_type_for("maintenance.html"),
            "text/html; charset=utf-8"
        );
        assert_eq!(content_type_for("status.JSON"), "application/json");
        assert_eq!(content_type_for("logo.png"), "image/png");
        assert_eq!(content_type_for("site.css"), "text/css; charset=utf-8");
        assert_eq!(content_type_for("app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type_for("notes.txt"), "text/plain; charset=utf-8");
        assert_eq!(content_type_for("dump"), "application/octet-stream");
    }
}
