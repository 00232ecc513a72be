// The API as the panel calls it: the portal token from the URL's fragment
// as a bearer credential, same-origin requests only, problems as errors.

const TOKEN_KEY = "courier.portal.token";

/** An RFC 9457 problem answered by the API. */
export class Problem extends Error {
  constructor(status, body) {
    super((body && body.detail) || `The request failed with HTTP ${status}.`);
    this.status = status;
    this.field = body && body.field ? String(body.field) : null;
  }
}

// The API lives where the panel does: /portal → "", /base/portal → "/base".
const base = location.pathname.replace(/\/portal\/?$/, "");
let token = null;

/**
 * Takes the token from `#token=…` (and out of the address bar, so it is not
 * bookmarked or shared by accident), or from this tab's earlier visit.
 */
export function loadToken() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const fromUrl = fragment.get("token");
  if (fromUrl) {
    token = fromUrl;
    try {
      sessionStorage.setItem(TOKEN_KEY, fromUrl);
    } catch (_) {
      // Storage may be off inside a third-party frame: keep it in memory.
    }
    history.replaceState(null, "", location.pathname + location.search);
  } else {
    try {
      token = sessionStorage.getItem(TOKEN_KEY);
    } catch (_) {
      token = null;
    }
  }
  return token;
}

/** Calls the API; resolves to the JSON body (null for 204), rejects with a Problem. */
export async function call(method, path, body) {
  const headers = { authorization: `Bearer ${token}` };
  const init = { method, headers, credentials: "omit", cache: "no-store" };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(base + path, init);
  } catch (_) {
    throw new Problem(0, { detail: "The webhooks service could not be reached. Check your connection and try again." });
  }
  const text = await response.text();
  let json = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch (_) {
      json = { detail: text.slice(0, 200) };
    }
  }
  if (!response.ok) {
    const problem = new Problem(response.status, json);
    if (response.status === 401) {
      document.dispatchEvent(new CustomEvent("portal:unauthorized", { detail: problem }));
    }
    throw problem;
  }
  return json;
}

/** Every item of a paginated list. */
export async function all(path) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await call("GET", `${path}${sep}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    items.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

/** The path of a tenant's resource. */
export function tenantPath(tenant, rest) {
  return `/v1/tenants/${encodeURIComponent(tenant)}${rest}`;
}
