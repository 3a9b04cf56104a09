//! Which engine's costs the cost findings assume, and the note that says so. Today the figures
//! are Pipewright's runtime with the `[lint.cost]` settings (or their defaults); a front end
//! that translates another engine's pipelines chooses that engine here.

use super::cost::CostModel;
use crate::model::Program;
use crate::parser::format_duration;

/// The engine whose stage transitions and job setups the figures describe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// Pipewright's runtime, with the configured figures.
    Pipewright,
}

impl Engine {
    /// The one place where the engine is chosen for a program.
    pub fn of(_program: &Program) -> Engine {
        Engine::Pipewright
    }

    pub fn name(self) -> &'static str {
        match self {
            Engine::Pipewright => "Pipewright's runtime",
        }
    }

    /// `costs assumed: Pipewright's runtime, with a 10s transition and a 5s job setup ([lint.cost])`.
    pub fn note(self, model: &CostModel) -> String {
        format!(
            "costs assumed: {}, with a {} stage transition and a {} job setup (`[lint.cost]` in pipewright.toml)",
            self.name(),
            format_duration(model.transition_secs),
            format_duration(model.setup_secs)
        )
    }
}
