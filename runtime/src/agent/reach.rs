//! Telling an outage: whether the server can be reached, shared by every call of an agent, so
//! that people see one line when an outage starts, a few while it lasts and one when it ends.

use std::time::Duration;

/// Whether the server can be reached, shared by every call of an agent, so that an outage is
/// told once when it starts, then at growing intervals (1 s, 2 s, 4 s ... at most a minute), and
/// once when it ends, however many calls retry meanwhile.
#[derive(Default)]
pub(super) struct Reach {
    /// When the current outage started, and when it is next told.
    down: Option<(std::time::Instant, Duration)>,
}

/// Less than this between the first failed call and the next is not worth a line.
const FIRST_RETRY_LINE: Duration = Duration::from_secs(1);
/// The longest pause between two lines about one outage.
const RETRY_LINE_MAX: Duration = Duration::from_secs(60);

impl Reach {
    /// A call failed: the line to print, if one is due.
    pub(super) fn failed(&mut self, server: &str, error: &str) -> Option<String> {
        let now = std::time::Instant::now();
        match &mut self.down {
            None => {
                self.down = Some((now, FIRST_RETRY_LINE));
                Some(format!("cannot reach the server at {server} ({error}); retrying"))
            }
            Some((since, next)) => {
                let elapsed = now.duration_since(*since);
                if elapsed < *next {
                    return None;
                }
                *next = (*next * 2).min(elapsed + RETRY_LINE_MAX);
                Some(format!(
                    "the server at {server} is still unreachable after {}s ({error}); still retrying",
                    elapsed.as_secs()
                ))
            }
        }
    }

    /// A call reached the server: the line to print when it had been unreachable.
    pub(super) fn reached(&mut self, server: &str) -> Option<String> {
        let (since, _) = self.down.take()?;
        Some(format!("reached the server at {server} again after {}s", since.elapsed().as_secs()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_told_when_it_starts_at_growing_intervals_and_when_it_ends() {
        let mut reach = Reach::default();
        assert_eq!(reach.reached("http://s"), None, "nothing to say while the server answers");
        let first = reach.failed("http://s", "Connection refused").expect("the first failure is told");
        assert_eq!(first, "cannot reach the server at http://s (Connection refused); retrying");
        assert_eq!(reach.failed("http://s", "Connection refused"), None, "retries right after it are not");
        // As if the outage had started 1.5 s ago.
        if let Some((since, _)) = &mut reach.down {
            *since -= Duration::from_millis(1500);
        }
        let again = reach.failed("http://s", "Connection refused").expect("told again after a second");
        assert!(again.starts_with("the server at http://s is still unreachable after 1s"), "{again}");
        assert_eq!(reach.down.map(|(_, next)| next), Some(Duration::from_secs(2)), "then after 2 s, 4 s ...");
        assert_eq!(reach.failed("http://s", "x"), None);
        let back = reach.reached("http://s").expect("the end is told");
        assert_eq!(back, "reached the server at http://s again after 1s");
        assert_eq!(reach.reached("http://s"), None);
    }
}
