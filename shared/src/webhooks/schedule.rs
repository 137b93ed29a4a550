//! When a failed delivery is tried again.

use std::time::Duration;

/// The delays before each attempt: the first is attempt 1's (normally 0), and the number of
/// entries is the number of attempts.
#[derive(Clone, Debug, PartialEq)]
pub struct RetrySchedule(Vec<Duration>);

impl RetrySchedule {
    /// Immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
    pub fn production() -> Self {
        Self::seconds(&[0, 5, 300, 1800, 7200, 18000, 36000, 36000])
    }

    pub fn seconds(delays: &[u64]) -> Self {
        Self(delays.iter().map(|s| Duration::from_secs(*s)).collect())
    }

    /// `WEBHOOK_RETRY_SCHEDULE`: comma-separated seconds, at most 12 h each (a wait longer
    /// than SQS's 15-minute delay is delayed again on each receive, so each hour of it
    /// costs four receives).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let delays = raw
            .split(',')
            .map(|part| {
                part.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|s| *s <= 12 * 3600)
                    .ok_or_else(|| {
                        format!("WEBHOOK_RETRY_SCHEDULE: {part:?} is not 0..=43200 seconds")
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if delays.is_empty() {
            return Err("WEBHOOK_RETRY_SCHEDULE is empty".into());
        }
        Ok(Self::seconds(&delays))
    }

    pub fn attempts(&self) -> u32 {
        self.0.len() as u32
    }

    /// The wait before the attempt after attempt `made` (1-based), or `None` when it was
    /// the last. A `Retry-After` from the receiver is honoured between that step's delay and
    /// the schedule's longest. Jitter of up to a tenth avoids retrying in lockstep.
    pub fn next_delay(&self, made: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let base = *self.0.get(made as usize)?;
        let longest = self.0.iter().copied().max().unwrap_or(base);
        let wanted = retry_after.map_or(base, |r| r.clamp(base, longest.max(base)));
        let jitter_ms = (wanted.as_millis() as u64 / 10).max(1);
        let jitter = Duration::from_millis(rand::random::<u64>() % jitter_ms);
        Some(wanted + jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_events_queue_outlasts_the_retry_schedule() {
        let template = include_str!("../../../template.yaml");
        let queue = template
            .split("\n  EventsQueue:\n")
            .nth(1)
            .and_then(|rest| rest.split("\n\n").next())
            .expect("template.yaml declares EventsQueue");
        let setting = |name: &str| -> u64 {
            queue
                .lines()
                .find_map(|line| line.trim().strip_prefix(&format!("{name}: ")))
                .and_then(|value| value.parse().ok())
                .unwrap_or_else(|| panic!("EventsQueue has no numeric {name}"))
        };
        let schedule = RetrySchedule::production();
        assert!(setting("maxReceiveCount") >= 3 * u64::from(schedule.attempts()));
        let span: u64 = schedule.0.iter().map(Duration::as_secs).sum();
        assert!(setting("MessageRetentionPeriod") >= span + 24 * 3600);
    }

    #[test]
    fn the_schedule_is_bounded_and_honours_retry_after_within_it() {
        let schedule = RetrySchedule::production();
        assert_eq!(schedule.attempts(), 8);
        let second = schedule.next_delay(1, None).unwrap();
        assert!(second >= Duration::from_secs(5) && second <= Duration::from_millis(5500));
        assert!(schedule.next_delay(8, None).is_none());
        let asked = schedule
            .next_delay(1, Some(Duration::from_secs(60)))
            .unwrap();
        assert!(asked >= Duration::from_secs(60) && asked <= Duration::from_secs(66));
        let capped = schedule
            .next_delay(1, Some(Duration::from_secs(99_999)))
            .unwrap();
        assert!(capped <= Duration::from_secs(39_600));
        let floor = schedule
            .next_delay(2, Some(Duration::from_secs(1)))
            .unwrap();
        assert!(floor >= Duration::from_secs(300));
        assert!(RetrySchedule::parse("0,1,2").is_ok());
        assert!(RetrySchedule::parse("0,x").is_err());
        assert!(RetrySchedule::parse("50000").is_err());
    }
}
