// Small DOM helpers. Every piece of data goes in as text, never as markup:
// URLs, descriptions and response bodies come from other people.

/** An element: h("button", { class: "primary", onClick: f }, "Save"). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class") {
      el.className = value;
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let nextId = 0;
/** A fresh id for label/input pairs. */
export function uid(prefix) {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/** Says `text` to screen readers (and tests) without moving focus. */
export function announce(text) {
  const el = document.getElementById("announce");
  if (el) el.textContent = text;
}

/** "1 delivery", "3 deliveries": `n` and the word that goes with it. */
export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

/** "2s ago", "5m ago", "3h ago", "4d ago"; "in 50s" for future times. */
export function relativeTime(iso, now = Date.now()) {
  if (!iso) return "never";
  const seconds = Math.round((now - Date.parse(iso)) / 1000);
  const future = seconds < 0;
  const s = Math.abs(seconds);
  let text;
  if (s < 60) text = `${s}s`;
  else if (s < 3600) text = `${Math.floor(s / 60)}m`;
  else if (s < 86400) text = `${Math.floor(s / 3600)}h`;
  else text = `${Math.floor(s / 86400)}d`;
  return future ? `in ${text}` : `${text} ago`;
}

/** A <time> with a relative text and the exact time on hover. */
export function timeEl(iso) {
  return h("time", { datetime: iso, title: iso ? new Date(iso).toLocaleString() : null }, relativeTime(iso));
}

const REASONS = {
  manual: "disabled by hand",
  consecutive_failures: "too many failed deliveries in a row",
  gone: "the receiver answered 410 Gone",
};

/**
 * The Active / Failing / Disabled badge of an endpoint: Failing while its
 * circuit is open (deliveries wait for a probe to succeed, none is lost).
 */
export function endpointBadge(endpoint) {
  if (endpoint.enabled && endpoint.circuit === "open") {
    return h("span", { class: "badge fail", title: "deliveries wait until the receiver answers again" }, "Failing");
  }
  if (endpoint.enabled) return h("span", { class: "badge ok" }, "Active");
  const reason = REASONS[endpoint.disabledReason] || endpoint.disabledReason || "";
  return h("span", { class: "badge off", title: reason }, "Disabled", reason ? ` · ${reason}` : "");
}

/**
 * Shows a problem beside the field it names (`eventTypes[1]` → the
 * eventTypes group), or at the top of the form when it names none.
 */
export function showProblem(form, problem) {
  clearProblems(form);
  const field = problem.field ? problem.field.replace(/\[.*$/, "") : null;
  const slot = (field && form.querySelector(`[data-error-for="${CSS.escape(field)}"]`)) || form.querySelector("[data-error-for=form]");
  if (slot) {
    slot.textContent = problem.message;
    slot.hidden = false;
    const input = field && form.querySelector(`[name="${CSS.escape(field)}"]`);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  }
  announce(problem.message);
}

/** Hides every problem of a form. */
export function clearProblems(form) {
  for (const slot of form.querySelectorAll("[data-error-for]")) {
    slot.textContent = "";
    slot.hidden = true;
  }
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

/** An error slot for `field` ("form" for the form as a whole). */
export function errorSlot(field) {
  return h("p", { class: "error", "data-error-for": field, role: "alert", hidden: true });
}

/** Copies text to the clipboard; resolves to true when it worked. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (_) {
    // Inside a frame without clipboard-write permission: the old way.
    const area = h("textarea", { class: "visually-hidden", "aria-hidden": "true" });
    area.value = text;
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}

/** A copy button for whatever `getText` resolves to. */
export function copyButton(getText, label = "Copy") {
  const button = h("button", { type: "button", class: "secondary" }, label);
  button.addEventListener("click", async () => {
    const ok = await copyText(await getText());
    button.textContent = ok ? "Copied" : "Copy failed";
    announce(ok ? "Copied to the clipboard" : "Could not copy");
    setTimeout(() => {
      button.textContent = label;
    }, 2000);
  });
  return button;
}

/**
 * Asks before doing something that cannot be undone; resolves to true on
 * confirm. A modal <dialog>: focus moves into it and Escape cancels.
 */
export function confirmDialog(title, text, confirmLabel) {
  return new Promise((resolve) => {
    const cancel = h("button", { type: "button", class: "secondary", value: "cancel" }, "Cancel");
    const ok = h("button", { type: "button", class: "danger", value: "ok" }, confirmLabel);
    const dialog = h(
      "dialog",
      { class: "confirm", "aria-labelledby": "confirm-title" },
      h("h2", { id: "confirm-title" }, title),
      h("p", {}, text),
      h("div", { class: "actions" }, cancel, ok),
    );
    const done = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    cancel.addEventListener("click", () => done(false));
    ok.addEventListener("click", () => done(true));
    dialog.addEventListener("cancel", (e) => {
      e.preventDefault();
      done(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
