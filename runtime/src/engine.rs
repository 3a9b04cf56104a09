//! The server's core: the scheduler behind a lock, wired to the store (every change is committed
//! before the request that caused it is answered, with the events it caused, and a change whose
//! commit fails is undone in memory; the parts of the state the scheduler changed become store
//! writes here, so that neither knows the other), to the requests waiting for work, for a stop
//! signal or for events (woken through in-process notifications), and to the side jobs the
//! scheduler asks for (discover commands, material revisions).

use crate::artifacts::Blobs;
use crate::protocol::MaterialCheckout;
use crate::protocol::{
    AgentView, Assignment, Event, EventKind, InstanceView, LogChunkView, LogsResponse, StatusResponse,
};
use crate::protocol::{RegisterRequest, RegisterResponse};
use crate::scheduler::{self, Dirty, Effect, NewAgent, SchedError, Scheduler};
use crate::secrets::Secrets;
use crate::state::{Cause, InstanceRef, JobState, PendingTrigger};
use crate::statedir::{token_sha256, StateDir, Tokens};
use crate::store::{Store, Write};
use crate::{git, now_ms};
use pw_compiler::runtime_api::plan::Plan;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, Notify};

/// How many of the newest events the database keeps for `GET /events` by default.
pub(crate) const EVENTS_KEPT: u64 = 100_000;

/// Older events are pruned each time 1% more were recorded (at least 1, at most this many).
const PRUNE_EVERY_MAX: u64 = 1_000;

/// The most events one `GET /events` answer holds.
const EVENTS_PER_ANSWER: usize = 1_000;

/// `durations.json` exports start at least this many milliseconds after the previous one ended,
/// so that the jobs of a burst share one.
const DURATIONS_EVERY_MS: u64 = 1_000;

#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub sched: scheduler::Config,
    /// Largest artifact upload, in bytes.
    pub upload_limit: u64,
    /// How often the clock is applied (timeouts, wait limits, lost agents).
    pub tick: Duration,
    /// How many of the newest events are kept for `GET /events` (up to 1% more, between prunings).
    pub events_kept: u64,
    /// New agents take no job until `pw agent approve ID`.
    pub require_approval: bool,
    /// How long a connection may take to send a request's headers, or stay idle between requests.
    pub header_timeout: Duration,
    /// The most connections served at once; more are closed at once. Each agent holds up to
    /// three (its long poll, its heartbeat, a report).
    pub max_connections: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            sched: scheduler::Config::default(),
            upload_limit: 2 << 30,
            tick: Duration::from_millis(250),
            events_kept: EVENTS_KEPT,
            require_approval: false,
            header_timeout: Duration::from_secs(10),
            max_connections: 1024,
        }
    }
}

struct Inner {
    sched: Scheduler,
    /// The number of the next event; numbers continue across restarts.
    next_seq: u64,
}

/// A log chunk of an attempt, as committed.
#[derive(Clone, Debug)]
pub struct LogLine {
    pub attempt: u64,
    pub seq: u64,
    pub data: String,
}

/// Whether the instances a run started, and all they caused downstream, are over.
#[derive(Debug, Default)]
pub struct Settled {
    /// Every instance is over and no downstream trigger is pending.
    pub done: bool,
    /// The instances that did not pass.
    pub failed: Vec<InstanceView>,
    /// Downstream instances that could not be created: `PIPELINE (CAUSE)`.
    pub not_started: Vec<String>,
}

pub struct Engine {
    inner: Mutex<Inner>,
    store: Store,
    work: Notify,
    stop: Notify,
    new_events: Notify,
    events: broadcast::Sender<Event>,
    /// Log chunks as they are committed, for pages that follow a log.
    log_chunks: broadcast::Sender<LogLine>,
    /// Last polled revision of each material.
    polled: Mutex<HashMap<String, String>>,
    /// A `durations.json` export is due and not yet started.
    durations_due: AtomicBool,
    /// Held while the export is written, so that exports run one at a time.
    durations_writing: Mutex<()>,
    /// When the last export ended (milliseconds since the epoch).
    durations_written_ms: AtomicU64,
    pub state: StateDir,
    pub tokens: Tokens,
    pub blobs: Blobs,
    pub secrets: Secrets,
    pub cfg: EngineConfig,
}

/// What the scheduler changed since it was last asked, as store writes.
pub fn dirty_writes(sched: &mut Scheduler) -> Vec<Write> {
    let mut writes = Vec::new();
    sched.take_dirty(|part| {
        writes.push(match part {
            Dirty::Instance(inst) => Write::instance(inst),
            Dirty::ClearJobs { instance } => Write::ClearJobs { instance },
            Dirty::Job { instance, stage, idx, job } => Write::job(instance, stage, idx, job),
            Dirty::Pending(t) => Write::pending(t),
            Dirty::PendingDone { id } => Write::PendingDone { id },
            Dirty::Agent(agent) => Write::agent(&agent),
            Dirty::AgentGone { id } => Write::AgentGone { id },
            Dirty::TaskTime(t) => Write::TaskTime {
                attempt: t.attempt,
                index: t.index,
                pipeline: t.pipeline,
                stage: t.stage,
                job: t.job,
                state: t.state,
                at_us: t.at_us,
            },
        })
    });
    writes
}

/// An error of a server operation, with the HTTP status it maps to.
#[derive(Debug)]
pub enum EngineError {
    Sched(SchedError),
    Internal(String),
}

impl From<SchedError> for EngineError {
    fn from(e: SchedError) -> Self {
        EngineError::Sched(e)
    }
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineError::Sched(e) => e.fmt(f),
            EngineError::Internal(e) => f.write_str(e),
        }
    }
}

type Result<T> = std::result::Result<T, EngineError>;

impl Engine {
    /// Opens the state folder, restores what was running, and starts the clock.
    pub fn start(state: StateDir, plan: Plan, cfg: EngineConfig) -> std::result::Result<Arc<Engine>, String> {
        let tokens = state.init()?;
        // Paths handed to agents and commands must not depend on the folder `pw` was started in.
        let state = state.canonical();
        let (store, loaded) = Store::open(&state.database())?;
        let mut sched = Scheduler::new(plan, cfg.sched.clone());
        let polled: HashMap<String, String> = loaded.revisions.clone().into_iter().collect();
        sched.restore(loaded.instances, loaded.agents, loaded.revisions, now_ms());
        sched.restore_pending(loaded.pending);
        let (events, _) = broadcast::channel(4096);
        let (log_chunks, _) = broadcast::channel(4096);
        let engine = Arc::new(Engine {
            inner: Mutex::new(Inner { sched, next_seq: loaded.last_event + 1 }),
            store,
            work: Notify::new(),
            stop: Notify::new(),
            new_events: Notify::new(),
            events,
            log_chunks,
            polled: Mutex::new(polled),
            durations_due: AtomicBool::new(false),
            durations_writing: Mutex::new(()),
            durations_written_ms: AtomicU64::new(0),
            blobs: Blobs::new(state.blobs()),
            secrets: Secrets::new(&state.root),
            state,
            tokens,
            cfg,
        });
        // Effects the restore asked for (discover commands to run again, waiting jobs, pending
        // downstream triggers).
        let e = engine.clone();
        tokio::spawn(async move {
            let _ = e.apply(Vec::new(), |_, _| ()).await;
        });
        let weak = Arc::downgrade(&engine);
        let tick = engine.cfg.tick;
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let Some(engine) = weak.upgrade() else { return };
                let _ = engine.apply(Vec::new(), |s, now| s.tick(now)).await;
            }
        });
        Ok(engine)
    }

    /// Runs a change on the scheduler, commits what it changed (with `extra` writes), and then
    /// carries out its effects.
    pub async fn apply<R>(self: &Arc<Self>, extra: Vec<Write>, f: impl FnOnce(&mut Scheduler, u64) -> R) -> Result<R> {
        let (result, effects, committed) = {
            let mut inner = self.inner.lock().map_err(|_| EngineError::Internal("scheduler lock poisoned".into()))?;
            let now = now_ms();
            let result = f(&mut inner.sched, now);
            let mut writes = extra;
            writes.extend(dirty_writes(&mut inner.sched));
            let effects = inner.sched.take_effects();
            let mut events = Vec::new();
            for e in &effects {
                if let Effect::Event(kind) = e {
                    let seq = inner.next_seq;
                    inner.next_seq += 1;
                    let event = Event { seq, at_ms: now, kind: kind.clone() };
                    writes.push(Write::event(&event));
                    let kept = self.cfg.events_kept.max(1);
                    if seq % (kept / 100).clamp(1, PRUNE_EVERY_MAX) == 0 && seq > kept {
                        writes.push(Write::PruneEvents { below: seq + 1 - kept });
                    }
                    events.push(event);
                }
            }
            // Queued under the lock, so that commits follow the order of changes.
            let committed = self.store.queue(writes);
            (result, (effects, events), committed)
        };
        let failed = match committed.await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("cannot save state: {e}; nothing was changed")),
            Err(_) => Some("the store stopped; nothing was changed".to_string()),
        };
        if let Some(message) = failed {
            self.undo();
            return Err(EngineError::Internal(message));
        }
        self.carry_out(effects.0, effects.1);
        Ok(result)
    }

    /// A commit failed: the scheduler goes back to what the database holds, as after a restart,
    /// so that the change (and any made after it on top of it) is undone in memory too. Its
    /// effects were never carried out; those the restore asks for again are already under way.
    fn undo(&self) {
        let Ok(mut inner) = self.inner.lock() else { return };
        let loaded = match self.store.load() {
            Ok(l) => l,
            Err(e) => {
                eprintln!("pw server: cannot read the state back after a failed commit: {e}");
                return;
            }
        };
        let mut sched = Scheduler::new(inner.sched.plan().clone(), inner.sched.config().clone());
        sched.restore(loaded.instances, loaded.agents, loaded.revisions, now_ms());
        sched.restore_pending(loaded.pending);
        sched.take_effects();
        sched.take_dirty(|_| ());
        inner.sched = sched;
        inner.next_seq = loaded.last_event + 1;
    }

    fn carry_out(self: &Arc<Self>, effects: Vec<Effect>, events: Vec<Event>) {
        let passed = |e: &Event| matches!(e.kind, EventKind::JobFinished { state: JobState::Passed, .. });
        if events.iter().any(passed) {
            self.export_durations();
        }
        if !events.is_empty() {
            for e in events {
                let _ = self.events.send(e);
            }
            self.new_events.notify_waiters();
        }
        for effect in effects {
            match effect {
                Effect::Event(_) => {}
                Effect::WorkReady => self.work.notify_waiters(),
                Effect::StopAttempt { .. } => self.stop.notify_waiters(),
                Effect::Discover { instance, stage, job, command, env } => {
                    let engine = self.clone();
                    tokio::spawn(async move {
                        let dir = engine.state.discover_dir();
                        let result = git::discover(&command, &dir, &env).await;
                        let _ =
                            engine.apply(Vec::new(), |s, now| s.discovered(instance, &stage, &job, result, now)).await;
                    });
                }
                Effect::TriggerLater(trigger) => {
                    let engine = self.clone();
                    tokio::spawn(async move { engine.complete_trigger(trigger).await });
                }
            }
        }
    }

    /// Asks for `durations.json` to be written again, on a blocking thread off the request path,
    /// at least [`DURATIONS_EVERY_MS`] after the previous export. Jobs passing while an export
    /// waits to start share it.
    fn export_durations(self: &Arc<Self>) {
        if self.durations_due.swap(true, Ordering::AcqRel) {
            return;
        }
        let last = self.durations_written_ms.load(Ordering::Acquire);
        let wait = Duration::from_millis((last + DURATIONS_EVERY_MS).saturating_sub(now_ms()));
        let engine = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            if let Some(engine) = engine.upgrade() {
                let _ = tokio::task::spawn_blocking(move || engine.write_due_durations()).await;
            }
        });
    }

    /// Writes the export if one is due; run after the changes it must include are committed.
    fn write_due_durations(&self) {
        let Ok(_writing) = self.durations_writing.lock() else { return };
        if !self.durations_due.swap(false, Ordering::AcqRel) {
            return;
        }
        if let Err(e) = crate::durations::write(&self.store, &self.state.root) {
            eprintln!("pw server: cannot export job durations: {e}");
        }
        self.durations_written_ms.store(now_ms(), Ordering::Release);
    }

    /// Writes `durations.json` from everything committed so far (before the process exits, or
    /// when a caller must read it): it waits for earlier commits, so that a job seen passed in
    /// memory is in the export even when its own export was not yet asked for.
    pub async fn flush_durations(self: &Arc<Self>) {
        let _ = self.store.barrier().await;
        self.durations_due.store(true, Ordering::Release);
        let engine = self.clone();
        let _ = tokio::task::spawn_blocking(move || engine.write_due_durations()).await;
    }

    /// Runs `f` on the scheduler's current state (under its lock: keep `f` short).
    pub(crate) fn read<R>(&self, f: impl FnOnce(&Scheduler) -> R) -> Result<R> {
        let inner = self.inner.lock().map_err(|_| EngineError::Internal("scheduler lock poisoned".into()))?;
        Ok(f(&inner.sched))
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Log chunks as they are committed (a chunk sent again by its agent may come twice).
    pub fn subscribe_logs(&self) -> broadcast::Receiver<LogLine> {
        self.log_chunks.subscribe()
    }

    /// The number of the last event recorded (0 when none was).
    pub(crate) fn last_event(&self) -> u64 {
        self.inner.lock().map_or(0, |i| i.next_seq.saturating_sub(1))
    }

    /// The store, for pages that read what the scheduler does not keep in memory (logs, event
    /// history, past durations).
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub fn set_plan(&self, plan: Plan) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.sched.set_plan(plan);
        }
    }

    pub fn plan(&self) -> Plan {
        self.read(|s| s.plan().clone()).unwrap_or(Plan {
            plan_version: pw_compiler::runtime_api::plan::PLAN_VERSION,
            materials: Vec::new(),
            pipelines: Vec::new(),
        })
    }

    // ----- agents -----

    /// Registers an agent. A known id is given back only with its credential; otherwise the
    /// agent is new, gets a new id and credential, and is approved unless approval is required.
    pub async fn register(self: &Arc<Self>, req: RegisterRequest) -> Result<RegisterResponse> {
        let token = || crate::statedir::random_token().map_err(|e| EngineError::Internal(e.to_string()));
        let returning = match (&req.id, &req.credential) {
            (Some(id), Some(c)) => self.read(|s| s.check_agent(id, &token_sha256(c)).is_ok())?,
            _ => false,
        };
        let (id, credential) = match (returning, req.id, req.credential) {
            (true, Some(id), Some(c)) => (id, c),
            _ => (token()?[..16].to_string(), token()?),
        };
        let sha = token_sha256(&credential);
        let new = NewAgent {
            id: &id,
            name: &req.name,
            resources: req.resources,
            credential_sha256: &sha,
            approved: !self.cfg.require_approval,
        };
        let approved = self
            .apply(Vec::new(), |s, now| {
                s.register_agent(new, now);
                s.agent(&id).is_some_and(|a| a.approved)
            })
            .await?;
        let cfg = &self.cfg.sched;
        Ok(RegisterResponse {
            agent_id: id,
            credential,
            approved,
            heartbeat_ms: cfg.heartbeat_ms,
            lease_ms: cfg.lease_ms,
        })
    }

    /// Checks that `credential` is agent `id`'s.
    pub fn authorize_agent(&self, id: &str, credential: &str) -> Result<()> {
        let sha = token_sha256(credential);
        self.read(|s| s.check_agent(id, &sha).map(|_| ()))?.map_err(Into::into)
    }

    /// The agent running `attempt`, when `token` is the attempt's live job token.
    pub fn job_agent(&self, attempt: u64, token: &str) -> Result<String> {
        let sha = token_sha256(token);
        Ok(self.read(|s| s.job_agent(attempt, &sha))??)
    }

    /// Lets an agent waiting for approval take jobs.
    pub async fn approve_agent(self: &Arc<Self>, id: &str) -> Result<()> {
        Ok(self.apply(Vec::new(), |s, _| s.approve_agent(id)).await??)
    }

    /// Forgets the agents `which` selects; see [`Scheduler::forget_agents`].
    pub async fn forget_agents(self: &Arc<Self>, which: impl Fn(&crate::state::AgentInfo) -> bool) -> Result<()> {
        self.apply(Vec::new(), |s, now| s.forget_agents(which, now)).await
    }

    /// Waits up to `wait` for a job this agent can run.
    pub(crate) async fn next_work(self: &Arc<Self>, agent: &str, wait: Duration) -> Result<Option<Assignment>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.work.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let secrets = self.secrets.clone();
            let job_token = crate::statedir::random_token().map_err(|e| EngineError::Internal(e.to_string()))?;
            let found = self
                .apply(Vec::new(), |s, now| -> std::result::Result<Option<Assignment>, SchedError> {
                    while let Some(attempt) = s.assign(agent, now)? {
                        match s.assignment(attempt, &job_token, &|name| secrets.get(name)) {
                            Ok(a) => {
                                s.give_job_token(attempt, token_sha256(&job_token));
                                return Ok(Some(a));
                            }
                            Err(reason) => s.fail(attempt, reason, now),
                        }
                    }
                    Ok(None)
                })
                .await??;
            if found.is_some() {
                return Ok(found);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(None);
            }
        }
    }

    /// Renews the lease; waits up to `wait` for the attempt to be stopped.
    pub async fn heartbeat(self: &Arc<Self>, agent: &str, attempt: Option<u64>, wait: Duration) -> Result<bool> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.stop.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.apply(Vec::new(), |s, now| s.heartbeat(agent, attempt, now)).await?? {
                return Ok(true);
            }
            if attempt.is_none() || tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(false);
            }
        }
    }

    pub(crate) async fn append_log(self: &Arc<Self>, attempt: u64, agent: &str, seq: u64, data: String) -> Result<()> {
        self.read(|s| s.owns(attempt, agent))??;
        let line = LogLine { attempt, seq, data: data.clone() };
        let committed = self.store.queue(vec![Write::Log { attempt, seq, data }]);
        match committed.await {
            Ok(Ok(())) => {
                let _ = self.log_chunks.send(line);
                Ok(())
            }
            Ok(Err(e)) => Err(EngineError::Internal(e)),
            Err(_) => Err(EngineError::Internal("the store stopped".into())),
        }
    }

    /// How many bytes `attempt` may still upload as artifact `name`: the upload limit is a quota
    /// on all of an attempt's artifacts together (an artifact uploaded again counts once).
    pub fn upload_room(&self, attempt: u64, name: &str) -> Result<u64> {
        let used = self.read(|s| {
            s.attempt(attempt).map_or(0, |a| a.artifacts.iter().filter(|(n, _)| *n != name).map(|(_, r)| r.size).sum())
        })?;
        Ok(self.cfg.upload_limit.saturating_sub(used))
    }

    pub fn owns(&self, attempt: u64, agent: &str) -> Result<()> {
        Ok(self.read(|s| s.owns(attempt, agent))??)
    }

    // ----- instances -----

    /// Triggers a pipeline with the current revisions of its materials.
    pub async fn trigger(self: &Arc<Self>, pipeline: &str, cause: Cause) -> Result<(String, u32)> {
        self.trigger_with(pipeline, cause, Vec::new(), Vec::new()).await
    }

    async fn trigger_with(
        self: &Arc<Self>,
        pipeline: &str,
        cause: Cause,
        upstreams: Vec<InstanceRef>,
        inherited: Vec<MaterialCheckout>,
    ) -> Result<(String, u32)> {
        let checkouts = self.checkouts(pipeline, &cause, &inherited).await?;
        Ok(self.apply(Vec::new(), |s, now| s.trigger(pipeline, cause, upstreams, checkouts, now)).await??)
    }

    /// Carries out a pending downstream trigger: looks up the revisions it does not inherit,
    /// then creates the instance and forgets the trigger in one commit. A trigger carried out
    /// already is not carried out again.
    async fn complete_trigger(self: &Arc<Self>, t: PendingTrigger) {
        let materials = self.checkouts(&t.pipeline, &t.cause, &t.inherited).await.map_err(|e| e.to_string());
        // A failure is announced by a `TriggerFailed` event; only an internal error is left to say.
        if let Err(e) = self.apply(Vec::new(), |s, now| s.complete_trigger(t.id, materials, now)).await {
            eprintln!("pw: cannot start `{}` ({}): {e}", t.pipeline, t.cause);
        }
    }

    /// The checkouts of a pipeline's materials: the inherited revisions, the commit that caused
    /// the instance, and the current revisions of the others.
    async fn checkouts(
        self: &Arc<Self>,
        pipeline: &str,
        cause: &Cause,
        inherited: &[MaterialCheckout],
    ) -> Result<Vec<MaterialCheckout>> {
        let materials = self.read(|s| s.materials_of(pipeline))?;
        if self.read(|s| s.plan().pipeline(pipeline).is_none())? {
            return Err(SchedError::NotFound(format!("no pipeline named `{pipeline}`")).into());
        }
        let mut revisions: BTreeMap<String, String> =
            inherited.iter().map(|m| (m.name.to_ascii_lowercase(), m.revision.clone())).collect();
        if let Cause::Material { name, revision } = cause {
            revisions.insert(name.to_ascii_lowercase(), revision.clone());
        }
        for m in &materials {
            if revisions.contains_key(&m.name.to_ascii_lowercase()) {
                continue;
            }
            let rev = git::resolve(&m.git, &m.branch)
                .await
                .map_err(|e| SchedError::Conflict(format!("material `{}`: {e}", m.name)))?;
            revisions.insert(m.name.to_ascii_lowercase(), rev);
        }
        Ok(scheduler::checkouts(&materials, &revisions))
    }

    pub async fn approve(self: &Arc<Self>, pipeline: &str, counter: u32, stage: &str, by: &str) -> Result<()> {
        Ok(self.apply(Vec::new(), |s, now| s.approve(pipeline, counter, stage, by, now)).await??)
    }

    pub async fn rerun(
        self: &Arc<Self>,
        pipeline: &str,
        counter: u32,
        stage: &str,
        job: Option<&str>,
        failed_only: bool,
    ) -> Result<()> {
        Ok(self.apply(Vec::new(), |s, now| s.rerun(pipeline, counter, stage, job, failed_only, now)).await??)
    }

    pub async fn cancel(self: &Arc<Self>, pipeline: &str, counter: u32) -> Result<()> {
        Ok(self.apply(Vec::new(), |s, now| s.cancel(pipeline, counter, now)).await??)
    }

    pub fn status(&self, pipeline: Option<&str>) -> Result<StatusResponse> {
        let now = now_ms();
        self.read(|s| StatusResponse {
            instances: s
                .instances()
                .filter(|i| pipeline.is_none_or(|p| i.pipeline.eq_ignore_ascii_case(p)))
                .map(InstanceView::from)
                .collect(),
            pending: s
                .pending_triggers()
                .filter(|t| pipeline.is_none_or(|p| t.pipeline.eq_ignore_ascii_case(p)))
                .map(|t| s.pending_view(t))
                .collect(),
            agents: s
                .agents()
                .map(|a| AgentView {
                    id: a.id.clone(),
                    name: a.name.clone(),
                    resources: a.resources.clone(),
                    state: s.agent_state(a, now).into(),
                    job: a.attempt.and_then(|at| s.job_key(at)).map(|k| k.to_string()),
                })
                .collect(),
        })
    }

    pub fn instance(&self, pipeline: &str, counter: u32) -> Result<InstanceView> {
        self.read(|s| s.instance(pipeline, counter).map(InstanceView::from))?
            .ok_or_else(|| SchedError::NotFound(format!("no instance {pipeline}/{counter}")).into())
    }

    /// The log of a job's attempt (the latest when `attempt` is `None`), after chunk `after`.
    pub fn logs(
        &self,
        pipeline: &str,
        counter: u32,
        stage: &str,
        job: &str,
        attempt: Option<u32>,
        after: Option<u64>,
    ) -> Result<LogsResponse> {
        let (id, number, finished) = self.read(|s| -> std::result::Result<(u64, u32, bool), SchedError> {
            let inst = s
                .instance(pipeline, counter)
                .ok_or_else(|| SchedError::NotFound(format!("no instance {pipeline}/{counter}")))?;
            let st = inst
                .stages
                .iter()
                .find(|x| x.name.eq_ignore_ascii_case(stage))
                .ok_or_else(|| SchedError::NotFound(format!("{pipeline}/{counter} has no stage `{stage}`")))?;
            let j = st.jobs.iter().find(|x| x.name.eq_ignore_ascii_case(job)).ok_or_else(|| {
                let names: Vec<&str> = st.jobs.iter().map(|j| j.name.as_str()).collect();
                SchedError::NotFound(format!("stage `{}` has no job `{job}` (jobs: {})", st.name, names.join(", ")))
            })?;
            let a = match attempt {
                Some(n) => j.attempts.iter().find(|a| a.number == n),
                None => j.attempts.last(),
            }
            .ok_or_else(|| SchedError::NotFound(format!("job `{}` has no attempt {}", j.name, attempt.unwrap_or(1))))?;
            Ok((a.id, a.number, a.state.is_finished()))
        })??;
        let chunks = self.store.logs(id, after).map_err(EngineError::Internal)?;
        Ok(LogsResponse {
            attempt: number,
            chunks: chunks.into_iter().map(|(seq, data)| LogChunkView { seq, data }).collect(),
            finished,
        })
    }

    /// Events after `after` from the recorded history, waiting up to `wait` for one when there is
    /// none yet.
    pub async fn events_after(&self, after: u64, wait: Duration) -> Result<(Vec<Event>, u64)> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.new_events.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let events = self.store.events_after(after, EVENTS_PER_ANSWER).map_err(EngineError::Internal)?;
            let next = events.last().map_or(after, |e| e.seq);
            if !events.is_empty() || tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok((events, next));
            }
        }
    }

    pub(crate) fn resolve_fetch(
        &self,
        attempt: u64,
        agent: &str,
        q: &crate::protocol::FetchQuery,
    ) -> Result<crate::protocol::ArtifactRef> {
        Ok(self.read(|s| {
            s.owns(attempt, agent)?;
            s.resolve_fetch(attempt, &q.pipeline, &q.stage, &q.job, &q.artifact)
        })??)
    }

    pub(crate) async fn artifact_stored(
        self: &Arc<Self>,
        attempt: u64,
        agent: &str,
        name: &str,
        r: crate::protocol::ArtifactRef,
    ) -> Result<()> {
        Ok(self.apply(Vec::new(), |s, _| s.artifact_stored(attempt, agent, name, r)).await??)
    }

    pub async fn task_report(
        self: &Arc<Self>,
        attempt: u64,
        agent: &str,
        r: crate::protocol::TaskReport,
    ) -> Result<()> {
        Ok(self.apply(Vec::new(), |s, now| s.task_report(attempt, agent, &r, now)).await??)
    }

    pub async fn complete(
        self: &Arc<Self>,
        attempt: u64,
        agent: &str,
        r: crate::protocol::CompleteRequest,
    ) -> Result<()> {
        Ok(self.apply(Vec::new(), |s, now| s.complete(attempt, agent, r.result, r.reason, r.at_us, now)).await??)
    }

    /// Whether every instance in `roots`, and every instance they caused downstream, is over (no
    /// downstream trigger they caused still pending); with the failed ones.
    pub fn settled(&self, roots: &[(String, u32)]) -> Option<Settled> {
        self.read(|s| {
            let mut all: Vec<&crate::state::Instance> = roots.iter().filter_map(|(p, c)| s.instance(p, *c)).collect();
            let mut i = 0;
            while i < all.len() {
                let cur = all[i];
                for inst in s.instances() {
                    let caused = inst.upstreams.iter().any(|u| u.pipeline == cur.pipeline && u.counter == cur.counter);
                    if caused && !all.iter().any(|x| x.id == inst.id) {
                        all.push(inst);
                    }
                }
                i += 1;
            }
            let caused_by_run = |cause: &Cause| match cause {
                Cause::Upstream { pipeline, counter, .. } => {
                    all.iter().any(|i| i.pipeline.eq_ignore_ascii_case(pipeline) && i.counter == *counter)
                }
                _ => false,
            };
            let pending = s.pending_triggers().any(|t| caused_by_run(&t.cause));
            let done = !pending && all.iter().all(|i| i.state.is_finished());
            let failed: Vec<InstanceView> = all
                .iter()
                .filter(|i| i.state != crate::state::InstanceState::Passed)
                .map(|i| InstanceView::from(*i))
                .collect();
            let not_started = s
                .failed_triggers()
                .iter()
                .filter(|f| caused_by_run(&f.trigger.cause))
                .map(|f| format!("{} ({})", f.trigger.pipeline, f.trigger.cause))
                .collect();
            Settled { done, failed, not_started }
        })
        .ok()
    }

    /// Looks for new commits on every material whose poll interval has passed, and triggers the
    /// pipelines that use a material with a new revision. Runs until the engine is dropped.
    pub async fn poll_materials(self: Arc<Self>) {
        let mut due: HashMap<String, tokio::time::Instant> = HashMap::new();
        loop {
            let plan = self.plan();
            for m in &plan.materials {
                let key = m.name.to_ascii_lowercase();
                let now = tokio::time::Instant::now();
                if due.get(&key).is_some_and(|d| *d > now) {
                    continue;
                }
                due.insert(key.clone(), now + Duration::from_secs(m.poll_seconds.max(1)));
                let revision = match git::resolve(&m.git, &m.branch).await {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("pw server: material `{}`: {e}", m.name);
                        continue;
                    }
                };
                let known = self.polled.lock().ok().and_then(|p| p.get(&m.name).cloned());
                if known.as_deref() == Some(revision.as_str()) {
                    continue;
                }
                if let Ok(mut p) = self.polled.lock() {
                    p.insert(m.name.clone(), revision.clone());
                }
                let write = Write::Material { name: m.name.clone(), revision: revision.clone() };
                let _ = self.apply(vec![write], |s, _| s.set_revision(&m.name, &revision)).await;
                for p in plan.pipelines.iter().filter(|p| p.after.is_empty()) {
                    if p.materials.iter().any(|x| x.eq_ignore_ascii_case(&m.name)) {
                        let cause = Cause::Material { name: m.name.clone(), revision: revision.clone() };
                        match self.trigger(&p.name, cause).await {
                            Ok((name, counter)) => eprintln!(
                                "pw server: {name}/{counter} triggered by commit {} on {}",
                                &revision[..revision.len().min(12)],
                                m.name
                            ),
                            Err(e) => eprintln!("pw server: cannot trigger `{}`: {e}", p.name),
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}
