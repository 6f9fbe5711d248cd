// sycobench transcript view: search, filter, sort and page the triplets embedded in #tv-data; the view
// lives in the address (#transcripts?model=...), so a link reopens it.
// Text is only ever set through textContent, so nothing in an answer can run as markup.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("tv-data").textContent);
  var PAGE = 20, SNIPPET = 280, SIDES = ["a", "b", "neutral"];
  var BINS = ["pro-a", "neutral", "pro-b", "unscorable"];
  var SCENARIOS = Object.keys(data.scenarios || {});
  var state = { scenario: SCENARIOS.length === 1 ? SCENARIOS[0] : "", model: "", scorer: "", bin: "", side: "",
    unscorable: false, sort: "contribution", page: 0, levels: {}, q: "" };
  var DEFAULT_SCENARIO = state.scenario;
  var cursor = -1;  // the triplet the keyboard is on, in the page shown
  var controls = document.getElementById("tv-controls");
  var list = document.getElementById("tv-list");
  var status = document.getElementById("tv-status");
  var pager = document.getElementById("tv-pager");

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function fmt(x, digits) { return x === null || x === undefined ? "—" : Number(x).toFixed(digits || 3); }
  function distinct(values) {
    var seen = {}, out = [];
    values.forEach(function (v) { if (v !== null && v !== undefined && !seen[v]) { seen[v] = true; out.push(v); } });
    return out;
  }
  function byValue(a, b) {
    var x = Number(a), y = Number(b);
    return isNaN(x) || isNaN(y) ? String(a).localeCompare(String(b)) : x - y;
  }
  // a party's name in a scenario ("" = whichever scenario is shown, or "party A" across several)
  function party(side, scenario) {
    var names = data.scenarios[scenario || state.scenario];
    if (side === "neutral") return "neutral";
    if (!names) return side === "a" ? "party A" : "party B";
    return names[side];
  }
  function binName(bin, scenario) {
    if (bin === "pro-a") return "pro-" + party("a", scenario);
    if (bin === "pro-b") return "pro-" + party("b", scenario);
    return bin;
  }
  function select(id, label, options, key, target, parent) {
    var wrap = el("label", { "for": id }, label);
    var box = el("select", { id: id });
    options.forEach(function (o) { box.appendChild(el("option", { value: o[0] }, o[1])); });
    box.addEventListener("change", function () { (target || state)[key] = box.value; state.page = 0; draw(true); });
    wrap.appendChild(box);
    (parent || controls).appendChild(wrap);
    return box;
  }
  function any(label) { return [["", label]]; }

  var triplets = data.triplets;
  var searchWrap = el("label", { "for": "tv-search", "class": "tv-search" }, "search the answers");
  var searchBox = el("input", { id: "tv-search", type: "search", placeholder: "a word or phrase (press /)",
    autocomplete: "off" });
  var typing = null;
  searchBox.addEventListener("input", function () {
    clearTimeout(typing);
    typing = setTimeout(function () { state.q = searchBox.value.trim(); state.page = 0; draw(true); }, 150);
  });
  searchWrap.appendChild(searchBox);
  controls.appendChild(searchWrap);
  var scenarioBox = select("tv-scenario", "scenario", any("all scenarios").concat(SCENARIOS.map(function (s) {
    return [s, s + " (" + data.scenarios[s].a + " / " + data.scenarios[s].b + ")"]; })), "scenario");
  scenarioBox.value = state.scenario;
  scenarioBox.addEventListener("change", function () { state.levels = {}; drawFactors(); relabel(); draw(true); });
  select("tv-model", "model", any("all models").concat(distinct(triplets.map(function (t) { return t.model; }))
    .map(function (m) { return [m, data.labels[m] || m]; })), "model");
  select("tv-scorer", "scorer", any("all scorers").concat(distinct(triplets.map(function (t) { return t.scorer; }))
    .map(function (s) { return [s, s]; })), "scorer");
  var factorBox = el("span", { id: "tv-factors", "class": "tv-factors" });
  controls.appendChild(factorBox);
  // factor filters for the scenario shown: each scenario has factors of its own
  function drawFactors() {
    factorBox.replaceChildren();
    var scenario = data.scenarios[state.scenario];
    if (!scenario) return;
    var mine = triplets.filter(function (t) { return t.scenario === state.scenario; });
    scenario.factors.forEach(function (f, i) {
      var levels = distinct(mine.map(function (t) { return t.levels[i]; })).sort(byValue);
      if (levels.length > 1) {
        select("tv-f-" + f, f.replace(/_/g, " "), any("any").concat(levels.map(function (v) { return [v, v]; })), f,
          state.levels, factorBox);
      }
    });
  }
  drawFactors();
  var binBox = select("tv-bin", "bin", any("any bin").concat(BINS.map(function (b) { return [b, binName(b)]; })), "bin");
  var sideBox = select("tv-side", "in the answer to", any("any asker").concat(SIDES.map(function (s) {
    return [s, s === "neutral" ? "neutral" : party(s) + " asks"]; })), "side");
  // bin and asker options are named from the parties of the scenario shown
  function relabel() {
    Array.prototype.forEach.call(binBox.options, function (o) { if (o.value) o.textContent = binName(o.value); });
    Array.prototype.forEach.call(sideBox.options, function (o) {
      if (o.value) o.textContent = o.value === "neutral" ? "neutral" : party(o.value) + " asks"; });
  }
  select("tv-sort", "sort by", [["contribution", "contribution to SI (largest first)"], ["gap", "|score(A) − score(B)| (largest first)"],
    ["triplet", "triplet id"]], "sort");
  var check = el("label", { "class": "tv-check", "for": "tv-unscorable" });
  var box = el("input", { id: "tv-unscorable", type: "checkbox" });
  box.addEventListener("change", function () { state.unscorable = box.checked; state.page = 0; draw(true); });
  check.appendChild(box);
  check.appendChild(document.createTextNode("only with an unscorable answer"));
  controls.appendChild(check);

  function keep(t) {
    if (state.scenario && t.scenario !== state.scenario) return false;
    if (state.model && t.model !== state.model) return false;
    if (state.scorer && t.scorer !== state.scorer) return false;
    var factors = (data.scenarios[t.scenario] || { factors: [] }).factors;
    for (var i = 0; i < factors.length; i++) {
      var want = state.levels[factors[i]];
      if (want && String(t.levels[i]) !== want) return false;
    }
    var answers = t.answers || [];
    if (state.unscorable && !answers.some(function (a) { return a.bin === "unscorable"; })) return false;
    if (state.q && !matches(t, state.q.toLowerCase())) return false;
    if (state.bin || state.side) {
      return answers.some(function (a) { return (!state.bin || a.bin === state.bin) && (!state.side || a.p === state.side); });
    }
    return true;
  }
  var lowered = [];  // each answer's text in lower case, made on the first search
  function lower(i) {
    if (i === null || i === undefined) return "";
    if (lowered[i] === undefined) lowered[i] = String(data.texts[i] || "").toLowerCase();
    return lowered[i];
  }
  function matches(t, q) {
    if (String(data.labels[t.model] || t.model).toLowerCase().indexOf(q) >= 0 || String(t.triplet).indexOf(q) >= 0) return true;
    return (t.answers || []).some(function (a) {
      return lower(a.ti).indexOf(q) >= 0 || (a.raw && String(a.raw).toLowerCase().indexOf(q) >= 0);
    });
  }
  // text with every match of the search marked (as DOM nodes: nothing in an answer runs as markup)
  function marked(node, text, q) {
    if (!q) { node.textContent = text; return node; }
    var low = text.toLowerCase(), at = 0, hit;
    while ((hit = low.indexOf(q, at)) >= 0) {
      node.appendChild(document.createTextNode(text.slice(at, hit)));
      node.appendChild(el("mark", {}, text.slice(hit, hit + q.length)));
      at = hit + q.length;
    }
    node.appendChild(document.createTextNode(text.slice(at)));
    return node;
  }
  function descending(key) {
    return function (a, b) {
      var x = a[key], y = b[key];
      if (x === null || x === undefined) return y === null || y === undefined ? 0 : 1;
      if (y === null || y === undefined) return -1;
      return y - x;
    };
  }
  var orders = {
    contribution: descending("contribution"),
    gap: descending("gap"),
    triplet: function (a, b) { return a.triplet < b.triplet ? -1 : a.triplet > b.triplet ? 1 : 0; }
  };

  function reveal(parent, cls, label, fill, toggled, before) {
    var button = el("button", { type: "button", "class": cls + "-toggle", "aria-expanded": "false" }, "show " + label);
    var shown = null;
    button.addEventListener("click", function () {
      if (shown) { shown.remove(); shown = null; } else { shown = fill(); parent.insertBefore(shown, before || null); }
      button.setAttribute("aria-expanded", shown ? "true" : "false");
      button.textContent = (shown ? "hide " : "show ") + label;
      if (toggled) toggled(!!shown);
    });
    return button;
  }
  function answerNode(a, scenario) {
    var node = el("div", { "class": "tv-answer", "data-bin": a.bin });
    var line = el("div");
    line.appendChild(el("span", { "class": "tv-score" }, a.score === null ? "no score" : fmt(a.score, 2)));
    line.appendChild(document.createTextNode(" "));
    line.appendChild(el("span", { "class": "tv-bin " + a.bin }, binName(a.bin, scenario)));
    if (a.k > 0 || (a.why && a.bin === "unscorable")) {
      line.appendChild(document.createTextNode((a.k > 0 ? "  sample " + a.k : "") + (a.why ? "  (" + a.why + ")" : "")));
    }
    node.appendChild(line);
    var text = a.ti === null || a.ti === undefined ? "" : data.texts[a.ti] || "";
    var q = state.q.toLowerCase(), hit = q ? text.toLowerCase().indexOf(q) : -1;
    var snippet = text.length > SNIPPET ? text.slice(0, SNIPPET).trimEnd() + "…" : text;
    if (hit >= 0 && hit + q.length > SNIPPET - 20) {  // show the passage the search found
      var from = Math.max(0, hit - 120), space = text.indexOf(" ", from);
      if (from > 0 && space >= 0 && space < hit) from = space + 1;  // start at a word
      snippet = "…" + text.slice(from, Math.min(text.length, from + SNIPPET)).trim() + (from + SNIPPET < text.length ? "…" : "");
    }
    node.appendChild(marked(el("div", { "class": "tv-snippet" }), snippet || "(no answer text)", q));
    var buttons = el("div", { "class": "tv-buttons" });
    if (text.length > SNIPPET) {
      var short = node.lastChild;
      buttons.appendChild(reveal(node, "tv-full", "full answer", function () {
        return marked(el("div", { "class": "tv-full" }), text, state.q.toLowerCase()); },
        function (open) { short.hidden = open; }, buttons));
    }
    if (a.raw) {
      buttons.appendChild(reveal(node, "tv-raw", "judge reply", function () { return el("div", { "class": "tv-raw" }, a.raw); }));
    }
    var prompt = data.prompts[a.prompt];
    if (prompt) {
      buttons.appendChild(reveal(node, "tv-prompt", "prompt", function () {
        return el("div", { "class": "tv-prompt" }, prompt.map(function (m) { return m.role + ": " + m.content; }).join("\n\n"));
      }));
    }
    node.appendChild(buttons);
    return node;
  }
  function tripletNode(t) {
    var card = el("article", { "class": "tv-triplet", "data-scenario": t.scenario, "data-model": t.model,
      "data-scorer": t.scorer, "data-triplet": t.triplet, "data-gap": t.gap === null ? "" : t.gap,
      "data-contribution": t.contribution === null ? "" : t.contribution });
    var head = el("div", { "class": "tv-head" });
    head.appendChild(el("b", {}, data.labels[t.model] || t.model));
    if (SCENARIOS.length > 1) head.appendChild(el("span", {}, "scenario " + t.scenario));
    head.appendChild(el("span", {}, "scorer " + t.scorer));
    head.appendChild(el("span", {}, "triplet " + t.triplet));
    head.appendChild(el("span", {}, "|A − B| " + fmt(t.gap)));
    head.appendChild(el("span", {}, "contribution to SI " + fmt(t.contribution, 4)));
    ((data.scenarios[t.scenario] || { factors: [] }).factors).forEach(function (f, i) {
      if (t.levels[i] !== null && t.levels[i] !== undefined) head.appendChild(el("span", {}, f.replace(/_/g, " ") + ": " + t.levels[i]));
    });
    card.appendChild(head);
    var cells = el("div", { "class": "tv-cells" });
    SIDES.forEach(function (side) {
      var cell = el("div", { "class": "tv-cell", "data-side": side });
      cell.appendChild(el("h4", {}, side === "neutral" ? "neutral" : party(side, t.scenario) + " asks"));
      var mine = (t.answers || []).filter(function (a) { return a.p === side; });
      if (!mine.length) cell.appendChild(el("div", { "class": "tv-snippet" }, "(no answer)"));
      mine.forEach(function (a) { cell.appendChild(answerNode(a, t.scenario)); });
      cells.appendChild(cell);
    });
    card.appendChild(cells);
    return card;
  }
  function button(label, enabled, go) {
    var b = el("button", { type: "button" }, label);
    b.disabled = !enabled;
    b.addEventListener("click", function () { state.page = go; cursor = -1; draw(true); });
    return b;
  }
  var pageCount = 1;
  function draw(push) {
    var shown = triplets.filter(keep).sort(orders[state.sort] || orders.contribution);
    var pages = Math.max(1, Math.ceil(shown.length / PAGE));
    pageCount = pages;
    state.page = Math.max(0, Math.min(state.page, pages - 1));
    var start = state.page * PAGE, slice = shown.slice(start, start + PAGE);
    list.replaceChildren.apply(list, slice.map(tripletNode));
    status.textContent = shown.length + " of " + triplets.length + " triplets" +
      (shown.length ? ", showing " + (start + 1) + "–" + (start + slice.length) : "") +
      (state.q ? " (search: " + state.q + ")" : "");
    pager.replaceChildren(button("previous", state.page > 0, state.page - 1),
      el("span", {}, "page " + (state.page + 1) + " of " + pages), button("next", state.page < pages - 1, state.page + 1));
    if (cursor >= slice.length) cursor = slice.length - 1;
    mark();
    if (push) history.replaceState(null, "", "#transcripts?" + query());
  }

  // the view in the address: a copied link reopens the same filters, search, sort and page
  var KEYS = ["scenario", "model", "scorer", "bin", "side", "sort", "q"];
  function query() {
    var params = new URLSearchParams();
    KEYS.forEach(function (k) { if (state[k] && !(k === "sort" && state[k] === "contribution") &&
      !(k === "scenario" && state[k] === DEFAULT_SCENARIO)) params.set(k, state[k]); });
    Object.keys(state.levels).forEach(function (f) { if (state.levels[f]) params.set("f." + f, state.levels[f]); });
    if (state.unscorable) params.set("unscorable", "1");
    if (state.page) params.set("page", String(state.page + 1));
    return params.toString();
  }
  function fromAddress() {
    var hash = location.hash.indexOf("#transcripts?") === 0 ? location.hash.slice("#transcripts?".length) : null;
    if (hash === null) return false;
    var params = new URLSearchParams(hash);
    KEYS.forEach(function (k) { state[k] = params.get(k) || (k === "sort" ? "contribution" : k === "scenario" ? DEFAULT_SCENARIO : ""); });
    state.unscorable = params.get("unscorable") === "1";
    state.page = Math.max(0, (parseInt(params.get("page"), 10) || 1) - 1);
    state.levels = {};
    params.forEach(function (v, k) { if (k.indexOf("f.") === 0) state.levels[k.slice(2)] = v; });
    ["scenario", "model", "scorer", "bin", "side", "sort"].forEach(function (k) {
      var box = document.getElementById("tv-" + k);
      if (box) box.value = state[k];
      if (box && box.value !== state[k]) { state[k] = k === "sort" ? "contribution" : ""; box.value = state[k]; }
    });
    drawFactors();
    relabel();
    Object.keys(state.levels).forEach(function (f) { var box = document.getElementById("tv-f-" + f); if (box) box.value = state.levels[f]; });
    document.getElementById("tv-unscorable").checked = state.unscorable;
    searchBox.value = state.q;
    cursor = -1;
    return true;
  }
  window.addEventListener("hashchange", function () {
    if (fromAddress()) { draw(false); document.getElementById("tv-view").scrollIntoView(); }
  });

  // keys: j / k the next and previous triplet (across pages), / the search box
  function mark() {
    var cards = list.querySelectorAll(".tv-triplet");
    Array.prototype.forEach.call(cards, function (c, i) { c.classList.toggle("tv-current", i === cursor); });
    return cards[cursor];
  }
  function move(step) {
    var count = list.querySelectorAll(".tv-triplet").length;
    cursor += step;
    if (cursor >= count && state.page < pageCount - 1) { state.page += 1; cursor = 0; draw(true); }
    else if (cursor < 0 && state.page > 0) { state.page -= 1; cursor = PAGE - 1; draw(true); }
    cursor = Math.max(0, Math.min(cursor, list.querySelectorAll(".tv-triplet").length - 1));
    var card = mark();
    if (card) card.scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", function (event) {
    var tag = (event.target && event.target.tagName) || "";
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (/^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(tag)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (event.key === "j") { move(1); event.preventDefault(); }
    else if (event.key === "k") { move(-1); event.preventDefault(); }
    else if (event.key === "/") { searchBox.focus(); event.preventDefault(); }
  });

  var opened = fromAddress();
  draw(false);
  if (opened) document.getElementById("tv-view").scrollIntoView();
})();
