// thermal-anomaly web page: drag-and-drop uploads (one request per file, in order, with progress),
// the new-asset form, and the model state while it fits. The browser is signed in by a cookie.
"use strict";
const TA = (() => {
  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  function upload(url, file, onProgress) {
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
      xhr.onload = () => {
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = { detail: xhr.statusText || "no answer" }; }
        resolve({ status: xhr.status, body });
      };
      xhr.onerror = () => resolve({ status: 0, body: { detail: "network error: the server did not answer" } });
      const form = new FormData();
      form.append("file", file);
      xhr.send(form);
    });
  }

  function dropZone(zone, list, kind) {
    if (!zone) return;
    const input = zone.querySelector("input[type=file]");
    const max = Number(zone.dataset.max || 0);
    ["dragenter", "dragover"].forEach((ev) => zone.addEventListener(ev, (e) => { e.preventDefault(); zone.classList.add("over"); }));
    ["dragleave", "drop"].forEach((ev) => zone.addEventListener(ev, (e) => { e.preventDefault(); zone.classList.remove("over"); }));
    zone.addEventListener("drop", (e) => run([...e.dataTransfer.files]));
    input.addEventListener("change", () => { run([...input.files]); input.value = ""; });

    async function run(files) {
      if (!files.length) return;
      const box = document.createElement("div");
      box.className = "batch-run";
      list.prepend(box);  // the newest batch on top, each with its own rows
      const total = document.createElement("div");
      total.className = "total";
      box.append(total);
      const rows = files.map((f) => {
        const row = document.createElement("div");
        row.className = "item";
        row.innerHTML = `<span>${esc(f.name)}</span><progress max="1" value="0"></progress><span class="status muted">waiting</span>`;
        box.append(row);
        return row;
      });
      let ok = 0, failed = 0;
      const show = () => { total.textContent = `${ok + failed} of ${files.length} done: ${ok} stored, ${failed} refused`; };
      show();
      for (let i = 0; i < files.length; i++) {
        const f = files[i], row = rows[i];
        const bar = row.querySelector("progress"), status = row.querySelector(".status");
        if (max && f.size > max) {
          failed++; status.className = "status error"; status.textContent = `too large (${(f.size / 1e6).toFixed(1)} MB)`; show(); continue;
        }
        status.textContent = "uploading";
        const res = await upload(zone.dataset.url, f, (p) => {
          bar.value = p * 0.5;
          if (p >= 1) status.textContent = kind === "inspection" ? "analysing" : "storing";
        });
        bar.value = 1;
        if (res.status === 201) {
          ok++;
          if (kind === "inspection") {
            const b = res.body;
            addInspectionRow(b);
            status.className = "status";
            status.innerHTML = `<a href="/inspections/${b.id}">#${b.id}</a> <span class="sev sev${sevClass(b.worst_severity)}">${esc(b.worst_severity)}</span>` +
              (b.note ? ' <span class="note" title="' + esc(b.note) + '">fallback model</span>' : "");
          } else {
            status.className = "status"; status.textContent = "stored; the model refits";
            const state = document.getElementById("model-state");
            if (state && state.dataset.status !== "fitting") { state.dataset.status = "fitting"; setModelState(state, { status: "fitting" }); watchModel(state); }
          }
        } else {
          failed++; status.className = "status error"; status.textContent = `${res.status || "error"}: ${res.body.detail}`;
        }
        show();
      }
      const plot = document.querySelector("img.plot");
      if (plot && ok) plot.src = plot.src.split("?")[0] + "?t=" + Date.now();
    }
  }

  function fmt(v, unit) {
    if (v === null || v === undefined) return "–";
    return v.toFixed(1) + (unit === "C" ? " °C" : " (rel.)");
  }

  // the new inspection on top of the history table, as the server renders it
  function addInspectionRow(b) {
    const body = document.querySelector("#inspections tbody");
    if (!body) return;
    const empty = body.querySelector("td[colspan]");
    if (empty) empty.parentElement.remove();
    const unit = (b.temperature || {}).unit;
    const tr = document.createElement("tr");
    tr.className = "new";
    tr.innerHTML = `<td><a href="/inspections/${b.id}">${b.id}</a></td><td>${esc((b.created || "").replace("T", " ").replace("Z", ""))}</td>` +
      `<td>${esc(b.image)}</td><td><span class="sev sev${sevClass(b.worst_severity)}">${esc(b.worst_severity)}</span>` +
      (b.note ? ' <span class="note" title="' + esc(b.note) + '">fallback model</span>' : "") + "</td>" +
      `<td>${fmt(b.hottest_delta_t, unit)}</td><td>${b.score.toFixed(2)}${b.is_anomalous ? " <b>flagged</b>" : ""}</td><td>${(b.findings || []).length}</td>`;
    body.prepend(tr);
  }

  function setModelState(el, m) {
    const span = el.querySelector(".state");
    span.className = `state state-${m.status}`;
    span.textContent = m.status;
    const extra = el.querySelector(".muted");
    if (extra) extra.textContent = m.status === "ready" ? `fitted on ${m.n_baselines} baselines + ${m.n_fleet} fleet normals` : (m.reason ? `(${m.reason})` : "");
  }

  function sevClass(s) {
    s = String(s || "none").replace("relative: ", "");
    return { "possible deficiency": 1, "probable deficiency": 2, deficiency: 3, major: 4 }[s] || 0;
  }

  // while the asset's model fits, ask every 2 s and show the state in place
  function watchModel(el) {
    if (!el || el.dataset.status !== "fitting" || el.dataset.watching) return;
    el.dataset.watching = "1";
    const tick = async () => {
      try {
        const r = await fetch(`/api/v1/assets/${encodeURIComponent(el.dataset.asset)}`);
        const a = await r.json();
        if (a.model && a.model.status !== "fitting") {
          el.dataset.status = a.model.status; delete el.dataset.watching; setModelState(el, a.model); return;
        }
      } catch (e) { /* try again */ }
      setTimeout(tick, 2000);
    };
    setTimeout(tick, 2000);
  }

  function newAssetForm(form) {
    if (!form) return;
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const name = form.elements.name.value.trim();
      const r = await fetch("/api/v1/assets", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name }) });
      const body = await r.json().catch(() => ({ detail: r.statusText }));
      if (r.status === 201) location.href = `/assets/${encodeURIComponent(name)}`;
      else document.getElementById("new-asset-error").textContent = body.detail;
    });
  }

  return { dropZone, watchModel, newAssetForm };
})();
