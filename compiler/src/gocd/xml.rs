//! Reading GoCD's server configuration (`cruise-config.xml`) as the YAML plugin's tree: each
//! element and attribute becomes the YAML key of the same meaning, with spans into the XML, so
//! one reader (`read`) fills the model from either format. Templates the file holds are
//! expanded into the pipelines that use them; unknown elements and attributes are reported.

use super::model::Text;
use super::yaml::{Node, NodeKind};
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::gocd::codes::GoCode;
use crate::source::{FileId, Span};
use roxmltree::{Document, ParsingOptions};
use std::collections::HashMap;

type XNode<'a, 'i> = roxmltree::Node<'a, 'i>;

/// Nodes a document may hold, so a huge file is refused rather than filling memory.
const MAX_NODES: u32 = 20_000_000;
/// `<oncancel>` tasks nested deeper than this are cut short.
const MAX_ONCANCEL_DEPTH: usize = 8;

/// A `cruise-config.xml` read as the YAML plugin's tree.
#[derive(Debug)]
pub(super) struct XmlRead {
    pub root: Node,
    pub diagnostics: Vec<Diagnostic>,
    /// (pipeline name, template) for each pipeline a template of the file was expanded into.
    pub expanded: Vec<(String, Text)>,
    /// Templates pipelines name that the file does not hold (already reported as errors).
    pub missing_templates: Vec<String>,
}

/// Reads the XML text; an error is the diagnostic for a file that is not well-formed XML.
pub(super) fn read(file: FileId, text: &str) -> Result<XmlRead, Box<Diagnostic>> {
    let options = ParsingOptions { allow_dtd: false, nodes_limit: MAX_NODES, ..ParsingOptions::default() };
    let doc = Document::parse_with_options(text, options).map_err(|e| {
        let at = byte_at(text, e.pos());
        let message = e.to_string();
        let suffix = format!(" at {}:{}", e.pos().row, e.pos().col);
        let message = message.strip_suffix(&suffix).unwrap_or(&message);
        let d = Diagnostic::error(GoCode::G0001, file, Span::new(at, at), format!("this is not valid XML: {message}"))
            .with_label("the XML cannot be read here")
            .with_help("fix the XML here; GoCD's server refuses a configuration it cannot parse");
        Box::new(d)
    })?;
    let mut t = Translator {
        file,
        diagnostics: Vec::new(),
        templates: HashMap::new(),
        expanded: Vec::new(),
        missing_templates: Vec::new(),
    };
    let root = t.cruise(doc.root_element());
    Ok(XmlRead { root, diagnostics: t.diagnostics, expanded: t.expanded, missing_templates: t.missing_templates })
}

/// The byte offset of a 1-based row and a 1-based column counted in characters.
fn byte_at(text: &str, pos: roxmltree::TextPos) -> usize {
    let row = pos.row.max(1) as usize;
    let line_start = text.split_inclusive('\n').take(row - 1).map(str::len).sum::<usize>();
    let line = text.get(line_start..).unwrap_or_default();
    let line = line.split('\n').next().unwrap_or_default();
    let column = line.char_indices().nth(pos.col.saturating_sub(1) as usize).map_or(line.len(), |(i, _)| i);
    (line_start + column).min(text.len())
}

fn span(range: std::ops::Range<usize>) -> Span {
    Span::new(range.start, range.end)
}

fn scalar(text: impl Into<String>, span: Span) -> Node {
    Node { kind: NodeKind::Scalar { text: text.into(), plain: false }, span }
}

/// Where an element's tag name is written (after `<`).
fn tag_span(el: XNode) -> Span {
    let start = el.range().start + 1;
    Span::new(start, start + el.tag_name().name().len())
}

/// A map being built: `key: value` entries, the keys spanning what they come from.
struct MapBuilder {
    entries: Vec<(Node, Node)>,
}

impl MapBuilder {
    fn new() -> Self {
        MapBuilder { entries: Vec::new() }
    }

    fn put(&mut self, key: &str, key_span: Span, value: Node) {
        self.entries.push((scalar(key, key_span), value));
    }

    /// The attribute `attr` of `el`, when given, as `key`.
    fn attr(&mut self, el: XNode, attr: &str, key: &str) {
        if let Some(a) = el.attributes().find(|a| a.name() == attr) {
            self.put(key, span(a.range_qname()), scalar(a.value(), span(a.range_value())));
        }
    }

    /// Each `(attribute, key)` of `el` that is given.
    fn attrs(&mut self, el: XNode, pairs: &[(&str, &str)]) {
        for (attr, key) in pairs {
            self.attr(el, attr, key);
        }
    }

    fn build(self, span: Span) -> Node {
        Node { kind: NodeKind::Map(self.entries), span }
    }
}

/// The text inside an element, and where it is written (the element when it is empty).
fn inner_text(el: XNode) -> (String, Span) {
    let texts: Vec<XNode> = el.children().filter(|c| c.is_text()).collect();
    let value: String = texts.iter().filter_map(|c| c.text()).collect();
    let at = match (texts.first(), texts.last()) {
        (Some(first), Some(last)) => Span::new(first.range().start, last.range().end),
        _ => span(el.range()),
    };
    (value.trim().to_string(), at)
}

fn elements<'a, 'i>(el: XNode<'a, 'i>, name: &'a str) -> impl Iterator<Item = XNode<'a, 'i>> + 'a {
    el.children().filter(move |c| c.is_element() && c.tag_name().name() == name)
}

fn element<'a, 'i>(el: XNode<'a, 'i>, name: &'a str) -> Option<XNode<'a, 'i>> {
    elements(el, name).next()
}

/// The elements each level holds, and the attributes each holds, as GoCD's schema has them.
struct Level {
    name: &'static str,
    attributes: &'static [&'static str],
    children: &'static [&'static str],
}

const CRUISE: Level = Level {
    name: "cruise",
    attributes: &["schemaVersion", "xmlns:xsi", "noNamespaceSchemaLocation"],
    children: &[
        "server",
        "config-repos",
        "artifactStores",
        "pipelines",
        "templates",
        "environments",
        "agents",
        "repositories",
        "scms",
        "elastic",
        "secretConfigs",
    ],
};
const GROUP: Level = Level { name: "pipelines", attributes: &["group"], children: &["authorization", "pipeline"] };
const PIPELINE: Level = Level {
    name: "pipeline",
    attributes: &["name", "labeltemplate", "lockBehavior", "isLocked", "template"],
    children: &["params", "trackingtool", "mingle", "timer", "environmentvariables", "materials", "stage"],
};
const TEMPLATE: Level = Level { name: "template", attributes: &["name"], children: &["authorization", "stage"] };
const STAGE: Level = Level {
    name: "stage",
    attributes: &["name", "fetchMaterials", "cleanWorkingDir", "artifactCleanupProhibited"],
    children: &["approval", "environmentvariables", "jobs"],
};
const APPROVAL: Level =
    Level { name: "approval", attributes: &["type", "allowOnlyOnSuccess"], children: &["authorization"] };
const JOB: Level = Level {
    name: "job",
    attributes: &["name", "timeout", "runInstanceCount", "runOnAllAgents", "elasticProfileId"],
    children: &["environmentvariables", "tasks", "resources", "tabs", "artifacts", "properties"],
};
const ENVIRONMENT: Level =
    Level { name: "environment", attributes: &["name"], children: &["environmentvariables", "agents", "pipelines"] };
const VARIABLE: Level =
    Level { name: "variable", attributes: &["name", "secure"], children: &["value", "encryptedValue"] };
const ARTIFACT: Level =
    Level { name: "artifact", attributes: &["type", "src", "dest", "id", "storeId"], children: &["configuration"] };
const MATERIAL_ATTRIBUTES: &[&str] = &[
    "url",
    "branch",
    "dest",
    "materialName",
    "shallowClone",
    "autoUpdate",
    "invertFilter",
    "username",
    "password",
    "encryptedPassword",
    "checkexternals",
    "useTickets",
    "port",
    "domain",
    "projectPath",
    "pipelineName",
    "stageName",
    "ignoreForScheduling",
    "ref",
];
const MATERIAL_KINDS: &[&str] = &["git", "svn", "hg", "p4", "tfs", "package", "scm", "pipeline", "plugin"];
const TASK_KINDS: &[&str] = &["exec", "ant", "nant", "rake", "fetchartifact", "fetchPluggableArtifact", "task"];
const TASK_ATTRIBUTES: &[&str] = &[
    "command",
    "args",
    "workingdir",
    "timeout",
    "buildfile",
    "target",
    "nantpath",
    "artifactOrigin",
    "pipeline",
    "stage",
    "job",
    "srcfile",
    "srcdir",
    "dest",
    "artifactId",
    "storeId",
];
const TASK_CHILDREN: &[&str] = &["arg", "runif", "oncancel", "pluginConfiguration", "configuration"];

struct Translator<'a, 'i> {
    file: FileId,
    diagnostics: Vec<Diagnostic>,
    templates: HashMap<String, XNode<'a, 'i>>,
    expanded: Vec<(String, Text)>,
    missing_templates: Vec<String>,
}

impl<'a, 'i> Translator<'a, 'i> {
    fn cruise(&mut self, root: XNode<'a, 'i>) -> Node {
        let whole = span(root.range());
        if root.tag_name().name() != "cruise" {
            self.diagnostics.push(
                Diagnostic::error(
                    GoCode::G0002,
                    self.file,
                    tag_span(root),
                    format!("a GoCD configuration starts with `<cruise>`, not `<{}>`", root.tag_name().name()),
                )
                .with_label("expected `<cruise>`")
                .with_help("a `cruise-config.xml` is the GoCD server's configuration, with `<cruise>` around it"),
            );
            return Node { kind: NodeKind::Map(Vec::new()), span: whole };
        }
        self.check(root, &CRUISE);
        for t in elements(root, "templates").flat_map(|t| elements(t, "pipeline")) {
            self.check(t, &TEMPLATE);
            if let Some(name) = t.attribute("name") {
                self.templates.entry(name.to_string()).or_insert(t);
            }
        }
        let mut top = MapBuilder::new();
        let mut pipelines = MapBuilder::new();
        let mut first_group = None;
        for group in elements(root, "pipelines") {
            self.check(group, &GROUP);
            first_group.get_or_insert(tag_span(group));
            for p in elements(group, "pipeline") {
                let (name, body) = self.pipeline(group, p);
                pipelines.entries.push((name, body));
            }
        }
        if let Some(at) = first_group {
            top.put("pipelines", at, pipelines.build(at));
        }
        let mut environments = MapBuilder::new();
        let envs = elements(root, "environments").flat_map(|e| elements(e, "environment"));
        for env in envs {
            self.check(env, &ENVIRONMENT);
            let name = self.name(env);
            let body = self.environment(env);
            environments.entries.push((name, body));
        }
        if let Some(at) = element(root, "environments").map(tag_span) {
            top.put("environments", at, environments.build(at));
        }
        top.build(whole)
    }

    /// A pipeline's template that the file's `<templates>` does not hold: the server holds its
    /// templates in this very file, so GoCD rejects the configuration.
    fn missing_template(&mut self, name: &str, at: Span) {
        let d = Diagnostic::error(
            GoCode::G0002,
            self.file,
            at,
            format!("no template `{name}` in this file's `<templates>`"),
        )
        .with_label("no such template")
        .with_note("the pipeline is left out of the check");
        let known: Vec<&str> = self.templates.keys().map(String::as_str).collect();
        let d = match did_you_mean(name, known.iter().copied()) {
            Some(s) => d.with_suggestion(s),
            None => d.with_help("add the template under `<templates>`, or name one that is there"),
        };
        self.diagnostics.push(d);
        self.missing_templates.push(name.to_string());
    }

    /// Reports the attributes and child elements GoCD's schema does not have at this level.
    fn check(&mut self, el: XNode, level: &Level) {
        for a in el.attributes() {
            if !level.attributes.contains(&a.name()) && a.namespace().is_none() {
                self.unknown(span(a.range_qname()), a.name(), "attribute", level.name, level.attributes);
            }
        }
        for c in el.children().filter(XNode::is_element) {
            let name = c.tag_name().name();
            if !level.children.contains(&name) {
                self.unknown(tag_span(c), name, "element", level.name, level.children);
            }
        }
    }

    fn unknown(&mut self, at: Span, name: &str, what: &str, level: &str, known: &[&str]) {
        let d = Diagnostic::warning(
            GoCode::G0003,
            self.file,
            at,
            format!("GoCD's configuration has no {what} `{name}` in a `<{level}>`"),
        )
        .with_label(format!("unknown {what}: the GoCD server rejects the file"));
        let d = match did_you_mean(name, known.iter().copied()) {
            Some(s) => d.with_suggestion(s),
            None => {
                let list: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
                d.with_help(format!("a `<{level}>` holds {}", list.join(", ")))
            }
        };
        self.diagnostics.push(d);
    }

    /// The `name` attribute as a name node (the element when it has none).
    fn name(&mut self, el: XNode) -> Node {
        match el.attributes().find(|a| a.name() == "name") {
            Some(a) => scalar(a.value(), span(a.range_value())),
            None => {
                self.diagnostics.push(
                    Diagnostic::error(
                        GoCode::G0002,
                        self.file,
                        tag_span(el),
                        format!("this `<{}>` has no `name`", el.tag_name().name()),
                    )
                    .with_label("no `name=\"...\"`")
                    .with_help("give it a name attribute"),
                );
                scalar("", tag_span(el))
            }
        }
    }

    fn pipeline(&mut self, group: XNode, p: XNode<'a, 'i>) -> (Node, Node) {
        self.check(p, &PIPELINE);
        let name = self.name(p);
        let mut m = MapBuilder::new();
        m.attr(group, "group", "group");
        m.attrs(p, &[("labeltemplate", "label_template"), ("lockBehavior", "lock_behavior"), ("isLocked", "locking")]);
        if let Some(params) = element(p, "params") {
            let mut pm = MapBuilder::new();
            for param in elements(params, "param") {
                let key = self.name(param);
                let (value, at) = inner_text(param);
                pm.entries.push((key, scalar(value, at)));
            }
            m.put("parameters", tag_span(params), pm.build(span(params.range())));
        }
        if let Some(tool) = element(p, "trackingtool").or_else(|| element(p, "mingle")) {
            let mut tm = MapBuilder::new();
            tm.attrs(tool, &[("link", "link"), ("regex", "regex"), ("baseUrl", "link")]);
            m.put("tracking_tool", tag_span(tool), tm.build(span(tool.range())));
        }
        if let Some(timer) = element(p, "timer") {
            let mut tm = MapBuilder::new();
            let (spec, at) = inner_text(timer);
            tm.put("spec", tag_span(timer), scalar(spec, at));
            tm.attr(timer, "onlyOnChanges", "only_on_changes");
            m.put("timer", tag_span(timer), tm.build(span(timer.range())));
        }
        self.variables(p, &mut m);
        if let Some(materials) = element(p, "materials") {
            m.put("materials", tag_span(materials), self.materials(materials));
        }
        let template = p.attributes().find(|a| a.name() == "template");
        let stage_source = match template {
            Some(t) => match self.templates.get(t.value()) {
                Some(body) => {
                    let used = Text { value: t.value().to_string(), span: span(t.range_value()) };
                    self.expanded.push((name.str().unwrap_or_default().to_string(), used));
                    Some(*body)
                }
                None => {
                    self.missing_template(t.value(), span(t.range_value()));
                    // Read as a template the files do not hold: the pipeline is left out.
                    m.attr(p, "template", "template");
                    None
                }
            },
            None => Some(p),
        };
        if let Some(source) = stage_source {
            let stages: Vec<Node> = elements(source, "stage").map(|s| self.stage(s)).collect();
            let at = elements(source, "stage").next().map_or(tag_span(p), tag_span);
            m.put("stages", at, Node { kind: NodeKind::Seq(stages), span: at });
        }
        (name, m.build(span(p.range())))
    }

    /// `<environmentvariables>` as `environment_variables` and `secure_variables`.
    fn variables(&mut self, el: XNode, m: &mut MapBuilder) {
        let Some(vars) = element(el, "environmentvariables") else { return };
        let mut plain = MapBuilder::new();
        let mut secure = MapBuilder::new();
        for v in elements(vars, "variable") {
            self.check(v, &VARIABLE);
            let name = self.name(v);
            let is_secure = v.attribute("secure").is_some_and(|s| s.eq_ignore_ascii_case("true"));
            let value_el = element(v, "encryptedValue").or_else(|| element(v, "value"));
            let (value, at) = value_el.map_or_else(|| (String::new(), span(v.range())), inner_text);
            let target = if is_secure { &mut secure } else { &mut plain };
            target.entries.push((name, scalar(value, at)));
        }
        let at = tag_span(vars);
        if !plain.entries.is_empty() {
            m.put("environment_variables", at, plain.build(span(vars.range())));
        }
        if !secure.entries.is_empty() {
            m.put("secure_variables", at, secure.build(span(vars.range())));
        }
    }

    fn materials(&mut self, materials: XNode) -> Node {
        let mut out = MapBuilder::new();
        let mut taken: Vec<String> = Vec::new();
        for mat in materials.children().filter(XNode::is_element) {
            let kind = mat.tag_name().name();
            if !MATERIAL_KINDS.contains(&kind) {
                self.unknown(tag_span(mat), kind, "element", "materials", MATERIAL_KINDS);
                continue;
            }
            for a in mat.attributes() {
                if !MATERIAL_ATTRIBUTES.contains(&a.name()) {
                    self.unknown(span(a.range_qname()), a.name(), "attribute", kind, MATERIAL_ATTRIBUTES);
                }
            }
            let body = material(mat, kind);
            let name = unique(material_name(mat, kind), &mut taken);
            let at =
                mat.attributes().find(|a| a.name() == "materialName").map_or(tag_span(mat), |a| span(a.range_value()));
            out.entries.push((scalar(name, at), body));
        }
        out.build(span(materials.range()))
    }

    fn stage(&mut self, s: XNode) -> Node {
        self.check(s, &STAGE);
        let name = self.name(s);
        let mut m = MapBuilder::new();
        m.attrs(
            s,
            &[
                ("fetchMaterials", "fetch_materials"),
                ("cleanWorkingDir", "clean_workspace"),
                ("artifactCleanupProhibited", "keep_artifacts"),
            ],
        );
        if let Some(a) = element(s, "approval") {
            self.check(a, &APPROVAL);
            let mut am = MapBuilder::new();
            am.attr(a, "type", "type");
            am.attr(a, "allowOnlyOnSuccess", "allow_only_on_success");
            if let Some(auth) = element(a, "authorization") {
                for (tag, key) in [("user", "users"), ("role", "roles")] {
                    let items: Vec<Node> = elements(auth, tag).map(|u| text_node(u)).collect();
                    if !items.is_empty() {
                        let at = tag_span(auth);
                        am.put(key, at, Node { kind: NodeKind::Seq(items), span: span(auth.range()) });
                    }
                }
            }
            m.put("approval", tag_span(a), am.build(span(a.range())));
        }
        self.variables(s, &mut m);
        let mut jobs = MapBuilder::new();
        let jobs_el = element(s, "jobs");
        for j in jobs_el.iter().flat_map(|j| elements(*j, "job")) {
            let jname = self.name(j);
            let body = self.job(j);
            jobs.entries.push((jname, body));
        }
        let at = jobs_el.map_or(tag_span(s), tag_span);
        m.put("jobs", at, jobs.build(jobs_el.map_or(at, |j| span(j.range()))));
        let body = m.build(span(s.range()));
        Node { kind: NodeKind::Map(vec![(name, body)]), span: span(s.range()) }
    }

    fn job(&mut self, j: XNode) -> Node {
        self.check(j, &JOB);
        let mut m = MapBuilder::new();
        if let Some(t) = j.attributes().find(|a| a.name() == "timeout") {
            let minutes = if t.value().eq_ignore_ascii_case("never") { "0" } else { t.value() };
            m.put("timeout", span(t.range_qname()), scalar(minutes, span(t.range_value())));
        }
        m.attr(j, "runInstanceCount", "run_instances");
        if let Some(all) = j.attributes().find(|a| a.name() == "runOnAllAgents" && a.value() == "true") {
            m.put("run_instances", span(all.range_qname()), scalar("all", span(all.range_value())));
        }
        m.attr(j, "elasticProfileId", "elastic_profile_id");
        if let Some(r) = element(j, "resources") {
            let items = elements(r, "resource").map(text_node).collect();
            m.put("resources", tag_span(r), Node { kind: NodeKind::Seq(items), span: span(r.range()) });
        }
        if let Some(tabs) = element(j, "tabs") {
            let mut tm = MapBuilder::new();
            for tab in elements(tabs, "tab") {
                let name = self.name(tab);
                let path = tab.attributes().find(|a| a.name() == "path");
                tm.entries
                    .push((name, path.map_or(scalar("", tag_span(tab)), |a| scalar(a.value(), span(a.range_value())))));
            }
            m.put("tabs", tag_span(tabs), tm.build(span(tabs.range())));
        }
        if let Some(p) = element(j, "properties") {
            m.put("properties", tag_span(p), scalar("<properties>", span(p.range())));
        }
        self.variables(j, &mut m);
        if let Some(a) = element(j, "artifacts") {
            let items = a.children().filter(XNode::is_element).filter_map(|x| self.artifact(x)).collect();
            m.put("artifacts", tag_span(a), Node { kind: NodeKind::Seq(items), span: span(a.range()) });
        }
        if let Some(tasks) = element(j, "tasks") {
            let items = tasks.children().filter(XNode::is_element).filter_map(|t| self.task(t, 0)).collect();
            m.put("tasks", tag_span(tasks), Node { kind: NodeKind::Seq(items), span: span(tasks.range()) });
        }
        m.build(span(j.range()))
    }

    /// `<artifact type="build|test|external">`, and the older `<artifact>` (build) and `<test>`.
    fn artifact(&mut self, a: XNode) -> Option<Node> {
        let tag = a.tag_name().name();
        if !matches!(tag, "artifact" | "test" | "pluggableArtifact") {
            self.unknown(tag_span(a), tag, "element", "artifacts", &["artifact", "test", "pluggableArtifact"]);
            return None;
        }
        self.check(a, &ARTIFACT);
        let kind = match (tag, a.attribute("type")) {
            ("test", _) => "test",
            ("pluggableArtifact", _) => "external",
            (_, Some(t)) => t,
            (_, None) => "build",
        };
        let kind_span = a.attributes().find(|x| x.name() == "type").map_or(tag_span(a), |x| span(x.range_value()));
        let mut m = MapBuilder::new();
        if kind == "external" {
            m.attr(a, "id", "id");
            m.attr(a, "storeId", "store_id");
        } else {
            m.attr(a, "src", "source");
            m.attr(a, "dest", "destination");
        }
        let whole = span(a.range());
        Some(Node { kind: NodeKind::Map(vec![(scalar(kind, kind_span), m.build(whole))]), span: whole })
    }

    /// A task as the plugin's one-key map; `depth` counts `<oncancel>` nesting.
    fn task(&mut self, t: XNode, depth: usize) -> Option<Node> {
        let tag = t.tag_name().name();
        if !TASK_KINDS.contains(&tag) {
            self.unknown(tag_span(t), tag, "element", "tasks", TASK_KINDS);
            return None;
        }
        let level = Level { name: "task", attributes: TASK_ATTRIBUTES, children: TASK_CHILDREN };
        self.check(t, &level);
        let mut m = MapBuilder::new();
        let kind = match tag {
            "exec" => {
                m.attr(t, "command", "command");
                let args = exec_arguments(t);
                if !args.is_empty() {
                    m.put("arguments", tag_span(t), Node { kind: NodeKind::Seq(args), span: span(t.range()) });
                }
                m.attr(t, "workingdir", "working_directory");
                "exec"
            }
            "ant" | "nant" | "rake" => {
                m.attrs(
                    t,
                    &[
                        ("buildfile", "build_file"),
                        ("target", "target"),
                        ("workingdir", "working_directory"),
                        ("nantpath", "nant_path"),
                    ],
                );
                tag
            }
            "fetchartifact" | "fetchPluggableArtifact" => {
                m.attrs(
                    t,
                    &[
                        ("pipeline", "pipeline"),
                        ("stage", "stage"),
                        ("job", "job"),
                        ("srcfile", "source"),
                        ("srcdir", "source"),
                        ("dest", "destination"),
                    ],
                );
                if let Some(f) = t.attributes().find(|a| a.name() == "srcfile") {
                    m.put("is_file", span(f.range_qname()), scalar("true", span(f.range_qname())));
                }
                let external = tag == "fetchPluggableArtifact"
                    || t.attribute("artifactOrigin").is_some_and(|o| o.eq_ignore_ascii_case("external"));
                if external {
                    m.put("artifact_origin", tag_span(t), scalar("external", tag_span(t)));
                }
                "fetch"
            }
            _ => {
                self.plugin_task(t, &mut m);
                "plugin"
            }
        };
        if let Some(run_if) = run_if(t) {
            m.entries.push(run_if);
        }
        if let Some(c) = element(t, "oncancel") {
            let inner = if depth < MAX_ONCANCEL_DEPTH {
                c.children().find(XNode::is_element).and_then(|x| self.task(x, depth + 1))
            } else {
                None
            };
            m.put("on_cancel", tag_span(c), inner.unwrap_or_else(|| scalar("<oncancel>", span(c.range()))));
        }
        let whole = span(t.range());
        Some(Node { kind: NodeKind::Map(vec![(scalar(kind, tag_span(t)), m.build(whole))]), span: whole })
    }

    /// `<task>` with `<pluginConfiguration id version>` and `<configuration>` properties.
    fn plugin_task(&mut self, t: XNode, m: &mut MapBuilder) {
        if let Some(pc) = element(t, "pluginConfiguration") {
            let mut cm = MapBuilder::new();
            cm.attr(pc, "id", "id");
            cm.attr(pc, "version", "version");
            m.put("configuration", tag_span(pc), cm.build(span(pc.range())));
        }
        if let Some(conf) = element(t, "configuration") {
            let mut om = MapBuilder::new();
            for prop in elements(conf, "property") {
                let Some(key) = element(prop, "key") else { continue };
                let (k, kat) = inner_text(key);
                let (v, vat) = element(prop, "value").map_or_else(|| (String::new(), span(prop.range())), raw_text);
                om.entries.push((scalar(k, kat), scalar(v, vat)));
            }
            m.put("options", tag_span(conf), om.build(span(conf.range())));
        }
    }

    fn environment(&mut self, env: XNode) -> Node {
        let mut m = MapBuilder::new();
        self.variables(env, &mut m);
        if let Some(p) = element(env, "pipelines") {
            let items: Vec<Node> = elements(p, "pipeline").map(|x| self.name(x)).collect();
            m.put("pipelines", tag_span(p), Node { kind: NodeKind::Seq(items), span: span(p.range()) });
        }
        if let Some(a) = element(env, "agents") {
            let items: Vec<Node> = a
                .children()
                .filter(XNode::is_element)
                .map(|x| {
                    x.attributes()
                        .find(|u| u.name() == "uuid")
                        .map_or(scalar("", tag_span(x)), |u| scalar(u.value(), span(u.range_value())))
                })
                .collect();
            m.put("agents", tag_span(a), Node { kind: NodeKind::Seq(items), span: span(a.range()) });
        }
        m.build(span(env.range()))
    }
}

/// An element's trimmed text as a scalar.
fn text_node(el: XNode) -> Node {
    let (value, at) = inner_text(el);
    scalar(value, at)
}

/// An element's text as written (a script keeps its lines and indentation).
fn raw_text(el: XNode) -> (String, Span) {
    let texts: Vec<XNode> = el.children().filter(|c| c.is_text()).collect();
    let value: String = texts.iter().filter_map(|c| c.text()).collect();
    let at = texts.first().map_or(span(el.range()), |c| span(c.range()));
    (value, at)
}

/// A material's body in the plugin's keys.
fn material(mat: XNode, kind: &str) -> Node {
    let mut m = MapBuilder::new();
    let source = match kind {
        "pipeline" => {
            m.attrs(
                mat,
                &[
                    ("pipelineName", "pipeline"),
                    ("stageName", "stage"),
                    ("ignoreForScheduling", "ignore_for_scheduling"),
                ],
            );
            None
        }
        "package" | "scm" => Some("ref"),
        "p4" => Some("port"),
        _ => Some("url"),
    };
    if let Some(attr) = source {
        m.attr(mat, attr, kind);
    }
    // The element says the kind even when its source is missing, so that the reader asks for
    // the source (`url`, `pipelineName`) rather than for a kind.
    let ty = match kind {
        "pipeline" => Some("dependency"),
        "git" => Some("git"),
        _ => None,
    };
    if let Some(ty) = ty {
        m.put("type", tag_span(mat), scalar(ty, tag_span(mat)));
    }
    m.attrs(
        mat,
        &[
            ("branch", "branch"),
            ("dest", "destination"),
            ("shallowClone", "shallow_clone"),
            ("autoUpdate", "auto_update"),
            ("username", "username"),
            ("password", "password"),
            ("encryptedPassword", "encrypted_password"),
        ],
    );
    if let Some(filter) = element(mat, "filter") {
        let patterns: Vec<Node> = elements(filter, "ignore")
            .filter_map(|i| i.attributes().find(|a| a.name() == "pattern"))
            .map(|a| scalar(a.value(), span(a.range_value())))
            .collect();
        let inverted = mat.attribute("invertFilter").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let key = if inverted { "includes" } else { "ignore" };
        m.put(key, tag_span(filter), Node { kind: NodeKind::Seq(patterns), span: span(filter.range()) });
    }
    m.build(span(mat.range()))
}

/// The name GoCD gives a material: `materialName`, else the upstream pipeline's or the
/// repository's name.
fn material_name(mat: XNode, kind: &str) -> String {
    if let Some(n) = mat.attribute("materialName").filter(|n| !n.trim().is_empty()) {
        return n.to_string();
    }
    let from_url = |u: &str| {
        let last = u.trim_end_matches('/').rsplit(['/', ':']).next().unwrap_or(u);
        last.trim_end_matches(".git").to_string()
    };
    let name = match kind {
        "pipeline" => mat.attribute("pipelineName").unwrap_or_default().to_string(),
        "package" | "scm" => mat.attribute("ref").unwrap_or_default().to_string(),
        _ => mat.attribute("url").map(from_url).unwrap_or_default(),
    };
    if name.is_empty() {
        kind.to_string()
    } else {
        name
    }
}

/// `name`, or `name-2`, `name-3`, ... when taken.
fn unique(name: String, taken: &mut Vec<String>) -> String {
    let mut candidate = name.clone();
    let mut n = 2;
    while taken.iter().any(|t| t.eq_ignore_ascii_case(&candidate)) {
        candidate = format!("{name}-{n}");
        n += 1;
    }
    taken.push(candidate.clone());
    candidate
}

/// An `exec`'s arguments: `<arg>` elements, or the `args` string split as GoCD splits it.
fn exec_arguments(t: XNode) -> Vec<Node> {
    let args: Vec<Node> = elements(t, "arg")
        .map(|a| {
            let (text, at) = raw_text(a);
            scalar(text, at)
        })
        .collect();
    if !args.is_empty() {
        return args;
    }
    let Some(a) = t.attributes().find(|a| a.name() == "args") else { return Vec::new() };
    let at = span(a.range_value());
    split_args(a.value()).into_iter().map(|s| scalar(s, at)).collect()
}

/// Splits an `args` string on spaces, keeping what double quotes hold together.
fn split_args(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut started = false;
    for c in args.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            c if c.is_whitespace() && !quoted => {
                if started {
                    out.push(std::mem::take(&mut current));
                    started = false;
                }
            }
            c => {
                current.push(c);
                started = true;
            }
        }
    }
    if started {
        out.push(current);
    }
    out
}

/// `<runif status>` elements as one `run_if`: both `passed` and `failed`, or `any`, is `any`.
fn run_if(t: XNode) -> Option<(Node, Node)> {
    let statuses: Vec<(String, Span)> = elements(t, "runif")
        .filter_map(|r| r.attributes().find(|a| a.name() == "status"))
        .map(|a| (a.value().to_ascii_lowercase(), span(a.range_value())))
        .collect();
    let (_, at) = statuses.first()?.clone();
    let has = |s: &str| statuses.iter().any(|(v, _)| v == s);
    let value = if has("any") || (has("passed") && has("failed")) { "any".to_string() } else { statuses[0].0.clone() };
    Some((scalar("run_if", at), scalar(value, at)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_strings_split_as_gocd_splits_them() {
        assert_eq!(split_args("-c \"make all\"  x"), vec!["-c", "make all", "x"]);
        assert_eq!(split_args(""), Vec::<String>::new());
        assert_eq!(split_args("\"\""), vec![""]);
    }

    #[test]
    fn error_positions_become_byte_offsets() {
        let text = "<a>\n  é<b>\n";
        assert_eq!(byte_at(text, roxmltree::TextPos::new(2, 4)), 4 + 2 + 2);
        assert_eq!(byte_at(text, roxmltree::TextPos::new(9, 9)), text.len());
    }
}
