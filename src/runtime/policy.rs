//! Docker's backoff between restarts (the policy itself is
//! `model::RestartPolicy`).

use std::time::Duration;

/// Docker's restart backoff: 100 ms, doubling up to one minute; a
/// container that ran at least 10 s starts again from 100 ms.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    next: Duration,
}

const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(60);
const RESET_AFTER_RUNNING: Duration = Duration::from_secs(10);

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: FIRST_DELAY }
    }
}

impl Backoff {
    /// The delay before the next start, given how long the last run lasted.
    pub(crate) fn delay(&mut self, ran_for: Duration) -> Duration {
        if ran_for >= RESET_AFTER_RUNNING {
            self.next = FIRST_DELAY;
        }
        let d = self.next;
        self.next = (self.next * 2).min(MAX_DELAY);
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let mut b = Backoff::default();
        let short = Duration::from_millis(5);
        let delays: Vec<u128> = (0..4).map(|_| b.delay(short).as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 800]);
        for _ in 0..20 {
            b.delay(short);
        }
        assert_eq!(b.delay(short), MAX_DELAY);
        assert_eq!(b.delay(Duration::from_secs(11)), FIRST_DELAY);
    }
}
