// The wallet page's script: upload with a progress bar, the suggested folder, and the QR code's
// countdown and refresh. Everything also works without it (plain form posts).
"use strict";

function byId(id) { return document.getElementById(id); }

function setupUpload() {
  const form = byId("file-form");
  if (!form) { return; }
  const input = byId("file-input");
  const bar = byId("upload-progress");
  const percent = byId("upload-percent");
  const suggestion = byId("folder-suggestion");
  const result = byId("upload-result");
  const zh = document.documentElement.lang.startsWith("zh");

  input.addEventListener("change", () => {
    const file = input.files[0];
    suggestion.textContent = "";
    if (!file) { return; }
    fetch("/v1/folders/suggest?name=" + encodeURIComponent(file.name))
      .then((r) => r.json())
      .then((f) => {
        suggestion.textContent = suggestion.dataset.label + " " + (zh ? f.zh : f.en);
        suggestion.dataset.code = f.code;
      })
      .catch(() => {});
  });

  const show = (value) => {
    bar.value = value;
    bar.dataset.steps = String(Number(bar.dataset.steps) + 1);
    percent.textContent = value + " %";
  };

  form.addEventListener("submit", (event) => {
    if (!input.files.length) { return; }
    event.preventDefault();
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.responseType = "json";
    show(0);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) { show(Math.floor((e.loaded / e.total) * 100)); }
    };
    xhr.upload.onload = () => { show(100); };
    xhr.onload = () => {
      const body = xhr.response || {};
      result.replaceChildren();
      const p = document.createElement("p");
      if (xhr.status === 200 || xhr.status === 201) {
        show(100);
        const m = body.material;
        const states = JSON.parse(result.dataset.states);
        p.className = "flash ok";
        p.id = "upload-done";
        p.textContent = m.name + " · " + result.dataset.filed + " " +
          (zh ? m.folder.zh : m.folder.en) + " · " + (states[m.state] || m.state);
        result.append(p);
        window.setTimeout(() => { window.location.assign(body.next); }, 1200);
      } else {
        p.className = "flash bad";
        p.setAttribute("role", "alert");
        p.id = "upload-error";
        p.textContent = body.message || String(xhr.status);
        result.append(p);
      }
    };
    xhr.onerror = () => {
      result.textContent = String(xhr.status || "network error");
    };
    xhr.send(new FormData(form));
  });
}

function setupQr() {
  const form = byId("qr-form");
  const target = byId("qr-result");
  if (!form || !target) { return; }
  let data = null;
  let timer = null;
  let refreshing = false;

  const load = () => {
    fetch(form.action, {
      method: "POST",
      body: data,
      headers: { "X-Requested-With": "fetch" },
      credentials: "same-origin",
    })
      .then((r) => {
        if ((r.headers.get("content-type") || "").includes("json")) {
          // refused (signed out, form expired): say so, stop refreshing
          return r.json().then((body) => {
            const p = document.createElement("p");
            p.className = "flash bad";
            p.setAttribute("role", "alert");
            p.textContent = body.message || String(r.status);
            target.replaceChildren(p);
          });
        }
        return r.text().then((html) => {
          target.innerHTML = html;  // our own server-rendered, escaped fragment
          const box = byId("qr-box");
          if (box && !refreshing) { box.scrollIntoView({ block: "start" }); }
          refreshing = false;
          tick();
        });
      })
      .catch(() => {});
  };

  const tick = () => {
    window.clearTimeout(timer);
    const box = byId("qr-box");
    const countdown = byId("qr-countdown");
    if (!box || !countdown) { return; }
    const skew = Number(box.dataset.now) - Date.now() / 1000;
    const step = () => {
      const left = Math.round(Number(box.dataset.expiresAt) - (Date.now() / 1000 + skew));
      if (left <= 15 && data) {
        countdown.textContent = countdown.dataset.refreshing;
        refreshing = true;
        load();
        return;
      }
      countdown.textContent = Math.max(0, left) + " " + countdown.dataset.label;
      timer = window.setTimeout(step, 1000);
    };
    step();
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    data = new FormData(form);
    load();
  });
  if (byId("qr-box")) {
    // rendered by a plain form post: refresh it with the same choices
    data = new FormData(form);
    tick();
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setupUpload();
  setupQr();
});
