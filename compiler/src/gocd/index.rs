//! What the files of a GoCD config repository declare together, as GoCD merges them: which
//! pipelines exist, what each job publishes, one name per material, the `.pw` name of each
//! pipeline, stage and job, and where each server-only name is first used.

use super::lower::pw_name;
use super::model::{Artifact, Config, MaterialKind, ServerRef, TaskKind, Text, Var};
use crate::source::{FileId, Span};
use std::collections::{HashMap, HashSet};

/// A stage's name, and each job's name and artifacts.
type StageFacts = (String, Vec<(String, Vec<Artifact>)>);

#[derive(Debug, Default)]
pub(super) struct Index {
    /// Pipeline name → its stages.
    pipelines: HashMap<String, Vec<StageFacts>>,
    /// (pipeline, material) → the material's name in the tree, and whether this use declares it.
    materials: HashMap<(String, String), (String, bool)>,
    /// The first use of each server-only name.
    first_refs: HashMap<(&'static str, String), (FileId, Span)>,
    /// Pipeline name → the variables of the environments it belongs to, each with its file.
    environment_vars: HashMap<String, Vec<(FileId, Var)>>,
    /// The `.pw` names of pipelines, stages and jobs.
    names: PwNames,
}

/// Where a name is unique: pipelines in the workspace, stages in their pipeline, jobs in their
/// stage. Keys are GoCD names in lower case, as GoCD compares them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Scope {
    Pipelines,
    Stages(String),
    Jobs(String, String),
}

impl Scope {
    pub(super) fn stages(pipeline: &str) -> Scope {
        Scope::Stages(pipeline.to_ascii_lowercase())
    }

    pub(super) fn jobs(pipeline: &str, stage: &str) -> Scope {
        Scope::Jobs(pipeline.to_ascii_lowercase(), stage.to_ascii_lowercase())
    }
}

/// Two GoCD names that would become one `.pw` name: the second is renamed.
#[derive(Clone, Debug)]
pub(super) struct Collision {
    pub file: FileId,
    /// The name renamed, where it is declared.
    pub name: Text,
    /// The GoCD name that has the `.pw` name first.
    pub first: String,
    pub renamed: String,
    pub what: &'static str,
}

/// GoCD names to `.pw` names, unique in each scope: `build.linux` is `build_linux`, and a
/// `build_linux` met after it is `build_linux-2`.
#[derive(Debug, Default)]
struct PwNames {
    /// (scope, GoCD name in lower case) → `.pw` name.
    assigned: HashMap<(Scope, String), String>,
    /// (scope, `.pw` name in lower case) → the GoCD name that has it.
    taken: HashMap<(Scope, String), String>,
    collisions: Vec<Collision>,
}

impl PwNames {
    fn assign(&mut self, scope: Scope, file: FileId, name: &Text, what: &'static str) {
        let key = (scope.clone(), name.value.to_ascii_lowercase());
        if self.assigned.contains_key(&key) {
            return;
        }
        let base = pw_name(&name.value);
        let mut candidate = base.clone();
        let mut n = 2;
        while self.taken.contains_key(&(scope.clone(), candidate.to_ascii_lowercase())) {
            candidate = format!("{base}-{n}");
            n += 1;
        }
        if candidate != base {
            let first = self.taken[&(scope.clone(), base.to_ascii_lowercase())].clone();
            self.collisions.push(Collision { file, name: name.clone(), first, renamed: candidate.clone(), what });
        }
        self.taken.insert((scope, candidate.to_ascii_lowercase()), name.value.clone());
        self.assigned.insert(key, candidate);
    }
}

impl Index {
    /// Indexes the configs of all files of a workspace, in file order.
    pub(super) fn build(configs: &[(FileId, &Config)]) -> Index {
        let mut index = Index::default();
        for &(file, config) in configs {
            index.name_entities(file, config);
        }
        for &(file, config) in configs {
            for p in &config.pipelines {
                let stages = p
                    .stages
                    .iter()
                    .map(|s| {
                        let jobs = s.jobs.iter().map(|j| (j.name.value.clone(), j.artifacts.clone())).collect();
                        (s.name.value.clone(), jobs)
                    })
                    .collect();
                index.pipelines.entry(p.name.value.clone()).or_insert(stages);
            }
            for env in &config.environments {
                for p in &env.pipelines {
                    let vars = env.vars.iter().map(|v| (file, v.clone()));
                    index.environment_vars.entry(p.value.clone()).or_default().extend(vars);
                }
            }
        }
        index.name_materials(configs);
        for &(file, config) in configs {
            for r in config.server_refs.iter().chain(&index.missing_upstreams(config)) {
                index.first_refs.entry((r.what, r.name.clone())).or_insert((file, r.span));
            }
        }
        index
    }

    /// Gives each pipeline, stage and job a `.pw` name, unique in its scope.
    fn name_entities(&mut self, file: FileId, config: &Config) {
        for p in &config.pipelines {
            self.names.assign(Scope::Pipelines, file, &p.name, "pipeline");
            for s in &p.stages {
                self.names.assign(Scope::stages(&p.name.value), file, &s.name, "stage");
                for j in &s.jobs {
                    self.names.assign(Scope::jobs(&p.name.value, &s.name.value), file, &j.name, "job");
                }
            }
        }
    }

    /// The `.pw` name of a pipeline, stage or job (of a scope the files declare), or the name
    /// made `.pw`-safe.
    pub(super) fn pw_name(&self, scope: Scope, name: &str) -> String {
        self.names.assigned.get(&(scope, name.to_ascii_lowercase())).cloned().unwrap_or_else(|| pw_name(name))
    }

    /// The names renamed because another GoCD name has their `.pw` name, in file `file`.
    pub(super) fn collisions(&self, file: FileId) -> impl Iterator<Item = &Collision> {
        self.names.collisions.iter().filter(move |c| c.file == file)
    }

    pub(super) fn has_pipeline(&self, name: &str) -> bool {
        self.pipelines.contains_key(name)
    }

    /// The artifacts of a job, when the files declare it.
    pub(super) fn artifacts(&self, pipeline: &str, stage: &str, job: &str) -> Option<&[Artifact]> {
        let stages = self.pipelines.get(pipeline)?;
        let (_, jobs) = stages.iter().find(|(s, _)| s == stage)?;
        jobs.iter().find(|(j, _)| j == job).map(|(_, a)| &a[..])
    }

    /// The name of a pipeline's material in the tree, and whether this use declares it.
    pub(super) fn material(&self, pipeline: &str, material: &str) -> Option<(&str, bool)> {
        self.materials.get(&(pipeline.to_string(), material.to_string())).map(|(n, d)| (n.as_str(), *d))
    }

    /// Whether this is the first use of a server-only name in the workspace (reported once).
    pub(super) fn is_first(&self, file: FileId, r: &ServerRef) -> bool {
        self.first_refs.get(&(r.what, r.name.clone())) == Some(&(file, r.span))
    }

    pub(super) fn environment_vars(&self, pipeline: &str) -> &[(FileId, Var)] {
        self.environment_vars.get(pipeline).map_or(&[], |v| &v[..])
    }

    /// Upstream pipelines named by dependency materials and fetches that no file declares.
    pub(super) fn missing_upstreams(&self, config: &Config) -> Vec<ServerRef> {
        let mut out = Vec::new();
        for p in &config.pipelines {
            for m in &p.materials {
                if let MaterialKind::Dependency { pipeline, .. } = &m.kind {
                    if !self.has_pipeline(&pipeline.value) {
                        out.push(ServerRef {
                            what: "upstream pipeline",
                            name: pipeline.value.clone(),
                            span: pipeline.span,
                        });
                    }
                }
            }
            for task in p.stages.iter().flat_map(|s| &s.jobs).flat_map(|j| &j.tasks) {
                if let TaskKind::Fetch { pipeline: Some(path), .. } = &task.kind {
                    let upstream = upstream_of(&path.value);
                    if upstream != p.name.value && !self.has_pipeline(upstream) {
                        out.push(ServerRef { what: "upstream pipeline", name: upstream.to_string(), span: path.span });
                    }
                }
            }
        }
        out
    }

    /// Materials of the same GoCD name and the same repository, branch and folder become one;
    /// others of that name get their pipeline's name in front.
    fn name_materials(&mut self, configs: &[(FileId, &Config)]) {
        let mut by_name: HashMap<String, Vec<(String, String)>> = HashMap::new();
        let mut order = Vec::new();
        for (_, config) in configs {
            for p in &config.pipelines {
                for m in &p.materials {
                    let MaterialKind::Git { url } = &m.kind else { continue };
                    let key = format!(
                        "{}\n{}\n{}",
                        url.value,
                        m.branch.as_ref().map_or("", |b| &b.value),
                        m.destination.as_ref().map_or("", |d| &d.value)
                    );
                    let uses = by_name.entry(m.name.value.clone()).or_default();
                    if uses.is_empty() {
                        order.push(m.name.value.clone());
                    }
                    uses.push((p.name.value.clone(), key));
                }
            }
        }
        let mut taken = HashSet::new();
        for name in order {
            let uses = &by_name[&name];
            let shared = uses.iter().all(|(_, k)| *k == uses[0].1);
            for (i, (pipeline, _)) in uses.iter().enumerate() {
                let mut tree_name = if shared { name.clone() } else { format!("{pipeline}-{name}") };
                let declares = !shared || i == 0;
                if declares {
                    let base = tree_name.clone();
                    let mut n = 2;
                    while !taken.insert(pw_name(&tree_name).to_ascii_lowercase()) {
                        tree_name = format!("{base}-{n}");
                        n += 1;
                    }
                } else if let Some((first, _)) = self.materials.get(&(uses[0].0.clone(), name.clone())) {
                    tree_name = first.clone();
                }
                self.materials.insert((pipeline.clone(), name.clone()), (tree_name, declares));
            }
        }
    }
}

/// The pipeline a fetch's `pipeline:` fetches from: the first of an ancestor path
/// `ancestor/parent/upstream`, which leads from it down to this pipeline's direct upstream.
pub(super) fn upstream_of(path: &str) -> &str {
    path.split('/').find(|s| !s.trim().is_empty()).map_or(path, str::trim)
}
