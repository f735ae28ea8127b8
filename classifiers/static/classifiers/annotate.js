// The annotate page (templates/admin/classifiers/annotate.html): a static file, as the CSP allows no inline script.
// Its data comes from the json_script block "annotate-config".
(function () {
  "use strict";
  // The queue's order and balance controls reload the page with the new choice.
  document.querySelectorAll("[data-autosubmit]").forEach(el => el.addEventListener("change", () => el.form.submit()));
  const cfg = JSON.parse(document.getElementById("annotate-config").textContent);
  const csrf = document.cookie.split("; ").find(c => c.startsWith("csrftoken="))?.split("=")[1] || "";
  const byId = Object.fromEntries(cfg.labels.map(l => [l.id, l]));
  const buttons = Array.from(document.querySelectorAll(".label-btn"));
  let buffer = cfg.items.slice(), current = null, selected = new Set(), history = [], skipped = new Set();
  let saved = 0, chain = Promise.resolve(), fetching = false, pending = 0;
  const $ = id => document.getElementById(id);

  function status(text, error) { const s = $("status"); s.textContent = text || ""; s.className = "status" + (error ? " error" : ""); }
  function post(url, body) {
    return fetch(url, {method: "POST", headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
                       body: JSON.stringify(body), credentials: "same-origin"})
      .then(r => r.json().then(data => { if (!r.ok) throw new Error(data.error || r.statusText); return data; }));
  }
  // Every id this page has held: a save's refill may be computed before an earlier refill arrived, so
  // it can repeat items already shown (and saved, with the save still in flight); those are dropped.
  const seen = new Set(buffer.map(i => i.id));
  function held() { return buffer.map(i => i.id).concat(Array.from(skipped), current ? [current.id] : []); }
  function addItems(items) {
    items.forEach(i => { if (!seen.has(i.id)) { buffer.push(i); seen.add(i.id); } });
    if (!current) show(buffer.shift() || null);
  }
  function render() {
    buttons.forEach(b => {
      const id = Number(b.dataset.id);
      b.classList.toggle("selected", selected.has(id));
      b.classList.toggle("suggested", !!(current && current.suggestion && current.suggestion.label_ids.includes(id)));
      b.setAttribute("aria-pressed", selected.has(id));
    });
  }
  function show(item) {
    current = item; selected = new Set();
    if (!item) {
      $("item-meta").textContent = "";
      $("item-text").textContent = pending || fetching ? "Loading the next items…" : "Nothing left to label in this queue. 🎉";
      $("suggestion").hidden = true; $("mine").hidden = true; render(); return;
    }
    $("item-meta").textContent = [item.module || "no module", item.date, "#" + item.id].join(" · ");
    $("item-text").textContent = item.text;
    const sug = item.suggestion;
    $("suggestion").hidden = !sug;
    if (sug) {
      const fromTheme = sug.source === "theme";
      $("suggestion").innerHTML = (fromTheme ? "<b>Theme suggestion</b>" : "<b>Model suggestion</b>") +
        " — not a label until you save it: ";
      const strong = document.createElement("strong");
      strong.textContent = sug.label_ids.map(i => byId[i] ? byId[i].name : "?").join(", ") + (fromTheme
        ? " (this comment is in that theme)" : " (" + Math.round(sug.confidence * 100) + "% confident, " + sug.version + ")");
      $("suggestion").appendChild(strong);
    }
    closeSimilar();
    $("mine").hidden = !item.mine.length;
    $("mine").textContent = item.mine.length ? "Your current label: " + item.mine.map(i => byId[i].name).join(", ") : "";
    (item.mine.length ? item.mine : (sug ? sug.label_ids : [])).forEach(i => selected.add(i));
    render();
  }
  function choose(index) {
    const label = cfg.labels[index]; if (!label || !current) return;
    if (cfg.kind === "multi") { selected.has(label.id) ? selected.delete(label.id) : selected.add(label.id); }
    else { selected = new Set([label.id]); }
    render();
  }
  function refill() {
    if (fetching || buffer.length >= 3) return;
    fetching = true;
    const q = new URLSearchParams({order: cfg.order, balance: cfg.balance ? "1" : "", exclude: held().join(","), limit: cfg.prefetch});
    fetch(cfg.urls.items + "?" + q, {credentials: "same-origin"}).then(r => r.json())
      .then(data => addItems(data.items)).finally(() => { fetching = false; });
  }
  // Similar comments (f): the nearest comments still in this queue, each shown in full; the ticked ones (x)
  // get the labels of the item on screen when it is saved, through the same rules as one save.
  let similar = [], cursor = 0, ticked = new Set();
  function closeSimilar() { similar = []; ticked = new Set(); cursor = 0; $("similar").hidden = true; }
  function renderSimilar() {
    const list = $("similar-list"); list.textContent = "";
    similar.forEach((s, i) => {
      const li = document.createElement("li"); li.className = "sim-row" + (i === cursor ? " cursor" : "");
      li.dataset.id = s.id;
      const box = document.createElement("input"); box.type = "checkbox"; box.tabIndex = -1; box.checked = ticked.has(s.id);
      box.setAttribute("aria-label", "apply the labels to #" + s.id);
      box.addEventListener("change", () => { box.checked ? ticked.add(s.id) : ticked.delete(s.id); renderSimilar(); });
      const text = document.createElement("span"); text.className = "sim-text"; text.textContent = s.text;
      const meta = document.createElement("span"); meta.className = "sim-meta";
      meta.textContent = Math.floor(s.similarity * 100) + "% similar · " + (s.module || "no module") + " · #" + s.id;
      li.append(box, text, meta); list.appendChild(li);
    });
    $("similar-count").textContent = similar.length
      ? ticked.size + " of " + similar.length + " ticked" : "none close enough among the comments left to label";
    const row = list.children[cursor]; if (row) row.scrollIntoView({block: "nearest"});
  }
  function findSimilar() {
    if (!current) return;
    if (!$("similar").hidden) { closeSimilar(); return; }
    const item = current;
    $("similar").hidden = false; $("similar-count").textContent = "looking…"; $("similar-list").textContent = "";
    fetch(cfg.urls.similar + "?" + new URLSearchParams({feedback: item.id}), {credentials: "same-origin"})
      .then(r => r.json().then(data => { if (!r.ok) throw new Error(data.error || r.statusText); return data; }))
      .then(data => { if (current !== item) return; similar = data.items; ticked = new Set(); cursor = 0; renderSimilar(); })
      .catch(err => status("Similar comments: " + err.message, true));
  }
  function moveCursor(step) { if (!similar.length) return; cursor = (cursor + step + similar.length) % similar.length; renderSimilar(); }
  function tick(all) {
    if (!similar.length) return;
    if (all) { const every = ticked.size < similar.length; ticked = new Set(every ? similar.map(s => s.id) : []); }
    else { const id = similar[cursor].id; ticked.has(id) ? ticked.delete(id) : ticked.add(id); }
    renderSimilar();
  }
  function saveGroup(ids, labels, entry) {
    return post(cfg.urls.save_group, {feedback: ids, labels: labels}).then(data => {
      entry.group = data.annotations; saved += ids.length;
      $("done-count").querySelector("b").textContent = saved;
    });
  }
  function save() {
    if (!current) return;
    if (!selected.size) { status("Choose a label first (keys 1–" + cfg.labels.length + ").", true); return; }
    const item = current, labels = Array.from(selected), entry = {item: item, annotation: null, labels: labels};
    const group = Array.from(ticked);
    // Ticked comments are labelled with it: out of the buffer, and never shown again on this page.
    buffer = buffer.filter(i => !group.includes(i.id)); group.forEach(id => seen.add(id));
    history.push(entry);
    show(buffer.shift() || null);  // the next item is already here: no waiting for the save
    const need = Math.max(0, cfg.prefetch - buffer.length);
    const body = {feedback: item.id, labels: labels, order: cfg.order, balance: cfg.balance, need: need,
                  exclude: held().concat(history.map(h => h.item.id))};
    pending += 1;
    const grouped = group.length ? saveGroup(group, labels, entry) : Promise.resolve();
    entry.done = chain = chain.then(() => grouped).then(() => post(cfg.urls.save, body)).finally(() => { pending -= 1; }).then(data => {
      entry.annotation = data.annotation; saved += 1;
      $("done-count").querySelector("b").textContent = saved;
      status("Saved #" + item.id + (data.suggested_by ? " (suggestion confirmed)" : "") +
             (group.length ? " and " + group.length + " similar comment" + (group.length > 1 ? "s" : "") : "") + ".");
      addItems(data.next);
      if (!current) show(null);
    }).catch(err => {
      history.splice(history.indexOf(entry), 1);
      if (current) buffer.unshift(current);
      show(item); status("Not saved: " + err.message, true);
    });
  }
  function skip() { if (!current) return; skipped.add(current.id); show(buffer.shift() || null); refill(); }
  function undo() {
    const entry = history.pop(); if (!entry) { status("Nothing to undo."); return; }
    chain = chain.then(() => entry.done).then(() => {
      // The similar comments saved with it are taken back too, and return to the queue.
      const group = Object.values(entry.group || {});
      return Promise.all(group.map(a => post(cfg.urls.undo, {annotation: a}).then(data => {
        saved -= 1; buffer.unshift(data.item);
      })));
    }).then(() => {
      if (!entry.annotation) return;
      return post(cfg.urls.undo, {annotation: entry.annotation}).then(data => {
        saved -= 1; $("done-count").querySelector("b").textContent = saved;
        if (current) buffer.unshift(current);
        show(data.item); selected = new Set(entry.labels); render();  // what you chose, ready to correct
        status("Undone: #" + data.item.id + " is back.");
      });
    }).catch(err => status("Undo failed: " + err.message, true));
  }
  buttons.forEach((b, i) => b.addEventListener("click", () => choose(i)));
  document.addEventListener("keydown", e => {
    if (e.ctrlKey || e.metaKey || e.altKey || /INPUT|SELECT|TEXTAREA/.test(e.target.tagName)) return;
    if (/^[1-9]$/.test(e.key)) { choose(Number(e.key) - 1); e.preventDefault(); }
    else if (e.key === "Enter" || e.key === " ") { save(); e.preventDefault(); }
    else if (e.key === "f") { findSimilar(); e.preventDefault(); }
    else if (!$("similar").hidden && (e.key === "j" || e.key === "ArrowDown")) { moveCursor(1); e.preventDefault(); }
    else if (!$("similar").hidden && (e.key === "k" || e.key === "ArrowUp")) { moveCursor(-1); e.preventDefault(); }
    else if (!$("similar").hidden && e.key === "x") { tick(false); e.preventDefault(); }
    else if (!$("similar").hidden && e.key === "a") { tick(true); e.preventDefault(); }
    else if (e.key === "Escape") { closeSimilar(); e.preventDefault(); }
    else if (e.key === "s") { skip(); e.preventDefault(); }
    else if (e.key === "u") { undo(); e.preventDefault(); }
  });
  window.annotateState = () => ({current: current && current.id, buffered: buffer.length, saved: saved,
                                 similar: similar.map(s => s.id), ticked: Array.from(ticked)});
  show(buffer.shift() || null);
})();
