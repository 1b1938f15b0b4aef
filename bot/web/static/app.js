/* TowerBot's staff dashboard (Telegram Mini App). Talks only to our own server:
   POST api/session with Telegram's initData → a 15-minute token, renewed while the page is
   open; every other call carries the token. Words come from the server in the person's
   language and are always set as text, never as HTML. */
(function () {
  "use strict";
  var tg = (window.Telegram && window.Telegram.WebApp) || null;
  var $ = function (id) { return document.getElementById(id); };
  var state = { token: null, texts: {}, bot: "", rows: [], byId: {}, kids: {}, current: null, charts: {} };
  var RENEW_MS = 10 * 60 * 1000;

  function tx(key, values) {
    var s = state.texts[key] || key;
    Object.keys(values || {}).forEach(function (k) { s = s.split("{" + k + "}").join(String(values[k])); });
    return s;
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function status(text, isError) {
    var s = $("status");
    s.hidden = !text;
    s.textContent = text || "";
    s.classList.toggle("error", !!isError);
  }

  // --- theme: Telegram's themeParams, light or dark ---------------------------------------
  function applyTheme() {
    var root = document.documentElement;
    var p = (tg && tg.themeParams) || {};
    Object.keys(p).forEach(function (k) {
      root.style.setProperty("--tg-theme-" + k.replace(/_/g, "-"), p[k]);
    });
    root.dataset.theme = (tg && tg.colorScheme) === "dark" ? "dark" : "light";
    if (state.current) drawCharts(state.detail);
  }
  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  // --- the API ------------------------------------------------------------------------------
  function call(method, path, body, auth, again) {
    var headers = { Authorization: auth || "Bearer " + state.token };
    if (body) headers["Content-Type"] = "application/json";
    return fetch("api/" + path, {
      method: method, headers: headers, credentials: "omit", cache: "no-store",
      body: body ? JSON.stringify(body) : undefined
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (r.status === 401 && !auth && !again) {
          // the token ran out (a phone asleep): start again from initData while it is fresh
          return startSession().then(function () { return call(method, path, body, null, true); });
        }
        if (!r.ok) { var e = new Error(data.error || String(r.status)); e.status = r.status; e.data = data; throw e; }
        return data;
      });
    });
  }
  function startSession() {
    return call("POST", "session", null, "tma " + tg.initData).then(function (s) {
      state.token = s.token; state.texts = s.texts; state.bot = s.bot;
      document.documentElement.lang = s.lang;
      if (!state.renewing) state.renewing = setInterval(renew, RENEW_MS);
    });
  }
  function renew() {
    call("POST", "renew").then(function (s) { state.token = s.token; }).catch(function () {});
  }
  function unescape(s) {
    return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#x27;/g, "'").replace(/&amp;/g, "&");
  }
  function fail(e) {
    if (e && e.data && e.data.message) status(unescape(e.data.message), true);  // in their language
    else if (e && e.status === 403) status(tx("refused"), true);
    else if (e && e.status === 401) status(tx("need_telegram"), true);
    else status(tx("error"), true);
  }

  // --- the tree -----------------------------------------------------------------------------
  function noteOf(r) {
    var notes = [];
    if (!r.has_chat) notes.push(tx("no_chat"));
    if (!r.staffed) notes.push(tx("no_secretary"));
    if (r.campaigns_missing) notes.push(tx("missing") + " " + r.campaigns_missing);
    return notes.join(" · ");
  }
  function drawTree() {
    var rows = state.rows, tree = $("tree");
    state.byId = {}; state.kids = {};
    rows.forEach(function (r) { state.byId[r.id] = r; });
    var roots = [];
    rows.forEach(function (r) {
      if (r.parent_id === null || !state.byId[r.parent_id]) roots.push(r);
      else (state.kids[r.parent_id] = state.kids[r.parent_id] || []).push(r);
    });
    var frag = document.createDocumentFragment();
    function add(r, into) {
      var li = el("li");
      var b = el("button", "node");
      b.type = "button";
      b.dataset.orgId = r.id;
      b.dataset.health = r.health;
      b.appendChild(el("span", "dot " + r.health));
      b.appendChild(el("span", "name", r.name));
      var note = noteOf(r);
      if (note) b.appendChild(el("span", "note", note));
      b.title = r.code;
      li.appendChild(b);
      var kids = state.kids[r.id];
      if (kids) {
        var ul = el("ul");
        kids.forEach(function (k) { add(k, ul); });
        li.appendChild(ul);
      }
      into.appendChild(li);
    }
    roots.forEach(function (r) { add(r, frag); });
    tree.textContent = "";
    tree.appendChild(frag);
    tree.addEventListener("click", function (ev) {
      var b = ev.target.closest("button.node");
      if (b) select(Number(b.dataset.orgId), true);
    });
    $("tree-section").hidden = false;
    performance.mark("tree-drawn");
    return roots;
  }

  // --- one subtree --------------------------------------------------------------------------
  function fmt(n) { return Math.round(n * 100) / 100; }
  function figure(key, label, value) {
    var d = el("div", "figure");
    d.dataset.figure = key;
    d.appendChild(el("div", "label", label));
    d.appendChild(el("div", "value", String(value)));
    return d;
  }
  function drawFigures(d) {
    var n = d.org.numbers, box = $("figures");
    box.textContent = "";
    [
      ["members", tx("members"), n.members],
      ["coverage", tx("coverage"), d.org.checked ? n.member_pct + "%" : tx("not_checked")],
      ["hours_year", tx("hours_year"), fmt(n.hours_year)],
      ["hours_all", tx("hours_all"), fmt(n.hours_all)],
      ["volunteers", tx("volunteers"), n.volunteers],
      ["activities", tx("activities"), n.activities_held],
      ["attendance", tx("attendance"), n.signed_up ? n.attendance_pct + "%" : "—"],
      ["campaigns", tx("chart_campaigns"), n.on_time + " / " + n.late + " / " + n.missing],
      ["staffed", tx("staffed"), n.staffed + " / " + n.orgs],
      ["posts", tx("posts"), n.posts_filled + " / " + n.posts],
      ["active", tx("active"), n.holders_active + " / " + n.holders],
      ["chats", tx("chats"), n.chats + " / " + n.orgs]
    ].forEach(function (f) { box.appendChild(figure(f[0], f[1], f[2])); });
    box.lastChild.previousSibling.title = tx("on_time") + " / " + tx("late") + " / " + tx("missing");
  }
  function openChat(start) {
    var url = "https://t.me/" + state.bot + (start ? "?start=" + start : "");
    if (tg && tg.openTelegramLink) tg.openTelegramLink(url); else window.open(url, "_blank");
  }
  function drawOpen(o) {
    var ul = $("open");
    ul.textContent = "";
    var items = [["pending", o.pending_hours, "cmd_pending"], ["unacked", o.unacked, ""], ["overdue", o.overdue, ""]];
    var any = false;
    items.forEach(function (it) {
      if (!it[1]) return;
      any = true;
      var li = el("li");
      li.dataset.item = it[0];
      li.appendChild(el("span", "", tx(it[0], { n: it[1] })));
      var b = el("button", "", tx("go_chat"));
      b.type = "button";
      b.addEventListener("click", function () { openChat(it[2]); });
      li.appendChild(b);
      ul.appendChild(li);
    });
    if (!any) ul.appendChild(el("li", "none", tx("nothing_open")));
  }
  var PALETTE = ["#2a7ae2", "#2e9d5b", "#d99a00", "#d64545", "#8e5bd6", "#1fa3a3", "#c2571a", "#6b7a8f"];
  function chart(id, config) {
    if (state.charts[id]) state.charts[id].destroy();
    if (!window.Chart) return;
    var text = css("--text") || "#1b1b1f", grid = css("--card") || "#e5e5e5";
    window.Chart.defaults.color = text;
    window.Chart.defaults.borderColor = grid;
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false,
      plugins: { legend: { labels: { boxWidth: 10, font: { size: 11 } } } } }, config.options || {});
    state.charts[id] = new window.Chart($(id), config);
  }
  function drawCharts(d) {
    var groups = d.children.length ? d.children : [d.org];
    var order = groups.map(function (g, i) { return i; });
    order.sort(function (a, b) { return groups[b].numbers.hours_all - groups[a].numbers.hours_all; });
    var shown = order.slice(0, 8);
    chart("chart-hours", {
      type: "line",
      data: { labels: d.months, datasets: shown.map(function (i, k) {
        return { label: groups[i].name, data: d.hours_by_month[i], borderColor: PALETTE[k],
          backgroundColor: PALETTE[k] };
      }) },
      options: { scales: { y: { beginAtZero: true } } }
    });
    chart("chart-coverage", {
      type: "bar",
      data: { labels: groups.map(function (g) { return g.name; }), datasets: [
        ["cov_chats", "chat_pct", "#2a7ae2"], ["cov_staffed", "staffed_pct", "#2e9d5b"],
        ["cov_members", "member_pct", "#d99a00"]
      ].map(function (s) {
        return { label: tx(s[0]), data: groups.map(function (g) { return g.numbers[s[1]]; }), backgroundColor: s[2] };
      }) },
      options: { indexAxis: "y", scales: { x: { min: 0, max: 100 } } }
    });
    var c = d.campaigns;
    $("no-campaigns").hidden = c.length > 0;
    $("chart-campaigns").parentNode.hidden = c.length === 0;
    chart("chart-campaigns", {
      type: "bar",
      data: { labels: c.map(function (x) { return x.title; }), datasets: [
        ["on_time", "#2e9d5b"], ["late", "#d99a00"], ["missing", "#d64545"], ["not_due", "#8e9aaf"]
      ].map(function (s) {
        return { label: tx(s[0]), data: c.map(function (x) { return x[s[0]]; }), backgroundColor: s[1] };
      }) },
      options: { indexAxis: "y", scales: { x: { stacked: true, beginAtZero: true, ticks: { precision: 0 } }, y: { stacked: true } } }
    });
  }
  function select(id, scroll) {
    var previous = document.querySelector('.node[aria-current="true"]');
    if (previous) previous.removeAttribute("aria-current");
    var node = document.querySelector('.node[data-org-id="' + id + '"]');
    if (node) node.setAttribute("aria-current", "true");
    state.current = id;
    return call("GET", "org/" + id).then(function (d) {
      if (state.current !== id) return;
      state.detail = d;
      $("detail").dataset.orgId = id;
      $("detail-head").textContent = tx("figures", { org: d.org.name });
      drawFigures(d);
      drawOpen(d.open);
      drawCharts(d);
      var row = state.byId[id], up = $("up");
      up.hidden = !(row && row.parent_id !== null && state.byId[row.parent_id]);
      $("detail").hidden = false;
      $("export-status").textContent = "";
      if (scroll) $("detail").scrollIntoView({ block: "start" });
      performance.mark("detail-drawn");
    }).catch(fail);
  }
  function exportKind(ev) {
    var b = ev.currentTarget;
    b.disabled = true;
    call("POST", "export", { org_id: state.current, kind: b.dataset.kind }).then(function () {
      $("export-status").textContent = tx("export_sent");
    }).catch(fail).then(function () { setTimeout(function () { b.disabled = false; }, 3000); });
  }

  function words() {
    document.title = tx("title");
    $("title").textContent = tx("title");
    $("tree-head").textContent = tx("tree");
    var legend = $("legend");
    legend.textContent = "";
    ["green", "amber", "red"].forEach(function (h) {
      legend.appendChild(el("span", "dot " + h));
      legend.appendChild(document.createTextNode(tx("legend_" + h) + "  "));
    });
    $("open-head").textContent = tx("open");
    $("chart-hours-head").textContent = tx("chart_hours");
    $("chart-coverage-head").textContent = tx("chart_coverage");
    $("chart-campaigns-head").textContent = tx("chart_campaigns");
    $("no-campaigns").textContent = tx("no_campaigns");
    $("export-head").textContent = tx("export");
    $("export-members").textContent = tx("export_members");
    $("export-activities").textContent = tx("export_activities");
    $("up").textContent = "↑ " + tx("up");
  }

  function fromLink() {
    // opened from a signed link outside Telegram (the demo): initData in the fragment, the
    // way Telegram's clients hand it over (#tgWebAppData=...)
    var m = /[#&]tgWebAppData=([^&]*)/.exec(location.hash);
    if (!m) return tg;
    var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
    return { initData: decodeURIComponent(m[1]), themeParams: {}, colorScheme: dark ? "dark" : "light" };
  }

  function main() {
    performance.mark("app-start");
    if (!tg || !tg.initData) tg = fromLink();
    if (!tg || !tg.initData) { status("请从 Telegram 中打开看板。 Open the dashboard from Telegram.", true); return; }
    if (tg.ready) tg.ready();
    if (tg.expand) tg.expand();
    applyTheme();
    if (tg.onEvent) tg.onEvent("themeChanged", applyTheme);
    $("up").addEventListener("click", function () {
      var row = state.byId[state.current];
      if (row && row.parent_id !== null) select(row.parent_id, false);
    });
    $("export-members").addEventListener("click", exportKind);
    $("export-activities").addEventListener("click", exportKind);
    startSession().then(function () {
      words();
      return call("GET", "tree");
    }).then(function (t) {
      state.rows = t.rows;
      status("");
      var roots = drawTree();
      if (roots.length) return select(roots[0].id, false);
    }).catch(fail);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", main);
  else main();
})();
