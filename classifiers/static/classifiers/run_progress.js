// Live progress on a training run's admin page (templates/admin/classifiers/trainingrun/change_form.html);
// a static file, as the CSP allows no inline script.
(function () {
  const box = document.getElementById("run-progress");
  const final = ["succeeded", "failed", "cancelled"];
  function show(d) {
    const p = d.progress || {};
    document.getElementById("run-status").textContent = d.status;
    if (p.total_steps) document.getElementById("run-bar").value = 100 * p.step / p.total_steps;
    if (d.status === "succeeded") document.getElementById("run-bar").value = 100;
    const bits = [];
    if (p.phase && p.phase !== "train") bits.push(p.phase);  // small data: "choose epoch", then "refit on all rows"
    if (p.total_steps) bits.push("step " + p.step + "/" + p.total_steps);
    if (p.epoch != null) bits.push("epoch " + p.epoch);
    if (p.loss != null) bits.push("loss " + p.loss);
    if (p.eta_s != null && !final.includes(d.status)) bits.push("ETA " + Math.round(p.eta_s) + "s");
    if (d.error) bits.push(d.error);
    document.getElementById("run-detail").textContent = bits.length ? "· " + bits.join(" · ") : "";
    return final.includes(d.status);
  }
  function poll() {
    fetch(box.dataset.url, {credentials: "same-origin"}).then(r => r.json()).then(d => {
      if (show(d)) { if (!box.dataset.reloaded && d.status !== box.dataset.status) { location.reload(); } }
      else setTimeout(poll, 2000);
    }).catch(() => setTimeout(poll, 5000));
  }
  poll();
})();
