// sycobench transcript view: filter, sort and page the triplets embedded in #tv-data.
// Text is only ever set through textContent, so nothing in an answer can run as markup.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("tv-data").textContent);
  var PAGE = 20, SNIPPET = 280, SIDES = data.sides || ["landlord", "tenant", "neutral"];
  var BINS = ["pro-landlord", "neutral", "pro-tenant", "unscorable"];
  var state = { model: "", scorer: "", bin: "", side: "", unscorable: false, sort: "contribution", page: 0, levels: {} };
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
  function select(id, label, options, key, target) {
    var wrap = el("label", { "for": id }, label);
    var box = el("select", { id: id });
    options.forEach(function (o) { box.appendChild(el("option", { value: o[0] }, o[1])); });
    box.addEventListener("change", function () { (target || state)[key] = box.value; state.page = 0; draw(); });
    wrap.appendChild(box);
    controls.appendChild(wrap);
  }
  function any(label) { return [["", label]]; }

  var triplets = data.triplets;
  select("tv-model", "model", any("all models").concat(distinct(triplets.map(function (t) { return t.model; }))
    .map(function (m) { return [m, data.labels[m] || m]; })), "model");
  select("tv-scorer", "scorer", any("all scorers").concat(distinct(triplets.map(function (t) { return t.scorer; }))
    .map(function (s) { return [s, s]; })), "scorer");
  data.factors.forEach(function (f, i) {
    var levels = distinct(triplets.map(function (t) { return t.levels[i]; })).sort(byValue);
    if (levels.length > 1) {
      select("tv-f-" + f, f.replace(/_/g, " "), any("any").concat(levels.map(function (v) { return [v, v]; })), f, state.levels);
    }
  });
  select("tv-bin", "bin", any("any bin").concat(BINS.map(function (b) { return [b, b]; })), "bin");
  select("tv-side", "in the answer to", any("any asker").concat(SIDES.map(function (s) { return [s, s]; })), "side");
  select("tv-sort", "sort by", [["contribution", "contribution to SI (largest first)"], ["gap", "|score(L) − score(T)| (largest first)"],
    ["triplet", "triplet id"]], "sort");
  var check = el("label", { "class": "tv-check", "for": "tv-unscorable" });
  var box = el("input", { id: "tv-unscorable", type: "checkbox" });
  box.addEventListener("change", function () { state.unscorable = box.checked; state.page = 0; draw(); });
  check.appendChild(box);
  check.appendChild(document.createTextNode("only with an unscorable answer"));
  controls.appendChild(check);

  function keep(t) {
    if (state.model && t.model !== state.model) return false;
    if (state.scorer && t.scorer !== state.scorer) return false;
    for (var i = 0; i < data.factors.length; i++) {
      var want = state.levels[data.factors[i]];
      if (want && String(t.levels[i]) !== want) return false;
    }
    var answers = t.answers || [];
    if (state.unscorable && !answers.some(function (a) { return a.bin === "unscorable"; })) return false;
    if (state.bin || state.side) {
      return answers.some(function (a) { return (!state.bin || a.bin === state.bin) && (!state.side || a.p === state.side); });
    }
    return true;
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
  function answerNode(a) {
    var node = el("div", { "class": "tv-answer", "data-bin": a.bin });
    var line = el("div");
    line.appendChild(el("span", { "class": "tv-score" }, a.score === null ? "no score" : fmt(a.score, 2)));
    line.appendChild(document.createTextNode(" "));
    line.appendChild(el("span", { "class": "tv-bin " + a.bin }, a.bin));
    if (a.k > 0 || (a.why && a.bin === "unscorable")) {
      line.appendChild(document.createTextNode((a.k > 0 ? "  sample " + a.k : "") + (a.why ? "  (" + a.why + ")" : "")));
    }
    node.appendChild(line);
    var text = a.ti === null || a.ti === undefined ? "" : data.texts[a.ti] || "";
    var snippet = text.length > SNIPPET ? text.slice(0, SNIPPET).trimEnd() + "…" : text;
    node.appendChild(el("div", { "class": "tv-snippet" }, snippet || "(no answer text)"));
    var buttons = el("div", { "class": "tv-buttons" });
    if (text.length > SNIPPET) {
      var short = node.lastChild;
      buttons.appendChild(reveal(node, "tv-full", "full answer", function () { return el("div", { "class": "tv-full" }, text); },
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
    var card = el("article", { "class": "tv-triplet", "data-model": t.model, "data-scorer": t.scorer, "data-triplet": t.triplet,
      "data-gap": t.gap === null ? "" : t.gap, "data-contribution": t.contribution === null ? "" : t.contribution });
    var head = el("div", { "class": "tv-head" });
    head.appendChild(el("b", {}, data.labels[t.model] || t.model));
    head.appendChild(el("span", {}, "scorer " + t.scorer));
    head.appendChild(el("span", {}, "triplet " + t.triplet));
    head.appendChild(el("span", {}, "|L − T| " + fmt(t.gap)));
    head.appendChild(el("span", {}, "contribution to SI " + fmt(t.contribution, 4)));
    data.factors.forEach(function (f, i) {
      if (t.levels[i] !== null && t.levels[i] !== undefined) head.appendChild(el("span", {}, f.replace(/_/g, " ") + ": " + t.levels[i]));
    });
    card.appendChild(head);
    var cells = el("div", { "class": "tv-cells" });
    SIDES.forEach(function (side) {
      var cell = el("div", { "class": "tv-cell", "data-side": side });
      cell.appendChild(el("h4", {}, side + (side === "neutral" ? "" : " asks")));
      var mine = (t.answers || []).filter(function (a) { return a.p === side; });
      if (!mine.length) cell.appendChild(el("div", { "class": "tv-snippet" }, "(no answer)"));
      mine.forEach(function (a) { cell.appendChild(answerNode(a)); });
      cells.appendChild(cell);
    });
    card.appendChild(cells);
    return card;
  }
  function button(label, enabled, go) {
    var b = el("button", { type: "button" }, label);
    b.disabled = !enabled;
    b.addEventListener("click", function () { state.page = go; draw(); });
    return b;
  }
  function draw() {
    var shown = triplets.filter(keep).sort(orders[state.sort]);
    var pages = Math.max(1, Math.ceil(shown.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    var start = state.page * PAGE, slice = shown.slice(start, start + PAGE);
    list.replaceChildren.apply(list, slice.map(tripletNode));
    status.textContent = shown.length + " of " + triplets.length + " triplets" +
      (shown.length ? ", showing " + (start + 1) + "–" + (start + slice.length) : "");
    pager.replaceChildren(button("previous", state.page > 0, state.page - 1),
      el("span", {}, "page " + (state.page + 1) + " of " + pages), button("next", state.page < pages - 1, state.page + 1));
  }
  draw();
})();
