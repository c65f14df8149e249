/* Forms that survive sign-ins and sign-outs in other tabs (docs/dashboard.md,
 * "Open tabs and typed text").
 *
 * 1. The CSRF token. Every sign-in, in any tab of this browser, rotates it
 *    (docs/multi-org-sessions.md), so the token rendered into a page that was
 *    already open goes stale. At submit time every POST form takes the current
 *    one from the csrftoken cookie instead; Django accepts the cookie's
 *    unmasked secret as well as a masked token. fetch() posts put
 *    incidentio.csrfToken() in their X-CSRFToken header.
 * 2. Drafts. What is typed into the text fields of a dashboard POST form is
 *    kept in sessionStorage (this tab only) while typing, and put back, with a
 *    note and a way to discard it, when the same form is shown again as the
 *    server rendered it (empty, for most forms). Submitting marks the form's
 *    draft as sent; the page that answers decides what happens to it:
 *      - a page marked data-post-refused (the "This page expired" page, the
 *        sign-in page after the org's session ended) or any answer with an
 *        error status (403, 400 ...): nothing was saved, the draft stays and
 *        comes back in the form;
 *      - any other answer (the post/redirect/get of a saved form): the post
 *        succeeded and the draft is deleted.
 *    Drafts belong to the identity the page was rendered for (<main
 *    data-viewer>): another person signing in to the org in this tab never
 *    sees them.
 * 3. Who sent it. Every post also carries _as, that identity: a tab left open
 *    while another tab signed out and someone else signed in to the same org
 *    would otherwise post under the new person's name, now that the token is
 *    fresh. The server refuses such a post (orgs/middleware.py).
 */
(function () {
  "use strict";

  const CSRF_COOKIE = "csrftoken"; // Django's CSRF_COOKIE_NAME, which settings.py leaves as is
  const DRAFT_PREFIX = "incidentio:draft:";
  const SENT_KEY = "incidentio:draft-sent";
  const TEXT_INPUTS = new Set(["text", "search", "email", "url", "tel"]);
  const SAVE_DELAY_MS = 300;
  const POSTED_AS_FIELD = "_as"; // orgs/middleware.py's POSTED_AS_FIELD
  const main = document.querySelector("main[data-viewer]");
  const viewer = main ? main.dataset.viewer : "";

  // --- The current CSRF token --------------------------------------------------

  function cookie(name) {
    for (const part of document.cookie.split(";")) {
      const eq = part.indexOf("=");
      if (eq > -1 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
    }
    return null;
  }
  const csrfToken = () => cookie(CSRF_COOKIE);
  window.incidentio = Object.assign(window.incidentio || {}, { cookie, csrfToken });

  function refreshToken(form) {
    const token = csrfToken();
    if (!token) return; // no cookie: the server answers with its own "page expired"
    for (const input of form.querySelectorAll('input[name="csrfmiddlewaretoken"]')) input.value = token;
  }

  function markSender(form) {
    if (!viewer || !form.querySelector('input[name="csrfmiddlewaretoken"]')) return;
    let field = form.querySelector(`input[name="${POSTED_AS_FIELD}"]`);
    if (!field) {
      field = document.createElement("input");
      field.type = "hidden";
      field.name = POSTED_AS_FIELD;
      form.appendChild(field);
    }
    field.value = viewer;
  }

  // --- Storage (sessionStorage can be full or switched off: then no drafts) ----

  function read(key) {
    try {
      const raw = window.sessionStorage.getItem(key);
      return raw ? JSON.parse(raw) : null;
    } catch (error) {
      return null;
    }
  }

  function write(key, value) {
    try {
      if (value === null) window.sessionStorage.removeItem(key);
      else window.sessionStorage.setItem(key, JSON.stringify(value));
    } catch (error) {
      // Full or unavailable: typing goes on, only the safety net is missing.
    }
  }

  // --- Which forms and fields keep drafts ----------------------------------------

  // The dashboard's post forms (inside <main>); the sign-in pages' only text is an e-mail address.
  function keepsDrafts(form) {
    return form instanceof HTMLFormElement && form.method === "post" && form.closest("main") !== null &&
      !form.closest("[data-no-draft]") && textFields(form).length > 0;
  }

  function textFields(form) {
    return Array.from(form.elements).filter((field) =>
      field.name && !field.disabled && !field.readOnly && !field.hasAttribute("data-no-draft") &&
      (field instanceof HTMLTextAreaElement || (field instanceof HTMLInputElement && TEXT_INPUTS.has(field.type))));
  }

  // The same form has the same key wherever it is shown (the incident page, its
  // own page, a form loaded on demand): its action, and its rank among the
  // page's forms with that action.
  function draftKey(form) {
    const action = new URL(form.getAttribute("action") || "", window.location.href).pathname;
    const same = Array.from(document.forms).filter(
      (other) => new URL(other.getAttribute("action") || "", window.location.href).pathname === action);
    return `${DRAFT_PREFIX}${viewer}:${action}#${Math.max(0, same.indexOf(form))}`;
  }

  // --- Saving while typing -------------------------------------------------------

  const timers = new WeakMap();

  function save(form) {
    clearTimeout(timers.get(form));
    const values = {};
    const base = {};
    let changed = false;
    for (const field of textFields(form)) {
      values[field.name] = field.value;
      base[field.name] = field.defaultValue;
      if (field.value !== field.defaultValue) changed = true;
    }
    // Back to what the server rendered: nothing to keep.
    write(draftKey(form), changed ? { values, base } : null);
  }

  document.addEventListener("input", (event) => {
    const form = event.target.form;
    if (!keepsDrafts(form)) return;
    clearTimeout(timers.get(form));
    timers.set(form, setTimeout(() => save(form), SAVE_DELAY_MS));
  });

  // Leaving the page before the delay is over still keeps the last keystrokes.
  window.addEventListener("pagehide", () => {
    for (const form of document.forms) if (keepsDrafts(form)) save(form);
  });

  // Bubbling to the document: a handler on the form that cancels the submit has run already.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (event.defaultPrevented || !(form instanceof HTMLFormElement) || form.method !== "post") return;
    refreshToken(form);
    markSender(form);
    if (keepsDrafts(form)) {
      save(form);
      write(SENT_KEY, { key: draftKey(form) });
    }
  });

  // --- The answer to a sent form ---------------------------------------------------

  function answerStatus() {
    const [navigation] = performance.getEntriesByType("navigation");
    return (navigation && navigation.responseStatus) || 200; // 0 or missing: an older browser, or from the cache
  }

  function settleSentForm() {
    const sent = read(SENT_KEY);
    if (!sent) return;
    write(SENT_KEY, null);
    const refused = document.querySelector("[data-post-refused]");
    if (refused) {
      if (read(sent.key)) showKept(refused);
      return;
    }
    if (answerStatus() >= 400) return; // not saved: the draft comes back in the form
    write(sent.key, null);
  }

  // A refused post's page says the text is not lost.
  function showKept(refused) {
    let note = document.querySelector("[data-draft-kept]");
    if (!note) {
      note = document.createElement("p");
      note.setAttribute("data-draft-kept", "");
      refused.after(note);
    }
    note.classList.add("draft-note");
    note.setAttribute("role", "status");
    note.dataset.testid = "draft-kept";
    note.textContent = "Your text is kept in this tab: the form will have it again, ready to send.";
    note.hidden = false;
  }

  // --- Putting a draft back ----------------------------------------------------------

  function restore(form) {
    if (!keepsDrafts(form) || form.dataset.draftChecked) return;
    form.dataset.draftChecked = "1";
    const key = draftKey(form);
    const draft = read(key);
    if (!draft || !draft.values) return;
    const fields = textFields(form);
    // Only into a form shown as the server rendered it: text already there
    // (typed, or put back by the browser) is never replaced.
    if (fields.some((field) => field.value !== field.defaultValue)) return;
    const targets = fields.filter((field) => typeof draft.values[field.name] === "string" &&
      draft.values[field.name] !== field.value);
    if (targets.length === 0) {
      write(key, null);
      return;
    }
    for (const field of targets) setValue(field, draft.values[field.name]);
    // Someone saved this text since the draft began: say so, Discard shows theirs.
    const moved = targets.some((field) => draft.base && typeof draft.base[field.name] === "string" &&
      draft.base[field.name] !== field.defaultValue);
    form.prepend(restoredNote(form, targets, moved));
  }

  function restoredNote(form, fields, moved) {
    const note = document.createElement("p");
    note.className = "draft-note";
    note.setAttribute("role", "status");
    note.dataset.testid = "draft-restored";
    note.append(moved
      ? "Restored the text you had not sent. The saved text has changed since; Discard shows it. "
      : "Restored the text you had not sent. ");
    const discard = document.createElement("button");
    discard.type = "button";
    discard.className = "link-button";
    discard.textContent = "Discard";
    discard.addEventListener("click", () => {
      for (const field of fields) setValue(field, field.defaultValue);
      write(draftKey(form), null);
      note.remove();
      if (fields[0]) fields[0].focus();
    });
    note.append(discard);
    return note;
  }

  // Editors built on a field (static/js/postmortem_editor.js) listen for this to show the new value.
  function setValue(field, value) {
    field.value = value;
    field.dispatchEvent(new CustomEvent("incidentio:value-set", { bubbles: true }));
  }

  settleSentForm();
  for (const form of document.forms) restore(form);
  // Forms that arrive later (the incident page's forms loaded on demand).
  new MutationObserver((mutations) => {
    for (const mutation of mutations) {
      for (const node of mutation.addedNodes) {
        if (!(node instanceof Element)) continue;
        if (node instanceof HTMLFormElement) restore(node);
        else node.querySelectorAll("form").forEach(restore);
      }
    }
  }).observe(document.body, { childList: true, subtree: true });
})();
