//! A criterion measurement of the process's CPU time instead of wall-clock time.
//!
//! The machines the project is measured on are often shared: on a busy 2-core machine a benchmark
//! waits for a core much of the time, and wall-clock figures say more about the neighbours than
//! about the code. CPU time counts only the time the process actually ran, on all of its threads
//! (threads that have ended included), so it is steadier under load. For work spread over several
//! threads it is the sum of their times, not the elapsed time.

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use std::time::Duration;

/// Wall time's formatter fits: both measure durations in nanoseconds.
static WALL: WallTime = WallTime;

/// CPU time of the whole process (`CLOCK_PROCESS_CPUTIME_ID`).
pub(crate) struct ProcessCpu;

impl ProcessCpu {
    fn now() -> Duration {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `ts` is a valid, writable timespec, and the clock id is a constant Linux and
        // the BSDs define; on failure `ts` stays zero, which makes the sample zero, not undefined.
        unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
        Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32)
    }
}

impl Measurement for ProcessCpu {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        Self::now()
    }

    fn end(&self, start: Duration) -> Duration {
        Self::now().saturating_sub(start)
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        WALL.formatter()
    }
}
