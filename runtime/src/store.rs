//! SQLite persistence. One writer thread owns the writing connection and commits whatever is
//! queued in one transaction (group commit), acknowledging each batch once it is on disk; reads use
//! their own connection. The database runs in WAL mode, read back to confirm it took, and its
//! schema is brought up to date by numbered migrations.

use crate::protocol::Event;
use crate::state::{AgentInfo, Instance, JobRun, PendingTrigger, TaskState};
use rusqlite::{params, Connection};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;
use std::sync::Mutex;
use tokio::sync::oneshot;

/// The schema, one step per version. Never edit a released step: add one.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE instances (
        id INTEGER PRIMARY KEY,
        pipeline TEXT NOT NULL,
        counter INTEGER NOT NULL,
        data TEXT NOT NULL,
        UNIQUE (pipeline, counter)
    );
    CREATE TABLE agents (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        resources TEXT NOT NULL
    );
    CREATE TABLE logs (
        attempt INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (attempt, seq)
    );
    CREATE TABLE materials (
        name TEXT PRIMARY KEY,
        revision TEXT NOT NULL
    );",
    "CREATE TABLE jobs (
        instance INTEGER NOT NULL,
        stage INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (instance, stage, idx)
    );",
    // Downstream triggers waiting for material revisions (`PendingTrigger` as JSON).
    "CREATE TABLE pending_triggers (
        id INTEGER PRIMARY KEY,
        data TEXT NOT NULL
    );",
    // The event history served by `GET /events` (`Event` as JSON), pruned to the newest ones.
    "CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        data TEXT NOT NULL
    );",
    // When each task of an attempt started and ended, on its agent's clock, for task durations.
    "CREATE TABLE task_times (
        attempt INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        pipeline TEXT NOT NULL,
        stage TEXT NOT NULL,
        job TEXT NOT NULL,
        started_us INTEGER,
        finished_us INTEGER,
        state TEXT,
        PRIMARY KEY (attempt, idx)
    );
    CREATE INDEX task_times_by_task ON task_times (pipeline, stage, job, idx, attempt);",
    // Agents prove who they are with a credential (its SHA-256 is kept) and may wait for approval.
    "ALTER TABLE agents ADD COLUMN credential_sha256 TEXT NOT NULL DEFAULT '';
    ALTER TABLE agents ADD COLUMN approved INTEGER NOT NULL DEFAULT 1;",
];

#[derive(Debug)]
pub enum Write {
    /// An instance without its jobs.
    Instance {
        id: u64,
        pipeline: String,
        counter: u32,
        data: String,
    },
    /// One job (with its attempts) of an instance.
    Job {
        instance: u64,
        stage: usize,
        idx: usize,
        data: String,
    },
    /// Forgets an instance's jobs, before they are written again.
    ClearJobs {
        instance: u64,
    },
    Agent {
        id: String,
        name: String,
        resources: Vec<String>,
        credential_sha256: String,
        approved: bool,
    },
    /// Forgets an agent (replaced by another of the same name).
    AgentGone {
        id: String,
    },
    Log {
        attempt: u64,
        seq: u64,
        data: String,
    },
    Material {
        name: String,
        revision: String,
    },
    /// A downstream trigger waiting for material revisions.
    Pending {
        id: u64,
        data: String,
    },
    /// A pending trigger carried out (or given up).
    PendingDone {
        id: u64,
    },
    /// One event of the history.
    Event {
        seq: u64,
        data: String,
    },
    /// Forgets the events numbered below `below`.
    PruneEvents {
        below: u64,
    },
    /// A task started (`Running`) or ended, at `at_us` on its agent's clock.
    TaskTime {
        attempt: u64,
        index: usize,
        pipeline: String,
        stage: String,
        job: String,
        state: TaskState,
        at_us: u64,
    },
}

impl Write {
    /// The instance without its jobs (taken out for the time of serialising, not copied).
    pub fn instance(inst: &mut Instance) -> Write {
        let jobs: Vec<_> = inst.stages.iter_mut().map(|s| std::mem::take(&mut s.jobs)).collect();
        let data = serde_json::to_string(&*inst).unwrap_or_default();
        for (s, j) in inst.stages.iter_mut().zip(jobs) {
            s.jobs = j;
        }
        Write::Instance { id: inst.id, pipeline: inst.pipeline.clone(), counter: inst.counter, data }
    }

    pub fn agent(agent: &AgentInfo) -> Write {
        Write::Agent {
            id: agent.id.clone(),
            name: agent.name.clone(),
            resources: agent.resources.clone(),
            credential_sha256: agent.credential_sha256.clone(),
            approved: agent.approved,
        }
    }

    pub fn job(instance: u64, stage: usize, idx: usize, job: &JobRun) -> Write {
        Write::Job { instance, stage, idx, data: serde_json::to_string(job).unwrap_or_default() }
    }

    pub fn pending(t: &PendingTrigger) -> Write {
        Write::Pending { id: t.id, data: serde_json::to_string(t).unwrap_or_default() }
    }

    pub fn event(e: &Event) -> Write {
        Write::Event { seq: e.seq, data: serde_json::to_string(e).unwrap_or_default() }
    }
}

struct Batch {
    writes: Vec<Write>,
    done: Option<oneshot::Sender<Result<(), String>>>,
}

/// What was saved, read back at start.
#[derive(Default)]
pub struct Loaded {
    pub instances: Vec<Instance>,
    pub agents: Vec<AgentInfo>,
    pub revisions: BTreeMap<String, String>,
    pub pending: Vec<PendingTrigger>,
    /// The number of the last event recorded (0 when none was).
    pub last_event: u64,
}

pub struct Store {
    writer: mpsc::Sender<Batch>,
    reader: Mutex<Connection>,
    /// A reading connection of its own for exports, so that they never hold up log reads.
    exporter: Mutex<Connection>,
}

/// The durations of a job's last passed attempts, newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobDurations {
    pub pipeline: String,
    pub stage: String,
    pub job: String,
    pub millis: Vec<u64>,
}

/// The durations of a task's last passed runs, newest first, in milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskDurations {
    pub pipeline: String,
    pub stage: String,
    pub job: String,
    /// The task's 0-based index in its job.
    pub task: usize,
    pub millis: Vec<u64>,
}

/// Each passed task run with both times, numbered newest (highest attempt) first per task.
const PASSED_TASKS: &str = "
    SELECT pipeline, stage, job, idx, us FROM (
        SELECT pipeline, stage, job, idx, finished_us - started_us AS us,
               row_number() OVER (PARTITION BY pipeline, stage, job, idx ORDER BY attempt DESC) AS recent
        FROM task_times
        WHERE state = 'passed' AND started_us IS NOT NULL AND finished_us >= started_us
    )
    WHERE recent <= ?1
    ORDER BY pipeline, stage, job, idx, recent";

/// How many of a job's (or task's) most recent passed runs its median duration is taken over
/// ([`crate::durations`]).
pub(crate) const RECENT_RUNS: usize = 20;

/// How many passed runs of each task `task_times` keeps: the ones the medians use.
const KEPT_TASK_RUNS: i64 = RECENT_RUNS as i64;

/// Forgets a task's runs older than its newest [`KEPT_TASK_RUNS`] passed ones.
const PRUNE_TASK_TIMES: &str = "
    DELETE FROM task_times
    WHERE pipeline = ?1 AND stage = ?2 AND job = ?3 AND idx = ?4 AND attempt < (
        SELECT attempt FROM task_times
        WHERE pipeline = ?1 AND stage = ?2 AND job = ?3 AND idx = ?4 AND state = 'passed'
        ORDER BY attempt DESC LIMIT 1 OFFSET ?5 - 1
    )";

/// Each passed attempt with both times, from assignment to end, numbered newest first per job.
const PASSED_ATTEMPTS: &str = "
    SELECT pipeline, stage, job, ms FROM (
        SELECT pipeline, stage, job, ms,
               row_number() OVER (PARTITION BY pipeline, stage, job ORDER BY finished DESC) AS recent
        FROM (
            SELECT i.pipeline AS pipeline,
                   json_extract(i.data, '$.stages[' || j.stage || '].name') AS stage,
                   json_extract(j.data, '$.name') AS job,
                   json_extract(a.value, '$.finished_ms') AS finished,
                   json_extract(a.value, '$.finished_ms') - json_extract(a.value, '$.assigned_ms') AS ms
            FROM jobs j
            JOIN instances i ON i.id = j.instance
            JOIN json_each(j.data, '$.attempts') a
            WHERE json_extract(a.value, '$.state') = 'passed'
        )
        WHERE stage IS NOT NULL AND job IS NOT NULL AND ms IS NOT NULL
    )
    WHERE recent <= ?1
    ORDER BY pipeline, stage, job, recent";

fn open(path: &Path) -> Result<Connection, String> {
    let conn = Connection::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(|e| format!("cannot set WAL mode on {}: {e}", path.display()))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!("{} does not support WAL mode (journal mode is {mode})", path.display()));
    }
    conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON;")
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), String> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| e.to_string())?;
    if version as usize > MIGRATIONS.len() {
        return Err(format!(
            "the state database has schema version {version}, newer than this pw knows ({}); use a newer pw",
            MIGRATIONS.len()
        ));
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction().map_err(|e| e.to_string())?;
        tx.execute_batch(step).map_err(|e| format!("migration {}: {e}", i + 1))?;
        tx.pragma_update(None, "user_version", (i + 1) as i64).map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Reads what a database records without changing it, for a client when no server has it open.
pub fn read_recorded(path: &Path) -> Result<Loaded, String> {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| e.to_string())?;
    if version as usize != MIGRATIONS.len() {
        return Err(format!(
            "{} was recorded by another version of pw (schema {version}, this one reads {}); start `pw server` on it to upgrade it",
            path.display(),
            MIGRATIONS.len()
        ));
    }
    load(&conn)
}

impl Store {
    /// Opens (creating and migrating) the database and starts its writer thread.
    pub fn open(path: &Path) -> Result<(Store, Loaded), String> {
        let mut conn = open(path)?;
        migrate(&mut conn)?;
        let loaded = load(&conn)?;
        let reader = open(path)?;
        let exporter = open(path)?;
        let (tx, rx) = mpsc::channel::<Batch>();
        std::thread::Builder::new()
            .name("pw-store".into())
            .spawn(move || writer(conn, rx))
            .map_err(|e| e.to_string())?;
        Ok((Store { writer: tx, reader: Mutex::new(reader), exporter: Mutex::new(exporter) }, loaded))
    }

    /// Queues writes; the returned receiver resolves when they are committed. Batches are
    /// committed in the order they were queued.
    pub fn queue(&self, writes: Vec<Write>) -> oneshot::Receiver<Result<(), String>> {
        let (done, wait) = oneshot::channel();
        if writes.is_empty() {
            let _ = done.send(Ok(()));
            return wait;
        }
        if let Err(mpsc::SendError(batch)) = self.writer.send(Batch { writes, done: Some(done) }) {
            if let Some(done) = batch.done {
                let _ = done.send(Err("the store is closed".into()));
            }
        }
        wait
    }

    /// Resolves once every write queued before it is committed (or failed).
    pub fn barrier(&self) -> oneshot::Receiver<Result<(), String>> {
        let (done, wait) = oneshot::channel();
        if let Err(mpsc::SendError(batch)) = self.writer.send(Batch { writes: Vec::new(), done: Some(done) }) {
            if let Some(done) = batch.done {
                let _ = done.send(Err("the store is closed".into()));
            }
        }
        wait
    }

    /// Everything committed, read again (to undo in memory a change whose commit failed).
    pub fn load(&self) -> Result<Loaded, String> {
        let conn = self.reader.lock().map_err(|_| "store lock poisoned")?;
        load(&conn)
    }

    /// Log chunks of an attempt after `after` (exclusive), in order.
    pub fn logs(&self, attempt: u64, after: Option<u64>) -> Result<Vec<(u64, String)>, String> {
        let conn = self.reader.lock().map_err(|_| "store lock poisoned")?;
        let mut stmt = conn
            .prepare_cached("SELECT seq, data FROM logs WHERE attempt = ?1 AND seq > ?2 ORDER BY seq")
            .map_err(|e| e.to_string())?;
        let after = after.map_or(-1, |a| a as i64);
        let rows = stmt
            .query_map(params![attempt as i64, after], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?)))
            .map_err(|e| e.to_string())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())
    }

    /// The last chunks of an attempt's log that hold at least `max_bytes` (all of a shorter log),
    /// in order, with the size of the whole log in bytes.
    pub(crate) fn log_tail(&self, attempt: u64, max_bytes: u64) -> Result<(Vec<(u64, String)>, u64), String> {
        let conn = self.reader.lock().map_err(|_| "store lock poisoned")?;
        let total: i64 = conn
            .prepare_cached("SELECT COALESCE(SUM(LENGTH(CAST(data AS BLOB))), 0) FROM logs WHERE attempt = ?1")
            .and_then(|mut s| s.query_row(params![attempt as i64], |r| r.get(0)))
            .map_err(|e| e.to_string())?;
        let mut stmt = conn
            .prepare_cached("SELECT seq, data FROM logs WHERE attempt = ?1 ORDER BY seq DESC")
            .map_err(|e| e.to_string())?;
        let mut rows = stmt.query(params![attempt as i64]).map_err(|e| e.to_string())?;
        let (mut tail, mut bytes) = (Vec::new(), 0u64);
        while bytes < max_bytes {
            let Some(row) = rows.next().map_err(|e| e.to_string())? else { break };
            let data: String = row.get(1).map_err(|e| e.to_string())?;
            bytes += data.len() as u64;
            tail.push((row.get::<_, i64>(0).map_err(|e| e.to_string())? as u64, data));
        }
        tail.reverse();
        Ok((tail, total.max(0) as u64))
    }

    /// The durations of each job's last `last` passed attempts (committed ones), in one query.
    pub(crate) fn job_durations(&self, last: usize) -> Result<Vec<JobDurations>, String> {
        let conn = self.exporter.lock().map_err(|_| "store lock poisoned")?;
        let mut stmt = conn.prepare_cached(PASSED_ATTEMPTS).map_err(|e| e.to_string())?;
        let rows = stmt
            .query_map(params![last as i64], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?))
            })
            .map_err(|e| e.to_string())?;
        let mut out: Vec<JobDurations> = Vec::new();
        for row in rows {
            let (pipeline, stage, job, ms) = row.map_err(|e| e.to_string())?;
            let ms = ms.max(0) as u64;
            match out.last_mut() {
                Some(d) if d.pipeline == pipeline && d.stage == stage && d.job == job => d.millis.push(ms),
                _ => out.push(JobDurations { pipeline, stage, job, millis: vec![ms] }),
            }
        }
        Ok(out)
    }

    /// The durations of each task's last `last` passed runs (committed ones), in one query.
    pub(crate) fn task_durations(&self, last: usize) -> Result<Vec<TaskDurations>, String> {
        let conn = self.exporter.lock().map_err(|_| "store lock poisoned")?;
        let mut stmt = conn.prepare_cached(PASSED_TASKS).map_err(|e| e.to_string())?;
        let rows = stmt
            .query_map(params![last as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .map_err(|e| e.to_string())?;
        let mut out: Vec<TaskDurations> = Vec::new();
        for row in rows {
            let (pipeline, stage, job, task, us) = row.map_err(|e| e.to_string())?;
            let (task, ms) = (task.max(0) as usize, us.max(0) as u64 / 1000);
            match out.last_mut() {
                Some(d) if d.pipeline == pipeline && d.stage == stage && d.job == job && d.task == task => {
                    d.millis.push(ms)
                }
                _ => out.push(TaskDurations { pipeline, stage, job, task, millis: vec![ms] }),
            }
        }
        Ok(out)
    }

    /// Up to `limit` events numbered after `after`, in order.
    pub fn events_after(&self, after: u64, limit: usize) -> Result<Vec<Event>, String> {
        let conn = self.reader.lock().map_err(|_| "store lock poisoned")?;
        let mut stmt = conn
            .prepare_cached("SELECT data FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2")
            .map_err(|e| e.to_string())?;
        let rows = stmt
            .query_map(params![after.min(i64::MAX as u64) as i64, limit as i64], |r| r.get::<_, String>(0))
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for row in rows {
            let data = row.map_err(|e| e.to_string())?;
            out.push(serde_json::from_str(&data).map_err(|e| format!("a stored event is unreadable: {e}"))?);
        }
        Ok(out)
    }

    /// Whether a log chunk is already stored.
    #[cfg(test)]
    pub(crate) fn has_log(&self, attempt: u64, seq: u64) -> bool {
        let Ok(conn) = self.reader.lock() else { return false };
        conn.query_row(
            "SELECT 1 FROM logs WHERE attempt = ?1 AND seq = ?2",
            params![attempt as i64, seq as i64],
            |_| Ok(()),
        )
        .is_ok()
    }
}

fn load(conn: &Connection) -> Result<Loaded, String> {
    let mut out = Loaded::default();
    let mut stmt = conn.prepare("SELECT data FROM instances ORDER BY id").map_err(|e| e.to_string())?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(|e| e.to_string())?;
    for row in rows {
        let data = row.map_err(|e| e.to_string())?;
        let inst: Instance =
            serde_json::from_str(&data).map_err(|e| format!("a stored instance is unreadable: {e}"))?;
        out.instances.push(inst);
    }
    let mut stmt = conn
        .prepare("SELECT instance, stage, data FROM jobs ORDER BY instance, stage, idx")
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as usize, r.get::<_, String>(2)?)))
        .map_err(|e| e.to_string())?;
    let index: std::collections::HashMap<u64, usize> =
        out.instances.iter().enumerate().map(|(i, x)| (x.id, i)).collect();
    for row in rows {
        let (instance, stage, data) = row.map_err(|e| e.to_string())?;
        let job: JobRun = serde_json::from_str(&data).map_err(|e| format!("a stored job is unreadable: {e}"))?;
        if let Some(st) = index.get(&instance).and_then(|&i| out.instances[i].stages.get_mut(stage)) {
            st.jobs.push(job);
        }
    }
    let mut stmt = conn
        .prepare("SELECT id, name, resources, credential_sha256, approved FROM agents")
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, bool>(4)?,
            ))
        })
        .map_err(|e| e.to_string())?;
    for row in rows {
        let (id, name, resources, credential_sha256, approved) = row.map_err(|e| e.to_string())?;
        let resources = serde_json::from_str(&resources).unwrap_or_default();
        out.agents.push(AgentInfo {
            id,
            name,
            resources,
            last_seen_ms: 0,
            attempt: None,
            lost: false,
            credential_sha256,
            approved,
        });
    }
    let mut stmt = conn.prepare("SELECT name, revision FROM materials").map_err(|e| e.to_string())?;
    let rows =
        stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).map_err(|e| e.to_string())?;
    for row in rows {
        let (name, revision) = row.map_err(|e| e.to_string())?;
        out.revisions.insert(name, revision);
    }
    let mut stmt = conn.prepare("SELECT data FROM pending_triggers ORDER BY id").map_err(|e| e.to_string())?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(|e| e.to_string())?;
    for row in rows {
        let data = row.map_err(|e| e.to_string())?;
        let t = serde_json::from_str(&data).map_err(|e| format!("a stored pending trigger is unreadable: {e}"))?;
        out.pending.push(t);
    }
    out.last_event = conn
        .query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get::<_, i64>(0))
        .map_err(|e| e.to_string())?
        .max(0) as u64;
    Ok(out)
}

fn writer(mut conn: Connection, rx: mpsc::Receiver<Batch>) {
    while let Ok(first) = rx.recv() {
        let mut batches = vec![first];
        while let Ok(more) = rx.try_recv() {
            batches.push(more);
            if batches.len() >= 256 {
                break;
            }
        }
        let result = commit(&mut conn, &batches);
        for b in batches {
            if let Some(done) = b.done {
                let _ = done.send(result.clone());
            }
        }
    }
}

fn commit(conn: &mut Connection, batches: &[Batch]) -> Result<(), String> {
    let tx = conn.transaction().map_err(|e| e.to_string())?;
    for w in batches.iter().flat_map(|b| &b.writes) {
        let r = match w {
            Write::Instance { id, pipeline, counter, data } => tx.execute(
                "INSERT INTO instances (id, pipeline, counter, data) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(id) DO UPDATE SET data = excluded.data",
                params![*id as i64, pipeline, counter, data],
            ),
            Write::Job { instance, stage, idx, data } => tx.execute(
                "INSERT INTO jobs (instance, stage, idx, data) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(instance, stage, idx) DO UPDATE SET data = excluded.data",
                params![*instance as i64, *stage as i64, *idx as i64, data],
            ),
            Write::ClearJobs { instance } => {
                tx.execute("DELETE FROM jobs WHERE instance = ?1", params![*instance as i64])
            }
            Write::Agent { id, name, resources, credential_sha256, approved } => tx.execute(
                "INSERT INTO agents (id, name, resources, credential_sha256, approved) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(id) DO UPDATE SET name = excluded.name, resources = excluded.resources,
                 credential_sha256 = excluded.credential_sha256, approved = excluded.approved",
                params![id, name, serde_json::to_string(resources).unwrap_or_default(), credential_sha256, approved],
            ),
            Write::AgentGone { id } => tx.execute("DELETE FROM agents WHERE id = ?1", params![id]),
            Write::Log { attempt, seq, data } => tx.execute(
                "INSERT OR IGNORE INTO logs (attempt, seq, data) VALUES (?1, ?2, ?3)",
                params![*attempt as i64, *seq as i64, data],
            ),
            Write::Material { name, revision } => tx.execute(
                "INSERT INTO materials (name, revision) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET revision = excluded.revision",
                params![name, revision],
            ),
            Write::Pending { id, data } => tx.execute(
                "INSERT INTO pending_triggers (id, data) VALUES (?1, ?2)
                 ON CONFLICT(id) DO UPDATE SET data = excluded.data",
                params![*id as i64, data],
            ),
            Write::PendingDone { id } => tx.execute("DELETE FROM pending_triggers WHERE id = ?1", params![*id as i64]),
            Write::Event { seq, data } => {
                tx.execute("INSERT OR REPLACE INTO events (seq, data) VALUES (?1, ?2)", params![*seq as i64, data])
            }
            Write::PruneEvents { below } => {
                tx.execute("DELETE FROM events WHERE seq < ?1", params![(*below).min(i64::MAX as u64) as i64])
            }
            Write::TaskTime { attempt, index, pipeline, stage, job, state, at_us } => {
                let at = (*at_us).min(i64::MAX as u64) as i64;
                if *state == TaskState::Running {
                    tx.execute(
                        "INSERT INTO task_times (attempt, idx, pipeline, stage, job, started_us)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                         ON CONFLICT(attempt, idx) DO UPDATE SET started_us = excluded.started_us",
                        params![*attempt as i64, *index as i64, pipeline, stage, job, at],
                    )
                } else {
                    let passed = *state == TaskState::Passed;
                    let state = serde_json::to_value(state).ok().and_then(|v| v.as_str().map(String::from));
                    tx.execute(
                        "INSERT INTO task_times (attempt, idx, pipeline, stage, job, finished_us, state)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                         ON CONFLICT(attempt, idx) DO UPDATE
                         SET finished_us = excluded.finished_us, state = excluded.state",
                        params![*attempt as i64, *index as i64, pipeline, stage, job, at, state],
                    )
                    .and_then(|n| {
                        if passed {
                            tx.execute(PRUNE_TASK_TIMES, params![pipeline, stage, job, *index as i64, KEPT_TASK_RUNS])?;
                        }
                        Ok(n)
                    })
                }
            }
        };
        r.map_err(|e| e.to_string())?;
    }
    tx.commit().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_survive_reopening_and_logs_are_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw.db");
        {
            let (store, loaded) = Store::open(&path).unwrap();
            assert!(loaded.instances.is_empty());
            let w = vec![
                Write::Agent {
                    id: "a".into(),
                    name: "agent-a".into(),
                    resources: vec!["linux".into()],
                    credential_sha256: "c".repeat(64),
                    approved: false,
                },
                Write::Agent {
                    id: "b".into(),
                    name: "agent-b".into(),
                    resources: vec![],
                    credential_sha256: String::new(),
                    approved: true,
                },
                Write::AgentGone { id: "b".into() },
                Write::Log { attempt: 1, seq: 0, data: "one\n".into() },
                Write::Log { attempt: 1, seq: 0, data: "dup\n".into() },
                Write::Log { attempt: 1, seq: 1, data: "two\n".into() },
                Write::Material { name: "app".into(), revision: "abc".into() },
            ];
            store.queue(w).await.unwrap().unwrap();
            assert_eq!(store.logs(1, None).unwrap(), vec![(0, "one\n".to_string()), (1, "two\n".to_string())]);
            assert_eq!(store.logs(1, Some(0)).unwrap(), vec![(1, "two\n".to_string())]);
            assert!(store.has_log(1, 1));
            assert_eq!(store.log_tail(1, 1).unwrap(), (vec![(1, "two\n".to_string())], 8));
            assert_eq!(store.log_tail(1, 100).unwrap().0.len(), 2);
            assert_eq!(store.log_tail(9, 100).unwrap(), (Vec::new(), 0));
            assert!(!store.has_log(1, 2));
        }
        let (_store, loaded) = Store::open(&path).unwrap();
        assert_eq!(loaded.agents.len(), 1, "a forgotten agent stays forgotten");
        assert_eq!(loaded.agents[0].resources, vec!["linux".to_string()]);
        assert_eq!(loaded.agents[0].credential_sha256, "c".repeat(64), "the credential's hash is kept");
        assert!(!loaded.agents[0].approved, "an agent waiting for approval still waits after a restart");
        assert_eq!(loaded.revisions["app"], "abc");
        let conn = Connection::open(&path).unwrap();
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
    }

    #[tokio::test]
    async fn instances_are_saved_apart_from_their_jobs_and_reassembled() {
        use crate::state::*;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw.db");
        let job = |name: &str| JobRun {
            name: name.into(),
            definition: serde_json::from_value(serde_json::json!({
                "name": name, "resources": [], "timeout_seconds": null, "wait_limit_seconds": 60, "env": {},
                "tasks": [], "artifacts": [], "discover": null, "source": {"file": "a.pw", "line": 1, "column": 1}
            }))
            .unwrap(),
            attempts: Vec::new(),
        };
        let mut inst: Instance = serde_json::from_value(serde_json::json!({
            "id": 7, "pipeline": "p", "counter": 1, "materials": [], "cause": {"kind": "manual", "by": "t"},
            "upstreams": [], "state": "running", "cancelled": false, "created_ms": 0, "finished_ms": null,
            "definition": {"name": "p", "materials": [], "after": [], "max_instances": null, "env": {}, "stages": [],
                           "source": {"file": "a.pw", "line": 1, "column": 1}},
            "stages": [{"name": "s", "state": "running", "reason": null, "jobs": [], "discovering": [],
                        "approved_by": null, "runs": 1}]
        }))
        .unwrap();
        inst.stages[0].jobs = vec![job("a"), job("b"), job("c")];
        {
            let (store, _) = Store::open(&path).unwrap();
            let mut w = vec![Write::instance(&mut inst), Write::ClearJobs { instance: 7 }];
            w.extend(inst.stages[0].jobs.iter().enumerate().map(|(i, j)| Write::job(7, 0, i, j)));
            store.queue(w).await.unwrap().unwrap();
            assert_eq!(inst.stages[0].jobs.len(), 3, "serialising does not lose the jobs");
            inst.stages[0].jobs.remove(0);
            let mut w = vec![Write::ClearJobs { instance: 7 }];
            w.extend(inst.stages[0].jobs.iter().enumerate().map(|(i, j)| Write::job(7, 0, i, j)));
            store.queue(w).await.unwrap().unwrap();
        }
        let (_, loaded) = Store::open(&path).unwrap();
        let names: Vec<&str> = loaded.instances[0].stages[0].jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["b", "c"]);
    }

    #[tokio::test]
    async fn job_durations_take_the_last_passed_attempts_newest_first() {
        use crate::state::*;
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(&dir.path().join("pw.db")).unwrap();
        let attempt = |n: u32, state: &str, assigned: Option<u64>, finished: u64| {
            serde_json::json!({"id": n, "number": n, "state": state, "agent": null, "reason": null,
                "scheduled_ms": 0, "assigned_ms": assigned, "finished_ms": finished, "excluded_agents": [],
                "is_retry": false, "cancel_requested": false, "tasks": [], "artifacts": {}})
        };
        let job = |name: &str, attempts: Vec<serde_json::Value>| -> JobRun {
            serde_json::from_value(serde_json::json!({"name": name, "attempts": attempts, "definition": {
                "name": name, "resources": [], "timeout_seconds": null, "wait_limit_seconds": 60, "env": {},
                "tasks": [], "artifacts": [], "discover": null, "source": {"file": "a.pw", "line": 1, "column": 1}}}))
            .unwrap()
        };
        let mut inst: Instance = serde_json::from_value(serde_json::json!({
            "id": 1, "pipeline": "p", "counter": 1, "materials": [], "cause": {"kind": "manual", "by": "t"},
            "upstreams": [], "state": "passed", "cancelled": false, "created_ms": 0, "finished_ms": null,
            "definition": {"name": "p", "materials": [], "after": [], "max_instances": null, "env": {}, "stages": [],
                           "source": {"file": "a.pw", "line": 1, "column": 1}},
            "stages": [{"name": "s", "state": "passed", "reason": null, "jobs": [], "discovering": [],
                        "approved_by": null, "runs": 1}]
        }))
        .unwrap();
        let a = job(
            "a",
            vec![
                attempt(1, "passed", Some(1_000), 4_000),
                attempt(2, "failed", Some(5_000), 99_000),
                attempt(3, "passed", Some(100_000), 107_000),
                attempt(4, "passed", None, 200_000),
                attempt(5, "passed", Some(300_000), 302_000),
            ],
        );
        let b = job("b", vec![attempt(6, "cancelled", Some(0), 10)]);
        let w = vec![Write::instance(&mut inst), Write::job(1, 0, 0, &a), Write::job(1, 0, 1, &b)];
        store.queue(w).await.unwrap().unwrap();
        let all = store.job_durations(20).unwrap();
        let expected = JobDurations {
            pipeline: "p".into(),
            stage: "s".into(),
            job: "a".into(),
            millis: vec![2_000, 7_000, 3_000],
        };
        assert_eq!(all, vec![expected.clone()]);
        assert_eq!(store.job_durations(2).unwrap(), vec![JobDurations { millis: vec![2_000, 7_000], ..expected }]);
    }

    #[tokio::test]
    async fn pending_triggers_and_events_are_read_back_after_reopening() {
        use crate::protocol::{Event, EventKind};
        use crate::state::{Cause, InstanceRef};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw.db");
        let t = PendingTrigger {
            id: 3,
            pipeline: "d".into(),
            cause: Cause::Upstream { pipeline: "a".into(), counter: 1, stage: "s".into() },
            upstreams: vec![InstanceRef { pipeline: "a".into(), counter: 1 }],
            inherited: Vec::new(),
            created_ms: 5,
        };
        let event =
            |seq| Event { seq, at_ms: seq * 10, kind: EventKind::InstanceQueued { pipeline: "p".into(), counter: 1 } };
        {
            let (store, loaded) = Store::open(&path).unwrap();
            assert_eq!((loaded.pending.len(), loaded.last_event), (0, 0));
            let mut w =
                vec![Write::pending(&t), Write::Pending { id: 4, data: "{}".into() }, Write::PendingDone { id: 4 }];
            w.extend((1..=5).map(|seq| Write::event(&event(seq))));
            w.push(Write::PruneEvents { below: 3 });
            store.queue(w).await.unwrap().unwrap();
            let seqs: Vec<u64> = store.events_after(0, 100).unwrap().iter().map(|e| e.seq).collect();
            assert_eq!(seqs, [3, 4, 5], "events below 3 are pruned");
            assert_eq!(store.events_after(3, 1).unwrap(), vec![event(4)]);
        }
        let (store, loaded) = Store::open(&path).unwrap();
        assert_eq!(loaded.pending, vec![t]);
        assert_eq!(loaded.last_event, 5);
        assert_eq!(store.events_after(4, 100).unwrap(), vec![event(5)]);
    }

    /// A task of job `p/s/j` started or ended.
    fn time(attempt: u64, index: usize, state: TaskState, at_us: u64) -> Write {
        Write::TaskTime { attempt, index, pipeline: "p".into(), stage: "s".into(), job: "j".into(), state, at_us }
    }

    #[tokio::test]
    async fn task_times_keep_only_the_runs_the_medians_use() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw.db");
        let (store, _) = Store::open(&path).unwrap();
        let mut w = vec![time(1, 0, TaskState::Running, 0), time(1, 0, TaskState::Failed, 1_000)];
        for attempt in 2..=31u64 {
            w.push(time(attempt, 0, TaskState::Running, 0));
            w.push(time(attempt, 0, TaskState::Passed, attempt * 1_000_000));
        }
        // Another task of the same job keeps its own runs.
        w.extend([time(1, 1, TaskState::Running, 0), time(1, 1, TaskState::Passed, 7_000_000)]);
        store.queue(w).await.unwrap().unwrap();
        let conn = Connection::open(&path).unwrap();
        let kept: Vec<(i64, i64)> = conn
            .prepare("SELECT idx, attempt FROM task_times ORDER BY idx, attempt")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let expected: Vec<(i64, i64)> = (12..=31).map(|a| (0, a)).chain([(1, 1)]).collect();
        assert_eq!(kept, expected, "the newest {KEPT_TASK_RUNS} passed runs of each task");
        let durations = store.task_durations(RECENT_RUNS).unwrap();
        assert_eq!(durations[0].millis.len(), 20);
        assert_eq!(durations[0].millis[0], 31_000, "newest first");
    }

    #[tokio::test]
    async fn task_durations_take_each_tasks_last_passed_runs_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(&dir.path().join("pw.db")).unwrap();
        let mut w = Vec::new();
        for (attempt, ms) in [(1, 3_000), (2, 1_000), (3, 2_000)] {
            w.push(time(attempt, 0, TaskState::Running, 1_000_000));
            w.push(time(attempt, 0, TaskState::Passed, 1_000_000 + ms * 1000));
        }
        // A failed run, a run still going and a task whose start was never reported do not count.
        w.extend([
            time(4, 0, TaskState::Running, 0),
            time(4, 0, TaskState::Failed, 9_000_000),
            time(5, 0, TaskState::Running, 0),
            time(3, 1, TaskState::Passed, 5_000_000),
            time(3, 2, TaskState::Running, 10),
            time(3, 2, TaskState::Passed, 500_010),
        ]);
        store.queue(w).await.unwrap().unwrap();
        let task = |task: usize, millis: Vec<u64>| TaskDurations {
            pipeline: "p".into(),
            stage: "s".into(),
            job: "j".into(),
            task,
            millis,
        };
        assert_eq!(store.task_durations(20).unwrap(), vec![task(0, vec![2_000, 1_000, 3_000]), task(2, vec![500])]);
        assert_eq!(store.task_durations(1).unwrap(), vec![task(0, vec![2_000]), task(2, vec![500])]);
    }

    #[test]
    fn a_database_of_an_earlier_version_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(&MIGRATIONS[..2].join("\n")).unwrap();
            conn.pragma_update(None, "user_version", 2).unwrap();
            conn.execute("INSERT INTO materials (name, revision) VALUES ('app', 'abc')", []).unwrap();
        }
        let (store, loaded) = Store::open(&path).unwrap();
        assert_eq!(loaded.revisions["app"], "abc");
        assert_eq!((loaded.pending.len(), loaded.last_event), (0, 0));
        assert_eq!(store.task_durations(20).unwrap(), Vec::new());
        let conn = Connection::open(&path).unwrap();
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw.db");
        Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
        let err = Store::open(&path).err().unwrap();
        assert!(err.contains("newer than this pw knows"), "{err}");
    }

    #[test]
    fn a_database_is_read_as_recorded_without_upgrading_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(&MIGRATIONS[..2].join("\n")).unwrap();
            conn.pragma_update(None, "user_version", 2).unwrap();
        }
        let err = read_recorded(&path).err().unwrap();
        assert!(err.contains("start `pw server` on it to upgrade it"), "{err}");
        let conn = Connection::open(&path).unwrap();
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, 2, "reading does not migrate");
        drop(conn);
        drop(Store::open(&path).unwrap());
        let loaded = read_recorded(&path).unwrap();
        assert!(loaded.instances.is_empty());
    }
}
