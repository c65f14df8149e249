// Live pages (docs/dashboard.md, "Live pages"): the incident page and the
// incidents list show what changed — from Slack, the API or another person —
// without a reload. Every few seconds this asks for the page's own URL again
// with the version it was rendered at (If-None-Match). The server answers 304
// while nothing changed, or the page itself, rendered as for a reload; the
// elements marked data-live-region="name" are then taken from it.
//
// What the reader is doing wins: a region holding the focused element, text
// they selected, or a form control whose value differs from what the server
// sent (text being typed, a select changed but not saved), is left alone
// until they are done; the new one waits and goes in at the next tick after.
// Open <details> stay open. Polling pauses while the tab is hidden, slows down after errors, and
// stops for good when the session has ended (a redirect to sign-in, a 403) or
// the page is gone (404).
(function () {
  "use strict";

  const script = document.currentScript;
  if (!script || !script.dataset.liveVersion) return;
  const INTERVAL = Number(script.dataset.liveInterval) || 5000;
  const MAX_DELAY = 5 * 60 * 1000;
  const STOP_STATUSES = new Set([401, 403, 404, 410]);

  let version = script.dataset.liveVersion;
  let delay = INTERVAL;
  let timer = null;
  let polling = false;
  let stopped = false;
  // Region name → the server's newer element, waiting for the reader to finish with the old one.
  const pending = new Map();

  function regionNamed(root, name) {
    return root.querySelector(`[data-live-region="${CSS.escape(name)}"]`);
  }

  function selectChanged(select) {
    const options = Array.from(select.options);
    if (select.multiple || select.size > 1) return options.some((option) => option.selected !== option.defaultSelected);
    // A single select shows its last selected="" option, or without one its first.
    let initial = 0;
    options.forEach((option, index) => {
      if (option.defaultSelected) initial = index;
    });
    return options.length > 0 && select.selectedIndex !== initial;
  }

  function controlChanged(control) {
    if (control instanceof HTMLSelectElement) return selectChanged(control);
    if (control instanceof HTMLInputElement && (control.type === "checkbox" || control.type === "radio")) {
      return control.checked !== control.defaultChecked;
    }
    return control.value !== control.defaultValue;
  }

  // The reader is using the region: leave it as it is.
  function inUse(region) {
    const active = document.activeElement;
    if (active && active !== document.body && region.contains(active)) return true;
    // Text selected in it (to copy a timeline entry, say) would be lost.
    const selection = document.getSelection();
    if (selection && !selection.isCollapsed && region.contains(selection.anchorNode)) return true;
    // A refused form shown with its errors and the text that was sent (post/redirect/get):
    // the poll's render has neither, so it would take both away.
    if (region.querySelector('[aria-invalid="true"]')) return true;
    return Array.from(region.querySelectorAll("input, textarea, select")).some(controlChanged);
  }

  function detailsKey(details) {
    const summary = details.querySelector(":scope > summary");
    return details.id || (summary ? summary.textContent.trim() : "");
  }

  // Opened <details> in the old region are opened in the new one: matched by
  // id, else by their summary's text (the n-th of that text to the n-th).
  function keepOpen(from, to) {
    const open = new Map();
    for (const details of from.querySelectorAll("details")) {
      const key = detailsKey(details);
      const list = open.get(key) || [];
      list.push(details.open);
      open.set(key, list);
    }
    const seen = new Map();
    for (const details of to.querySelectorAll("details")) {
      const key = detailsKey(details);
      const index = seen.get(key) || 0;
      seen.set(key, index + 1);
      if ((open.get(key) || [])[index]) details.open = true;
    }
  }

  function apply() {
    for (const [name, fresh] of pending) {
      const current = regionNamed(document, name);
      if (!current) {
        pending.delete(name);
        continue;
      }
      if (inUse(current)) continue;
      pending.delete(name);
      if (current.outerHTML === fresh.outerHTML) continue;
      const replacement = document.importNode(fresh, true);
      keepOpen(current, replacement);
      current.replaceWith(replacement);
    }
  }

  function schedule(after) {
    clearTimeout(timer);
    timer = stopped ? null : setTimeout(poll, after);
  }

  function stop() {
    stopped = true;
    clearTimeout(timer);
    timer = null;
    pending.clear();
    script.dataset.liveState = "stopped";
  }

  function backOff() {
    delay = Math.min(delay * 2, MAX_DELAY);
    schedule(delay);
  }

  async function poll() {
    timer = null;
    if (stopped || polling || document.hidden) return; // hidden: visibilitychange starts it again
    polling = true;
    try {
      const response = await fetch(location.href, {
        headers: { "X-Live-Poll": "1", "If-None-Match": `"${version}"` },
        credentials: "same-origin",
        cache: "no-store",
        redirect: "manual", // a redirect is the sign-in page: the session ended
      });
      if (response.type === "opaqueredirect" || STOP_STATUSES.has(response.status)) {
        stop();
        return;
      }
      if (response.status !== 304) {
        if (!response.ok) {
          backOff();
          return;
        }
        const page = new DOMParser().parseFromString(await response.text(), "text/html");
        for (const region of page.querySelectorAll("[data-live-region]")) {
          pending.set(region.dataset.liveRegion, region);
        }
        if (page.title) document.title = page.title; // a renamed incident
        const etag = response.headers.get("ETag");
        if (etag) version = etag.replace(/^W\//, "").replace(/"/g, "");
      }
      apply();
      delay = INTERVAL;
      schedule(delay);
    } catch (error) {
      backOff(); // the network, or a page that would not parse
    } finally {
      polling = false;
    }
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden || stopped) return;
    clearTimeout(timer);
    poll();
  });
  // Done with a region (left a field, cleared it): what waited for it goes in now.
  document.addEventListener("focusout", () => {
    if (pending.size) setTimeout(apply, 0);
  });

  schedule(delay);
})();
