//! The keys the GoCD YAML plugin reads at each level; any other key below the top level is
//! ignored by GoCD, and reported here.

pub(super) const TOP: &[&str] = &["format_version", "pipelines", "environments", "common"];

pub(super) const ENVIRONMENT: &[&str] = &["environment_variables", "secure_variables", "pipelines", "agents"];

pub(super) const PIPELINE: &[&str] = &[
    "group",
    "label_template",
    "lock_behavior",
    "lock_behaviour",
    "locking",
    "display_order",
    "tracking_tool",
    "mingle",
    "timer",
    "environment_variables",
    "secure_variables",
    "parameters",
    "materials",
    "stages",
    "template",
];

pub(super) const MATERIAL: &[&str] = &[
    "type",
    "git",
    "url",
    "svn",
    "hg",
    "p4",
    "tfs",
    "scm",
    "package",
    "pipeline",
    "stage",
    "branch",
    "destination",
    "auto_update",
    "shallow_clone",
    "whitelist",
    "blacklist",
    "includes",
    "ignore",
    "invert_filter",
    "username",
    "password",
    "encrypted_password",
    "check_externals",
    "use_tickets",
    "view",
    "port",
    "domain",
    "project",
    "ignore_for_scheduling",
    "name",
    "plugin_configuration",
    "options",
    "secure_options",
];

pub(super) const STAGE: &[&str] = &[
    "fetch_materials",
    "keep_artifacts",
    "clean_workspace",
    "approval",
    "environment_variables",
    "secure_variables",
    "jobs",
];

pub(super) const JOB: &[&str] = &[
    "timeout",
    "run_instances",
    "resources",
    "elastic_profile_id",
    "environment_variables",
    "secure_variables",
    "tabs",
    "artifacts",
    "properties",
    "tasks",
];

pub(super) const APPROVAL: &[&str] = &["type", "allow_only_on_success", "users", "roles"];

pub(super) const TIMER: &[&str] = &["spec", "only_on_changes"];

pub(super) const ARTIFACT: &[&str] = &["source", "destination"];

pub(super) const EXTERNAL_ARTIFACT: &[&str] = &["id", "store_id", "configuration"];

pub(super) const TASK_TYPES: &[&str] = &["exec", "script", "fetch", "fetchartifact", "plugin", "ant", "nant", "rake"];

pub(super) const TASK_COMMON: &[&str] = &["run_if", "on_cancel"];

/// The keys of a task's body, by its type.
pub(super) fn task(kind: &str) -> &'static [&'static str] {
    match kind {
        "exec" => &["command", "arguments", "working_directory"],
        "fetch" | "fetchartifact" => &[
            "pipeline",
            "stage",
            "job",
            "source",
            "destination",
            "is_file",
            "artifact_origin",
            "artifact_id",
            "configuration",
        ],
        "plugin" => &["configuration", "options", "secure_options"],
        _ => &["build_file", "target", "working_directory", "nant_path"],
    }
}

/// What a key GoCD ignores probably meant, when it reads as an intent GoCD does not have.
pub(super) fn intent(level: &str, key: &str) -> Option<&'static str> {
    match (level, key) {
        ("job" | "stage", "depends_on" | "needs" | "after" | "requires") => Some(
            "GoCD runs the jobs of a stage at the same time and has no order between them: put the work that must come first in an earlier stage, or make both tasks of one job",
        ),
        ("job" | "stage", "inputs") => Some("a job gets files from another job only by a `fetch` task from an earlier stage"),
        ("stage", "resources") => Some("resources belong to each job: move `resources:` into the jobs"),
        ("pipeline", "environment") => {
            Some("a pipeline joins an environment from the environment's side: list it under `environments.NAME.pipelines`")
        }
        ("pipeline" | "stage" | "job", "env" | "environment_vars" | "variables" | "env_vars") => {
            Some("environment variables go under `environment_variables:`")
        }
        _ => None,
    }
}

/// YAML 1.1 booleans as the plugin reads them.
pub(super) fn boolean(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "y" | "yes" | "true" | "on" => Some(true),
        "n" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}
