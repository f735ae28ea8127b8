// The screening queue (templates/admin/screening/queue.html): a static file, as the CSP allows no inline script.
// Its data comes from the json_script block "screening-config". Keyboard first: 1-4 reasons, r release,
// e release with the selected words redacted, d remove, n note, s skip.
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("screening-config").textContent);
  const csrf = document.cookie.split("; ").find(c => c.startsWith("csrftoken="))?.split("=")[1] || "";
  const $ = id => document.getElementById(id);
  const buttons = Array.from(document.querySelectorAll(".reason-btn"));
  let buffer = cfg.items.slice(), current = null, reasons = new Set(), skipped = new Set(), decided = [];
  let count = 0, busy = false, fetching = false;
  const seen = new Set(buffer.map(i => i.id));

  function status(text, error) { const s = $("status"); s.textContent = text || ""; s.className = "status" + (error ? " error" : ""); }
  function held() { return buffer.map(i => i.id).concat(Array.from(skipped), decided, current ? [current.id] : []); }
  function render() {
    buttons.forEach(b => { b.classList.toggle("selected", reasons.has(b.dataset.name)); b.setAttribute("aria-pressed", reasons.has(b.dataset.name)); });
  }
  function show(item) {
    current = item; reasons = new Set(item ? item.reasons.filter(r => cfg.reasons.some(x => x.name === r)) : []);
    $("note").value = "";
    // An empty queue is a page state of its own, not text in the comment box.
    $("decision-area").hidden = !item; $("queue-empty").hidden = !!item;
    if (!item) {
      $("item-meta").textContent = ""; $("item-screen").textContent = ""; $("item-text").value = "";
      $("queue-empty-title").textContent = fetching ? "Loading…" : "Nothing held for you to review";
      $("queue-empty-help").hidden = fetching;
      render(); return;
    }
    const verdict = document.createElement("span");
    verdict.className = "verdict" + (item.verdict === "urgent" ? " urgent" : "");
    verdict.textContent = item.verdict === "urgent" ? "URGENT (student support told)" : "held";
    $("item-meta").replaceChildren(verdict, document.createTextNode(
      " " + [item.course + " · " + item.course_title, item.module || "no module", item.date, item.source, "#" + item.id].join(" · ")));
    $("item-text").value = item.text;
    $("item-screen").textContent = "Screen: " + (item.screen || "?") + " · reasons: " + (item.reasons.join(", ") || "none") +
      (item.score !== null && item.score !== undefined ? " · score " + item.score.toFixed(2) : "");
    render();
  }
  function addItems(items) {
    items.forEach(i => { if (!seen.has(i.id)) { buffer.push(i); seen.add(i.id); } });
    if (!current) show(buffer.shift() || null);
  }
  function refill() {
    if (fetching || buffer.length >= 2) return;
    fetching = true;
    fetch(cfg.urls.items + "?" + new URLSearchParams({exclude: held().join(",")}), {credentials: "same-origin"})
      .then(r => r.json()).then(data => addItems(data.items || [])).finally(() => { fetching = false; if (!current) show(null); });
  }
  // Character offsets as Python counts them (code points), from the textarea's UTF-16 selection.
  function codePoints(text, upto) { return Array.from(text.slice(0, upto)).length; }
  function selection() {
    const t = $("item-text"), start = t.selectionStart, end = t.selectionEnd;
    if (start === end) return null;
    return [codePoints(t.value, start), codePoints(t.value, end)];
  }
  function decide(action) {
    if (!current || busy) return;
    const span = action === "release_redacted" ? selection() : null;
    if (action === "release_redacted" && !span) { status("Select the words to redact first (Shift+arrows in the comment).", true); return; }
    if (action !== "release" && !reasons.size) { status("Say why: choose at least one reason (keys 1–" + cfg.reasons.length + ").", true); return; }
    busy = true;
    const item = current;
    const body = {feedback: item.id, action: action, reasons: Array.from(reasons), note: $("note").value, span: span,
                  exclude: held().filter(id => id !== item.id), need: Math.max(0, cfg.prefetch - buffer.length)};
    fetch(cfg.urls.decide, {method: "POST", credentials: "same-origin",
                            headers: {"Content-Type": "application/json", "X-CSRFToken": csrf}, body: JSON.stringify(body)})
      .then(r => r.json().then(data => { if (!r.ok) throw new Error(data.error || r.statusText); return data; }))
      .then(data => {
        count += 1; decided.push(item.id);
        $("done-count").querySelector("b").textContent = count;
        const waiting = $("waiting"); waiting.textContent = Math.max(0, Number(waiting.textContent) - 1);
        status(data.action + ": #" + item.id + ".");
        show(buffer.shift() || null); addItems(data.next || []); refill();
        $("item-text").focus();
      })
      .catch(err => status("Not saved: " + err.message, true))
      .finally(() => { busy = false; });
  }
  function toggle(index) {
    const r = cfg.reasons[index]; if (!r || !current) return;
    reasons.has(r.name) ? reasons.delete(r.name) : reasons.add(r.name); render();
  }
  function skip() { if (!current) return; skipped.add(current.id); show(buffer.shift() || null); refill(); }
  buttons.forEach((b, i) => b.addEventListener("click", () => toggle(i)));
  $("btn-release").addEventListener("click", () => decide("release"));
  $("btn-redact").addEventListener("click", () => decide("release_redacted"));
  $("btn-remove").addEventListener("click", () => decide("remove"));
  $("btn-skip").addEventListener("click", skip);
  document.addEventListener("keydown", e => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target.id === "note") { if (e.key === "Escape") { $("item-text").focus(); e.preventDefault(); } return; }
    // Shift+arrows select words in the comment ourselves: Chromium does not move a selection by keyboard in a
    // read-only textarea, and the comment must stay read-only.
    if (e.target.id === "item-text" && e.shiftKey && (e.key === "ArrowLeft" || e.key === "ArrowRight")) {
      const t = e.target, backward = t.selectionDirection === "backward";
      const anchor = backward ? t.selectionEnd : t.selectionStart, head = backward ? t.selectionStart : t.selectionEnd;
      const moved = Math.max(0, Math.min(t.value.length, head + (e.key === "ArrowLeft" ? -1 : 1)));
      t.setSelectionRange(Math.min(anchor, moved), Math.max(anchor, moved), moved < anchor ? "backward" : "forward");
      e.preventDefault();
      return;
    }
    if (/^[1-9]$/.test(e.key)) { toggle(Number(e.key) - 1); e.preventDefault(); }
    else if (e.key === "r") { decide("release"); e.preventDefault(); }
    else if (e.key === "e") { decide("release_redacted"); e.preventDefault(); }
    else if (e.key === "d") { decide("remove"); e.preventDefault(); }
    else if (e.key === "s") { skip(); e.preventDefault(); }
    else if (e.key === "n") { $("note").focus(); e.preventDefault(); }
  });
  window.screeningState = () => ({current: current && current.id, buffered: buffer.length, decided: count});
  show(buffer.shift() || null);
  $("item-text").focus();
})();
