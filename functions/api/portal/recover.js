// The Recover control of an endpoint's page: delivers again, once each,
// every event since a time whose latest delivery failed for good or was
// skipped (POST .../recover). Left out of read-only sessions by its caller.

import { call } from "./api.js";
import { announce, clearProblems, errorSlot, h, plural, showProblem, uid } from "./dom.js";

const DAY_MS = 24 * 60 * 60 * 1000;

/** A value for <input type="datetime-local">: local time, to the minute. */
function localValue(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** "3 deliveries queued", and the expired ones that could not be. */
function queuedText({ deliveries, expired }) {
  let text = `${plural(deliveries, "delivery", "deliveries")} queued`;
  if (expired) text += `; ${plural(expired, "event has", "events have")} expired and cannot be sent again`;
  return text;
}

/** The card, for the endpoint at `path`. */
export function recoverCard(path) {
  const id = uid("recover-since");
  // Local time, as the browser shows it; sent as an RFC 3339 instant.
  const since = h("input", { id, type: "datetime-local", name: "since", required: true, value: localValue(new Date(Date.now() - DAY_MS)) });
  const status = h("p", { class: "status-line", role: "status", "data-recover-result": "" });
  const form = h(
    "form",
    { class: "card recover", novalidate: true, "aria-labelledby": "recover-title" },
    h("h2", { id: "recover-title" }, "Recover failed deliveries"),
    h(
      "p",
      { class: "help" },
      "Sends again every event since this time whose last delivery failed or was skipped, once each. Delivered events and deliveries still being retried are left alone.",
    ),
    h("label", { for: id }, "Since"),
    h("div", { class: "recover-line" }, since, h("button", { type: "submit", class: "secondary" }, "Recover")),
    // Beside the field: its own problems, and the route's (a disabled endpoint).
    errorSlot("since"),
    errorSlot("form"),
    status,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearProblems(form);
    status.textContent = "";
    const from = new Date(since.value);
    if (!since.value || Number.isNaN(from.getTime())) {
      showProblem(form, { field: "since", message: "Choose the date and time to recover from." });
      return;
    }
    try {
      const text = queuedText(await call("POST", `${path}/recover`, { since: from.toISOString() }));
      status.textContent = text;
      announce(text);
    } catch (problem) {
      showProblem(form, problem);
    }
  });
  return form;
}
