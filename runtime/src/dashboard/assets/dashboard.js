// Pipewright dashboard: live updates from one Server-Sent Events stream per tab, and actions
// through the API with the token kept in sessionStorage (sent as a Bearer header, no cookies).
"use strict";
(function () {
  const TOKEN = "pw-api-token";
  const body = document.body;
  const watch = body.dataset.watch || "";
  let lastSeq = Number(body.dataset.seq || 0);
  let refreshTimer = null;

  function token() { return sessionStorage.getItem(TOKEN) || ""; }

  // ----- actions -----
  function armButtons() {
    const has = token() !== "";
    document.querySelectorAll("button.act").forEach(function (b) {
      b.disabled = !has;
      b.title = has ? "" : "paste the API token at the top to act";
    });
    document.getElementById("token-why").hidden = has;
    document.getElementById("token-forget").hidden = !has;
    document.getElementById("token").placeholder = has ? "token kept in this tab" : "paste to act";
  }

  function say(text, bad) {
    const p = document.getElementById("action-result");
    p.textContent = text;
    p.className = bad ? "hint error" : "hint";
    p.hidden = false;
  }

  document.getElementById("token-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    const input = document.getElementById("token");
    const value = input.value.trim();
    if (value) { sessionStorage.setItem(TOKEN, value); }
    input.value = "";
    armButtons();
  });
  document.getElementById("token-forget").addEventListener("click", function () {
    sessionStorage.removeItem(TOKEN);
    armButtons();
  });

  document.addEventListener("click", function (ev) {
    const b = ev.target.closest("button.act");
    if (b) {
      ev.preventDefault();
      act(b);
      return;
    }
    const dl = ev.target.closest("a.download");
    if (dl) {
      ev.preventDefault();
      download(dl);
    }
  });

  function act(b) {
    const init = { method: b.dataset.method, headers: { Authorization: "Bearer " + token() }, credentials: "omit" };
    if (b.dataset.body) {
      init.body = b.dataset.body;
      init.headers["Content-Type"] = "application/json";
    }
    b.disabled = true;
    fetch(b.dataset.path, init).then(function (r) {
      if (r.ok) {
        say(b.textContent + ": done");
        return r.text().then(function (t) {
          try {
            const j = JSON.parse(t);
            if (j.pipeline && j.counter) { location.href = "/pipelines/" + encodeURIComponent(j.pipeline) + "/" + j.counter; return; }
          } catch (e) { /* no body */ }
          refresh();
        });
      }
      return r.json().then(function (j) {
        if (r.status === 401) { sessionStorage.removeItem(TOKEN); }
        say(b.textContent + ": " + (j.error || r.statusText), true);
      }, function () { say(b.textContent + ": " + r.statusText, true); });
    }).catch(function (e) { say(b.textContent + ": " + e, true); })
      .finally(armButtons);
  }

  function download(a) {
    if (!token()) { say("Downloading an artifact needs the API token: paste it at the top.", true); return; }
    fetch(a.href, { headers: { Authorization: "Bearer " + token() }, credentials: "omit" }).then(function (r) {
      if (!r.ok) { throw new Error(r.statusText); }
      return r.blob();
    }).then(function (blob) {
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = a.dataset.name || "artifact.tar";
      link.click();
      setTimeout(function () { URL.revokeObjectURL(link.href); }, 10000);
    }).catch(function (e) { say("download: " + e, true); });
  }

  // ----- live updates -----
  // Fetches the page again (once, after a burst of events) and swaps its content in. Pages of
  // everything wait longer: their cells change in place at once, their lists can wait a second.
  function refresh() {
    if (refreshTimer) { return; }
    refreshTimer = setTimeout(function () {
      refreshTimer = null;
      fetch(location.href, { credentials: "omit" }).then(function (r) { return r.ok ? r.text() : null; }).then(function (html) {
        if (!html) { return; }
        const doc = new DOMParser().parseFromString(html, "text/html");
        const fresh = doc.querySelector("main");
        const log = document.querySelector(".log");
        const main = document.querySelector("main");
        if (fresh && main) {
          // The live log keeps what it received; the rest of the page is replaced.
          const newLog = fresh.querySelector(".log");
          if (log && newLog) { newLog.replaceWith(log); log.dataset.live = newLog.dataset.live; }
          main.replaceWith(fresh);
        }
        armButtons();
      }).catch(function () { /* the next event tries again */ });
    }, watch === "*" ? 1000 : 250);
  }

  function setState(el, state) {
    el.className = el.className.replace(/\bst-[a-z_]+/g, "").trim() + " st-" + state;
    if (el.classList.contains("cell")) { el.title = state.replace(/_/g, " "); }
    el.querySelectorAll(":scope > h2 > .badge, :scope > h3 > .badge, :scope > .badge").forEach(function (b) {
      b.className = "badge st-" + state;
      b.dataset.state = state;
      b.textContent = state.replace(/_/g, " ");
    });
  }

  function each(attr, value, f) {
    document.querySelectorAll("[" + attr + "]").forEach(function (el) {
      if (el.getAttribute(attr) === value) { f(el); }
    });
  }

  function key(parts) { return parts.join("/"); }

  function onEvent(e) {
    const j = e.job;
    const pipeline = e.pipeline || (j && j.pipeline);
    const counter = e.counter || (j && j.counter);
    let structural = false;
    switch (e.event) {
      case "stage_started": each("data-stage", key([pipeline, counter, e.stage]), function (el) { setState(el, "running"); }); break;
      // These two also change what needs a person: pages that watch everything fetch themselves again.
      case "stage_awaiting_approval": each("data-stage", key([pipeline, counter, e.stage]), function (el) { setState(el, "awaiting_approval"); }); structural = true; break;
      case "stage_finished": each("data-stage", key([pipeline, counter, e.stage]), function (el) { setState(el, e.result); }); structural = true; break;
      case "job_scheduled": each("data-job", key([pipeline, counter, j.stage, j.job]), function (el) { setState(el, "scheduled"); }); break;
      case "job_assigned": each("data-job", key([pipeline, counter, j.stage, j.job]), function (el) { setState(el, "assigned"); }); break;
      case "job_finished": each("data-job", key([pipeline, counter, j.stage, j.job]), function (el) { setState(el, e.state); }); break;
      case "task_started": each("data-task", key([pipeline, counter, j.stage, j.job, e.index]), function (el) { setState(el, "running"); }); break;
      case "task_finished": each("data-task", key([pipeline, counter, j.stage, j.job, e.index]), function (el) { setState(el, e.state); }); break;
      default: structural = true;
    }
    if (watch === "*" ? structural : (pipeline && pipeline.toLowerCase() === watch.toLowerCase())) { refresh(); }
  }

  function onLog(data) {
    const log = document.querySelector(".log");
    if (!log) { return; }
    const after = log.dataset.after;
    if (after !== undefined && after !== "" && data.seq <= Number(after)) { return; }
    log.dataset.after = data.seq;
    const empty = log.querySelector(".log-empty");
    if (empty) { empty.remove(); }
    let pre = log.querySelector("pre.log-tail");
    data.parts.forEach(function (part) {
      if (part.title) {
        // A task starts: the part before it folds, a new one opens.
        const details = document.createElement("details");
        details.open = true;
        const summary = document.createElement("summary");
        summary.textContent = part.title;
        const next = document.createElement("pre");
        next.className = "log-text log-tail";
        details.append(summary, next);
        pre.classList.remove("log-tail");
        const previous = pre.closest("details");
        if (previous) { previous.open = false; }
        log.appendChild(details);
        pre = next;
      }
      pre.insertAdjacentHTML("beforeend", part.html);
    });
    // A job that writes without end must not slow the tab down: keep about the last 512 KiB.
    let length = pre.textContent.length;
    while (length > 524288 && pre.firstChild && pre.firstChild !== pre.lastChild) {
      length -= (pre.firstChild.textContent || "").length;
      pre.removeChild(pre.firstChild);
    }
    if (window.innerHeight + window.scrollY >= document.body.scrollHeight - 80) { window.scrollTo(0, document.body.scrollHeight); }
  }

  function connect() {
    if (!window.EventSource) { return; }
    let url = "/dashboard/events?after=" + lastSeq;
    const log = document.querySelector(".log");
    if (log && log.dataset.live === "true") {
      url += "&log=" + log.dataset.attempt;
      if (log.dataset.after) { url += "&log_after=" + log.dataset.after; }
    }
    // The browser reconnects by itself and sends Last-Event-ID, which the server prefers.
    const source = new EventSource(url);
    const live = document.getElementById("live");
    source.onopen = function () { live.textContent = "live"; live.className = "on"; };
    source.onerror = function () { live.textContent = "reconnecting"; live.className = ""; };
    source.addEventListener("pw", function (m) {
      const e = JSON.parse(m.data);
      lastSeq = e.seq;
      onEvent(e);
    });
    source.addEventListener("log", function (m) { onLog(JSON.parse(m.data)); });
    // Leaving the page closes the stream at once: a browser keeps few connections per server.
    window.addEventListener("pagehide", function () { source.close(); });
    window.addEventListener("pageshow", function (ev) { if (ev.persisted) { location.reload(); } });
  }

  armButtons();
  connect();
})();
