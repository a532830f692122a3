// Draws the report's tables from the JSON data block: groups (sortable, filterable, paged,
// expandable into sample exchanges), errors and endpoints. Content from requests and
// responses only ever becomes text nodes: nothing here parses a string as HTML or builds
// a regular expression from one, and bidi controls in it are shown escaped.
(function () {
  "use strict";

  const DATA = JSON.parse(document.getElementById("report-data").textContent);
  const PAGE_SIZE = 50;
  const MAX_JSON_LINES = 3000;
  const SEVERITY_RANK = { critical: 0, high: 1, medium: 2, low: 3 };
  const OUTCOMES = ["difference", "expected", "noise"];
  const BASELINE_LABEL = DATA.baseline === "recording" ? "Recording (what was recorded)" : "Baseline: " + DATA.baseline;

  const state = {
    candidate: "",
    severity: "",
    outcome: "",
    text: "",
    groupSort: { key: null, dir: 1 },
    endpointSort: { key: "total", dir: -1 },
    pages: { difference: 0, expected: 0, noise: 0, endpoints: 0, errors: 0 },
    open: new Set(),
  };
  const sampleCache = new Map();

  // --- building blocks ------------------------------------------------------------------

  // Bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) reorder the
  // text around them: shown as escapes, a value cannot make another read backwards.
  const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/g;

  function shown(value) {
    return String(value).replace(BIDI_CONTROLS, (c) => "\\u" + c.charCodeAt(0).toString(16));
  }

  function h(tag, props, children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (value === null || value === undefined || value === false) continue;
        if (key === "class") node.className = value;
        else if (key === "text") node.textContent = shown(value);
        else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
        else node.setAttribute(key, value === true ? "" : String(value));
      }
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    if (children === null || children === undefined) return;
    for (const child of [].concat(children)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(shown(child)));
    }
  }

  function plural(n, word) {
    return n + " " + word + (n === 1 ? "" : "s");
  }

  function pager(total, page, onPage) {
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    if (pages <= 1) return null;
    const first = page * PAGE_SIZE + 1;
    const last = Math.min(total, (page + 1) * PAGE_SIZE);
    return h("div", { class: "pager" }, [
      h("button", { type: "button", disabled: page === 0, onclick: () => onPage(page - 1) }, "Previous"),
      "Showing " + first + "\u2013" + last + " of " + total,
      h("button", { type: "button", disabled: page >= pages - 1, onclick: () => onPage(page + 1) }, "Next"),
    ]);
  }

  function sortHeader(label, key, sort, onSort, numeric) {
    const th = h("th", { class: numeric ? "num" : null, scope: "col" });
    if (sort.key === key) th.setAttribute("aria-sort", sort.dir > 0 ? "ascending" : "descending");
    th.append(h("button", { type: "button", "data-sort": key, onclick: () => onSort(key) }, label));
    return th;
  }

  function toggleSort(sort, key, numeric) {
    if (sort.key === key) sort.dir = -sort.dir;
    else {
      sort.key = key;
      sort.dir = numeric ? -1 : 1;
    }
  }

  function compareValues(a, b) {
    if (typeof a === "number" && typeof b === "number") return a - b;
    return String(a).localeCompare(String(b));
  }

  // --- groups ---------------------------------------------------------------------------

  const GROUP_COLUMNS = [
    { key: "severity", label: "Severity", value: (g) => SEVERITY_RANK[g.severity] ?? 9 },
    { key: "candidate", label: "Candidate", value: (g) => g.candidate },
    { key: "cause", label: "Cause", value: (g) => g.cause },
    { key: "endpoint", label: "Seen at", value: (g) => g.endpoints.length + "\u0000" + g.endpoint },
    { key: "count", label: "Exchanges", value: (g) => g.count, numeric: true },
    { key: "journeys", label: "Journeys", value: (g) => g.journeys, numeric: true },
    { key: "example", label: "Example (before \u2192 after)", value: (g) => g.example },
  ];

  DATA.groups.forEach((group, index) => {
    group.order = index;
    group.key = group.candidate + "\u0000" + group.id;
  });

  function groupMatches(group) {
    if (state.candidate && group.candidate !== state.candidate) return false;
    if (state.severity && group.severity !== state.severity) return false;
    if (state.text) {
      const places = group.locations.map((l) => l.endpoint + " " + l.path).join(" ");
      const haystack = (group.cause + " " + places + " " + group.kind_text).toLowerCase();
      if (!haystack.includes(state.text)) return false;
    }
    return true;
  }

  function sortedGroups(groups) {
    const sort = state.groupSort;
    const column = GROUP_COLUMNS.find((c) => c.key === sort.key);
    const out = groups.slice();
    out.sort((a, b) => {
      if (column) {
        const c = compareValues(column.value(a), column.value(b)) * sort.dir;
        if (c !== 0) return c;
      }
      return a.order - b.order;
    });
    return out;
  }

  function renderGroupSections() {
    for (const outcome of OUTCOMES) {
      const section = document.getElementById("groups-" + outcome);
      const slot = section.querySelector(".table-slot");
      const all = DATA.groups.filter((g) => g.outcome === outcome);
      const shown = sortedGroups(all.filter(groupMatches));
      section.hidden = Boolean(state.outcome) && state.outcome !== outcome;
      section.querySelector(".section-count").textContent =
        "(" + plural(all.length, "group") + (shown.length !== all.length ? ", " + shown.length + " shown" : "") + ")";
      slot.replaceChildren(groupTable(outcome, shown));
    }
  }

  function groupTable(outcome, groups) {
    const wrap = h("div", { class: "outcome-" + outcome });
    if (!groups.length) {
      wrap.append(h("p", { class: "empty" }, outcome === "difference" && !DATA.groups.some((g) => g.outcome === "difference")
        ? "None: every exchange answered the same as the baseline, or differed only in expected ways or noise."
        : "No group matches the filters."));
      return wrap;
    }
    const pages = Math.ceil(groups.length / PAGE_SIZE);
    state.pages[outcome] = Math.min(state.pages[outcome], pages - 1);
    const page = state.pages[outcome];
    const onSort = (key) => {
      const column = GROUP_COLUMNS.find((c) => c.key === key);
      toggleSort(state.groupSort, key, column && column.numeric);
      renderGroupSections();
    };
    const headRow = h("tr", null, h("th", { scope: "col" }, ""));
    for (const column of GROUP_COLUMNS) headRow.append(sortHeader(column.label, column.key, state.groupSort, onSort, column.numeric));
    if (outcome !== "difference") headRow.append(h("th", { scope: "col" }, "Why"));
    const body = h("tbody");
    for (const group of groups.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE)) {
      const open = state.open.has(group.key);
      const row = h("tr", {
        class: "group-row" + (open ? " open" : ""),
        "data-group": group.id,
        "data-candidate": group.candidate,
        "aria-expanded": open ? "true" : "false",
        tabindex: "0",
        title: "Show the sample exchanges of this group",
      }, [
        h("td", { class: "toggle" }, open ? "\u25be" : "\u25b8"),
        h("td", null, h("span", { class: "badge " + group.severity }, group.severity)),
        h("td", null, group.candidate),
        h("td", { class: "code cause" }, h("span", { class: "steps" }, breakable(group.cause))),
        h("td", { class: "code" }, seenAt(group)),
        h("td", { class: "num" }, group.count),
        h("td", { class: "num" }, group.journeys),
        h("td", { class: "code example" }, group.example),
      ]);
      if (outcome !== "difference") row.append(h("td", null, group.reason || ""));
      const toggle = () => {
        if (state.open.has(group.key)) state.open.delete(group.key);
        else state.open.add(group.key);
        renderGroupSections();
      };
      row.addEventListener("click", toggle);
      row.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          toggle();
        }
      });
      body.append(row);
      if (open) {
        body.append(h("tr", { class: "detail-row" }, h("td", { colspan: String(headRow.children.length) }, samplesOf(group))));
      }
    }
    wrap.append(h("table", { class: "groups" }, [h("thead", null, headRow), body]));
    append(wrap, pager(groups.length, page, (p) => {
      state.pages[outcome] = p;
      renderGroupSections();
    }));
    return wrap;
  }

  function breakable(text) {
    // A line may break after `/`, `.` and before `[` (an endpoint's or a path's steps),
    // never inside a word: the table fits a laptop's width without sideways scrolling.
    const out = [];
    let word = "";
    for (const ch of String(text == null ? "" : text)) {
      if (ch === "[" && word) {
        out.push(word, h("wbr"));
        word = "";
      }
      word += ch;
      if (ch === "/" || ch === ".") {
        out.push(word, h("wbr"));
        word = "";
      }
    }
    if (word) out.push(word);
    return out;
  }

  function seenAt(group) {
    if (group.endpoints.length === 1) return h("span", { class: "steps" }, breakable(group.endpoints[0]));
    return h("span", { title: group.endpoints.join("\n") }, plural(group.endpoints.length, "endpoint"));
  }

  function whereSeen(group) {
    // Each place the cause was seen, with its counts and one sample pair side by side:
    // the object around the field on each side, not the whole answer.
    const table = h("table", { class: "locations" }, [
      h("thead", null, h("tr", null, [
        h("th", { scope: "col" }, "Endpoint and path"),
        h("th", { scope: "col", class: "num" }, "Exchanges"),
        h("th", { scope: "col", class: "num" }, "Journeys"),
        h("th", { scope: "col" }, BASELINE_LABEL),
        h("th", { scope: "col" }, "Candidate: " + group.candidate),
      ])),
    ]);
    const body = h("tbody");
    for (const place of group.locations) {
      body.append(h("tr", null, [
        h("td", { class: "code" }, [
          h("div", { class: "steps" }, breakable(place.endpoint)),
          h("div", { class: "steps" }, breakable(place.path)),
          place.seq !== null && place.seq !== undefined ? h("div", { class: "muted" }, "exchange #" + place.seq + ": " + place.change) : "",
        ]),
        h("td", { class: "num" }, place.count),
        h("td", { class: "num" }, place.journeys),
        h("td", null, excerptView(place.baseline)),
        h("td", null, excerptView(place.candidate)),
      ]));
    }
    table.append(body);
    return h("div", { class: "where-seen" }, [h("h4", null, "Where it was seen"), table]);
  }

  function excerptView(text) {
    if (text === null || text === undefined) return h("p", { class: "missing" }, "(not on this side)");
    return h("pre", { class: "json excerpt" }, text);
  }

  // --- samples --------------------------------------------------------------------------

  function pathPieces(pattern) {
    // The text between the `[]` steps of a path; a quoted key (`["a[]b"]`) is text.
    const pieces = [""];
    let at = 0;
    while (at < pattern.length) {
      if (pattern.startsWith('["', at)) {
        let end = at + 2;
        while (end < pattern.length && pattern[end] !== '"') end += pattern[end] === "\\" ? 2 : 1;
        end = Math.min(pattern.length, end + 2);
        pieces[pieces.length - 1] += pattern.slice(at, end);
        at = end;
      } else if (pattern.startsWith("[]", at)) {
        pieces.push("");
        at += 2;
      } else {
        pieces[pieces.length - 1] += pattern[at];
        at += 1;
      }
    }
    return pieces;
  }

  function pathMatcher(pattern) {
    // `[]` in a difference's path stands for any item of a list aligned by id: `[3]` in
    // the path of a drawn body. Compared piece by piece, so a path of any length or
    // content is only ever text.
    const pieces = pathPieces(pattern);
    return (path) => {
      if (!path.startsWith(pieces[0])) return false;
      let at = pieces[0].length;
      for (const piece of pieces.slice(1)) {
        if (path[at] !== "[") return false;
        let end = at + 1;
        while (end < path.length && path[end] >= "0" && path[end] <= "9") end += 1;
        if (end === at + 1 || path[end] !== "]") return false;
        at = end + 1;
        if (!path.startsWith(piece, at)) return false;
        at += piece.length;
      }
      return at === path.length;
    };
  }

  function keyStep(key) {
    return /^[A-Za-z0-9_\-]+$/.test(key) ? "." + key : "[" + JSON.stringify(key) + "]";
  }

  function sampleSentence(shown, count) {
    if (shown < count) return "The first " + shown + " of the " + count + " exchanges that show this difference";
    return count === 1 ? "The exchange that shows this difference" : "The " + count + " exchanges that show this difference";
  }

  function samplesOf(group) {
    if (sampleCache.has(group.key)) return sampleCache.get(group.key);
    const wrap = h("div", { class: "samples", "data-samples-of": group.id });
    wrap.append(whereSeen(group));
    wrap.append(h("p", { class: "explain" },
      sampleSentence(group.samples.length, group.count) +
      ". The baseline's side is on the left, the candidate's on the right."));
    wrap.append(h("p", { class: "legend" }, [
      "Highlighted:", h("span", { class: "swatch main" }), "this difference",
      h("span", { class: "swatch other" }), "other differences in the same exchange",
    ]));
    for (const seq of group.samples) wrap.append(sampleCard(group, seq));
    if (!group.samples.length) wrap.append(h("p", { class: "empty" }, "No sample exchanges were kept for this group."));
    sampleCache.set(group.key, wrap);
    return wrap;
  }

  function sampleCard(group, seq) {
    const key = String(seq);
    const baseline = DATA.sides.baseline[key];
    const candidate = (DATA.sides.candidates[group.candidate] || {})[key];
    const outcome = (DATA.outcomes[group.candidate] || {})[key];
    const differences = outcome ? outcome.differences : [{ path: group.path, kind: group.kind, change: group.example }];
    const paths = new Set(group.locations.map((l) => l.full_path));
    const marks = {
      main: [...paths].map(pathMatcher),
      other: differences.filter((d) => !paths.has(d.path)).map((d) => pathMatcher(d.path)),
      headers: new Set(differences.filter((d) => d.path.startsWith("headers.")).map((d) => d.path.slice(8).toLowerCase())),
      status: differences.some((d) => d.path === "$"),
    };
    const journey = outcome ? outcome.journey : baseline ? baseline.journey : null;
    const head = h("div", { class: "sample-head" }, [
      h("strong", null, "Exchange #" + seq),
      journey !== null && journey !== undefined ? " \u00b7 journey " + journey : "",
      outcome ? " \u00b7 outcome for " + group.candidate + ": " + outcome.kind + (outcome.severity ? " (" + outcome.severity + ")" : "") : "",
    ]);
    const list = h("ul", { class: "sample-diffs" });
    for (const d of differences) {
      list.append(h("li", { class: paths.has(d.path) ? "this-group" : null }, [
        h("span", { class: "code" }, d.path), " " + (d.kind || "") + (d.outcome && d.outcome !== "difference" ? " (" + d.outcome + ")" : "") + ": ",
        h("span", { class: "code" }, d.change || ""),
      ]));
    }
    if (outcome && outcome.more_differences) list.append(h("li", null, "and " + outcome.more_differences + " more"));
    if (outcome && outcome.error) list.append(h("li", null, "Error: " + outcome.error));
    return h("div", { class: "sample", "data-seq": key }, [
      head,
      list,
      h("div", { class: "sides" }, [
        side(BASELINE_LABEL, baseline, marks, "baseline"),
        side("Candidate: " + group.candidate, candidate, marks, "candidate"),
      ]),
    ]);
  }

  function side(title, exchange, marks, role) {
    const box = h("div", { class: "side " + role }, h("h4", null, title));
    if (!exchange) {
      box.append(h("p", { class: "missing" }, "This exchange is not in the run directory."));
      return box;
    }
    const request = exchange.request;
    box.append(h("div", { class: "label" }, "Request"));
    box.append(h("div", { class: "reqline" }, request.method + " " + request.target));
    box.append(headerList(request.headers, null));
    box.append(bodyView(request.body, null, "form fields"));
    box.append(h("div", { class: "label" }, "Response"));
    if (exchange.skipped) box.append(h("p", { class: "no-answer" }, "Not sent: " + (exchange.error || "skipped")));
    else if (!exchange.response) box.append(h("p", { class: "no-answer" }, "No answer: " + (exchange.error || "unknown error")));
    else {
      const response = exchange.response;
      box.append(h("div", { class: "status" + (marks.status ? " hl" : "") }, "HTTP " + response.status));
      box.append(headerList(response.headers, marks.headers));
      box.append(bodyView(response.body, marks, "body"));
    }
    return box;
  }

  function headerList(headers, marked) {
    const hit = marked ? headers.some(([name]) => marked.has(name.toLowerCase())) : false;
    const details = h("details", { open: hit }, h("summary", null, plural(headers.length, "header")));
    for (const [name, value] of headers) {
      details.append(h("div", { class: "header-line" + (marked && marked.has(name.toLowerCase()) ? " hl" : "") }, name + ": " + value));
    }
    return details;
  }

  function bodyView(body, marks, formLabel) {
    if (!body || (body.json === undefined && body.form === undefined && body.text === undefined)) {
      return h("p", { class: "muted" }, "(no body)");
    }
    if (body.json !== undefined) return jsonView(body.json, marks);
    if (body.form !== undefined) {
      return h("div", null, [h("div", { class: "label" }, formLabel), jsonView(body.form, null)]);
    }
    const text = h("pre", { class: "text" + (marks && marks.status ? " hl" : "") }, body.text);
    if (body.cut) return h("div", null, [text, h("p", { class: "muted" }, "Cut at " + body.text.length + " of " + body.cut + " characters.")]);
    return text;
  }

  function jsonView(value, marks) {
    const pre = h("pre", { class: "json" });
    let lines = 0;
    function line(indent, text, hl) {
      lines += 1;
      if (lines > MAX_JSON_LINES) return;
      pre.append(h("span", { class: "line" + (hl ? " hl" + (hl === "main" ? " hl-main" : "") : "") }, "  ".repeat(indent) + text), "\n");
    }
    function mark(path) {
      // A difference at `$` (the status, or the whole body) is marked on the status line.
      if (!marks || path === "$") return null;
      if (marks.main.some((matches) => matches(path))) return "main";
      if (marks.other.some((matches) => matches(path))) return "other";
      return null;
    }
    function walk(node, path, indent, prefix, comma, inherited) {
      // This group's own field stays marked inside an item that is marked as a whole.
      const own = mark(path);
      const hl = own === "main" || inherited === "main" ? "main" : own || inherited;
      const tail = comma ? "," : "";
      if (node !== null && typeof node === "object") {
        const isArray = Array.isArray(node);
        const entries = isArray ? node.map((item, i) => [i, item]) : Object.entries(node);
        if (!entries.length) {
          line(indent, prefix + (isArray ? "[]" : "{}") + tail, hl);
          return;
        }
        line(indent, prefix + (isArray ? "[" : "{"), hl);
        entries.forEach(([key, item], i) => {
          const childPath = isArray ? path + "[" + key + "]" : path + keyStep(key);
          walk(item, childPath, indent + 1, isArray ? "" : JSON.stringify(key) + ": ", i < entries.length - 1, hl);
        });
        line(indent, (isArray ? "]" : "}") + tail, hl);
      } else {
        line(indent, prefix + JSON.stringify(node) + tail, hl);
      }
    }
    walk(value, "$", 0, "", false, null);
    if (lines > MAX_JSON_LINES) pre.append(h("span", { class: "muted" }, "\u2026 " + (lines - MAX_JSON_LINES) + " more lines not shown"));
    return pre;
  }

  // --- errors ---------------------------------------------------------------------------

  function renderErrors() {
    const slot = document.querySelector("#errors .table-slot");
    const rows = DATA.errors.filter((e) => !state.candidate || e.candidate === state.candidate);
    if (!rows.length) {
      slot.replaceChildren(h("p", { class: "empty" }, "None: every exchange was answered by every target."));
      return;
    }
    const page = Math.min(state.pages.errors, Math.ceil(rows.length / PAGE_SIZE) - 1);
    const body = h("tbody");
    for (const e of rows.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE)) {
      body.append(h("tr", null, [
        h("td", null, e.candidate),
        h("td", { class: "code" }, e.message),
        h("td", { class: "num" }, e.count === null || e.count === undefined ? "" : e.count),
        h("td", null, e.samples.map((s) => "#" + s).join(", ")),
      ]));
    }
    const head = h("tr", null, ["Candidate", "Message", "Exchanges", "For example"].map((label, i) => h("th", { scope: "col", class: i === 2 ? "num" : null }, label)));
    slot.replaceChildren(h("table", { class: "errors" }, [h("thead", null, head), body]));
    append(slot, pager(rows.length, page, (p) => {
      state.pages.errors = p;
      renderErrors();
    }));
  }

  // --- endpoints ------------------------------------------------------------------------

  const ENDPOINT_COLUMNS = [
    { key: "candidate", label: "Candidate", value: (e) => e.candidate },
    { key: "endpoint", label: "Endpoint", value: (e) => e.endpoint },
    { key: "total", label: "Exchanges", value: (e) => e.total, numeric: true },
    { key: "match", label: "Matching", value: (e) => e.counts.match || 0, numeric: true },
    { key: "noise", label: "Noise", value: (e) => e.counts.noise || 0, numeric: true },
    { key: "expected", label: "Expected", value: (e) => e.counts.expected || 0, numeric: true },
    { key: "difference", label: "Differences", value: (e) => e.counts.difference || 0, numeric: true },
    { key: "error", label: "Errors", value: (e) => e.counts.error || 0, numeric: true },
  ];

  function renderEndpoints() {
    const slot = document.querySelector("#endpoints .table-slot");
    let rows = DATA.endpoints.filter((e) =>
      (!state.candidate || e.candidate === state.candidate) &&
      (!state.text || e.endpoint.toLowerCase().includes(state.text)));
    if (!rows.length) {
      slot.replaceChildren(h("p", { class: "empty" }, "No endpoint matches the filters."));
      return;
    }
    const sort = state.endpointSort;
    const column = ENDPOINT_COLUMNS.find((c) => c.key === sort.key);
    rows = rows.slice().sort((a, b) => compareValues(column.value(a), column.value(b)) * sort.dir || compareValues(a.endpoint, b.endpoint));
    const page = Math.min(state.pages.endpoints, Math.ceil(rows.length / PAGE_SIZE) - 1);
    const onSort = (key) => {
      const col = ENDPOINT_COLUMNS.find((c) => c.key === key);
      toggleSort(state.endpointSort, key, col.numeric);
      renderEndpoints();
    };
    const head = h("tr", null, ENDPOINT_COLUMNS.map((c) => sortHeader(c.label, c.key, sort, onSort, c.numeric)));
    const body = h("tbody");
    for (const e of rows.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE)) {
      body.append(h("tr", null, ENDPOINT_COLUMNS.map((c) => h("td", { class: c.numeric ? "num" : c.key === "endpoint" ? "code" : null }, c.value(e)))));
    }
    slot.replaceChildren(h("table", { class: "endpoints" }, [h("thead", null, head), body]));
    append(slot, pager(rows.length, page, (p) => {
      state.pages.endpoints = p;
      renderEndpoints();
    }));
  }

  // --- filters --------------------------------------------------------------------------

  function resetPages() {
    for (const key of Object.keys(state.pages)) state.pages[key] = 0;
  }

  function renderAll() {
    renderGroupSections();
    renderErrors();
    renderEndpoints();
  }

  const filters = {
    candidate: document.getElementById("filter-candidate"),
    severity: document.getElementById("filter-severity"),
    outcome: document.getElementById("filter-outcome"),
    text: document.getElementById("filter-text"),
  };
  for (const [name, control] of Object.entries(filters)) {
    control.addEventListener(name === "text" ? "input" : "change", () => {
      state[name] = name === "text" ? control.value.trim().toLowerCase() : control.value;
      if (name === "outcome" && state.outcome) document.getElementById("groups-" + state.outcome).open = true;
      resetPages();
      renderAll();
    });
  }
  document.getElementById("filters").addEventListener("submit", (event) => event.preventDefault());

  renderAll();
  document.body.setAttribute("data-ready", "true");
})();
