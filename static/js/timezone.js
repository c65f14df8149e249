/* The viewer's time zone: tells the server the browser's zone (docs/dashboard.md). */
"use strict";

// The server shows times in the person's chosen zone, else in the zone this
// cookie names (orgs/time_zones.py). It is set on every page, the sign-in page
// included, so the first dashboard page after signing in is already local.
(() => {
  const COOKIE = "tz";
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone) return;

  const readCookie = () => window.incidentio.cookie(COOKIE); // static/js/forms.js, loaded before this script
  if (readCookie() === zone) return;

  const secure = window.location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `${COOKIE}=${encodeURIComponent(zone)}; path=/; max-age=31536000; SameSite=Lax${secure}`;

  // A dashboard page rendered before the server knew this zone (a first visit
  // with no cookie, or the computer's zone changed) shows times in another
  // zone: render it again, once. Only a page the server marks reloadable (a GET
  // of an org page, nothing typed yet: this runs before the page is shown as
  // ready), only when the cookie stuck (no loop with cookies blocked), and
  // never over a chosen zone (the preference wins on the server anyway).
  const page = document.querySelector('meta[name="time-zone"]');
  if (!page || !("reloadable" in page.dataset)) return;
  if (page.dataset.source === "preference" || page.content === zone) return;
  if (readCookie() !== zone) return;
  const guard = `tz-reloaded:${window.location.href}`;
  try {
    if (window.sessionStorage.getItem(guard) === zone) return;
    window.sessionStorage.setItem(guard, zone);
  } catch {
    return; // no session storage: no way to be sure it happens once
  }
  window.location.reload();
})();
