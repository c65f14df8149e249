/* Copy buttons: <button data-copy="ID"> copies the text of the element with id ID
   (a URL or the Slack app manifest, templates/slackbot/settings.html) and says
   so on the button for a moment. The text stays selectable by hand too. */
(() => {
  "use strict";

  const SAID_FOR_MS = 2000;

  // Selecting the text and copying it: for plain-http pages, where the
  // Clipboard API is not offered.
  function copyBySelection(element) {
    const range = document.createRange();
    range.selectNodeContents(element);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    const copied = document.execCommand("copy");
    selection.removeAllRanges();
    return copied;
  }

  async function copy(element) {
    const text = element.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        return true;
      } catch (error) {
        // Refused (no permission): fall back to the selection.
      }
    }
    return copyBySelection(element);
  }

  function say(button, words) {
    const original = button.dataset.label || button.textContent;
    button.dataset.label = original;
    button.textContent = words;
    window.clearTimeout(Number(button.dataset.timer || 0));
    button.dataset.timer = String(window.setTimeout(() => { button.textContent = original; }, SAID_FOR_MS));
  }

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-copy]");
    if (!button) return;
    const element = document.getElementById(button.dataset.copy);
    if (!element) return;
    say(button, (await copy(element)) ? "Copied" : "Select and copy by hand");
  });
})();
