//! Which engine's costs the cost findings assume, and the note that says so: GoCD's when every
//! pipeline comes from GoCD's own files (they run on a GoCD server), else Pipewright's runtime.
//! `[lint.cost]` in pipewright.toml sets the figures for either.

use super::config::LintConfig;
use super::cost::CostModel;
use crate::model::Program;
use crate::parser::format_duration;
use crate::source::Workspace;

/// The engine whose stage transitions and job setups the figures describe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// Pipewright's runtime: agents long-poll, and the next stage starts as the last job of a
    /// stage reports.
    Pipewright,
    /// A GoCD server: agents ask for work every 10 s, so a stage waits 10 to 30 s for the next,
    /// and each job checks out its materials again.
    GoCd,
}

impl Engine {
    /// The one place where the engine is chosen for a program.
    pub fn of(workspace: &Workspace, program: &Program) -> Engine {
        let from_gocd = |file| crate::gocd::is_gocd_path(&workspace.file(file).path);
        let pipelines = &program.pipelines;
        if !pipelines.is_empty() && pipelines.iter().all(|p| from_gocd(p.origin.file)) {
            Engine::GoCd
        } else {
            Engine::Pipewright
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Engine::Pipewright => "Pipewright's runtime",
            Engine::GoCd => "a GoCD server",
        }
    }

    /// The engine's own figures, when `[lint.cost]` does not set them.
    fn default_model(self) -> CostModel {
        match self {
            Engine::Pipewright => CostModel::default(),
            Engine::GoCd => CostModel { transition_secs: 20, setup_secs: 10, ..CostModel::default() },
        }
    }

    /// The figures a lint run uses: `[lint.cost]`'s, else the engine's.
    pub fn model(self, config: &LintConfig) -> CostModel {
        if config.cost_configured {
            config.cost.clone()
        } else {
            self.default_model()
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
