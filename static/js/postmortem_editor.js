// The post-mortem editor (templates/incidents/postmortem.html, docs/incidents.md):
// EasyMDE (static/vendor/easymde/) on the markdown textarea, and beside it a live
// preview that is the server's own rendering of the text: POSTed to the page's
// data-preview-url (incidentio/common/markdown.py, sanitised) once typing
// pauses. EasyMDE's in-browser preview (marked) is never used, so what the
// preview shows is what the incident page will show. Without scripts the page
// is the plain textarea and its Preview button.
(function () {
  "use strict";

  const PREVIEW_DELAY_MS = 400;

  const form = document.querySelector("form[data-postmortem-editor]");
  const preview = document.querySelector("[data-postmortem-preview]");
  if (!form || !preview || typeof window.EasyMDE !== "function") return;
  const EasyMDE = window.EasyMDE;
  const textarea = form.querySelector("textarea[name=content]");
  const state = document.querySelector("[data-preview-state]");

  // Text labels: the stock icons are a Font Awesome font from a CDN, which the CSP (rightly) refuses.
  // Each title (the button's accessible name) starts with or contains its visible text (axe's label-content-name-mismatch).
  const button = (name, action, text, title) => ({ name, action, text, title, className: "pm-tool" });
  const editor = new EasyMDE({
    element: textarea,
    toolbarButtonClassPrefix: "mde", // "mde-table", not the app's own .table class
    autoDownloadFontAwesome: false,
    spellChecker: false, // its dictionaries come from a CDN
    nativeSpellcheck: true, // the browser's own, where EasyMDE edits through contenteditable (phones)
    forceSync: true, // the textarea always holds the text: Save posts it, drafts keep it
    status: false,
    minHeight: "24rem",
    previewRender: () => preview.innerHTML, // the server's rendering, never marked's
    shortcuts: { togglePreview: null, toggleSideBySide: null, toggleFullScreen: null, drawImage: null },
    toolbar: [
      button("bold", EasyMDE.toggleBold, "B", "Bold"),
      button("italic", EasyMDE.toggleItalic, "I", "Italic"),
      button("heading", EasyMDE.toggleHeadingSmaller, "H", "Heading"),
      "|",
      button("quote", EasyMDE.toggleBlockquote, "Quote", "Quote"),
      button("unordered-list", EasyMDE.toggleUnorderedList, "• List", "Bulleted list"),
      button("ordered-list", EasyMDE.toggleOrderedList, "Numbered", "Numbered list"),
      "|",
      button("code", EasyMDE.toggleCodeBlock, "Code", "Code"),
      button("link", EasyMDE.drawLink, "Link", "Link"),
      button("table", EasyMDE.drawTable, "Table", "Table"),
    ],
  });
  const input = editor.codemirror.getInputField();
  input.setAttribute("aria-labelledby", textarea.getAttribute("aria-labelledby") || "");

  // With the live preview, the Preview button's round trip is not needed.
  for (const element of form.querySelectorAll("[data-preview-button]")) element.hidden = true;

  function say(text) {
    if (!state) return;
    state.textContent = text;
    state.hidden = !text;
  }

  let timer = null;
  let inFlight = null;

  async function refresh() {
    if (inFlight) inFlight.abort();
    const controller = new AbortController();
    inFlight = controller;
    const body = new FormData();
    body.append("content", editor.value());
    try {
      const response = await fetch(form.dataset.previewUrl, {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: { "X-CSRFToken": (window.incidentio && window.incidentio.csrfToken()) || "" },
        redirect: "error", // a redirect means the session ended
        signal: controller.signal,
      });
      if (response.ok) {
        preview.innerHTML = await response.text(); // the server's sanitised HTML
        say(editor.value() === textarea.defaultValue ? "" : "Preview of unsaved changes.");
      } else if (response.status === 400) {
        say(`No preview: ${await response.text()}`);
      } else {
        say("No preview: this page has expired. Your text is still here; reload the page to preview it.");
      }
    } catch (error) {
      if (error.name === "AbortError") return; // a newer preview is on its way
      say("No preview: the server could not be reached, or this tab was signed out. Your text is still here.");
    } finally {
      if (inFlight === controller) inFlight = null;
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, PREVIEW_DELAY_MS);
  }

  editor.codemirror.on("change", () => {
    // The textarea was just synced (forceSync); tell static/js/forms.js, which keeps the draft.
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
    schedule();
  });

  // static/js/forms.js discarded a restored draft: show the saved text again.
  textarea.addEventListener("incidentio:value-set", () => {
    if (editor.value() !== textarea.value) editor.value(textarea.value);
  });

  // A restored draft differs from what the server rendered: preview it now.
  if (textarea.value !== textarea.defaultValue) refresh();
})();
