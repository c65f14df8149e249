// The incident page's less-used forms load when their <details> opens
// (incidentio/incidents/views/on_demand_forms.py): the server renders the form, this
// puts it in place. Until it arrives, and whenever it cannot (no network, a
// lost session), the link inside opens the same form on a page of its own.
(function () {
  "use strict";

  async function load(details) {
    if (details.dataset.formState) return; // loading or loaded
    details.dataset.formState = "loading";
    const slot = details.querySelector("[data-form-slot]");
    try {
      const response = await fetch(details.dataset.formUrl, {
        headers: { "X-Fragment": "form" },
        credentials: "same-origin",
        redirect: "error", // a redirect means the session ended: keep the link
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      slot.innerHTML = await response.text(); // the server's own, escaped HTML
      details.dataset.formState = "loaded";
      // Take the focus only if the reader has not moved on (typing in another form meanwhile).
      const active = document.activeElement;
      const first = slot.querySelector("input:not([type=hidden]), textarea, select");
      if (first && details.open && (!active || active === document.body || details.contains(active))) first.focus();
    } catch (error) {
      delete details.dataset.formState; // opening it again tries again
    }
  }

  // Opened before this deferred script ran: load those now.
  document.querySelectorAll("details[data-form-url][open]").forEach(load);

  // "toggle" does not bubble; a listener in the capture phase sees every one.
  document.addEventListener("toggle", (event) => {
    const details = event.target;
    if (details instanceof HTMLDetailsElement && details.open && details.dataset.formUrl) load(details);
  }, true);
})();
