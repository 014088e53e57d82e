// chainrule graph explorer: pan/zoom, collapsible modules, hover statistics, search, step slider.
// Reads the JSON in <script id="graph-data">; no network, no libraries.
"use strict";
(function () {
  const T0 = performance.now();
  const D = JSON.parse(document.getElementById("graph-data").textContent);
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.getElementById("canvas"), world = document.getElementById("world");
  const tipBox = document.getElementById("tip");
  const C = D.clusters, N = D.nodes, R = D.runs;
  const open = C.map(c => c.d < D.depth);          // expanded clusters
  const runOpen = R.map(() => false);              // expanded rolled-up runs
  const runOf = new Array(C.length).fill(-1);
  R.forEach((r, k) => r.members.forEach(j => { runOf[j] = k; }));
  const chains = C.map((c, j) => { const a = []; for (let x = j; x >= 0; x = C[x].p) a.unshift(x); return a; });
  const view = {x: 20, y: 20, s: 1};
  const st = {step: D.steps.length ? D.steps.length - 1 : -1, mode: D.steps.length ? "health" : "grad",
              highlight: null, matches: [], match: -1, firstRenderMs: 0, lastActionMs: 0, renders: 0};
  let L = null;                                    // the current layout

  // ---- what is visible: each node is drawn as itself or as the collapsed box holding it
  function rep(i) {
    const c = N[i].c;
    if (c < 0) return "n" + i;
    for (const a of chains[c]) {
      if (runOf[a] >= 0 && !runOpen[runOf[a]]) return "r" + runOf[a];
      if (!open[a]) return "c" + a;
    }
    return "n" + i;
  }
  function containerOf(key) {                      // the cluster (or -1) an item sits in
    const t = key[0], i = +key.slice(1);
    if (t === "n") return N[i].c;
    if (t === "r") return R[i].p;
    return C[i].p;                                 // "c" box or "C" open cluster
  }
  function measure(lines, min) {
    let w = min || 40;
    for (const s of lines) w = Math.max(w, s.length * 6.6 + 18);
    return [Math.min(w, 420), lines.length * 13 + 12];
  }

  // ---- layout: each open cluster is laid out in layers on its own, then placed as one block
  function layout() {
    const items = new Map();                       // key -> {key, w, h, kids, edges}
    const kidsOf = new Map([[-1, []]]);
    const add = key => {
      if (items.has(key)) return;
      const it = {key: key, x: 0, y: 0, w: 0, h: 0};
      items.set(key, it);
      let cont = containerOf(key);
      if (!kidsOf.has(cont)) kidsOf.set(cont, []);
      kidsOf.get(cont).push(key);
      while (cont >= 0 && !items.has("C" + cont)) {  // the open clusters around it
        items.set("C" + cont, {key: "C" + cont, x: 0, y: 0, w: 0, h: 0});
        const up = C[cont].p;
        if (!kidsOf.has(up)) kidsOf.set(up, []);
        kidsOf.get(up).push("C" + cont);
        cont = up;
      }
    };
    const reps = N.map((_, i) => rep(i));
    reps.forEach(add);
    const edgeSet = new Set(), edges = [];
    for (const [a, b] of D.edges) {
      const u = reps[a], v = reps[b];
      if (u === v || edgeSet.has(u + ">" + v)) continue;
      edgeSet.add(u + ">" + v); edges.push([u, v]);
    }
    const local = new Map();                       // container -> [[childA, childB]]
    const up = key => { const c = containerOf(key); return c; };
    for (const [u, v] of edges) {
      let a = u, b = v;
      const ca = chainOf(a), cb = chainOf(b);
      let k = 0; while (k < ca.length && k < cb.length && ca[k] === cb[k]) k++;
      const cont = k ? ca[k - 1] : -1;
      a = k < ca.length ? "C" + ca[k] : a; b = k < cb.length ? "C" + cb[k] : b;
      if (a === b) continue;
      if (!local.has(cont)) local.set(cont, []);
      local.get(cont).push([a, b]);
    }
    function chainOf(key) { const c = up(key); return c < 0 ? [] : chains[c]; }
    // sizes bottom-up: deepest open clusters first
    const conts = [...kidsOf.keys()].sort((p, q) => (q < 0 ? -1 : chains[q].length) - (p < 0 ? -1 : chains[p].length));
    for (const cont of conts) {
      for (const key of kidsOf.get(cont)) if (key[0] !== "C") size(items.get(key));
      const [w, h] = layers(kidsOf.get(cont), local.get(cont) || [], items);
      if (cont >= 0) { const it = items.get("C" + cont); it.w = w + 20; it.h = h + 34; it.kids = kidsOf.get(cont); }
      else L = {items: items, edges: edges, w: w, h: h, reps: reps, root: kidsOf.get(-1)};
    }
    place(L.root, 0, 0);
    function place(keys, ox, oy) {
      for (const key of keys) {
        const it = items.get(key); it.x += ox; it.y += oy;
        if (it.kids) place(it.kids, it.x + 10, it.y + 28);
      }
    }
  }
  function size(it) {
    const t = it.key[0], i = +it.key.slice(1);
    const lines = t === "n" ? N[i].l : t === "c" ? C[i].l : R[i].l;
    [it.w, it.h] = measure(lines, t === "n" ? 40 : 90);
    if (t !== "n") { it.w += 6; it.h += 6; }
  }
  function layers(keys, edges, items) {
    const idx = new Map(keys.map((k, i) => [k, i])), n = keys.length;
    const succ = keys.map(() => []), pred = keys.map(() => []), indeg = new Array(n).fill(0);
    for (const [a, b] of edges) {
      const i = idx.get(a), j = idx.get(b);
      if (i === undefined || j === undefined) continue;
      succ[i].push(j); pred[j].push(i); indeg[j]++;
    }
    const rank = new Array(n).fill(0), done = new Array(n).fill(false);
    let queue = []; for (let i = 0; i < n; i++) if (!indeg[i]) queue.push(i);
    let seen = 0;
    while (seen < n) {
      if (!queue.length) { for (let i = 0; i < n; i++) if (!done[i]) { queue.push(i); break; } }  // a cycle
      const next = [];
      for (const i of queue) {
        if (done[i]) continue; done[i] = true; seen++;
        for (const j of succ[i]) { rank[j] = Math.max(rank[j], rank[i] + 1); if (--indeg[j] === 0) next.push(j); }
      }
      queue = next;
    }
    // sources sit by their use: a leaf beside the operation it feeds, other sources just above
    const side = new Array(n).fill(false);
    for (let i = 0; i < n; i++) {
      if (pred[i].length || !succ[i].length) continue;
      let r = Infinity; for (const j of succ[i]) r = Math.min(r, rank[j]);
      const k = keys[i];
      if (k[0] === "n" && N[+k.slice(1)].k === "leaf" && succ[i].every(j => rank[j] === r)) { rank[i] = r; side[i] = true; }
      else rank[i] = Math.max(0, r - 1);
    }
    let rows = [];
    for (let i = 0; i < n; i++) (rows[rank[i]] = rows[rank[i]] || []).push(i);
    rows = rows.filter(Boolean);
    const pos = new Array(n).fill(0);
    let width = 0, y = 0;
    for (let r = 0; r < rows.length; r++) {
      let row = rows[r];
      for (const i of row) if (pred[i].length) pos[i] = pred[i].reduce((s, p) => s + pos[p], 0) / pred[i].length;
      const main = row.filter(i => !side[i]).sort((a, b) => pos[a] - pos[b] || a - b);
      const beside = new Map();
      for (const i of row) if (side[i]) { const c = succ[i][0]; if (!beside.has(c)) beside.set(c, []); beside.get(c).push(i); }
      row = rows[r] = [];
      for (const i of main) {
        const b = beside.get(i) || [];
        row.push(...b.filter((_, k) => k % 2 === 1).reverse(), i, ...b.filter((_, k) => k % 2 === 0));
      }
      let x = 0, h = 0;
      for (const i of row) { const it = items.get(keys[i]); pos[i] = x + it.w / 2; x += it.w + 24; h = Math.max(h, it.h); }
      width = Math.max(width, x - 24);
      for (const i of row) { const it = items.get(keys[i]); it.y = y + (h - it.h) / 2; }
      y += h + 36;
      row.w = x - 24;
    }
    for (const row of rows) {                     // centre each row
      const shift = (width - row.w) / 2;
      for (const i of row) { const it = items.get(keys[i]); it.x = pos[i] - it.w / 2 + shift; pos[i] += shift; }
    }
    return [Math.max(width, 60), Math.max(y - 36, 20)];
  }

  // ---- colours
  function health(j) {                            // [status, tip lines, grad norm] of cluster j now
    if (st.step < 0) return null;
    const h = D.health[st.step][j];
    return h || null;
  }
  function bandColour(norm) {
    if (norm === null || norm === undefined) return "#ffffff";
    if (!isFinite(norm)) return D.bands.nonfinite;
    for (const [name, lo, hi] of D.bandRanges) if (norm >= lo && (norm < hi || (name === "healthy" && norm <= hi))) return D.bands[name];
    return D.bands.exploding;
  }
  function boxFill(t, i) {
    if (t === "c") {
      const h = health(i);
      if (h && st.mode === "health") return D.statuses[h[0]];
      if (h && st.mode === "grad" && h[2] !== null) return bandColour(h[2]);
      return C[i].f;
    }
    const hs = R[i].members.map(health).filter(Boolean);
    if (hs.length && st.mode === "health") return D.statuses[worst(hs.map(h => h[0]))];
    return R[i].f;
  }
  function worst(list) { const order = Object.keys(D.statuses); return list.sort((a, b) => order.indexOf(a) - order.indexOf(b))[0]; }
  function tipLines(key) {
    const t = key[0], i = +key.slice(1);
    if (t === "n") return N[i].t;
    if (t === "r") {
      const extra = R[i].members.map(j => { const h = health(j); return h ? C[j].m + ": " + h[0] : null; }).filter(Boolean);
      return R[i].t.concat(extra.length ? ["health at step " + D.steps[st.step] + ":"].concat(extra) : []);
    }
    const h = health(i);
    return (t === "c" ? C[i].t : [C[i].n]).concat(h ? h[1] : []);
  }

  // ---- drawing: only what is in view (plus a margin), redrawn on pan, zoom and every change
  function el(name, attrs, parent) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function text(g, lines, x, y, bold) {
    lines.forEach((s, k) => { const e = el("text", {x: x, y: y + 13 * k, "text-anchor": "middle"}, g); e.textContent = s; if (bold && !k) e.setAttribute("font-weight", "bold"); });
  }
  function draw() {
    const t0 = performance.now();
    tipBox.style.display = "none";                 // what it described may have moved
    world.textContent = "";
    world.setAttribute("transform", `translate(${view.x},${view.y}) scale(${view.s})`);
    const W = svg.clientWidth || 800, H = svg.clientHeight || 600, m = 200;
    const x0 = (-view.x - m) / view.s, y0 = (-view.y - m) / view.s, x1 = (W - view.x + m) / view.s, y1 = (H - view.y + m) / view.s;
    const inView = it => it.x < x1 && it.x + it.w > x0 && it.y < y1 && it.y + it.h > y0;
    const layerC = el("g", {}, world), layerE = el("g", {}, world), layerN = el("g", {}, world);
    for (const it of L.items.values()) {
      if (!inView(it)) continue;
      const t = it.key[0], i = +it.key.slice(1);
      const g = el("g", {class: "item", "data-key": it.key}, t === "C" ? layerC : layerN);
      if (t === "C") {
        const h = health(i), colour = h ? D.statuses[h[0]] : "#7f7f7f";
        el("rect", {x: it.x, y: it.y, width: it.w, height: it.h, rx: 8, fill: h ? D.pale[h[0]] : "#fbfbfb", stroke: colour,
                    "stroke-width": h ? 2 : 1, "stroke-dasharray": h ? "" : "5,3", class: "cluster-box"}, g);
        const head = el("g", {class: "cluster-head"}, g);
        el("rect", {x: it.x, y: it.y, width: it.w, height: 22, fill: "transparent"}, head);
        const title = el("text", {x: it.x + 8, y: it.y + 15}, head);
        title.textContent = "\u25be " + C[i].n + (h && h[0] !== "ok" ? " [" + h[0] + "]" : "");
        g.setAttribute("class", "item cluster");
      } else if (t === "n") {
        const nd = N[i], cls = "item node " + nd.k;
        g.setAttribute("class", cls);
        const r = nd.k === "leaf" ? Math.min(it.h / 2, 14) : nd.k === "in" ? 0 : 6;
        el("rect", {x: it.x, y: it.y, width: it.w, height: it.h, rx: r, fill: nd.f, stroke: "#333", "stroke-width": nd.o ? 2.5 : 1, class: "shape"}, g);
        if (nd.o) el("rect", {x: it.x - 3, y: it.y - 3, width: it.w + 6, height: it.h + 6, rx: r + 2, fill: "none", stroke: "#333"}, g);
        text(g, nd.l, it.x + it.w / 2, it.y + 15);
      } else {
        g.setAttribute("class", "item box " + (t === "r" ? "run" : "module"));
        el("rect", {x: it.x + 6, y: it.y, width: it.w - 6, height: it.h - 6, fill: "#ddd", stroke: "#555"}, g);
        el("rect", {x: it.x, y: it.y + 6, width: it.w - 6, height: it.h - 6, fill: boxFill(t, i), stroke: "#333", class: "shape"}, g);
        text(g, t === "c" ? C[i].l : R[i].l, it.x + (it.w - 6) / 2, it.y + 21, true);
      }
      if (st.highlight === it.key) g.classList.add("hit");
    }
    for (const [u, v] of L.edges) {
      const a = L.items.get(u), b = L.items.get(v);
      if (!(inView(a) || inView(b))) continue;
      let d;
      if (a.y < b.y + b.h && b.y < a.y + a.h) {    // side by side: into the side of the target
        const right = a.x < b.x, sx = right ? a.x + a.w : a.x, tx = right ? b.x - 4 : b.x + b.w + 4;
        d = `M${sx},${a.y + a.h / 2} L${tx},${b.y + b.h / 2}`;
      } else {
        const sx = a.x + a.w / 2, sy = a.y + a.h, tx = b.x + b.w / 2, ty = b.y;
        const dy = Math.max(20, Math.abs(ty - sy) / 2);
        d = `M${sx},${sy} C${sx},${sy + dy} ${tx},${ty - dy} ${tx},${ty - 4}`;
      }
      el("path", {d: d, class: "edge", "marker-end": "url(#arrow)"}, layerE);
    }
    st.renders++;
    return performance.now() - t0;
  }

  // ---- interaction
  function settle(t0) {                            // time of the work, and to the painted frame
    st.lastActionMs = performance.now() - t0;
    st.lastPaintMs = null;
    requestAnimationFrame(() => setTimeout(() => { st.lastPaintMs = performance.now() - t0; }, 0));
  }
  function relayout(keepKey) {
    const t0 = performance.now();
    const before = keepKey && L.items.get(keepKey) ? [L.items.get(keepKey).x, L.items.get(keepKey).y] : null;
    layout();
    if (keepKey && before) {                       // keep the clicked thing where it was
      const it = L.items.get(keepKey) || L.items.get("C" + keepKey.slice(1)) || L.items.get(firstMember(keepKey));
      if (it) { view.x += (before[0] - it.x) * view.s; view.y += (before[1] - it.y) * view.s; }
    }
    draw();
    settle(t0);
  }
  function firstMember(key) { return key[0] === "r" ? "C" + R[+key.slice(1)].members[0] : key; }
  function keyAt(e) { const g = e.target.closest && e.target.closest(".item"); return g ? g.getAttribute("data-key") : null; }
  svg.addEventListener("click", e => {
    const key = keyAt(e); if (!key || moved) return;
    const t = key[0], i = +key.slice(1);
    if (t === "c") { open[i] = true; relayout(key); }
    else if (t === "r") { runOpen[i] = true; relayout(key); }
    else if (t === "C" && e.target.closest(".cluster-head")) {
      open[i] = false;
      relayout(runOf[i] >= 0 && !runOpen[runOf[i]] ? "r" + runOf[i] : "c" + i);
    }
  });
  svg.addEventListener("mousemove", e => {
    const key = keyAt(e);
    if (!key || dragging) { tipBox.style.display = "none"; return; }
    tipBox.textContent = tipLines(key).join("\n");
    tipBox.style.display = "block";
    const r = svg.getBoundingClientRect();
    tipBox.style.left = (e.clientX - r.left + 14) + "px"; tipBox.style.top = (e.clientY - r.top + 14) + "px";
  });
  svg.addEventListener("mouseleave", () => { tipBox.style.display = "none"; });
  let dragging = null, moved = false, pending = false;
  const redraw = () => { if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; draw(); }); } };
  svg.addEventListener("mousedown", e => { dragging = [e.clientX, e.clientY, view.x, view.y]; moved = false; });
  window.addEventListener("mousemove", e => {
    if (!dragging) return;
    const dx = e.clientX - dragging[0], dy = e.clientY - dragging[1];
    if (Math.abs(dx) + Math.abs(dy) > 3) moved = true;
    view.x = dragging[2] + dx; view.y = dragging[3] + dy;
    world.setAttribute("transform", `translate(${view.x},${view.y}) scale(${view.s})`);
  });
  window.addEventListener("mouseup", () => { if (dragging && moved) redraw(); dragging = null; setTimeout(() => { moved = false; }, 0); });
  svg.addEventListener("wheel", e => {
    e.preventDefault();
    const r = svg.getBoundingClientRect(), px = e.clientX - r.left, py = e.clientY - r.top;
    const f = Math.exp(-e.deltaY * 0.0015), s = Math.min(4, Math.max(0.02, view.s * f));
    view.x = px - (px - view.x) * s / view.s; view.y = py - (py - view.y) * s / view.s; view.s = s;
    redraw();
  }, {passive: false});
  function fit() {
    const W = svg.clientWidth || 800, H = svg.clientHeight || 600;
    view.s = Math.min(1, (W - 40) / L.w, Math.max((H - 40) / L.h, 0.75));
    view.x = (W - L.w * view.s) / 2; view.y = 20;
    draw();
  }
  function centreOn(key) {
    const it = L.items.get(key); if (!it) return;
    const W = svg.clientWidth || 800, H = svg.clientHeight || 600;
    view.s = Math.max(view.s, 0.8);
    view.x = W / 2 - (it.x + it.w / 2) * view.s;
    view.y = it.h * view.s > H - 80 ? 40 - it.y * view.s : H / 2 - (it.y + it.h / 2) * view.s;
  }
  function search(q, next) {
    q = q.trim().toLowerCase();
    if (!q) { st.matches = []; st.highlight = null; document.getElementById("found").textContent = ""; draw(); return; }
    if (!next || !st.matches.length) {
      st.matches = [];
      C.forEach((c, j) => { if (c.n.toLowerCase().includes(q)) st.matches.push(["C", j]); });
      N.forEach((nd, i) => { if (nd.l.join(" ").toLowerCase().includes(q)) st.matches.push(["n", i]); });
      st.match = -1;
    }
    if (!st.matches.length) { document.getElementById("found").textContent = "no match"; return; }
    st.match = (st.match + 1) % st.matches.length;
    const [t, i] = st.matches[st.match];
    const c = t === "n" ? N[i].c : i;
    if (c >= 0) for (const a of chains[c]) { if (a !== c || t === "n") open[a] = true; if (runOf[a] >= 0) runOpen[runOf[a]] = true; }
    const t0 = performance.now();
    layout();
    const key = t === "n" ? rep(i) : (open[i] ? "C" + i : "c" + i);
    st.highlight = key; centreOn(key); draw();
    settle(t0);
    document.getElementById("found").textContent = `${st.match + 1} of ${st.matches.length}`;
  }
  const box = document.getElementById("search");
  box.addEventListener("keydown", e => { if (e.key === "Enter") search(box.value, true); });
  box.addEventListener("input", () => search(box.value, false));
  document.getElementById("fit").onclick = fit;
  document.getElementById("expand").onclick = () => { open.fill(true); runOpen.fill(true); relayout(); };
  document.getElementById("collapse").onclick = () => { C.forEach((c, j) => { open[j] = c.d < D.depth; }); runOpen.fill(false); relayout(); fit(); };
  const slider = document.getElementById("step"), mode = document.getElementById("mode");
  if (D.steps.length) {
    slider.max = D.steps.length - 1; slider.value = st.step;
    const show = () => { document.getElementById("steplabel").textContent = "step " + D.steps[st.step]; };
    show();
    slider.addEventListener("input", () => { const t0 = performance.now(); st.step = +slider.value; show(); draw(); settle(t0); });
    mode.addEventListener("change", () => { st.mode = mode.value; draw(); });
  } else {
    document.getElementById("steps").style.display = "none";
  }
  layout(); fit();
  st.firstRenderMs = performance.now();            // since navigation started: parse, layout, draw
  st.scriptMs = performance.now() - T0;
  function keyOf(text) {                         // the first laid-out item whose title starts so
    for (const key of L.items.keys()) {
      const t = key[0], i = +key.slice(1);
      const title = t === "n" ? N[i].l.join(" ") : t === "r" ? R[i].l[0] : C[i].n;
      if (title.startsWith(text)) return key;
    }
    return null;
  }
  window.explorer = {state: st, keyOf: keyOf, view: view, open: open, runOpen: runOpen, layout: () => L, search: search,
                     centreOn: k => { centreOn(k); draw(); }, draw: draw};
  requestAnimationFrame(() => setTimeout(() => {  // the first frame is on screen
    st.firstPaintMs = performance.now();
    document.body.setAttribute("data-ready", "1");
  }, 0));
})();
