// On a narrow screen the sidebar (templates/app.html) is a top bar: the org and a
// Menu button. The button opens and closes the rest (Declare incident, the pages,
// the avatar menu) and says so in aria-expanded. On a wide screen the button is
// hidden by the stylesheet and the sidebar is always open. Without JavaScript,
// static/css/no-js.css shows the whole sidebar and hides the button.
(() => {
  "use strict";

  const button = document.querySelector(".menu-button[aria-controls]");
  if (!button) return;
  const sidebar = button.closest(".sidebar");
  const menu = document.getElementById(button.getAttribute("aria-controls"));

  function setOpen(open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
    sidebar.classList.toggle("open", open);
  }

  button.addEventListener("click", () => setOpen(button.getAttribute("aria-expanded") !== "true"));

  // Escape closes the open menu (the avatar menu first, if it is open) and
  // puts focus back on the button, as a disclosure should.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || button.getAttribute("aria-expanded") !== "true") return;
    const avatar = menu.querySelector("details[open]");
    if (avatar) {
      avatar.open = false;
      avatar.querySelector("summary").focus();
      return;
    }
    setOpen(false);
    button.focus();
  });
})();
