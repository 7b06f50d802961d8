// The Lambda view: fetches the plugin's JSON API and renders tables and uPlot charts. No build step.
// Served at /lambdapipe/ (overview) and /lambdapipe/functions/<name> (one function, ?request_id= for
// a request's log lines). Every value from the API is inserted as text, never as HTML.
"use strict";

(() => {
  const ROOT = "/lambdapipe";
  const page = document.body.dataset.page;

  // Opened on its own (an extra link, a bookmark): show it inside the Airflow UI, whose plugin page
  // loads the rest of the URL in its iframe.
  if (window.top === window.self) {
    location.replace(document.body.dataset.uiRoute + location.pathname + location.search + location.hash);
    return;
  }

  const COLORS = ["#ff9900", "#2563eb", "#16a34a", "#dc2626", "#9333ea", "#0891b2", "#ca8a04", "#db2777"];
  const NO_DAG = "(outside Airflow)";
  const params = new URLSearchParams(location.search);
  const daysSelect = document.getElementById("days");
  const charts = [];

  // --- small helpers -------------------------------------------------------------------------------

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const enc = encodeURIComponent;
  const dash = "–";
  const fmtMs = (v) => (v == null ? dash : v < 1000 ? `${v.toFixed(1)} ms` : `${(v / 1000).toFixed(2)} s`);
  // Dates and times of unix seconds, in UTC on a 24-hour clock whatever the browser's zone and locale.
  const isoOf = (s) => new Date(s * 1e3).toISOString();
  const utcDay = (s) => isoOf(s).slice(0, 10);
  const utcMinute = (s) => isoOf(s).slice(11, 16);
  const utcSecond = (s) => isoOf(s).replace("T", " ").slice(0, 19);
  const fmtUsd = (v) => (v == null ? dash : `$${v.toFixed(v !== 0 && Math.abs(v) < 0.01 ? 8 : 4)}`);
  // Axis dollars as plain decimals (never "8.0e-7"), with the places the tick step needs, alike on every tick.
  const axisUsd = (v, step) =>
    v === 0 ? "$0" : `$${v.toFixed(Math.min(12, Math.max(2, Math.ceil(-Math.log10(step || Math.abs(v))))))}`;
  const fmtInt = (v) => (v == null ? dash : Number(v).toLocaleString("en-US"));
  const fmtTime = (iso) => (iso ? new Date(iso).toISOString().replace("T", " ").slice(0, 19) : dash);
  const shortSha = (sha) => (sha ? el("code", { title: sha }, sha.slice(0, 12)) : dash);

  // Links that leave this page for another Airflow page must navigate the whole window, not the iframe.
  const airflowLink = (href, text) => el("a", { href, target: "_top" }, text);
  const functionHref = (name, requestId) =>
    `${ROOT}/functions/${enc(name)}${requestId ? `?request_id=${enc(requestId)}` : ""}`;

  function taskInstanceLink(row) {
    if (!row.dag_id) return dash;
    const run = row.run_id ? `/runs/${enc(row.run_id)}` : "";
    const task = row.run_id && row.task_id ? `/tasks/${enc(row.task_id)}` : "";
    const mapped = task && row.map_index != null ? `/mapped/${row.map_index}` : "";
    const label = [row.dag_id, row.task_id].filter(Boolean).join(" › ");
    return airflowLink(`/dags/${enc(row.dag_id)}${run}${task}${mapped}`, label);
  }

  function status(value) {
    return el("span", { class: `status ${value === "success" ? "ok" : "bad"}` }, value || "unknown");
  }

  function table(testId, columns, rows, emptyText) {
    if (!rows.length) return el("p", { class: "empty", "data-testid": `${testId}-empty` }, emptyText);
    return el(
      "table",
      { "data-testid": testId },
      el("thead", {}, el("tr", {}, columns.map((c) => el("th", { class: c.cls }, c.label)))),
      el("tbody", {}, rows.map((row) => el("tr", {}, columns.map((c) => el("td", { class: c.cls }, c.value(row)))))),
    );
  }

  function fill(id, node) {
    document.getElementById(id).replaceChildren(node);
  }

  // Shown in each container until its data arrives (Lambda calls take seconds on a page of functions).
  function showLoading(ids) {
    for (const id of ids) fill(id, el("span", { class: "loading", role: "status" }, "Loading…"));
  }

  // A container whose request failed says so instead of loading forever; the problem names the call.
  function showUnavailable(ids) {
    for (const id of ids) fill(id, el("span", { class: "empty" }, "Not available: see the problem above."));
  }

  function showProblem(error) {
    const problem = document.getElementById("problem");
    problem.hidden = false;
    problem.replaceChildren(String(error.message || error));
    if (error.status === 401) {
      problem.append(" ", airflowLink(`/auth/login?next=${enc(location.href)}`, "Log in again"));
    }
  }

  async function getJSON(path, query = {}) {
    const search = new URLSearchParams(Object.entries(query).filter(([, v]) => v != null && v !== "")).toString();
    const response = await fetch(`${ROOT}${path}${search ? `?${search}` : ""}`, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (!response.ok) {
      let detail = response.statusText;
      try {
        detail = (await response.json()).detail || detail;
      } catch (_) {
        // not JSON: keep the status text
      }
      const error = new Error(`${path}: ${response.status} ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
      error.status = response.status;
      throw error;
    }
    return response.json();
  }

  // --- charts --------------------------------------------------------------------------------------

  function dayRange(days) {
    const today = new Date();
    today.setUTCHours(0, 0, 0, 0);
    return Array.from({ length: days }, (_, i) => new Date(today.getTime() - (days - 1 - i) * 86400e3));
  }

  // Millisecond durations in one unit per chart, so an axis never reads "0.0 ms" beside "1.00 s".
  function durationUnit(values) {
    const max = Math.max(0, ...values.filter((v) => v != null));
    const [div, suffix] = max >= 1000 ? [1000, "s"] : [1, "ms"];
    return {
      tick: (v) => `${+(v / div).toFixed(3)} ${suffix}`,
      value: (v) => (v == null ? dash : `${(v / div).toFixed(div === 1 ? 1 : 2)} ${suffix}`),
    };
  }

  // Tick steps a time axis may use: whole days for per-day charts, whole minutes (never seconds or
  // milliseconds, which read as ":27.800") for invocation instants.
  const DAY = 86400;
  const DAY_STEPS = [1, 2, 3, 7, 14, 30].map((n) => n * DAY);
  const MINUTE_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720].map((n) => n * 60).concat(DAY_STEPS);
  const SHORTEST_SPAN = 600; // an x range of at least ten minutes, so invocations seconds apart get minute ticks

  // How an x axis reads: per-day charts label days; instant charts label minutes (with the day once
  // the range spans days). The x value under the cursor is always a full UTC date (and time).
  const X_AXES = {
    day: { steps: DAY_STEPS, tick: (s) => utcDay(s), cursor: utcDay, range: null },
    instant: {
      steps: MINUTE_STEPS,
      tick: (s, step, multiDay) => (step >= DAY ? utcDay(s) : multiDay ? `${utcDay(s).slice(5)} ${utcMinute(s)}` : utcMinute(s)),
      cursor: (s) => `${utcSecond(s)} UTC`,
      range: (_, min, max) => {
        const pad = Math.max((SHORTEST_SPAN - (max - min)) / 2, (max - min) * 0.03);
        return [min - pad, max + pad];
      },
    },
  };

  // Axis labels are drawn on a canvas: they are also kept as text on the chart (data-x-labels,
  // data-y-labels) for assistive technology and the browser tests.
  function labelled(name, format) {
    return (u, splits, _axis, _space, step) => {
      const [min, max] = [u.scales.x.min, u.scales.x.max];
      const labels = splits.map((v) => format(v, step, utcDay(min) !== utcDay(max)));
      u.root.dataset[name] = labels.join(" | ");
      return labels;
    };
  }

  // One series per entry of `series` ({label, values}) over the unix-second x values `xs`, in UTC.
  // `xKind` is "day" (one point per UTC day) or "instant" (separate invocations: points not joined).
  function chart(container, xs, series, { xKind, tick, value }) {
    container.replaceChildren();
    const x = X_AXES[xKind];
    const pointsOnly = xKind === "instant";
    const opts = {
      width: Math.max(container.clientWidth, 320),
      height: 240,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
      scales: { x: { time: true, ...(x.range ? { range: x.range } : {}) } },
      legend: { live: true },
      series: [
        { label: "UTC", value: (_, v) => (v == null ? dash : x.cursor(v)) },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: COLORS[i % COLORS.length],
          ...(pointsOnly ? { paths: () => null } : { fill: `${COLORS[i % COLORS.length]}22` }),
          width: 2,
          spanGaps: false,
          points: { show: true, size: 7, fill: COLORS[i % COLORS.length] },
          value: (_, v) => value(v),
        })),
      ],
      axes: [
        { space: 90, incrs: x.steps, values: labelled("xLabels", x.tick) },
        { size: 96, values: labelled("yLabels", tick) },
      ],
    };
    const plot = new uPlot(opts, [xs, ...series.map((s) => s.values)], container);
    charts.push({ plot, container });
    return plot;
  }

  window.addEventListener("resize", () => {
    for (const { plot, container } of charts) plot.setSize({ width: Math.max(container.clientWidth, 320), height: 240 });
  });

  function emptyChart(id, text) {
    document.getElementById(id).replaceChildren(el("p", { class: "empty" }, text));
  }

  // --- overview ------------------------------------------------------------------------------------

  const invocationColumns = (withFunction) => [
    { label: "Invoked (UTC)", value: (r) => fmtTime(r.invoked_at) },
    withFunction && { label: "Function", value: (r) => el("a", { href: functionHref(r.function_name) }, r.function_name) },
    { label: "Version", value: (r) => r.executed_version || r.qualifier || dash },
    { label: "Task", value: taskInstanceLink },
    { label: "Status", value: (r) => [status(r.status), r.error_type ? ` ${r.error_type}` : ""] },
    { label: "Duration", cls: "num", value: (r) => fmtMs(r.duration_ms) },
    { label: "Init", cls: "num", value: (r) => (r.init_duration_ms == null ? "warm" : fmtMs(r.init_duration_ms)) },
    { label: "Memory", cls: "num", value: (r) => (r.memory_size_mb ? `${r.max_memory_used_mb ?? dash} / ${r.memory_size_mb} MB` : dash) },
    { label: "Cost", cls: "num", value: (r) => fmtUsd(r.cost_usd) },
    { label: "Request / logs", value: (r) => el("a", { href: functionHref(r.function_name, r.request_id) }, r.request_id) },
  ].filter(Boolean);

  // "v3 (live) 2026-12-04 13:40:12", then the deploy DAG's task when that DAG deployed the function.
  function lastDeploy(f) {
    const deploy = f.last_deploy;
    const aliases = deploy.aliases.length ? ` (${deploy.aliases.join(", ")})` : "";
    const version = deploy.version === "$LATEST" ? "$LATEST" : `v${deploy.version}`;
    const task = deploy.task
      ? [" · ", status(deploy.task.state), " ", taskInstanceLink(deploy.task)]
      : [];
    return el("span", { "data-testid": "last-deploy" }, `${version}${aliases} ${fmtTime(deploy.deployed_at)}`, task);
  }

  function renderFunctions(data, onlyNames) {
    const run = data.last_deploy_run;
    document.getElementById("last-deploy").replaceChildren(
      "Last deploy: the newest version an alias points at, as Lambda records it, whichever path deployed it ",
      "(", el("code", {}, data.deploy_dag_id), ", ", el("code", {}, "lambdapipe deploy"), ", the demo).",
      run
        ? el("span", {}, " Last run of ", airflowLink(`/dags/${enc(run.dag_id)}/runs/${enc(run.run_id)}`, run.dag_id), ": ",
            status(run.state), ` ${fmtTime(run.end_date || run.start_date)}.`)
        : "",
    );
    const rows = onlyNames ? data.functions.filter((f) => onlyNames.has(f.name)) : data.functions;
    fill("functions", table("functions-table", [
      { label: "Function", value: (f) => el("a", { href: functionHref(f.name) }, f.name) },
      { label: "Aliases", value: (f) => (f.aliases.length ? f.aliases.map(aliasRouting).join(", ") : dash) },
      { label: "Code sha256 (alias)", value: (f) => shortSha((f.aliases[0] || f).code_sha256) },
      { label: "Runtime", value: (f) => f.runtime || dash },
      { label: "Memory", cls: "num", value: (f) => (f.memory_mb ? `${f.memory_mb} MB` : dash) },
      { label: "Last modified", value: (f) => fmtTime(f.last_modified) },
      { label: "Last deploy", value: lastDeploy },
    ], rows, onlyNames ? "This DAG invoked none of the deployed functions in this period." : "No function that lambdapipe deploys is used by a DAG you may read."));
  }

  function renderStats(stats, days) {
    const dagLabel = (id) => id ?? NO_DAG;
    document.getElementById("totals").replaceChildren(
      `${fmtInt(stats.invocations)} invocations, ${fmtUsd(stats.per_dag.reduce((sum, d) => sum + (d.cost_usd || 0), 0))}`,
      stats.truncated ? " (the first invocations found only: choose a shorter period for all of them)" : "",
    );
    fill("per-dag", table("per-dag-table", [
      { label: "DAG", value: (d) => (d.dag_id ? airflowLink(`/dags/${enc(d.dag_id)}`, d.dag_id) : NO_DAG) },
      { label: "Invocations", cls: "num", value: (d) => fmtInt(d.invocations) },
      { label: "Errors", cls: "num", value: (d) => fmtInt(d.errors) },
      { label: "Cold starts", cls: "num", value: (d) => fmtInt(d.cold_starts) },
      { label: "Cost", cls: "num", value: (d) => fmtUsd(d.cost_usd) },
      { label: "Avg duration", cls: "num", value: (d) => fmtMs(d.avg_ms) },
      { label: "p95 duration", cls: "num", value: (d) => fmtMs(d.p95_ms) },
      { label: "Max duration", cls: "num", value: (d) => fmtMs(d.max_ms) },
    ], stats.per_dag, "No invocations recorded in this period (the lambda_invocations table is empty or does not exist yet)."));

    if (!stats.per_day.length) {
      emptyChart("cost-chart", "No invocations in this period.");
      emptyChart("latency-chart", "No invocations in this period.");
      return;
    }
    const dayKeys = dayRange(days).map((d) => d.toISOString().slice(0, 10));
    const xs = dayKeys.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
    const dags = stats.per_dag.map((d) => d.dag_id);
    const cell = new Map(stats.per_day.map((r) => [`${r.day}|${dagLabel(r.dag_id)}`, r]));
    const seriesOf = (metric, missing) =>
      dags.map((dag) => ({
        label: dagLabel(dag),
        values: dayKeys.map((day) => cell.get(`${day}|${dagLabel(dag)}`)?.[metric] ?? missing),
      }));
    chart(document.getElementById("cost-chart"), xs, seriesOf("cost_usd", 0), { xKind: "day", tick: axisUsd, value: fmtUsd });
    const latency = seriesOf("p95_ms", null);
    chart(document.getElementById("latency-chart"), xs, latency, { xKind: "day", ...durationUnit(latency.flatMap((s) => s.values)) });
  }

  async function overview() {
    const days = Number(daysSelect.value);
    const dagId = params.get("dag_id");
    if (dagId) document.getElementById("scope").replaceChildren(`· DAG ${dagId}`);
    const query = { days, dag_id: dagId };
    const parts = {
      functions: ["last-deploy", "functions"],
      stats: ["totals", "cost-chart", "latency-chart", "per-dag"],
      recent: ["invocations"],
      errors: ["errors"],
    };
    showLoading(Object.values(parts).flat());
    const [functions, stats, recent, errors] = await Promise.allSettled([
      getJSON("/api/functions"),
      getJSON("/api/stats", query),
      getJSON("/api/invocations", { ...query, limit: 50 }),
      getJSON("/api/invocations", { ...query, limit: 20, errors: true }),
    ]);
    for (const [name, result] of Object.entries({ functions, stats, recent, errors })) {
      if (result.status === "rejected") {
        showProblem(result.reason);
        showUnavailable(parts[name]);
      }
    }
    if (stats.status === "fulfilled") renderStats(stats.value, days);
    if (recent.status === "fulfilled") {
      fill("invocations", table("invocations-table", invocationColumns(true), recent.value.invocations, "No invocations in this period."));
    }
    if (errors.status === "fulfilled") {
      fill("errors", table("errors-table", invocationColumns(true), errors.value.invocations, "No failed invocations in this period."));
    }
    if (functions.status === "fulfilled") {
      const invoked = dagId && recent.status === "fulfilled" ? new Set(recent.value.invocations.map((r) => r.function_name)) : null;
      renderFunctions(functions.value, invoked);
    }
  }

  // --- one function --------------------------------------------------------------------------------

  function renderConfiguration(f) {
    const item = (label, value) => [el("dt", {}, label), el("dd", {}, value)];
    fill("configuration", el("dl", { class: "config" },
      item("Runtime", f.runtime || dash),
      item("Handler", f.handler || dash),
      item("Memory", f.memory_mb ? `${f.memory_mb} MB` : dash),
      item("Timeout", f.timeout_s ? `${f.timeout_s} s` : dash),
      item("Architecture", f.architecture),
      item("Code sha256 ($LATEST)", shortSha(f.code_sha256)),
      item("Last modified", fmtTime(f.last_modified)),
      item("Aliases", f.aliases.length ? f.aliases.map((a) => `${aliasRouting(a)} (${(a.code_sha256 || "").slice(0, 12)})`).join(", ") : dash),
      item("Last deployment", deployments(f.aliases)),
      item("Description", f.description || dash),
    ));
  }

  // "live → v7" or, while a deployment shifts traffic, "live → v7 90%, v8 10%".
  function aliasRouting(a) {
    const split = Object.entries(a.weights || {});
    if (split.length < 2) return `${a.name} → v${a.version}`;
    return `${a.name} → ${split.map(([version, percent]) => `v${version} ${percent}%`).join(", ")}`;
  }

  // What each alias's last gradual deploy recorded: plan, steps with their health, outcome.
  function deployments(aliases) {
    const recorded = aliases.filter((a) => a.deployment);
    if (!recorded.length) return dash;
    return el("ul", { class: "deployments", "data-testid": "deployments" },
      recorded.map((a) => el("li", {}, el("code", {}, a.name), `: ${a.deployment}`)));
  }

  function renderLogs(result) {
    document.getElementById("log-source").replaceChildren(
      result.log_stream ? `${result.log_group} · ${result.log_stream}${result.complete ? "" : " · incomplete (no REPORT line yet)"}` : result.log_group,
    );
    fill("log-lines", result.lines.length
      ? el("pre", {}, result.lines.map((line) => el("div", { class: "line" },
          el("span", { class: "ts" }, fmtTime(new Date(line.timestamp).toISOString())), " ", line.message)))
      : el("p", { class: "empty", "data-testid": "log-lines-empty" }, "No log lines found for this request (CloudWatch Logs may not have them yet)."));
  }

  async function functionPage() {
    const name = decodeURIComponent(location.pathname.slice(`${ROOT}/functions/`.length));
    const requestId = params.get("request_id");
    const days = Number(daysSelect.value);
    document.getElementById("function-name").replaceChildren(name);
    document.title = `${name} · Lambda · lambdapipe`;
    const base = `/api/functions/${enc(name)}`;
    if (requestId) {
      document.getElementById("request-section").hidden = false;
      document.getElementById("request-id").replaceChildren(requestId);
    }
    const parts = { config: ["configuration"], recent: ["invocations", "duration-chart"], logs: requestId ? ["log-lines"] : [] };
    showLoading(Object.values(parts).flat());
    const [config, recent, logs] = await Promise.allSettled([
      getJSON(base),
      getJSON("/api/invocations", { days, function_name: name, limit: 200 }),
      requestId ? getJSON(`${base}/logs`, { request_id: requestId }) : Promise.resolve(null),
    ]);
    for (const [name, result] of Object.entries({ config, recent, logs })) {
      if (result.status === "rejected") {
        showProblem(result.reason);
        showUnavailable(parts[name]);
      }
    }
    if (config.status === "fulfilled") renderConfiguration(config.value);
    if (logs.status === "fulfilled" && logs.value) renderLogs(logs.value);
    if (recent.status === "fulfilled") {
      const rows = recent.value.invocations;
      fill("invocations", table("invocations-table", invocationColumns(false), rows.slice(0, 50), "No invocations of this function in this period."));
      const timed = rows.filter((r) => r.invoked_at).reverse();
      if (timed.length) {
        const durations = [
          { label: "duration", values: timed.map((r) => r.duration_ms) },
          { label: "init (cold start)", values: timed.map((r) => r.init_duration_ms) },
        ];
        chart(document.getElementById("duration-chart"), timed.map((r) => Date.parse(r.invoked_at) / 1000), durations, {
          xKind: "instant",
          ...durationUnit(durations.flatMap((s) => s.values)),
        });
      } else {
        emptyChart("duration-chart", "No invocations of this function in this period.");
      }
    }
  }

  const render = page === "function" ? functionPage : overview;
  const initialDays = params.get("days");
  if (initialDays && [...daysSelect.options].some((o) => o.value === initialDays)) daysSelect.value = initialDays;
  daysSelect.addEventListener("change", () => {
    params.set("days", daysSelect.value);
    history.replaceState(null, "", `${location.pathname}?${params}`);
    for (const { plot } of charts.splice(0)) plot.destroy();
    render().catch(showProblem);
  });
  render().catch(showProblem);
})();
