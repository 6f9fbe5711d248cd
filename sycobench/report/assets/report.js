// sycobench report: sortable tables with long bodies folded under "show all", and contents that follow the reader.
(function () {
  "use strict";
  function number(text) {
    var match = String(text).replace(/[<>≤≥~$]/g, "").match(/-?\d+(?:\.\d+)?(?:e-?\d+)?/i);
    return match ? parseFloat(match[0]) : NaN;
  }
  function setUp(table) {
    var body = table.tBodies[0];
    if (!body) return;
    var rows = Array.prototype.slice.call(body.rows);
    var top = parseInt(table.getAttribute("data-top"), 10) || 12;
    var folded = rows.length > top + 2;  // folding away two rows helps no one
    var more = null;
    function fold() {
      Array.prototype.forEach.call(body.rows, function (row, i) { row.hidden = folded && i >= top; });
      if (more) more.textContent = folded ? "show all " + rows.length + " rows" : "show the top " + top + " rows";
      if (more) more.setAttribute("aria-expanded", folded ? "false" : "true");
    }
    if (folded) {
      more = document.createElement("button");
      more.type = "button";
      more.className = "more";
      more.addEventListener("click", function () { folded = !folded; fold(); });
      table.parentNode.insertAdjacentElement("afterend", more);
    }
    var heads = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(heads, function (th, col) {
      var numeric = th.classList.contains("num");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      while (th.firstChild) button.appendChild(th.firstChild);
      button.title = "sort by this column";
      th.appendChild(button);
      button.addEventListener("click", function () {
        var down = th.getAttribute("aria-sort") !== "descending";
        Array.prototype.forEach.call(heads, function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", down ? "descending" : "ascending");
        var keyed = rows.map(function (row, i) {
          var text = row.cells[col] ? row.cells[col].textContent : "";
          return { row: row, i: i, key: numeric ? number(text) : text.trim().toLowerCase() };
        });
        keyed.sort(function (a, b) {
          var x = a.key, y = b.key, missing = function (v) { return v === "" || v === "—" || (numeric && isNaN(v)); };
          if (missing(x) || missing(y)) return missing(x) === missing(y) ? a.i - b.i : missing(x) ? 1 : -1;
          var c = numeric ? x - y : String(x).localeCompare(String(y));
          return (down ? -c : c) || a.i - b.i;
        });
        keyed.forEach(function (k) { body.appendChild(k.row); });
        fold();
      });
    });
    fold();
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.data"), setUp);

  // the contents mark the section being read: the last one whose heading has passed under them
  var nav = document.getElementById("contents");
  if (nav) {
    var links = Array.prototype.slice.call(nav.querySelectorAll("a"));
    var heads = links.map(function (a) { return document.getElementById(a.getAttribute("href").slice(1)); });
    var pending = false;
    var mark = function () {
      pending = false;
      var edge = nav.getBoundingClientRect().bottom + 8, here = -1;
      heads.forEach(function (h, i) { if (h && h.getBoundingClientRect().top <= edge) here = i; });
      links.forEach(function (a, i) { a.classList.toggle("here", i === here); });
    };
    window.addEventListener("scroll", function () { if (!pending) { pending = true; requestAnimationFrame(mark); } },
      { passive: true });
    mark();
  }
})();
