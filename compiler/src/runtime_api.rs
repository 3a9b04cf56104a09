//! What the runtime may use of the compiler: the plan it runs, the rule that names fanned-out
//! jobs, and the durations file it writes for `pw lint --history`. The runtime reaches no further
//! (`runtime/tests/boundary.rs` checks it); compiling `.pw` files is the CLI's work.

pub use crate::check::name_safe;
pub use crate::lint::history::{DurationsFile, JobDuration, TaskDuration, FILE_NAME as DURATIONS_FILE_NAME};
pub use crate::plan;
