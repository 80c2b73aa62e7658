// rarenet console: live updates (server-sent events), keyboard navigation, row clicks.
// Everything works without it; it only saves reloads and mouse trips.
(function () {
  "use strict";
  var $ = function (s, el) { return (el || document).querySelector(s); };
  var $$ = function (s, el) { return Array.prototype.slice.call((el || document).querySelectorAll(s)); };

  // --- The list: selection and opening --------------------------------------------------
  var selected = -1;
  function rows() { return $$("#signals tbody tr.row"); }
  function select(i) {
    var rs = rows();
    if (!rs.length) return;
    i = Math.max(0, Math.min(rs.length - 1, i));
    rs.forEach(function (r) { r.classList.remove("selected"); });
    rs[i].classList.add("selected");
    rs[i].scrollIntoView({ block: "nearest" });
    selected = i;
  }
  document.addEventListener("click", function (ev) {
    var tr = ev.target.closest && ev.target.closest("#signals tr.row");
    if (!tr || ev.target.closest("a, button, input, select")) return;
    location.href = tr.dataset.href;
  });
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest && ev.target.closest("[data-confirm]");
    if (b && !confirm(b.dataset.confirm)) ev.preventDefault();
  });

  // --- Keyboard ---------------------------------------------------------------------------
  function setStatus(st) {
    var f = $("#status-form");
    if (!f) return;
    var r = $('input[name=status][value="' + st + '"]', f);
    if (r) { r.checked = true; f.submit(); }
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var t = ev.target;
    var typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
    if (typing) {
      if (ev.key === "Escape") t.blur();
      return;
    }
    var help = $("#help");
    switch (ev.key) {
      case "j": select(selected + 1); break;
      case "k": select(selected - 1); break;
      case "Enter": case "o":
        if (selected >= 0 && rows()[selected]) location.href = rows()[selected].dataset.href;
        else return;
        break;
      case "/": var q = $("#q"); if (!q) return; q.focus(); q.select(); break;
      case "n": if ($("#next")) location.href = $("#next").href; break;
      case "p": if ($("#prev")) location.href = $("#prev").href; break;
      case "a": setStatus("acknowledged"); break;
      case "c": setStatus("closed"); break;
      case "r": setStatus("open"); break;
      case "e": var e = $("#exception-form input[name$='.value']"); if (!e) return; e.focus(); break;
      case "u": case "Escape":
        if (help && help.open) { help.close(); break; }
        if ($("#back")) location.href = "/"; else return;
        break;
      case "?": if (help) help.showModal(); break;
      default: return;
    }
    ev.preventDefault();
  });
  var hb = $("#help-btn");
  if (hb) hb.addEventListener("click", function () { $("#help").showModal(); });

  // --- Live updates -----------------------------------------------------------------------
  var live = $("#live");
  if (!window.EventSource) return;
  var es = new EventSource("/events");
  es.onopen = function () { live.classList.add("on"); live.title = "live updates: connected"; };
  es.onerror = function () { live.classList.remove("on"); live.title = "live updates: reconnecting"; };

  // A new signal: the list re-reads its own page (same filters, same page) and swaps the
  // table, the count and the timeline in; new rows flash.
  var pending = null;
  es.addEventListener("signal", function () {
    if (!$("#signals")) return;
    clearTimeout(pending);
    pending = setTimeout(refreshList, 300);
  });
  function refreshList() {
    var before = {};
    rows().forEach(function (r) { before[r.dataset.id] = true; });
    var sel = selected >= 0 && rows()[selected] ? rows()[selected].dataset.id : null;
    fetch(location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        [["#signals tbody", "#signals tbody"], [".timeline-card", ".timeline-card"], [".pager", ".pager"]].forEach(function (p) {
          var a = $(p[0]), b = $(p[1], doc);
          if (a && b) a.replaceWith(b);
        });
        var n = 0;
        rows().forEach(function (r, i) {
          if (!before[r.dataset.id]) { r.classList.add("fresh"); n++; }
          if (r.dataset.id === sel) select(i);
        });
        if (n) document.title = "(" + n + " new) " + document.title.replace(/^\(\d+ new\) /, "");
      })
      .catch(function () {});
  }

  // A changed status: the row's badge, or the signal page's badge and history.
  es.addEventListener("status", function (ev) {
    var s;
    try { s = JSON.parse(ev.data); } catch (e) { return; }
    $$('#signals tr.row[data-id="' + s.id + '"]').forEach(function (tr) {
      tr.className = tr.className.replace(/\bs-\w+/, "s-" + s.status);
      var b = $(".c-status .status", tr);
      if (b) { b.className = "status " + s.status; b.textContent = s.status; }
    });
    var head = $(".sig-head");
    if (head && head.dataset.signal === s.id) {
      var badge = $("#sig-status");
      if (badge.textContent === s.status && $("#history li .status")) return;
      badge.className = "status " + s.status;
      badge.textContent = s.status;
      var li = document.createElement("li");
      var span = document.createElement("span");
      span.className = "status " + s.status;
      span.textContent = s.status;
      li.appendChild(span);
      li.appendChild(document.createTextNode(" by "));
      var by = document.createElement("b");
      by.textContent = s.by;
      li.appendChild(by);
      if (s.note) { var d = document.createElement("div"); d.className = "hnote"; d.textContent = s.note; li.appendChild(d); }
      var h = $("#history");
      var empty = $("li.muted", h);
      if (empty) empty.remove();
      h.insertBefore(li, h.firstChild);
      var r = $('input[name=status][value="' + s.status + '"]');
      if (r) r.checked = true;
    }
  });
})();
