// Recent deliveries of an endpoint: the 10 newest attempts with a badge,
// event type, response time, "Retry #n" and a relative time; filters by
// event type, status and date; Load more; an attempt in full with Resend.

import { call } from "./api.js";
import { announce, fill, h, relativeTime, timeEl, uid } from "./dom.js";

const PAGE = 10;

/** The section; `load` starts over with the filters, `poll` picks up new attempts. */
export function deliveriesSection(ctx, endpointPath) {
  const list = h("ol", { class: "rows deliveries", "aria-live": "polite" });
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Load more");
  const detail = h("div", { class: "delivery-detail" });
  const filters = filterForm(ctx);
  let cursor = null;
  let pages = 0;

  const query = () => {
    const q = new URLSearchParams({ limit: String(PAGE) });
    const f = filters.elements;
    if (f.eventType.value) q.set("eventType", f.eventType.value);
    if (f.status.value) q.set("status", f.status.value);
    for (const name of ["since", "until"]) {
      if (f[name].value) q.set(name, new Date(f[name].value).toISOString());
    }
    return q;
  };

  const fetchPage = async (after) => {
    const q = query();
    if (after) q.set("cursor", after);
    return call("GET", `${endpointPath}/deliveries?${q}`);
  };

  const load = async () => {
    try {
      const page = await fetchPage(null);
      pages = 1;
      cursor = page.nextCursor;
      fill(list, rowsOf(page.data));
      more.hidden = !cursor;
    } catch (problem) {
      fill(list, h("li", { class: "error", role: "alert" }, problem.message));
    }
  };

  // While only the first page is shown, refresh it; past that, leave the
  // reader's place alone.
  const poll = () => (pages <= 1 ? load() : undefined);

  more.addEventListener("click", async () => {
    try {
      const page = await fetchPage(cursor);
      pages += 1;
      cursor = page.nextCursor;
      list.append(...rowsOf(page.data));
      more.hidden = !cursor;
    } catch (problem) {
      announce(problem.message);
    }
  });

  const rowsOf = (attempts) => {
    if (attempts.length === 0 && pages <= 1) {
      return [h("li", { class: "empty" }, "No deliveries yet. Events you subscribed to appear here as they are sent.")];
    }
    return attempts.map((a) =>
      h(
        "li",
        {},
        h(
          "button",
          { type: "button", class: "row delivery-row", "data-delivery-id": a.id, "data-status": a.status, onClick: () => openDetail(ctx, endpointPath, a.id, detail, load) },
          statusBadge(a),
          h("span", { class: "type" }, a.eventType),
          h("span", { class: "ms" }, a.responseTimeMs === null || a.responseTimeMs === undefined ? "—" : `${a.responseTimeMs} ms`),
          a.attempt > 1 ? h("span", { class: "retry" }, `Retry #${a.attempt - 1}`) : null,
          a.trigger === "test" ? h("span", { class: "tag" }, "test") : null,
          a.trigger === "manual" ? h("span", { class: "tag" }, "resent") : null,
          a.trigger === "recover" ? h("span", { class: "tag" }, "recovered") : null,
          timeEl(a.createdAt),
        ),
      ),
    );
  };

  filters.addEventListener("change", () => load());
  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    load();
  });

  const el = h(
    "section",
    { class: "card", "aria-labelledby": "deliveries-title" },
    h("div", { class: "heading" }, h("h2", { id: "deliveries-title" }, "Recent deliveries"), h("button", { type: "button", class: "secondary", onClick: load }, "Refresh")),
    filters,
    list,
    more,
    detail,
  );
  return { el, load, poll };
}

/** Green for a success, red for a failure, grey for a skipped delivery. */
function statusBadge(a) {
  const kind = a.status === "succeeded" ? "ok" : a.status === "failed" ? "fail" : "off";
  const text = a.httpStatus ? String(a.httpStatus) : a.status === "skipped" ? "skipped" : a.errorClass || a.status;
  return h("span", { class: `badge ${kind}`, title: a.status }, text);
}

function filterForm(ctx) {
  const field = (label, control) => {
    const id = uid("filter");
    control.id = id;
    return h("div", { class: "filter" }, h("label", { for: id }, label), control);
  };
  const types = h("select", { name: "eventType" }, h("option", { value: "" }, "All event types"), ctx.catalogue.map((t) => h("option", { value: t.name }, t.name)));
  const statuses = h(
    "select",
    { name: "status" },
    h("option", { value: "" }, "Any status"),
    h("option", { value: "succeeded" }, "Succeeded"),
    h("option", { value: "failed" }, "Failed"),
    h("option", { value: "retrying" }, "Failed, retrying"),
    h("option", { value: "skipped" }, "Skipped"),
  );
  return h(
    "form",
    { class: "filters", "aria-label": "Filter deliveries" },
    field("Event type", types),
    field("Status", statuses),
    field("From", h("input", { type: "datetime-local", name: "since" })),
    field("To", h("input", { type: "datetime-local", name: "until" })),
  );
}

/** One attempt in full: what was sent and what came back, with Resend. */
async function openDetail(ctx, endpointPath, id, el, reload) {
  let a;
  try {
    a = await call("GET", `${endpointPath}/deliveries/${encodeURIComponent(id)}`);
  } catch (problem) {
    fill(el, h("p", { class: "error", role: "alert" }, problem.message));
    return;
  }
  const status = h("p", { class: "status-line", role: "status" });
  const resend = ctx.readOnly
    ? null
    : h(
        "button",
        {
          type: "button",
          class: "primary",
          onClick: async () => {
            try {
              await call("POST", `${endpointPath}/deliveries/${encodeURIComponent(id)}/resend`);
              status.textContent = "Resent: the new attempt appears in the list in a moment.";
              announce(status.textContent);
              reload();
            } catch (problem) {
              status.textContent = problem.message;
              status.classList.add("error");
            }
          },
        },
        "Resend",
      );
  const facts = [
    ["Status", `${a.status}${a.httpStatus ? ` (HTTP ${a.httpStatus})` : ""}`],
    ["Attempt", a.attempt > 1 ? `${a.attempt} (Retry #${a.attempt - 1})` : "1"],
    ["Trigger", a.trigger],
    ["Event", `${a.eventType} · ${a.eventId}`],
    ["Sent to", a.url],
    ["When", `${new Date(a.createdAt).toLocaleString()} (${relativeTime(a.createdAt)})`],
    ["Response time", a.responseTimeMs === null || a.responseTimeMs === undefined ? "—" : `${a.responseTimeMs} ms`],
  ];
  if (a.error) facts.push(["Error", a.error]);
  if (a.nextAttemptAt) facts.push(["Next attempt", relativeTime(a.nextAttemptAt)]);
  fill(
    el,
    h(
      "article",
      { class: "attempt", "aria-labelledby": "attempt-title", "data-delivery-id": a.id },
      h("div", { class: "heading" }, h("h3", { id: "attempt-title", tabindex: "-1" }, "Delivery attempt"), h("button", { type: "button", class: "link", onClick: () => fill(el) }, "Close")),
      h("dl", { class: "facts-list" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
      h("h4", {}, "Request headers"),
      h(
        "table",
        { class: "headers" },
        h("tbody", {}, Object.entries(a.requestHeaders || {}).map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, h("code", {}, v))))),
      ),
      h("h4", {}, "Response body"),
      h("pre", { class: "response-body" }, a.responseBody === null || a.responseBody === undefined || a.responseBody === "" ? "(empty)" : a.responseBody),
      resend ? h("div", { class: "actions" }, resend) : null,
      status,
    ),
  );
  el.querySelector("#attempt-title").focus();
}
