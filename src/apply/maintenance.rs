//! The maintenance page: put up in the mitigate phase, keeping what it replaces next
//! to it, and taken down once the checks passed, putting that back. Both steps are
//! safe to run again after a crash: a page already up is not kept as the original,
//! and a page no longer there is left alone. Neither ever holds recovery back: a
//! failure (the bucket's region may be the one down) is recorded and recovery goes on.

use crate::error::Error;
use crate::model::kept_key;
use crate::providers::{ObjectStore, StoredObject};

/// The page itself: the scenario's file, or a plain page naming the environment when
/// the file is missing.
pub fn page(file: &std::path::Path, environment: &str) -> StoredObject {
    let body = std::fs::read(file).unwrap_or_else(|_| {
        format!(
            "<!doctype html><title>Maintenance</title><h1>We will be right back</h1><p>{environment} is recovering from an incident.</p>\n"
        )
        .into_bytes()
    });
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
    StoredObject {
        body,
        content_type: crate::providers::s3::content_type_for(name).to_string(),
    }
}

/// The journal line of a best-effort step (the maintenance page, a scenario's
/// `best_effort` step) that failed to `what`: the failure is recorded and recovery
/// goes on without it.
pub fn best_effort(result: Result<String, Error>, what: &str) -> String {
    result
        .unwrap_or_else(|error| format!("could not {what} (recovery goes on without it): {error}"))
}

/// Puts `page` up at `bucket/key`; what was there is kept at [`kept_key`] first,
/// unless an original is kept there already.
pub async fn put_up(
    storage: &dyn ObjectStore,
    bucket: &str,
    key: &str,
    page: StoredObject,
) -> Result<String, Error> {
    let kept = kept_key(key);
    let before = match storage.get(bucket, key).await? {
        Some(current) if current.body == page.body => "the page was already up".to_string(),
        // A page put up earlier never came down: the original it kept stays the one.
        Some(_) if storage.get(bucket, &kept).await?.is_some() => {
            format!("the original kept earlier at s3://{bucket}/{kept} stays")
        }
        Some(current) => {
            storage
                .put(bucket, &kept, current.body, &current.content_type)
                .await?;
            format!("what was there is kept at s3://{bucket}/{kept}")
        }
        None => "nothing was there before".to_string(),
    };
    storage
        .put(bucket, key, page.body, &page.content_type)
        .await?;
    Ok(format!(
        "maintenance page up at s3://{bucket}/{key}; {before}"
    ))
}

/// Takes `page` down from `bucket/key`: puts back what was kept, or removes the page
/// when nothing was there before. A page someone replaced since is left alone.
pub async fn take_down(
    storage: &dyn ObjectStore,
    bucket: &str,
    key: &str,
    page: &StoredObject,
) -> Result<String, Error> {
    let url = format!("s3://{bucket}/{key}");
    let kept = kept_key(key);
    let current = storage.get(bucket, key).await?;
    let original = storage.get(bucket, &kept).await?;
    if current.as_ref().is_none_or(|c| c.body != page.body) {
        // Put back already (a crash before the kept copy was removed), or replaced.
        if original.is_some() && original.map(|o| o.body) == current.map(|c| c.body) {
            storage.delete(bucket, &kept).await?;
        }
        return Ok(format!(
            "{url} no longer holds the maintenance page: left as it is"
        ));
    }
    if let Some(original) = original {
        storage
            .put(bucket, key, original.body, &original.content_type)
            .await?;
        storage.delete(bucket, &kept).await?;
        Ok(format!(
            "put back what {url} held before the maintenance page"
        ))
    } else {
        storage.delete(bucket, key).await?;
        Ok(format!(
            "removed the maintenance page from {url} (nothing was there before)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::SystemTime;

    use tempfile::TempDir;

    use super::*;
    use crate::providers::sim::{Sim, SimWorld};

    /// A nominal sim world of the example environment, with no waiting.
    fn sim(dir: &TempDir) -> Sim {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("environments/example.toml");
        let env = crate::model::load(&path).unwrap().env;
        let world = dir.path().join("world.json");
        SimWorld::nominal(&env, SystemTime::now())
            .save(&world)
            .unwrap();
        Sim::open_at(world, &env, 0.0).unwrap()
    }

    fn html(text: &str) -> StoredObject {
        StoredObject {
            body: text.as_bytes().to_vec(),
            content_type: "text/html".to_string(),
        }
    }

    #[tokio::test]
    async fn a_page_put_where_nothing_was_is_removed_again() {
        let dir = TempDir::new().unwrap();
        let sim = sim(&dir);
        let page = html("down");

        let up = put_up(&sim, "site", "index.html", page.clone())
            .await
            .unwrap();
        assert!(up.ends_with("nothing was there before"), "{up}");
        assert_eq!(
            sim.get("site", "index.html").await.unwrap(),
            Some(page.clone())
        );

        let down = take_down(&sim, "site", "index.html", &page).await.unwrap();
        assert!(down.starts_with("removed the maintenance page"), "{down}");
        assert_eq!(sim.get("site", "index.html").await.unwrap(), None);
        assert_eq!(
            sim.get("site", "index.html.drplan-original").await.unwrap(),
            None
        );
    }

    #[test]
    fn a_failed_page_step_is_recorded_and_recovery_goes_on() {
        let failed = Err(Error::Unreachable {
            provider: "s3",
            message: "the bucket is unreachable".to_string(),
            help: "retry",
        });
        assert_eq!(
            best_effort(failed, "put the maintenance page up"),
            "could not put the maintenance page up (recovery goes on without it): s3: the bucket is unreachable"
        );
        assert_eq!(best_effort(Ok("up".to_string()), "x"), "up");
    }

    #[tokio::test]
    async fn an_original_kept_by_an_earlier_page_is_never_overwritten() {
        let dir = TempDir::new().unwrap();
        let sim = sim(&dir);
        sim.put("site", "index.html", b"shop".to_vec(), "text/html")
            .await
            .unwrap();
        put_up(&sim, "site", "index.html", html("down"))
            .await
            .unwrap();
        // That run never took its page down; the page file was edited since.
        let edited = html("down, back soon");

        let up = put_up(&sim, "site", "index.html", edited.clone())
            .await
            .unwrap();
        assert!(up.ends_with("stays"), "{up}");
        take_down(&sim, "site", "index.html", &edited)
            .await
            .unwrap();
        assert_eq!(
            sim.get("site", "index.html").await.unwrap(),
            Some(html("shop"))
        );
    }

    #[tokio::test]
    async fn a_page_replaced_by_someone_is_left_alone() {
        let dir = TempDir::new().unwrap();
        let sim = sim(&dir);
        let page = html("down");
        put_up(&sim, "site", "index.html", page.clone())
            .await
            .unwrap();
        sim.put("site", "index.html", b"new site".to_vec(), "text/html")
            .await
            .unwrap();

        let down = take_down(&sim, "site", "index.html", &page).await.unwrap();
        assert!(down.ends_with("left as it is"), "{down}");
        assert_eq!(
            sim.get("site", "index.html").await.unwrap(),
            Some(html("new site"))
        );
    }

    #[tokio::test]
    async fn a_take_down_interrupted_after_putting_back_finishes_on_the_rerun() {
        let dir = TempDir::new().unwrap();
        let sim = sim(&dir);
        let page = html("down");
        sim.put("site", "index.html", b"shop".to_vec(), "text/html")
            .await
            .unwrap();
        put_up(&sim, "site", "index.html", page.clone())
            .await
            .unwrap();
        // The crash: the original is back, its kept copy not yet removed.
        sim.put("site", "index.html", b"shop".to_vec(), "text/html")
            .await
            .unwrap();

        take_down(&sim, "site", "index.html", &page).await.unwrap();
        assert_eq!(
            sim.get("site", "index.html").await.unwrap(),
            Some(html("shop"))
        );
        assert_eq!(
            sim.get("site", "index.html.drplan-original").await.unwrap(),
            None
        );
    }
}
