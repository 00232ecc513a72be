// The endpoint list, the Add endpoint form, and the event picker both the
// form and an endpoint's page use.

import { all, call, tenantPath } from "./api.js";
import { announce, clearProblems, copyButton, endpointBadge, errorSlot, h, plural, showProblem, timeEl, uid } from "./dom.js";

/** The tenant's endpoints, each opening its own page. */
export function endpointListView(ctx, el) {
  const list = h("div", { class: "endpoint-list", "aria-busy": "true" }, h("p", { class: "muted" }, "Loading endpoints…"));
  el.append(
    h(
      "div",
      { class: "heading" },
      h("h1", {}, "Endpoints"),
      ctx.readOnly ? null : h("button", { type: "button", class: "primary", onClick: () => ctx.show("add") }, "Add endpoint"),
    ),
    h("p", { class: "muted" }, "Each endpoint is a URL of yours that receives the events you pick, signed so you can check they came from us."),
    list,
  );
  all(tenantPath(ctx.tenant, "/endpoints"))
    .then((endpoints) => {
      list.removeAttribute("aria-busy");
      if (endpoints.length === 0) {
        list.replaceChildren(h("p", { class: "empty" }, "No endpoints yet.", ctx.readOnly ? "" : " Add one to start receiving webhooks."));
        return;
      }
      list.replaceChildren(h("ul", { class: "rows" }, endpoints.map((ep) => endpointRow(ctx, ep))));
    })
    .catch((problem) => list.replaceChildren(h("p", { class: "error", role: "alert" }, problem.message)));
}

function endpointRow(ctx, ep) {
  return h(
    "li",
    {},
    h(
      "button",
      { type: "button", class: "row endpoint-row", "data-endpoint-id": ep.id, onClick: () => ctx.show("endpoint", ep.id) },
      h("span", { class: "url" }, ep.url),
      endpointBadge(ep),
      h("span", { class: "meta" }, "Last triggered ", timeEl(ep.lastAttemptAt)),
      h("span", { class: "meta failures" }, plural(ep.consecutiveFailures, "consecutive failure")),
      ep.description ? h("span", { class: "description" }, ep.description) : null,
    ),
  );
}

/** Wildcards offered for each group of the catalogue (`booking.*`). */
function prefixes(catalogue) {
  const seen = new Map();
  for (const t of catalogue) {
    const dot = t.name.indexOf(".");
    if (dot > 0) {
      const prefix = `${t.name.slice(0, dot)}.*`;
      seen.set(prefix, (seen.get(prefix) || 0) + 1);
    }
  }
  return [...seen.keys()].sort();
}

/**
 * The events to subscribe to, as checkboxes named `eventTypes`: all
 * events, a wildcard per group, and each type of the catalogue with its
 * description. `selected` is the endpoint's current list.
 */
export function eventPicker(catalogue, selected = [], disabled = false) {
  const chosen = new Set(selected);
  const box = (value, label, description) => {
    const id = uid("event");
    return h(
      "div",
      { class: "check" },
      h("input", { type: "checkbox", id, name: "eventTypes", value, checked: chosen.has(value), disabled }),
      h("label", { for: id }, h("code", {}, label === value ? value : label), description ? h("span", { class: "muted" }, ` ${description}`) : null),
    );
  };
  const known = new Set(catalogue.map((t) => t.name).concat(prefixes(catalogue), ["*"]));
  return h(
    "fieldset",
    { class: "events" },
    h("legend", {}, "Events to send"),
    box("*", "*", "All events, including types added later"),
    prefixes(catalogue).map((p) => box(p, p, `Every ${p.slice(0, -2)} event`)),
    catalogue.map((t) => box(t.name, t.name, t.description)),
    // Filters set through the API that the catalogue no longer lists.
    selected.filter((s) => !known.has(s)).map((s) => box(s, s, "(not in the catalogue)")),
    errorSlot("eventTypes"),
  );
}

/** The event types ticked in a form. */
export function pickedEvents(form) {
  return [...form.querySelectorAll('input[name="eventTypes"]:checked')].map((i) => i.value);
}

/** The Add endpoint form; on success, the new endpoint's signing secret. */
export function addEndpointView(ctx, el) {
  const urlId = uid("url");
  const descriptionId = uid("description");
  const form = h(
    "form",
    { class: "card", novalidate: true, "aria-labelledby": "add-title" },
    h("h1", { id: "add-title" }, "Add endpoint"),
    errorSlot("form"),
    h("label", { for: urlId }, "Endpoint URL"),
    h("input", { id: urlId, name: "url", type: "url", required: true, placeholder: "https://example.com/webhooks", autocomplete: "url", "aria-describedby": `${urlId}-help` }),
    h(
      "p",
      { class: "help", id: `${urlId}-help` },
      "HTTPS required: deliveries go only to https:// addresses reachable from the internet, so the events and their signatures travel encrypted.",
    ),
    errorSlot("url"),
    eventPicker(ctx.catalogue),
    h("label", { for: descriptionId }, "Description ", h("span", { class: "muted" }, "(optional)")),
    h("textarea", { id: descriptionId, name: "description", rows: 2, maxlength: 1024 }),
    errorSlot("description"),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", class: "secondary", onClick: () => ctx.show("list") }, "Cancel"),
      h("button", { type: "submit", class: "primary" }, "Create endpoint"),
    ),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearProblems(form);
    const submit = form.querySelector('button[type="submit"]');
    submit.disabled = true;
    const body = { url: form.elements.url.value.trim(), eventTypes: pickedEvents(form) };
    const description = form.elements.description.value.trim();
    if (description) body.description = description;
    try {
      const created = await call("POST", tenantPath(ctx.tenant, "/endpoints"), body);
      showCreated(ctx, el, created);
    } catch (problem) {
      showProblem(form, problem);
      submit.disabled = false;
    }
  });
  el.append(h("p", {}, h("button", { type: "button", class: "link", onClick: () => ctx.show("list") }, "← Endpoints")), form);
  form.elements.url.focus();
}

/** The new endpoint and its secret, shown with Copy. */
function showCreated(ctx, el, created) {
  announce("Endpoint created");
  el.replaceChildren(
    h(
      "section",
      { class: "card created", "aria-labelledby": "created-title" },
      h("h1", { id: "created-title" }, "Endpoint created"),
      h("p", {}, h("span", { class: "url" }, created.url), " ", "will receive ", created.eventTypes.join(", "), "."),
      h("h2", {}, "Signing secret"),
      h("p", { class: "help" }, "Use it to check that each webhook came from us (the webhook-signature header). You can show it again on the endpoint's page."),
      h("div", { class: "secret-line" }, h("code", { class: "secret", "data-secret": "" }, created.secret), copyButton(() => created.secret)),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "secondary", onClick: () => ctx.show("list") }, "All endpoints"),
        h("button", { type: "button", class: "primary", onClick: () => ctx.show("endpoint", created.id) }, "Open endpoint"),
      ),
    ),
  );
}
