//! From YAML nodes to the GoCD model, as the plugin reads them: keys it ignores are reported,
//! values of the wrong shape are errors at their place, `#{param}` is substituted.

use super::keys;
use super::model::*;
use super::yaml::{Node, NodeKind};
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::gocd::codes::GoCode;
use crate::source::{FileId, Span};

/// A key a value needs, as each format spells it: the YAML key, and the XML attributes the
/// server's configuration may hold it in ([`xml`](super::xml) reads them as the key).
#[derive(Clone, Copy)]
struct Key {
    yaml: &'static str,
    xml: &'static [&'static str],
}

/// A key spelled the same in both formats.
macro_rules! same {
    ($name:literal) => {
        Key { yaml: $name, xml: &[$name] }
    };
}

/// Reads a file's root node into the model; `xml`: the node is a server configuration read by
/// [`xml`](super::xml), whose messages name its attributes rather than YAML keys.
pub(super) fn read(file: FileId, root: &Node, xml: bool) -> (Config, Vec<Diagnostic>) {
    let mut r = Reader { file, xml, diagnostics: Vec::new(), params: Vec::new(), server_refs: Vec::new() };
    let mut config = r.config(root);
    config.server_refs = r.server_refs;
    (config, r.diagnostics)
}

struct Reader {
    file: FileId,
    xml: bool,
    diagnostics: Vec<Diagnostic>,
    /// The parameters of the pipeline being read.
    params: Vec<(String, String)>,
    server_refs: Vec<ServerRef>,
}

impl Reader {
    fn config(&mut self, root: &Node) -> Config {
        let mut config = Config::default();
        if root.is_null() {
            return config;
        }
        let Some(entries) = self.map(root, "the file") else { return config };
        for (key, value) in entries {
            match key.str().unwrap_or_default() {
                "pipelines" => {
                    for (name, body) in self.map(value, "`pipelines`").unwrap_or_default() {
                        if let Some(p) = self.pipeline(name, body) {
                            config.pipelines.push(p);
                        }
                    }
                }
                "environments" => {
                    for (name, body) in self.map(value, "`environments`").unwrap_or_default() {
                        config.environments.push(self.environment(name, body));
                    }
                }
                "format_version" | "common" => {}
                other => {
                    let d = Diagnostic::error(
                        GoCode::G0002,
                        self.file,
                        key.span,
                        format!("GoCD rejects the top-level key `{other}`"),
                    )
                    .with_label("not a top-level key")
                    .with_note("the top level holds `format_version`, `pipelines`, `environments` and `common` only");
                    let d = match did_you_mean(other, keys::TOP.iter().copied()) {
                        Some(s) => d.with_suggestion(s),
                        None => d.with_help("keep anchors under `common:` and move the rest under a pipeline"),
                    };
                    self.diagnostics.push(d);
                }
            }
        }
        config
    }

    fn environment(&mut self, name: &Node, body: &Node) -> Environment {
        let mut env = Environment { name: self.name(name), ..Default::default() };
        if body.is_null() {
            return env;
        }
        self.known_keys(body, &[keys::ENVIRONMENT], "environment");
        env.vars = self.vars(body);
        if let Some(list) = body.get("pipelines") {
            env.pipelines = self.list(list, "`pipelines`").into_iter().filter_map(|n| self.text(n)).collect();
        }
        if let Some(agents) = body.get("agents") {
            env.unmapped.push(unmapped(
                "agents",
                agents,
                "agents are chosen by `resources` in Pipewright: give these agents a resource and require it in the jobs",
            ));
        }
        env
    }

    fn pipeline(&mut self, name: &Node, body: &Node) -> Option<Pipeline> {
        let name = self.name(name);
        let entries = self.map(body, "a pipeline")?;
        self.known_keys(body, &[keys::PIPELINE], "pipeline");
        self.params = Vec::new();
        if let Some(params) = body.get("parameters") {
            for (k, v) in self.map(params, "`parameters`").unwrap_or_default() {
                let value = self.opt_text(v).map(|t| t.value).unwrap_or_default();
                self.params.push((k.str().unwrap_or_default().to_string(), value));
            }
        }
        let mut p = Pipeline { name, span: body.span, ..Default::default() };
        for (key, value) in entries {
            let key_name = key.str().unwrap_or_default();
            match key_name {
                "template" => {
                    p.template = self.text(value);
                    self.server_ref("server-side template", value);
                }
                "materials" => {
                    for (m, mbody) in self.map(value, "`materials`").unwrap_or_default() {
                        p.materials.extend(self.material(m, mbody));
                    }
                }
                "stages" => {
                    let errors = self.errors();
                    for item in self.list(value, "`stages`") {
                        if let Some((n, b)) = self.one_key(item, "a stage") {
                            p.stages.extend(self.stage(n, b));
                        }
                    }
                    p.incomplete = self.errors() > errors;
                }
                "label_template" => p.unmapped.push(unmapped(
                    key_name,
                    value,
                    "Pipewright numbers each instance with its counter; there are no labels",
                )),
                "lock_behavior" | "lock_behaviour" | "locking" => {
                    let (single, note) = lock(key_name, value);
                    p.single_instance = single;
                    p.unmapped.extend(note);
                }
                "group" => p.unmapped.push(unmapped(key_name, value, "no pipeline groups in Pipewright")),
                "display_order" => p.unmapped.push(unmapped(key_name, value, "no display order in Pipewright")),
                "tracking_tool" | "mingle" => {
                    p.unmapped.push(unmapped(key_name, value, "no tracking tool links in Pipewright"))
                }
                "timer" => {
                    self.known_keys(value, &[keys::TIMER], "timer");
                    p.unmapped.push(unmapped(
                        key_name,
                        value,
                        "no timer trigger in Pipewright: trigger the pipeline from a scheduler with `pw trigger`",
                    ));
                }
                _ => {}
            }
        }
        p.vars = self.vars(body);
        if p.template.is_some() {
            p.stages.clear();
        }
        self.params.clear();
        Some(p)
    }

    fn material(&mut self, name: &Node, body: &Node) -> Option<Material> {
        let name = self.name(name);
        self.map(body, "a material")?;
        self.known_keys(body, &[keys::MATERIAL], "material");
        let get = |k: &str| body.get(k);
        let ty = get("type").and_then(Node::str).unwrap_or_default().to_ascii_lowercase();
        let kind = if let Some(url) = get("git") {
            MaterialKind::Git { url: self.text(url)? }
        } else if ty == "git" {
            MaterialKind::Git { url: self.required(body, same!("url"), "a git material")? }
        } else if get("pipeline").is_some() || ty == "dependency" {
            let pipeline =
                self.required(body, Key { yaml: "pipeline", xml: &["pipelineName"] }, "a dependency material")?;
            let stage = self.required(body, Key { yaml: "stage", xml: &["stageName"] }, "a dependency material")?;
            MaterialKind::Dependency { pipeline, stage }
        } else if ty == "configrepo" {
            self.server_refs.push(ServerRef {
                what: "config repository material",
                name: name.value.clone(),
                span: body.span,
            });
            MaterialKind::ConfigRepo
        } else if let Some(id) = get("scm") {
            self.server_ref("pluggable SCM", id);
            MaterialKind::ServerDefined { what: "pluggable SCM", id: self.text(id)? }
        } else if let Some(id) = get("package") {
            self.server_ref("package", id);
            MaterialKind::ServerDefined { what: "package", id: self.text(id)? }
        } else {
            let kind = ["svn", "hg", "p4", "tfs", "plugin_configuration"]
                .into_iter()
                .find(|k| get(k).is_some())
                .map_or(ty.clone(), |k| k.replace("plugin_configuration", "plugin"));
            if kind.is_empty() {
                self.diagnostics.push(
                    Diagnostic::error(
                        GoCode::G0002,
                        self.file,
                        body.span,
                        "this material says neither its kind nor its source",
                    )
                    .with_label("no `git:`, `pipeline:` or `type:`")
                    .with_help("write `git: URL` for a repository, or `pipeline:` and `stage:` for an upstream"),
                );
                return None;
            }
            MaterialKind::Other { kind }
        };
        let mut m = Material {
            name,
            span: body.span,
            kind,
            branch: get("branch").and_then(|n| self.opt_text(n)),
            destination: get("destination").and_then(|n| self.opt_text(n)),
            unmapped: Vec::new(),
        };
        for (key, why) in [
            ("shallow_clone", "Pipewright always clones the whole history"),
            ("whitelist", "no path filters in Pipewright: every commit triggers"),
            ("blacklist", "no path filters in Pipewright: every commit triggers"),
            ("includes", "no path filters in Pipewright: every commit triggers"),
            ("ignore", "no path filters in Pipewright: every commit triggers"),
            ("username", "give the credentials in the URL or the agent's git configuration"),
            ("encrypted_password", "encrypted with the GoCD server's key: give the credentials to the agents' git"),
            ("password", "give the credentials to the agents' git, never in the file"),
            ("ignore_for_scheduling", "an upstream in `after` always triggers in Pipewright"),
        ] {
            if let Some(v) = get(key) {
                m.unmapped.push(unmapped(key, v, why));
            }
        }
        if get("auto_update").and_then(Node::str).and_then(keys::boolean) == Some(false) {
            m.unmapped.push(unmapped(
                "auto_update",
                get("auto_update")?,
                "Pipewright polls every material: no manual-only materials",
            ));
        }
        Some(m)
    }

    fn stage(&mut self, name: Text, body: &Node) -> Option<Stage> {
        self.map(body, "a stage")?;
        let shorthand = body.get("jobs").is_none() && body.get("tasks").is_some();
        let allowed: &[&[&str]] = if shorthand { &[keys::STAGE, keys::JOB] } else { &[keys::STAGE] };
        self.known_keys(body, allowed, "stage");
        let mut s = Stage { name: name.clone(), span: body.span, ..Default::default() };
        if let Some(a) = body.get("approval") {
            s.manual = self.approval(a, &mut s.unmapped);
        }
        s.fetch_materials = body.get("fetch_materials").and_then(|n| self.boolean(n));
        for (key, why) in [
            ("clean_workspace", "every Pipewright job starts in a fresh workspace"),
            ("keep_artifacts", "no artifact retention setting in Pipewright"),
        ] {
            if let Some(v) = body.get(key) {
                s.unmapped.push(unmapped(key, v, why));
            }
        }
        s.vars = self.vars(body);
        let errors = self.errors();
        if shorthand {
            s.jobs.extend(self.job(name, body, false));
        } else if let Some(jobs) = body.get("jobs") {
            for (jname, jbody) in self.map(jobs, "`jobs`").unwrap_or_default() {
                let jname = self.name(jname);
                s.jobs.extend(self.job(jname, jbody, true));
            }
        } else {
            self.diagnostics.push(
                Diagnostic::error(
                    GoCode::G0002,
                    self.file,
                    s.name.span,
                    format!("stage `{}` has neither `jobs:` nor `tasks:`", s.name.value),
                )
                .with_help("add `jobs:` with at least one job, or `tasks:` for a stage of one job"),
            );
        }
        s.incomplete = self.errors() > errors;
        Some(s)
    }

    /// Whether the approval is manual; what Pipewright cannot keep goes to `unmapped`.
    fn approval(&mut self, node: &Node, unmapped_out: &mut Vec<Unmapped>) -> bool {
        let ty = match &node.kind {
            NodeKind::Scalar { text, .. } => Some(text.clone()),
            NodeKind::Map(_) => {
                self.known_keys(node, &[keys::APPROVAL], "approval");
                for key in ["users", "roles"] {
                    if let Some(v) = node.get(key) {
                        unmapped_out.push(unmapped(key, v, "Pipewright does not restrict who approves a stage"));
                    }
                }
                node.get("type").and_then(Node::str).map(str::to_string)
            }
            NodeKind::Seq(_) => {
                self.wrong_shape(node, "`approval`", "`manual`, `success` or a map with `type:`");
                None
            }
        };
        match ty.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("manual") => {
                let only_success = node.get("allow_only_on_success").and_then(Node::str).and_then(keys::boolean);
                if only_success != Some(true) {
                    unmapped_out.push(unmapped(
                        "approval",
                        node,
                        "GoCD lets a person run a manual stage after a failed one; Pipewright never starts a stage after a failure",
                    ));
                }
                true
            }
            Some("success" | "auto") | None => false,
            Some(other) => {
                let d = Diagnostic::error(
                    GoCode::G0002,
                    self.file,
                    node.span,
                    format!("`{other}` is not an approval type"),
                )
                .with_label("expected `manual` or `success`");
                self.diagnostics.push(d);
                false
            }
        }
    }

    fn job(&mut self, name: Text, body: &Node, check_keys: bool) -> Option<Job> {
        self.map(body, "a job")?;
        if check_keys {
            self.known_keys(body, &[keys::JOB], "job");
        }
        let mut j = Job { name, span: body.span, ..Default::default() };
        if let Some(t) = body.get("timeout") {
            j.timeout = self.number(t, "`timeout` (minutes)").map(|n| (n, t.span));
        }
        if let Some(n) = body.get("run_instances") {
            match n.str() {
                Some(all) if all.eq_ignore_ascii_case("all") => j.unmapped.push(unmapped(
                    "run_instances",
                    n,
                    "Pipewright has no \"one job per agent\": list the targets with `for`, or `discover(...)` them",
                )),
                _ => j.instances = self.number(n, "`run_instances`").map(|c| (c.clamp(1, 1000) as u32, n.span)),
            }
        }
        if let Some(r) = body.get("resources") {
            j.resources = self.list(r, "`resources`").into_iter().filter_map(|n| self.text(n)).collect();
        }
        if let Some(profile) = body.get("elastic_profile_id") {
            self.server_ref("elastic agent profile", profile);
        }
        for (key, why) in [
            (
                "elastic_profile_id",
                "elastic agents are a GoCD server plugin: require a resource the matching agents have",
            ),
            ("tabs", "no custom tabs in Pipewright"),
            ("properties", "no job properties in Pipewright"),
        ] {
            if let Some(v) = body.get(key) {
                j.unmapped.push(unmapped(key, v, why));
            }
        }
        j.vars = self.vars(body);
        if let Some(a) = body.get("artifacts") {
            for item in self.list(a, "`artifacts`") {
                self.artifact(item, &mut j);
            }
        }
        let errors = self.errors();
        match body.get("tasks") {
            Some(tasks) => {
                for item in self.list(tasks, "`tasks`") {
                    j.tasks.extend(self.task(item));
                }
            }
            None => self.diagnostics.push(
                Diagnostic::error(
                    GoCode::G0002,
                    self.file,
                    j.name.span,
                    format!("job `{}` has no `tasks:`", j.name.value),
                )
                .with_help("add `tasks:` with at least one task"),
            ),
        }
        j.incomplete = self.errors() > errors;
        Some(j)
    }

    fn artifact(&mut self, item: &Node, job: &mut Job) {
        let Some((kind, body)) = self.one_key(item, "an artifact") else { return };
        match kind.value.as_str() {
            "build" | "test" => {
                if self.map(body, "an artifact").is_none() {
                    return;
                }
                self.known_keys(body, &[keys::ARTIFACT], "artifact");
                let Some(source) = self.required(body, Key { yaml: "source", xml: &["src"] }, "an artifact") else {
                    return;
                };
                let destination = body.get("destination").and_then(|n| self.opt_text(n));
                job.artifacts.push(Artifact { test: kind.value == "test", source, destination, span: item.span });
            }
            "external" => {
                self.known_keys(body, &[keys::EXTERNAL_ARTIFACT], "artifact");
                if let Some(store) = body.get("store_id") {
                    self.server_ref("artifact store", store);
                }
                job.unmapped.push(unmapped(
                    "artifacts",
                    item,
                    "external artifacts go to an artifact store plugin of the GoCD server",
                ))
            }
            other => {
                let d = Diagnostic::error(
                    GoCode::G0002,
                    self.file,
                    kind.span,
                    format!("`{other}` is not an artifact type"),
                )
                .with_label("expected `build`, `test` or `external`");
                self.diagnostics.push(d);
            }
        }
    }

    fn task(&mut self, item: &Node) -> Option<Task> {
        let (kind, body) = self.one_key(item, "a task")?;
        let mut unmapped_out = Vec::new();
        let run_if_node = body.get("run_if").or_else(|| item.get("run_if"));
        let run_if = match run_if_node.and_then(Node::str).map(str::to_ascii_lowercase).as_deref() {
            None | Some("passed") => RunIf::Passed,
            Some("failed") => RunIf::Failed,
            Some("any") => RunIf::Any,
            Some(other) => {
                let span = run_if_node.map_or(item.span, |n| n.span);
                self.diagnostics.push(
                    Diagnostic::error(GoCode::G0002, self.file, span, format!("`{other}` is not a `run_if` value"))
                        .with_label("expected `passed`, `failed` or `any`"),
                );
                RunIf::Passed
            }
        };
        if let Some(c) = body.get("on_cancel") {
            unmapped_out.push(unmapped(
                "on_cancel",
                c,
                "no cancel hook in Pipewright: a cancelled job's tasks are stopped",
            ));
        }
        let kind = match kind.value.as_str() {
            "script" => TaskKind::Script(self.text(body)?),
            "exec" => {
                self.task_keys(body, "exec");
                let command = self.required(body, same!("command"), "an `exec` task")?;
                let arguments = body
                    .get("arguments")
                    .map(|a| self.list(a, "`arguments`").into_iter().filter_map(|n| self.text(n)).collect())
                    .unwrap_or_default();
                let working_directory = body.get("working_directory").and_then(|n| self.opt_text(n));
                TaskKind::Exec { command, arguments, working_directory }
            }
            "fetch" | "fetchartifact" => self.fetch(body)?,
            "plugin" => self.plugin(body)?,
            "ant" | "nant" | "rake" => self.build_tool(&kind.value, body),
            other => {
                let d = Diagnostic::error(GoCode::G0002, self.file, kind.span, format!("`{other}` is not a task type"))
                    .with_label("GoCD does not know this task");
                let d = match did_you_mean(other, keys::TASK_TYPES.iter().copied()) {
                    Some(s) => d.with_suggestion(s),
                    None => d.with_help("write `exec:`, `script:`, `fetch:` or `plugin:`"),
                };
                self.diagnostics.push(d);
                return None;
            }
        };
        Some(Task { kind, run_if, span: item.span, unmapped: unmapped_out })
    }

    fn task_keys(&mut self, body: &Node, kind: &str) {
        if matches!(body.kind, NodeKind::Map(_)) {
            self.known_keys(body, &[keys::task(kind), keys::TASK_COMMON], "task");
        }
    }

    fn fetch(&mut self, body: &Node) -> Option<TaskKind> {
        self.map(body, "a `fetch` task")?;
        self.task_keys(body, "fetch");
        if body.get("artifact_origin").and_then(Node::str).is_some_and(|o| o.eq_ignore_ascii_case("external")) {
            return Some(TaskKind::Unsupported {
                what: "a fetch of an external artifact (an artifact store plugin)".into(),
            });
        }
        Some(TaskKind::Fetch {
            pipeline: body.get("pipeline").and_then(|n| self.opt_text(n)).filter(|t| !t.value.is_empty()),
            stage: self.required(body, same!("stage"), "a `fetch` task")?,
            job: self.required(body, same!("job"), "a `fetch` task")?,
            source: self.required(body, Key { yaml: "source", xml: &["srcfile", "srcdir"] }, "a `fetch` task")?,
            destination: body.get("destination").and_then(|n| self.opt_text(n)).filter(|t| !t.value.is_empty()),
            is_file: body.get("is_file").and_then(|n| self.boolean(n)).unwrap_or(false),
        })
    }

    fn plugin(&mut self, body: &Node) -> Option<TaskKind> {
        self.map(body, "a `plugin` task")?;
        self.task_keys(body, "plugin");
        let id = body.get("configuration").and_then(|c| c.get("id")).and_then(Node::str).unwrap_or_default();
        if id == "script-executor" {
            if let Some(script) = body.get("options").and_then(|o| o.get("script")) {
                return Some(TaskKind::Script(self.text(script)?));
            }
        }
        Some(TaskKind::Unsupported { what: format!("a `{id}` plugin task") })
    }

    /// `ant`, `nant` and `rake` become the program with its arguments.
    fn build_tool(&mut self, tool: &str, body: &Node) -> TaskKind {
        self.task_keys(body, tool);
        let span = body.span;
        let arg = |key: &str| body.get(key).and_then(Node::str).filter(|s| !s.is_empty());
        let mut arguments = Vec::new();
        if let Some(file) = arg("build_file") {
            let flag = if tool == "rake" { "-f" } else { "-buildfile" };
            arguments.push(Text { value: flag.into(), span });
            arguments.push(Text { value: file.into(), span });
        }
        arguments
            .extend(arg("target").into_iter().flat_map(str::split_whitespace).map(|t| Text { value: t.into(), span }));
        let working_directory = body.get("working_directory").and_then(|n| self.opt_text(n));
        TaskKind::Exec { command: Text { value: tool.into(), span }, arguments, working_directory }
    }

    /// `environment_variables` and `secure_variables` of a map.
    fn vars(&mut self, body: &Node) -> Vec<Var> {
        let mut out = Vec::new();
        for (key, secure) in [("environment_variables", false), ("secure_variables", true)] {
            let Some(node) = body.get(key) else { continue };
            if node.is_null() {
                continue;
            }
            for (k, v) in self.map(node, "variables").unwrap_or_default() {
                let name = self.name(k);
                let value = self.opt_text(v).unwrap_or(Text { value: String::new(), span: v.span });
                out.push(Var { name, value, secure });
            }
        }
        out
    }

    fn known_keys(&mut self, node: &Node, allowed: &[&[&str]], level: &str) {
        let Some(entries) = node.entries() else { return };
        for (key, _) in entries {
            let name = key.str().unwrap_or_default();
            if allowed.iter().any(|list| list.contains(&name)) {
                continue;
            }
            self.diagnostics.push(ignored_key(self.file, key, name, allowed, level));
        }
    }

    fn map<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [(Node, Node)]> {
        match &node.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => {
                self.wrong_shape(node, what, "a map of `name: value` entries");
                None
            }
        }
    }

    /// The items of a list, nested lists flattened as the plugin does.
    fn list<'n>(&mut self, node: &'n Node, what: &str) -> Vec<&'n Node> {
        if node.is_null() {
            return Vec::new();
        }
        let NodeKind::Seq(items) = &node.kind else {
            self.wrong_shape(node, what, "a list, each item on a line starting with `- `");
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut todo: Vec<&Node> = items.iter().rev().collect();
        while let Some(item) = todo.pop() {
            match &item.kind {
                NodeKind::Seq(inner) => todo.extend(inner.iter().rev()),
                _ => out.push(item),
            }
        }
        out
    }

    /// `name: body`, a map whose first key counts.
    fn one_key<'n>(&mut self, node: &'n Node, what: &str) -> Option<(Text, &'n Node)> {
        let entries = self.map(node, what)?;
        let (k, v) = entries.first()?;
        Some((self.name(k), v))
    }

    fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    fn server_ref(&mut self, what: &'static str, node: &Node) {
        if let Some(name) = node.str() {
            self.server_refs.push(ServerRef { what, name: name.to_string(), span: node.span });
        }
    }

    fn name(&mut self, node: &Node) -> Text {
        Text { value: node.str().unwrap_or_default().to_string(), span: node.span }
    }

    fn required(&mut self, body: &Node, key: Key, what: &str) -> Option<Text> {
        match body.get(key.yaml).and_then(|n| self.opt_text(n)).filter(|t| !t.value.is_empty()) {
            Some(t) => Some(t),
            None => {
                let (message, label, help) = match self.xml {
                    false => (
                        format!("{what} needs `{}:`", key.yaml),
                        format!("no `{}:` here", key.yaml),
                        format!("add `{}:` with a value", key.yaml),
                    ),
                    true => {
                        let names = key.xml.join("` or `");
                        let first = key.xml.first().copied().unwrap_or(key.yaml);
                        (
                            format!("{what} needs the attribute `{names}`"),
                            format!("no `{names}` here, or an empty one"),
                            format!("add `{first}=\"...\"` with a value"),
                        )
                    }
                };
                self.diagnostics.push(
                    Diagnostic::error(GoCode::G0002, self.file, body.span, message).with_label(label).with_help(help),
                );
                None
            }
        }
    }

    /// A text value, or nothing when empty.
    fn opt_text(&mut self, node: &Node) -> Option<Text> {
        if node.is_null() {
            return Some(Text { value: String::new(), span: node.span });
        }
        self.text(node)
    }

    fn text(&mut self, node: &Node) -> Option<Text> {
        let Some(raw) = node.str() else {
            self.wrong_shape(node, "this value", "a text value");
            return None;
        };
        let value = if raw.contains("#{") { self.substitute(raw, node.span) } else { raw.to_string() };
        Some(Text { value, span: node.span })
    }

    /// Replaces `#{param}` with the pipeline's parameter; `##` is a `#`.
    fn substitute(&mut self, raw: &str, span: Span) -> String {
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(at) = rest.find('#') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            if let Some(tail) = after.strip_prefix('#') {
                out.push('#');
                rest = tail;
            } else if let (Some(body), true) = (after.strip_prefix('{'), after.starts_with('{')) {
                let Some(close) = body.find('}') else {
                    out.push_str(&rest[at..]);
                    return out;
                };
                let name = &body[..close];
                match self.params.iter().find(|(k, _)| k == name) {
                    Some((_, v)) => out.push_str(v),
                    None => {
                        self.diagnostics.push(
                            Diagnostic::error(
                                GoCode::G0002,
                                self.file,
                                span,
                                format!("`#{{{name}}}` names no parameter of this pipeline"),
                            )
                            .with_help(format!(
                                "add `{name}` under the pipeline's `parameters:`, or write `##{{{name}}}` for the text"
                            )),
                        );
                        out.push_str(&rest[at..at + 2 + close + 1]);
                    }
                }
                rest = &body[close + 1..];
            } else {
                out.push('#');
                rest = after;
            }
        }
        out.push_str(rest);
        out
    }

    fn boolean(&mut self, node: &Node) -> Option<bool> {
        let value = node.str().and_then(keys::boolean);
        if value.is_none() {
            self.wrong_shape(node, "this value", "`true` or `false`");
        }
        value
    }

    fn number(&mut self, node: &Node, what: &str) -> Option<u64> {
        let value = node.str().and_then(|s| s.trim().parse::<u64>().ok());
        if value.is_none() {
            self.wrong_shape(node, what, "a whole number");
        }
        value
    }

    fn wrong_shape(&mut self, node: &Node, what: &str, expected: &str) {
        self.diagnostics.push(
            Diagnostic::error(
                GoCode::G0002,
                self.file,
                node.span,
                format!("{what} should be {expected}, but this is {}", node.describe()),
            )
            .with_label(format!("expected {expected}")),
        );
    }
}

fn ignored_key(file: FileId, key: &Node, name: &str, allowed: &[&[&str]], level: &str) -> Diagnostic {
    if let Some(what_to_do) = keys::intent(level, name) {
        return Diagnostic::warning(
            GoCode::G0004,
            file,
            key.span,
            format!("GoCD ignores `{name}` on a {level}: it does not do what it says"),
        )
        .with_label("ignored by GoCD")
        .with_help(what_to_do);
    }
    let d = Diagnostic::warning(GoCode::G0003, file, key.span, format!("GoCD ignores the key `{name}` on a {level}"))
        .with_label("unknown key, silently ignored by GoCD");
    match did_you_mean(name, allowed.iter().flat_map(|l| l.iter().copied())) {
        Some(s) => d.with_suggestion(s),
        None => {
            let mut known: Vec<String> = allowed.iter().flat_map(|l| l.iter()).map(|k| format!("`{k}`")).collect();
            known.sort();
            known.dedup();
            d.with_help(format!(
                "remove it, or keep shared values under the top-level `common:`; a {level} reads {}",
                known.join(", ")
            ))
        }
    }
}

fn unmapped(feature: &str, node: &Node, why: &'static str) -> Unmapped {
    Unmapped { feature: feature.to_string(), value: shown(node), why, span: node.span }
}

/// Whether the lock keeps one instance at a time, and what of it Pipewright cannot keep.
fn lock(key: &str, node: &Node) -> (bool, Option<Unmapped>) {
    let value = node.str().unwrap_or_default();
    if value.eq_ignore_ascii_case("none") || keys::boolean(value) == Some(false) {
        (false, None)
    } else if value.eq_ignore_ascii_case("unlockWhenFinished") {
        (true, None)
    } else {
        let why = "`max_instances = 1` keeps one instance at a time, but Pipewright does not keep a pipeline locked after a failure";
        (true, Some(unmapped(key, node, why)))
    }
}

/// A value as written, on one line and shortened, for comments and warnings.
fn shown(node: &Node) -> String {
    let text = match &node.kind {
        NodeKind::Scalar { text, .. } => text.clone(),
        NodeKind::Seq(items) => format!("[{}]", items.iter().map(shown).collect::<Vec<_>>().join(", ")),
        NodeKind::Map(entries) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(k, v)| format!("{}: {}", k.str().unwrap_or_default(), shown(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let one_line = text.replace('\n', " ");
    if one_line.chars().count() > 80 {
        format!("{}...", one_line.chars().take(77).collect::<String>())
    } else {
        one_line
    }
}
