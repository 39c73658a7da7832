// The "scan to present" view's camera: the back camera (getUserMedia) into a <video>, each frame
// drawn to a canvas and read by jsQR (vendor/jsQR.js, served by the wallet itself). An
// openid4vp:// (or haip-vp://) link fills the link field and submits the form; the camera stops
// when a link is found, on "stop" and when the page is left. Without a camera (or without this
// script) the link field still works.
"use strict";

(function () {
  const LINK = /^(openid4vp|haip-vp|haip|eudi-openid4vp|mdoc-openid4vp):\/\//i;
  const EVERY_MS = 150;

  function setup() {
    const box = document.getElementById("scanner");
    const form = document.getElementById("present-form");
    const field = document.getElementById("present-link");
    if (!box || !form || !field) { return; }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia ||
        typeof window.jsQR !== "function") {
      return;  // no camera here (plain http on another host, an old browser): the field stays
    }
    const start = document.getElementById("scan-start");
    const stop = document.getElementById("scan-stop");
    const video = document.getElementById("scan-video");
    const canvas = document.getElementById("scan-canvas");
    const status = document.getElementById("scan-status");
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    let stream = null;
    let timer = null;
    let done = false;

    const say = (key) => { status.textContent = box.dataset[key] || ""; };

    const halt = () => {
      window.clearTimeout(timer);
      timer = null;
      if (stream) {
        for (const track of stream.getTracks()) { track.stop(); }
        stream = null;
      }
      video.srcObject = null;
      video.hidden = true;
      stop.hidden = true;
      start.hidden = false;
    };

    const found = (text) => {
      done = true;
      halt();
      field.value = text;
      say("found");
      box.dataset.result = "found";
      if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
    };

    const look = () => {
      timer = null;
      if (!stream || done) { return; }
      if (video.readyState >= video.HAVE_CURRENT_DATA && video.videoWidth > 0) {
        // at most 800 px on the long side: enough for a version-10 code, quick on a phone
        const scale = Math.min(1, 800 / Math.max(video.videoWidth, video.videoHeight));
        const w = Math.round(video.videoWidth * scale);
        const h = Math.round(video.videoHeight * scale);
        if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
        ctx.drawImage(video, 0, 0, w, h);
        const image = ctx.getImageData(0, 0, w, h);
        const code = window.jsQR(image.data, w, h, { inversionAttempts: "dontInvert" });
        if (code && code.data) {
          if (LINK.test(code.data.trim())) { found(code.data.trim()); return; }
          say("other");
        }
      }
      timer = window.setTimeout(look, EVERY_MS);
    };

    start.addEventListener("click", () => {
      done = false;
      say("starting");
      navigator.mediaDevices.getUserMedia({
        video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 } },
        audio: false,
      }).then((s) => {
        stream = s;
        video.srcObject = s;
        video.hidden = false;
        start.hidden = true;
        stop.hidden = false;
        stop.focus();
        say("scanning");
        box.dataset.result = "scanning";
        return video.play();
      }).then(() => { look(); })
        .catch(() => {
          halt();
          say("denied");
          box.dataset.result = "denied";
        });
    });
    stop.addEventListener("click", () => {
      halt();
      say("stopped");
      start.focus();
    });
    window.addEventListener("pagehide", halt);
    document.addEventListener("visibilitychange", () => {
      if (document.hidden && stream) { halt(); say("stopped"); }
    });
    box.hidden = false;
  }

  document.addEventListener("DOMContentLoaded", setup);
}());
