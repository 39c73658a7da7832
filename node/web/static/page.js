// Nicer, not needed: keep the scan field focused so a scan gun always types into it.
document.addEventListener("DOMContentLoaded", () => {
  const field = document.getElementById("token");
  if (field && document.getElementById("scan-form") && !location.hash) {
    field.focus();
  }
  watchPresentationRequest();
  readResponseCode();
});

const FINAL = ["answered", "failed", "expired"];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The clerk page's OpenID4VP request: long-poll its status (the server answers as soon as the
// request ends, or after 25 s) and show the fragment in the live region, without a reload.
async function watchPresentationRequest() {
  const box = document.getElementById("oid4vp-status");
  if (!box || !box.dataset.statusUrl) {
    return;
  }
  let backoff = 0;
  for (;;) {
    const shown = box.querySelector("[data-state]");
    if (!shown || FINAL.includes(shown.dataset.state)) {
      return;
    }
    const started = Date.now();
    try {
      const r = await fetch(box.dataset.statusUrl + "?wait=25", {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "text/html" },
      });
      if (r.status === 401 || r.status === 404) {
        return; // signed out, or not this clerk's request: the refresh link still works
      }
      if (!r.ok) {
        throw new Error("status " + r.status);
      }
      const html = await r.text();
      if (html !== box.innerHTML) {
        box.innerHTML = html;
      }
      backoff = 0;
      if (Date.now() - started < 1000) {
        await sleep(1000); // answered at once yet still pending: never spin
      }
    } catch (e) {
      backoff = Math.min(backoff ? backoff * 2 : 1000, 15000);
      await sleep(backoff);
    }
  }
}

// The same-device result page: the wallet sends the browser back with the response code in
// the fragment (never sent to a server); move it to the query so the node can show the result.
function readResponseCode() {
  const done = document.getElementById("oid4vp-done");
  if (!done || !done.dataset.needCode) {
    return;
  }
  const code = new URLSearchParams(location.hash.slice(1)).get("response_code");
  if (code) {
    location.replace(location.pathname + "?response_code=" + encodeURIComponent(code));
  }
}
