// The panel: signs in with the portal token, learns its tenant and whether
// it may write, and switches between the endpoint list, the form that adds
// one, and one endpoint's page.

import { all, call, loadToken } from "./api.js";
import { fill, h } from "./dom.js";
import { addEndpointView, endpointListView } from "./endpoints.js";
import { endpointView } from "./endpoint.js";

const main = document.getElementById("app");
let leave = null; // tears down the current view (timers)

/** What every view gets: the session, the catalogue and navigation. */
const ctx = {
  tenant: null,
  readOnly: true,
  catalogue: [],
  show(view, ...args) {
    if (leave) leave();
    leave = null;
    const el = h("div", { class: "view" });
    fill(main, el);
    const cleanup = VIEWS[view](ctx, el, ...args);
    if (typeof cleanup === "function") leave = cleanup;
    main.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  },
};

const VIEWS = {
  list: endpointListView,
  add: addEndpointView,
  endpoint: endpointView,
};

function signedOut(message) {
  if (leave) leave();
  leave = null;
  fill(
    main,
    h(
      "section",
      { class: "card signed-out" },
      h("h1", {}, "Your session has ended"),
      h("p", {}, message),
      h("p", { class: "muted" }, "Open Webhooks again from your settings page to continue."),
    ),
  );
}

document.addEventListener("portal:unauthorized", (e) => signedOut(e.detail.message));
// Another session's link opened in this tab changes only the fragment: start over with it.
window.addEventListener("hashchange", () => {
  if (new URLSearchParams(location.hash.slice(1)).get("token")) start();
});

async function start() {
  if (!loadToken()) {
    signedOut("This page needs a portal link: it opens from your platform's settings.");
    return;
  }
  let credential;
  try {
    credential = await call("GET", "/v1/credential");
  } catch (problem) {
    if (problem.status !== 401) signedOut(problem.message);
    return;
  }
  if (!credential.tenantId) {
    signedOut("This panel opens with a portal session of one tenant, not with the admin token.");
    return;
  }
  ctx.tenant = credential.tenantId;
  ctx.readOnly = credential.readOnly;
  fill(
    document.getElementById("session"),
    credential.readOnly ? h("span", { class: "badge off" }, "Read-only") : "",
  );
  try {
    ctx.catalogue = await all("/v1/event-types");
  } catch (problem) {
    ctx.catalogue = [];
  }
  ctx.show("list");
}

start();
