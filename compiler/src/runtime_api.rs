//! What the runtime may use of the compiler: the plan it runs, the expansion of fanned-out
//! jobs (`fan_out`), and the durations file it writes for `pw lint --history`. The runtime reaches no further
//! (`runtime/tests/boundary.rs` checks it); compiling `.pw` files is the CLI's work.

pub use crate::fan_out;
pub use crate::lint::history::{DurationsFile, JobDuration, TaskDuration, FILE_NAME as DURATIONS_FILE_NAME};
pub use crate::plan;
