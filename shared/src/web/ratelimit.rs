//! Fixed-window rate limiting: 600 requests per minute per API key.
//!
//! The counter lives on the key's own item (`rl_window`, `rl_count`) so that authenticating
//! and counting are one `UpdateItem`; see [`crate::web::auth`].

pub const LIMIT_PER_MINUTE: u64 = 600;
pub const WINDOW_SECONDS: u64 = 60;

/// Start of the window that contains `now` (epoch seconds).
pub fn window_start(now: u64) -> u64 {
    now - now % WINDOW_SECONDS
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateStatus {
    /// Start of the window the request was counted in (epoch seconds).
    pub window: u64,
    pub limit: u64,
    pub remaining: u64,
    /// Whole seconds until the window resets, at least 1.
    pub reset_after: u64,
    pub exceeded: bool,
}

impl RateStatus {
    /// The status after the `count`-th request of the window that started at `window`.
    pub fn after(count: u64, window: u64, now: u64) -> Self {
        let reset_after = (window + WINDOW_SECONDS).saturating_sub(now).max(1);
        Self {
            window,
            limit: LIMIT_PER_MINUTE,
            remaining: LIMIT_PER_MINUTE.saturating_sub(count),
            reset_after,
            exceeded: count > LIMIT_PER_MINUTE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_align_to_minutes() {
        assert_eq!(window_start(120), 120);
        assert_eq!(window_start(179), 120);
    }

    #[test]
    fn counts_down_and_trips_after_the_limit() {
        let first = RateStatus::after(1, 120, 121);
        assert_eq!((first.remaining, first.exceeded), (599, false));
        let last = RateStatus::after(600, 120, 150);
        assert_eq!((last.remaining, last.exceeded), (0, false));
        let over = RateStatus::after(601, 120, 150);
        assert_eq!(
            (over.remaining, over.exceeded, over.reset_after),
            (0, true, 30)
        );
    }

    #[test]
    fn retry_after_is_at_least_one_second() {
        assert_eq!(RateStatus::after(700, 120, 179).reset_after, 1);
        assert_eq!(RateStatus::after(700, 120, 185).reset_after, 1);
    }
}
