// The dashboard's one enhancement script (pages work without it; served by the
// server itself, as the Content-Security-Policy allows only same-origin scripts).
//
// Back and forward keep every view's form equal to its address: a page the
// browser restores from its back/forward cache (or whose fields it refills)
// would otherwise show what was typed last instead of the filters of the URL
// it shows. The fields' default values are the URL's (the server renders
// them), so resetting the forms restores exactly those.
(function () {
  "use strict";
  window.addEventListener("pageshow", function () {
    var forms = document.querySelectorAll("form[method='get']");
    for (var i = 0; i < forms.length; i++) forms[i].reset();
  });
})();

// The U.S. map's zoom and pan links (`/map?zoom=2&cx=…&cy=…`) work without this
// script: the server draws the window. Here they change the map's viewBox in
// place and push the same URL, so back/forward walk the views too.
(function () {
  "use strict";
  var controls = document.getElementById("map-us-controls");
  var map = document.getElementById("map-us");
  if (!controls || !map || !window.history || !history.pushState) return;
  var frame = (map.getAttribute("data-frame") || "975 610").split(" ").map(Number);
  var view = { zoom: Number(map.getAttribute("data-zoom")) || 1, cx: 0, cy: 0 };
  (function () {
    var vb = map.getAttribute("viewBox").split(" ").map(Number);
    view.cx = vb[0] + vb[2] / 2;
    view.cy = vb[1] + vb[3] / 2;
  })();
  var round = function (v) { return Math.round(v * 10) / 10; };
  function clamp(v) {
    var w = frame[0] / v.zoom, h = frame[1] / v.zoom;
    return {
      zoom: v.zoom,
      cx: round(Math.min(Math.max(v.cx, w / 2), frame[0] - w / 2)),
      cy: round(Math.min(Math.max(v.cy, h / 2), frame[1] - h / 2))
    };
  }
  function urlOf(v) {
    var params = new URLSearchParams(location.search);
    ["zoom", "cx", "cy"].forEach(function (k) { params.delete(k); });
    if (v.zoom !== 1) {
      params.set("zoom", String(v.zoom));
      params.set("cx", String(v.cx));
      params.set("cy", String(v.cy));
    }
    var s = params.toString();
    return location.pathname + (s ? "?" + s : "");
  }
  function show(v) {
    view = clamp(v);
    var w = frame[0] / view.zoom, h = frame[1] / view.zoom;
    map.setAttribute("viewBox", [round(view.cx - w / 2), round(view.cy - h / 2), round(w), round(h)].join(" "));
    map.setAttribute("data-zoom", String(view.zoom));
    var r = String(round(2.2 / view.zoom * 100) / 100);
    var dots = map.querySelectorAll("g.points circle");
    for (var i = 0; i < dots.length; i++) dots[i].setAttribute("r", r);
    // Re-point every control at the view one step from this one.
    var steps = {
      "zoom-in": { zoom: Math.min(view.zoom * 2, 8), cx: view.cx, cy: view.cy },
      "zoom-out": { zoom: Math.max(view.zoom / 2, 1), cx: view.cx, cy: view.cy },
      "pan-west": { zoom: view.zoom, cx: view.cx - w / 2, cy: view.cy },
      "pan-east": { zoom: view.zoom, cx: view.cx + w / 2, cy: view.cy },
      "pan-north": { zoom: view.zoom, cx: view.cx, cy: view.cy - h / 2 },
      "pan-south": { zoom: view.zoom, cx: view.cx, cy: view.cy + h / 2 },
      "zoom-reset": { zoom: 1, cx: frame[0] / 2, cy: frame[1] / 2 }
    };
    var links = controls.querySelectorAll("a.zoom");
    for (var j = 0; j < links.length; j++) {
      var to = steps[links[j].id];
      if (to) {
        to = clamp(to);
        links[j].href = urlOf(to);
        links[j].setAttribute("data-zoom", String(to.zoom));
        links[j].setAttribute("data-cx", String(to.cx));
        links[j].setAttribute("data-cy", String(to.cy));
        var off = to.zoom === view.zoom && to.cx === view.cx && to.cy === view.cy;
        links[j].classList.toggle("zoom-off", off);
        if (off) links[j].setAttribute("aria-disabled", "true"); else links[j].removeAttribute("aria-disabled");
      }
    }
    var level = document.getElementById("zoom-level");
    if (level) level.textContent = "Zoom \u00d7" + view.zoom;
  }
  controls.addEventListener("click", function (e) {
    var a = e.target.closest ? e.target.closest("a.zoom") : null;
    if (!a) return;
    e.preventDefault();
    if (a.getAttribute("aria-disabled") === "true") return;
    var to = { zoom: Number(a.getAttribute("data-zoom")), cx: Number(a.getAttribute("data-cx")), cy: Number(a.getAttribute("data-cy")) };
    show(to);
    history.pushState({ mapView: view }, "", urlOf(view));
  });
  window.addEventListener("popstate", function () {
    var p = new URLSearchParams(location.search);
    show({ zoom: Number(p.get("zoom")) || 1, cx: Number(p.get("cx")) || frame[0] / 2, cy: Number(p.get("cy")) || frame[1] / 2 });
  });
})();

// A popup per event point on the maps (without this script a point is a link to its event).
(function () {
  "use strict";
  var popup = document.getElementById("map-popup");
  if (!popup) return;
  function close() { popup.hidden = true; popup.textContent = ""; }
  function line(text) { var p = document.createElement("p"); p.textContent = text; return p; }
  document.addEventListener("click", function (e) {
    var a = e.target.closest ? e.target.closest("a.pt") : null;
    if (!a) { if (!popup.contains(e.target)) close(); return; }
    e.preventDefault();
    close();
    var h = document.createElement("h2");
    h.textContent = "Event " + a.getAttribute("data-ev");
    popup.appendChild(h);
    popup.appendChild(line(a.getAttribute("data-date") + " \u00b7 " + a.getAttribute("data-place")));
    popup.appendChild(line(a.getAttribute("data-aircraft") + " \u00b7 highest injury: " + (a.getAttribute("data-injury") || "unknown") +
      " \u00b7 fatalities: " + a.getAttribute("data-fatal")));
    var open = document.createElement("a");
    open.href = a.getAttribute("href");
    open.textContent = "Open the event";
    open.id = "map-popup-open";
    popup.appendChild(open);
    var shut = document.createElement("button");
    shut.type = "button";
    shut.textContent = "Close";
    shut.addEventListener("click", close);
    popup.appendChild(document.createTextNode(" "));
    popup.appendChild(shut);
    popup.hidden = false;
    open.focus();
  });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") close(); });
})();

// The live panel (`/live`): follows the feed's Server-Sent Events from the
// position the page was made at. EventSource cannot send credentials, so a
// single-use stream ticket is fetched first (the session cookie and the page's
// CSRF token); after a disconnect a new ticket resumes after the last change shown.
(function () {
  "use strict";
  var box = document.getElementById("live-feed");
  if (!box || !box.getAttribute("data-stream") || !window.EventSource || !window.fetch) return;
  var rows = document.getElementById("live-rows");
  var status = document.getElementById("live-status");
  var since = box.getAttribute("data-since") || "0";
  var shown = Number(box.getAttribute("data-shown")) || 50;
  var failures = 0;
  var source = null;
  function say(text) { if (status) status.textContent = text; }
  function cell(tag, text) { var c = document.createElement(tag); c.textContent = text; return c; }
  function add(change) {
    var empty = document.getElementById("live-empty");
    if (empty) empty.remove();
    var tr = document.createElement("tr");
    tr.setAttribute("data-seq", String(change.seq));
    var th = cell("th", String(change.seq));
    th.scope = "row";
    tr.appendChild(th);
    tr.appendChild(cell("td", change.kind));
    var ev = document.createElement("td");
    var id = change.ev_id || change.ntsb_no || "";
    if (change.ev_id && change.kind !== "deleted") {
      var a = document.createElement("a");
      a.href = "/events/" + encodeURIComponent(change.ev_id);
      a.textContent = id;
      ev.appendChild(a);
    } else {
      ev.textContent = id;
    }
    tr.appendChild(ev);
    tr.appendChild(cell("td", (change.fields || []).join(", ")));
    tr.appendChild(cell("td", change.changed_at || ""));
    rows.insertBefore(tr, rows.firstChild);
    while (rows.children.length > shown) rows.removeChild(rows.lastChild);
  }
  function connect() {
    var body = new URLSearchParams();
    body.set("csrf", box.getAttribute("data-csrf") || "");
    fetch("/live/ticket", { method: "POST", body: body, credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) throw new Error("ticket refused (" + r.status + ")");
        return r.json();
      })
      .then(function (t) {
        var url = box.getAttribute("data-stream");
        url += (url.indexOf("?") < 0 ? "?" : "&") + "ticket=" + encodeURIComponent(t.ticket) + "&since=" + encodeURIComponent(since);
        source = new EventSource(url);
        source.onopen = function () { failures = 0; say("Connected: new changes to matching events appear at the top as they arrive."); };
        source.onmessage = function (e) {
          var change = JSON.parse(e.data);
          since = String(change.seq);
          add(change);
        };
        source.addEventListener("close", function (e) {
          var end = JSON.parse(e.data || "{}");
          if (end.position !== undefined) since = String(end.position);
          retry("The feed ended the connection" + (end.reason ? " (" + end.reason + ")" : ""));
        });
        source.onerror = function () { retry("Disconnected"); };
      })
      .catch(function (err) { retry(String(err.message || err)); });
  }
  function retry(why) {
    if (source) { source.close(); source = null; }
    failures += 1;
    if (failures > 8) { say(why + "; reload the page to try again."); return; }
    var wait = Math.min(30, Math.pow(2, failures));
    say(why + "; reconnecting in " + wait + " s.");
    setTimeout(connect, wait * 1000);
  }
  connect();
})();
