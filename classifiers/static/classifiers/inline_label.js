// Inline label edit in the items list: changing a row's select saves that one label (same endpoint as
// the annotate view) and says so next to it.
document.addEventListener("change", function (event) {
  const select = event.target;
  if (!select.classList || !select.classList.contains("inline-label") || !select.value) return;
  const csrf = (document.cookie.split("; ").find(c => c.startsWith("csrftoken=")) || "=").split("=")[1];
  const note = select.nextElementSibling || select.parentNode.appendChild(document.createElement("span"));
  fetch(select.dataset.url, {
    method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
    body: JSON.stringify({feedback: Number(select.dataset.feedback), labels: [Number(select.value)], need: 0}),
  }).then(r => r.json().then(d => { note.textContent = r.ok ? " ✓ saved" : " ✗ " + d.error; }));
});
