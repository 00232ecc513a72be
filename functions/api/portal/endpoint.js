// One endpoint's page: its events, signing secret, Enable / Disable, test
// event, Delete and Recover, then its recent deliveries and statistics.
// Write controls are left out of a read-only session altogether.

import { call, tenantPath } from "./api.js";
import { announce, clearProblems, confirmDialog, copyButton, endpointBadge, errorSlot, fill, h, plural, showProblem, timeEl } from "./dom.js";
import { eventPicker, pickedEvents } from "./endpoints.js";
import { deliveriesSection } from "./deliveries.js";
import { recoverCard } from "./recover.js";
import { statsSection } from "./stats.js";

const REFRESH_MS = 5000;

/** The page; returns its clean-up (the refresh timer). */
export function endpointView(ctx, el, id) {
  const path = tenantPath(ctx.tenant, `/endpoints/${encodeURIComponent(id)}`);
  // The status line outlives the refreshes of the rest of the card.
  const info = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const status = h("p", { class: "status-line", role: "status" });
  const summary = h("section", { class: "card summary", "aria-label": "Endpoint" }, info, status);
  const settings = h("div", { class: "settings" });
  const deliveries = deliveriesSection(ctx, path);
  const stats = statsSection(path);
  el.append(
    h("p", {}, h("button", { type: "button", class: "link", onClick: () => ctx.show("list") }, "← Endpoints")),
    summary,
    settings,
    deliveries.el,
    stats.el,
  );
  let endpoint = null;
  const refresh = async () => {
    try {
      endpoint = await call("GET", path);
      renderSummary(ctx, info, endpoint, path, refresh, status);
    } catch (problem) {
      fill(info, h("p", { class: "error", role: "alert" }, problem.message));
    }
  };
  refresh().then(() => {
    if (endpoint) renderSettings(ctx, settings, endpoint, path);
  });
  deliveries.load();
  stats.load();
  // New deliveries and state changes show up without a reload.
  const timer = setInterval(() => {
    if (document.visibilityState !== "visible") return;
    refresh();
    deliveries.poll();
    stats.load();
  }, REFRESH_MS);
  return () => clearInterval(timer);
}

function renderSummary(ctx, el, ep, path, refresh, status) {
  const actions = ctx.readOnly
    ? null
    : h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "secondary", "data-action": "toggle", onClick: () => toggle(ep, path, status, refresh) }, ep.enabled ? "Disable" : "Enable"),
        h("button", { type: "button", class: "secondary", "data-action": "test", onClick: () => sendTest(ctx, path, status) }, "Send test event"),
        h("button", { type: "button", class: "danger", "data-action": "delete", onClick: () => remove(ctx, ep, path, status) }, "Delete"),
      );
  fill(
    el,
    h("h1", { class: "url" }, ep.url),
    h(
      "p",
      { class: "facts" },
      endpointBadge(ep),
      h("span", { class: "meta" }, "Last triggered ", timeEl(ep.lastAttemptAt)),
      h("span", { class: "meta failures" }, plural(ep.consecutiveFailures, "consecutive failure")),
    ),
    ep.enabled && ep.circuit === "open" ? waitingNote(ep) : null,
    ep.description ? h("p", { class: "description" }, ep.description) : null,
    customHeaders(ep),
    actions,
  );
}

/** The endpoint's custom headers; the API shows every value masked. */
function customHeaders(ep) {
  const names = Object.keys(ep.headers || {});
  if (!names.length) return null;
  return h(
    "p",
    { class: "custom-headers" },
    h("span", { class: "meta" }, "Custom headers "),
    ...names.map((name) => h("code", {}, `${name}: ${ep.headers[name]} `)),
  );
}

/** What an open circuit means for the tenant's deliveries, in their words. */
function waitingNote(ep) {
  const due = Date.parse(ep.nextAttemptAt) > Date.now() ? ["goes out ", timeEl(ep.nextAttemptAt)] : ["is due now"];
  return h(
    "p",
    { class: "circuit-note", role: "note" },
    "Failing since ",
    timeEl(ep.failingSince),
    ": deliveries wait instead of being sent, and none is lost. The next attempt ",
    ...due,
    "; when an attempt succeeds, the waiting deliveries follow.",
  );
}

async function toggle(ep, path, status, refresh) {
  try {
    const updated = await call("PATCH", path, { enabled: !ep.enabled });
    say(status, updated.enabled ? "Endpoint enabled: deliveries resume." : "Endpoint disabled: it receives only test events until enabled.");
    await refresh();
  } catch (problem) {
    say(status, problem.message, true);
  }
}

async function sendTest(ctx, path, status) {
  try {
    await call("POST", `${path}/test`, {});
    say(status, "Test event sent: it appears in Recent deliveries in a moment.");
  } catch (problem) {
    say(status, problem.message, true);
  }
}

async function remove(ctx, ep, path, status) {
  const sure = await confirmDialog(
    "Delete this endpoint?",
    `${ep.url} stops receiving webhooks at once, and its signing secret and settings are removed. This cannot be undone.`,
    "Delete endpoint",
  );
  if (!sure) return;
  try {
    await call("DELETE", path);
    announce("Endpoint deleted");
    ctx.show("list");
  } catch (problem) {
    say(status, problem.message, true);
  }
}

function say(el, text, isError = false) {
  el.textContent = text;
  el.classList.toggle("error", isError);
  announce(text);
}

function renderSettings(ctx, el, ep, path) {
  fill(el, eventsForm(ctx, ep, path), secretCard(ctx, path), ctx.readOnly ? null : recoverCard(path));
}

function eventsForm(ctx, ep, path) {
  const form = h(
    "form",
    { class: "card", novalidate: true, "aria-label": "Events" },
    h("h2", {}, "Events"),
    errorSlot("form"),
    eventPicker(ctx.catalogue, ep.eventTypes, ctx.readOnly),
    ctx.readOnly ? null : h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save events")),
    h("p", { class: "status-line", role: "status" }),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearProblems(form);
    try {
      await call("PATCH", path, { eventTypes: pickedEvents(form) });
      say(form.querySelector(".status-line"), "Events saved.");
    } catch (problem) {
      showProblem(form, problem);
    }
  });
  return form;
}

function secretCard(ctx, path) {
  let secret = null;
  const reveal = async () => {
    if (!secret) secret = (await call("GET", `${path}/secret`)).secret;
    return secret;
  };
  const value = h("code", { class: "secret", "data-secret": "" }, "••••••••••••••••");
  const status = h("p", { class: "status-line", role: "status" });
  const show = h("button", { type: "button", class: "secondary" }, "Show");
  show.addEventListener("click", async () => {
    if (show.textContent === "Hide") {
      value.textContent = "••••••••••••••••";
      show.textContent = "Show";
      return;
    }
    try {
      value.textContent = await reveal();
      show.textContent = "Hide";
    } catch (problem) {
      say(status, problem.message, true);
    }
  });
  const rotate = ctx.readOnly
    ? null
    : h("button", {
        type: "button",
        class: "secondary",
        onClick: async () => {
          const sure = await confirmDialog(
            "Rotate the signing secret?",
            "A new secret signs from now on. The current one keeps signing alongside it for 24 hours, so you can switch your verification without missing a webhook.",
            "Rotate secret",
          );
          if (!sure) return;
          try {
            secret = (await call("POST", `${path}/secret/rotate`, {})).secret;
            value.textContent = secret;
            show.textContent = "Hide";
            say(status, "Secret rotated: the previous one stays valid for 24 hours.");
          } catch (problem) {
            say(status, problem.message, true);
          }
        },
      }, "Rotate");
  return h(
    "section",
    { class: "card", "aria-labelledby": "secret-title" },
    h("h2", { id: "secret-title" }, "Signing secret"),
    h("p", { class: "help" }, "Check each webhook's webhook-signature header with this secret (Standard Webhooks)."),
    h("div", { class: "secret-line" }, value, show, copyButton(reveal), rotate),
    status,
  );
}
