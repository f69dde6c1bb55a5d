// istiolab console: small page scripts over the console's JSON and event streams.
"use strict";
const IstiolabConsole = (() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  const status = (text) => { const el = $("#status"); if (el) el.textContent = text; };
  const post = (url) => fetch(url, {method: "POST", headers: {"X-Istiolab-Console": "1"}}).then(async (r) => {
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.error || r.statusText);
    return body;
  });
  const rows = (table, items, cells) => {
    $("tbody", table).innerHTML = items.map((it) => "<tr>" + cells(it).map((c) => `<td>${c}</td>`).join("") + "</tr>").join("");
  };
  const listen = (url, onUpdate) => {
    const source = new EventSource(url);
    source.addEventListener("update", (e) => { onUpdate(JSON.parse(e.data)); status("live · updated " + new Date().toLocaleTimeString()); });
    source.addEventListener("problem", (e) => status("problem: " + JSON.parse(e.data).error));
    source.onerror = () => status("reconnecting…");
    return source;
  };
  const copyButtons = () => $$("pre").forEach((pre) => {
    const b = document.createElement("button");
    b.type = "button"; b.className = "copy"; b.textContent = "Copy";
    b.addEventListener("click", () => navigator.clipboard?.writeText(pre.innerText.replace(/Copy$/, "").trim()).then(() => { b.textContent = "Copied"; }));
    pre.appendChild(b);
  });

  function lab() {
    copyButtons();
    const name = $("#tasks").dataset.lab;
    listen(`/api/labs/${name}/events`, (data) => {
      for (const [n, task] of Object.entries(data.tasks)) {
        const li = $(`#task-${n}`);
        const state = task.passed ? "passed" : "failed";
        li.dataset.state = state;
        $(".badge", li).textContent = task.passed ? "✔" : "✘";
        $(".state-text", li).textContent = state;
        for (const c of task.checks) {
          const row = $(`li.check[data-check="${CSS.escape(c.id)}"]`, li);
          if (!row) continue;
          row.dataset.state = c.passed ? "passed" : "failed";
          $(".mark", row).textContent = c.passed ? "✔" : "✘";
          $(".state-text", row).textContent = c.passed ? "passed" : "failed";
          $(".why", row).innerHTML = c.passed ? "" :
            `expected ${esc(c.expected)}; measured ${esc(c.measured)}` + (c.hint ? `<div class="hint">hint: ${esc(c.hint)}</div>` : "");
        }
      }
    });
    $$("button.hint").forEach((b) => b.addEventListener("click", async () => {
      const r = await fetch(`/api/labs/${name}/hints/${b.dataset.task}`).then((x) => x.json());
      const box = $(".hints", b.closest("li.task"));
      box.innerHTML = (r.hints || []).map((h, i) => `<p><strong>Hint ${i + 1}:</strong> ${esc(h)}</p>`).join("") || "<p>No hints for this task.</p>";
      box.setAttribute("tabindex", "-1"); box.focus();
    }));
    $$("button.solve").forEach((b) => b.addEventListener("click", async () => {
      b.disabled = true; status(`applying the solution of task ${b.dataset.task}…`);
      try { await post(`/api/labs/${name}/solve/${b.dataset.task}`); status("solution applied; checking…"); }
      catch (e) { status("solve failed: " + e.message); }
      finally { b.disabled = false; }
    }));
    $("#reset").addEventListener("click", async () => {
      status("resetting…");
      try { await post(`/api/labs/${name}/reset`); status("reset to the start state; checking…"); }
      catch (e) { status("reset failed: " + e.message); }
    });
  }

  function mesh() {
    listen("/api/mesh/events", (d) => {
      rows($("#pods"), d.pods, (p) => [esc(p.namespace), esc(p.name), esc(p.ready), esc(p.ip), esc(p.containers.join(", "))]);
      rows($("#proxies"), d.proxies, (p) => [esc(p.name), esc(p.kind), p.synced ? '<span class="ok">SYNCED</span>' : '<span class="bad">NOT SYNCED</span>',
        esc(Object.entries(p.detail).map(([k, v]) => `${k}: ${v}`).join(", "))]);
      rows($("#objects"), d.objects, (o) => [esc(o.kind), esc(o.namespace), esc(o.name),
        esc(o.conditions.map((c) => `${c.type}=${c.status}${c.reason ? " (" + c.reason + ")" : ""}`).join("; ") || "—")]);
      $("#findings").innerHTML = d.findings.map((f) => `<li>${esc(f.level)} [${esc(f.code)}] (${esc(f.resource)}) ${esc(f.message)}</li>`).join("") || "<li>No findings.</li>";
    });
  }

  function graph() {
    let current = null;
    const showEdge = (e) => {
      if (!e) return;
      $("#edge").innerHTML = `<dl><dt>From</dt><dd>${esc(e.source)}</dd><dt>To</dt><dd>${esc(e.target)}</dd>` +
        `<dt>Requests per second</dt><dd>${e.rps}</dd><dt>Error share</dt><dd>${(100 * e.error_share).toFixed(1)} %</dd>` +
        `<dt>p99</dt><dd>${e.p99_ms} ms</dd><dt>mTLS</dt><dd>${e.mtls ? "yes (mutual TLS)" : "no"}</dd>` +
        `<dt>Requests</dt><dd>${e.requests}</dd><dt>Codes</dt><dd>${esc(JSON.stringify(e.codes))}</dd></dl>`;
    };
    listen("/api/graph/events", (g) => {
      current = g;
      const pos = Object.fromEntries(g.nodes.map((n) => [n.id, [n.x, n.y]]));
      const edgeX = [], edgeY = [], midX = [], midY = [], midText = [];
      g.edges.forEach((e) => {
        const [x0, y0] = pos[e.source], [x1, y1] = pos[e.target];
        edgeX.push(x0, x1, null); edgeY.push(y0, y1, null);
        midX.push((x0 + x1) / 2); midY.push((y0 + y1) / 2);
        midText.push(`${e.rps} rps${e.error_share ? " · " + (100 * e.error_share).toFixed(0) + "% err" : ""}${e.mtls ? " · mTLS" : ""}`);
      });
      const colour = (n) => ({service: "#6a3d9a", app: "#0b5cad", workload: "#0b5cad", unknown: "#4a5360"}[n.type] || "#0b5cad");
      const traces = [
        {x: edgeX, y: edgeY, mode: "lines", line: {color: "#8a94a3", width: 2}, hoverinfo: "skip", showlegend: false},
        {x: midX, y: midY, mode: "markers+text", text: midText, textposition: "top center", marker: {size: 12, color: "#f4b400", symbol: "diamond"},
         customdata: g.edges.map((_, i) => i), hovertemplate: "%{text}<extra>edge</extra>", showlegend: false, name: "edges"},
        {x: g.nodes.map((n) => n.x), y: g.nodes.map((n) => n.y), mode: "markers+text", text: g.nodes.map((n) => n.label),
         textposition: "bottom center", marker: {size: 26, color: g.nodes.map(colour), symbol: g.nodes.map((n) => n.type === "service" ? "triangle-up" : "circle")},
         hovertemplate: "%{text}<extra>node</extra>", showlegend: false, name: "nodes"},
      ];
      const layout = {margin: {l: 20, r: 20, t: 20, b: 20}, xaxis: {visible: false}, yaxis: {visible: false}, height: 480, font: {color: "#1b1f24"}};
      Plotly.react("graph", traces, layout, {displayModeBar: false, responsive: true});
      const el = $("#graph");
      el.removeAllListeners?.("plotly_click");
      el.on("plotly_click", (ev) => { const p = ev.points[0]; if (p.data.name === "edges") showEdge(current.edges[p.customdata]); });
      $("#edges").innerHTML = "<option value=''>—</option>" + g.edges.map((e, i) => `<option value="${i}">${esc(e.source)} → ${esc(e.target)}</option>`).join("");
      $("#nodes").innerHTML = g.nodes.map((n) => `<li data-node="${esc(n.id)}">${esc(n.label)} <span class="meta">(${esc(n.type)})</span></li>`).join("");
    });
    $("#edges").addEventListener("change", (e) => { if (current && e.target.value !== "") showEdge(current.edges[+e.target.value]); });
  }

  function traces() {
    // Only the newest query renders: an older answer arriving late must not replace it.
    let latest = 0;
    const table = $("#traces");
    const load = async () => {
      const mine = ++latest;
      const q = new URLSearchParams(new FormData($("#filter"))).toString();
      table.setAttribute("aria-busy", "true");
      const list = await fetch("/api/traces?" + q).then((r) => r.json());
      if (mine !== latest) return;
      rows(table, list, (t) => [`<a href="/traces/${esc(t.trace_id)}">${esc(t.trace_id.slice(0, 16))}</a>`, esc(t.root),
        t.spans, `${t.duration_ms} ms`, t.error ? '<span class="bad">error</span>' : '<span class="ok">ok</span>', esc(t.started)]);
      table.dataset.query = q;
      table.setAttribute("aria-busy", "false");
    };
    $("#filter").addEventListener("submit", (e) => { e.preventDefault(); load(); });
    load();
  }

  async function trace() {
    const id = $("#timeline").dataset.trace;
    const t = await fetch(`/api/traces/${id}`).then((r) => r.json());
    const spans = t.spans;
    rows($("#spans"), spans, (s) => [esc(s.service), esc(s.name), s.start_ms, s.duration_ms, s.error ? '<span class="bad">error</span>' : "ok"]);
    const labels = spans.map((s, i) => `${"· ".repeat(s.depth)}${s.service}: ${s.name} #${i + 1}`);
    Plotly.react("timeline", [{type: "bar", orientation: "h", y: labels, x: spans.map((s) => Math.max(s.duration_ms, 0.05)), base: spans.map((s) => s.start_ms),
      marker: {color: spans.map((s) => s.error ? "#a3161c" : "#0b5cad")}, hovertemplate: "%{y}<br>%{base} ms + %{x} ms<extra></extra>"}],
      {margin: {l: 320, r: 20, t: 10, b: 40}, yaxis: {autorange: "reversed"}, xaxis: {title: {text: "ms since the trace began"}}, height: 80 + 28 * spans.length},
      {displayModeBar: false, responsive: true});
  }

  function load() {
    fetch("/api/load").then((r) => r.json()).then((runs) => {
      rows($("#runs"), runs, (r) => [`<input type="checkbox" name="pick" value="${esc(r.id)}" aria-label="compare ${esc(r.id)}">`,
        `<a href="/load/${esc(r.id)}">${esc(r.id)}</a>`, esc(r.scenario), r.requests, r.rps,
        r.passed ? '<span class="ok">PASS</span>' : '<span class="bad">FAIL</span>']);
    });
    $("#compare").addEventListener("submit", (e) => {
      e.preventDefault();
      const picked = $$("input[name=pick]:checked").map((i) => i.value);
      if (picked.length !== 2) { alert("Tick exactly two runs."); return; }
      location.href = `/load/compare?a=${encodeURIComponent(picked[0])}&b=${encodeURIComponent(picked[1])}`;
    });
  }

  return {lab, mesh, graph, traces, trace, load};
})();
