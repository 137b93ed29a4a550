//! A panic in one request or one queued record must not take the others with it. The
//! release profile unwinds (`panic = "unwind"`), so a panic can be caught where work is
//! handed out: the API answers a spec-shaped 500 and a batch reports one failed record,
//! instead of the sandbox dying and API Gateway or the event source retrying everything.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

/// Runs `work`; a panic inside it becomes `Err` with the panic's message. Nothing a
/// caught future shared is reused half-updated: each call owns its request or record.
pub async fn caught<F: Future>(work: F) -> Result<F::Output, String> {
    AssertUnwindSafe(work)
        .catch_unwind()
        .await
        .map_err(|payload| message(payload.as_ref()))
}

fn message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-text payload".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_becomes_its_message_and_work_that_returns_is_untouched() {
        assert_eq!(caught(async { 7 }).await, Ok(7));
        let failed = caught(async {
            let index = std::hint::black_box(3);
            [1, 2][index]
        })
        .await;
        assert!(failed.unwrap_err().contains("index out of bounds"));
        let formatted = caught(async { panic!("record {} broke", 12) }).await;
        assert_eq!(formatted, Err::<(), _>("record 12 broke".into()));
    }

    /// The catching above works only if the binaries Lambda runs unwind.
    #[test]
    fn the_release_profile_unwinds() {
        let manifest = include_str!("../../Cargo.toml");
        let release = &manifest[manifest.find("[profile.release]").unwrap()..];
        let release = &release[..release[1..].find("\n[").map_or(release.len(), |i| i + 1)];
        assert!(!release.contains("panic = \"abort\""), "{release}");
    }
}
