// Statistics of the last 30 days: deliveries per day as an inline SVG bar
// chart (succeeded and failed stacked), and the same numbers as text —
// deliveries, success rate and the error distribution.

import { call } from "./api.js";
import { fill, h } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 600;
const HEIGHT = 160;
const AXIS = 18;

const CLASSES = [
  ["4xx", "4xx responses"],
  ["5xx", "5xx responses"],
  ["3xx", "redirects"],
  ["timeout", "timeouts"],
  ["connection", "connection errors"],
  ["blocked", "blocked addresses"],
];

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** The section; `load` (re)reads the statistics. */
export function statsSection(endpointPath) {
  const body = h("div", { class: "stats-body" }, h("p", { class: "muted" }, "Loading statistics…"));
  const el = h("section", { class: "card stats", "aria-labelledby": "stats-title" }, h("h2", { id: "stats-title" }, "Statistics · last 30 days"), body);
  const load = async () => {
    try {
      const stats = await call("GET", `${endpointPath}/stats?days=30`);
      fill(body, chart(stats), summary(stats.totals));
    } catch (problem) {
      fill(body, h("p", { class: "error", role: "alert" }, problem.message));
    }
  };
  return { el, load };
}

function percent(rate) {
  return rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(1)}%`;
}

/** The numbers as text: what the chart draws, readable without it. */
function summary(t) {
  const failures = t.failures || {};
  return h(
    "div",
    { class: "stats-text" },
    h(
      "dl",
      { class: "totals" },
      h("div", {}, h("dt", {}, "Deliveries"), h("dd", { "data-stat": "attempts" }, String(t.attempts))),
      h("div", {}, h("dt", {}, "Succeeded"), h("dd", { "data-stat": "succeeded" }, String(t.succeeded))),
      h("div", {}, h("dt", {}, "Failed"), h("dd", { "data-stat": "failed" }, String(t.failed))),
      h("div", {}, h("dt", {}, "Success rate"), h("dd", { "data-stat": "successRate" }, percent(t.successRate))),
    ),
    h("h3", {}, "Error distribution"),
    t.failed === 0
      ? h("p", { class: "muted" }, "No failed deliveries.")
      : h(
          "ul",
          { class: "distribution" },
          CLASSES.filter(([k]) => failures[k] > 0).map(([k, label]) =>
            h(
              "li",
              { "data-class": k },
              h("span", { class: "label" }, label),
              h("span", { class: "meter" }, h("span", { class: `fill w${Math.round((failures[k] / t.failed) * 10) * 10}` })),
              h("span", { class: "count" }, `${failures[k]} (${percent(failures[k] / t.failed)})`),
            ),
          ),
        ),
  );
}

/** Bars per day, succeeded below failed, with a title per bar for hover. */
function chart(stats) {
  const days = stats.days || [];
  const max = Math.max(1, ...days.map((d) => d.attempts));
  const slot = WIDTH / Math.max(1, days.length);
  const barWidth = Math.max(2, slot - 3);
  const scale = (n) => (n / max) * (HEIGHT - AXIS - 4);
  const bars = days.map((d, i) => {
    const x = i * slot + 1;
    const ok = scale(d.succeeded);
    const bad = scale(d.failed);
    const base = HEIGHT - AXIS;
    return svg(
      "g",
      { class: "day", "data-date": d.date },
      svg("title", {}, `${d.date}: ${d.attempts} deliveries, ${d.succeeded} succeeded, ${d.failed} failed`),
      svg("rect", { class: "ok", x, y: base - ok, width: barWidth, height: ok }),
      svg("rect", { class: "fail", x, y: base - ok - bad, width: barWidth, height: bad }),
    );
  });
  const label = `Deliveries per day from ${stats.from} to ${stats.to}: ${stats.totals.attempts} in all, success rate ${percent(stats.totals.successRate)}.`;
  return svg(
    "svg",
    { class: "chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": label, preserveAspectRatio: "none" },
    svg("line", { class: "axis", x1: 0, y1: HEIGHT - AXIS, x2: WIDTH, y2: HEIGHT - AXIS }),
    svg("text", { class: "tick", x: 0, y: HEIGHT - 4 }, stats.from),
    svg("text", { class: "tick", x: WIDTH, y: HEIGHT - 4, "text-anchor": "end" }, stats.to),
    svg("text", { class: "tick", x: 2, y: 12 }, `${max}/day`),
    ...bars,
  );
}
