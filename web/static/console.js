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

// Panels report their state in a header: X-Wallet-State (enablement: Enabled / Error) or
// X-Progress-State (upgrade, restore: running / done / failed). Done loads the page named
// by data-done-url if there is one; done or failed stops polling.
const DONE = ["Enabled", "done"];
const STOPPED = ["Error", "NotConfigured", "failed"];

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
        const state = resp.headers.get("X-Progress-State") || resp.headers.get("X-Wallet-State");
        if (DONE.includes(state)) {
          // A GET of the finished page, never a re-POST of the form that started it.
          if (doneUrl) { setTimeout(() => window.location.assign(doneUrl), 1200); }
          return;
        }
        if (STOPPED.includes(state)) { return; }
      }
    } catch (e) {
      // A network blip: keep polling.
    }
    timer = setTimeout(tick, 1000);
  }
  const initial = panel.querySelector(".progress");
  const state = initial ? (initial.dataset.progress || initial.dataset.state) : "";
  if (!DONE.includes(state) && !STOPPED.includes(state)) { timer = setTimeout(tick, 1000); }
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
