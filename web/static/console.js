// byok-vault console: copy buttons and live progress, in plain fetch() (no build, no CDN).
"use strict";

function copyText(text, button) {
  const done = () => {
    button.textContent = "Copied";
    button.classList.add("done");
    setTimeout(() => { button.textContent = "Copy"; button.classList.remove("done"); }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => fallbackCopy(text) && done());
  } else if (fallbackCopy(text)) {
    done();
  }
}

function fallbackCopy(text) {
  // Plain-HTTP deployments have no Clipboard API; a hidden textarea still works there.
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "absolute";
  area.style.left = "-9999px";
  document.body.appendChild(area);
  area.select();
  let ok = false;
  try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
  document.body.removeChild(area);
  return ok;
}

function startPolling(panel) {
  const url = panel.dataset.pollUrl;
  const doneUrl = panel.dataset.doneUrl;
  let timer = null;
  async function tick() {
    try {
      const resp = await fetch(url, { credentials: "same-origin",
                                      headers: { "X-Console-Poll": "1" } });
      if (resp.status === 401) { window.location.assign("/signin"); return; }
      if (resp.ok) {
        panel.innerHTML = await resp.text();
        const state = resp.headers.get("X-Wallet-State");
        if (state === "Enabled") {
          // Once enabled the page shows only the summary: load it (a GET, never a re-POST).
          setTimeout(() => window.location.assign(doneUrl), 1200);
          return;
        }
        if (state === "Error" || state === "NotConfigured") { return; }
      }
    } catch (e) {
      // A network blip: keep polling.
    }
    timer = setTimeout(tick, 1000);
  }
  const initial = panel.querySelector(".progress");
  const state = initial ? initial.dataset.state : "";
  if (state !== "Enabled" && state !== "Error") { timer = setTimeout(tick, 1000); }
  return () => clearTimeout(timer);
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) { return; }
  const source = document.getElementById(button.dataset.copy);
  if (source) { copyText(source.textContent.trim(), button); }
});

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-poll-url]").forEach(startPolling);
});
