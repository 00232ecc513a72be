//! What each credential may call: the one place the API decides it. The
//! middleware in [`super`] asks [`check`] before every handler, and the
//! OpenAPI document derives each route's security schemes from it.
//!
//! | route (as the router matched it) | admin | tenant credential | read-only portal |
//! |---|---|---|---|
//! | none matched (answered 404 by the fallback) | yes | yes | yes |
//! | `GET /v1/credential` | yes | yes | yes |
//! | `GET /v1/event-types` | yes | yes | yes |
//! | other `/v1/event-types…` (writes) | yes | 403 | 403 |
//! | `/v1/tenants/{t}/api-keys…`, `…/portal-sessions` | yes | 403 | 403 |
//! | `POST /v1/tenants/{t}/events` (publish) | yes | 403 | 403 |
//! | other `/v1/tenants/{t}/…`, `t` its own tenant | yes | yes | `GET` only, else 403 |
//! | other `/v1/tenants/{t}/…`, `t` another tenant | yes | 403 | 403 |
//! | anything else | yes | 403 | 403 |
//!
//! Publishing stays with the platform: an event reaches the tenant's
//! integrations signed by the platform's endpoint secrets, so a tenant
//! credential (a portal token sits in a browser) must not be able to make
//! the platform appear to say something. Test events, which say they are
//! tests, are the tenant's to send. Unknown routes are denied by default.

use axum::http::Method;
use courier::ids::TenantId;

use crate::problem::ApiError;

/// The prefix of every tenant-scoped route.
pub const TENANT_ROUTES: &str = "/v1/tenants/{tenantId}";

/// Tenant-scoped routes only the admin token may call.
const ADMIN_ONLY: &[(&str, &str)] = &[
    (
        "/v1/tenants/{tenantId}/api-keys",
        "API keys are issued and revoked by the platform's admin token",
    ),
    (
        "/v1/tenants/{tenantId}/portal-sessions",
        "portal sessions are opened by the platform's admin token",
    ),
    (
        "/v1/tenants/{tenantId}/events",
        "events are published by the platform with its admin token",
    ),
];

/// Routes outside any tenant that tenant credentials may read.
const SHARED_READS: &[&str] = &["/v1/event-types", "/v1/credential"];

/// Who is asking, as far as scopes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// The platform's admin token: everything.
    Admin,
    /// An API key or a portal token of `tenant`.
    Tenant {
        /// The only tenant whose routes it may call.
        tenant: &'a TenantId,
        /// A read-only portal session: `GET` only.
        read_only: bool,
    },
}

/// Whether `scope` may call `method` on `route` (the matched route
/// template, `None` when no route matched) with `path_tenant` as the
/// path's `{tenantId}`; a 403 that says why when not.
pub fn check(
    scope: Scope<'_>,
    method: &Method,
    route: Option<&str>,
    path_tenant: Option<&str>,
) -> Result<(), ApiError> {
    let Scope::Tenant { tenant, read_only } = scope else {
        return Ok(());
    };
    let Some(route) = route else {
        return Ok(());
    };
    let reads = method == Method::GET || method == Method::HEAD;
    if under(route, TENANT_ROUTES) {
        if let Some((_, why)) = ADMIN_ONLY.iter().find(|(prefix, _)| under(route, prefix)) {
            return Err(ApiError::Forbidden(format!(
                "{why}; a tenant credential cannot call this route"
            )));
        }
        if path_tenant != Some(tenant.as_str()) {
            return Err(ApiError::Forbidden(format!(
                "this credential belongs to tenant '{tenant}' and may only call /v1/tenants/{tenant}/…"
            )));
        }
        if read_only && !reads {
            return Err(read_only_refusal());
        }
        return Ok(());
    }
    if SHARED_READS.contains(&route) {
        if reads {
            return Ok(());
        }
        return Err(if read_only {
            read_only_refusal()
        } else {
            ApiError::Forbidden(
                "the event-type catalogue is managed by the platform's admin token".into(),
            )
        });
    }
    Err(ApiError::Forbidden(
        "only the platform's admin token may call this route".into(),
    ))
}

fn read_only_refusal() -> ApiError {
    ApiError::Forbidden("this portal session is read-only: it may only read".into())
}

/// True when `route` is `prefix` or below it.
fn under(route: &str, prefix: &str) -> bool {
    route
        .strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> TenantId {
        "store_1".parse().unwrap()
    }

    fn status(scope: Scope<'_>, method: Method, route: &str, t: &str) -> u16 {
        match check(
            scope,
            &method,
            Some(route),
            Some(t).filter(|t| !t.is_empty()),
        ) {
            Ok(()) => 200,
            Err(e) => e.status().as_u16(),
        }
    }

    #[test]
    fn the_table_row_by_row() {
        let t = tenant();
        let key = Scope::Tenant {
            tenant: &t,
            read_only: false,
        };
        let ro = Scope::Tenant {
            tenant: &t,
            read_only: true,
        };
        let eps = "/v1/tenants/{tenantId}/endpoints";
        let ep = "/v1/tenants/{tenantId}/endpoints/{endpointId}";
        let rows: &[(Method, &str, &str, [u16; 3])] = &[
            (Method::GET, "/v1/credential", "", [200, 200, 200]),
            (Method::GET, "/v1/event-types", "", [200, 200, 200]),
            (Method::POST, "/v1/event-types", "", [200, 403, 403]),
            (
                Method::DELETE,
                "/v1/event-types/{name}",
                "",
                [200, 403, 403],
            ),
            (
                Method::POST,
                "/v1/tenants/{tenantId}/api-keys",
                "store_1",
                [200, 403, 403],
            ),
            (
                Method::GET,
                "/v1/tenants/{tenantId}/api-keys",
                "store_1",
                [200, 403, 403],
            ),
            (
                Method::DELETE,
                "/v1/tenants/{tenantId}/api-keys/{keyId}",
                "store_1",
                [200, 403, 403],
            ),
            (
                Method::POST,
                "/v1/tenants/{tenantId}/portal-sessions",
                "store_1",
                [200, 403, 403],
            ),
            (
                Method::POST,
                "/v1/tenants/{tenantId}/events",
                "store_1",
                [200, 403, 403],
            ),
            (Method::GET, eps, "store_1", [200, 200, 200]),
            (Method::POST, eps, "store_1", [200, 200, 403]),
            (Method::PATCH, ep, "store_1", [200, 200, 403]),
            (Method::DELETE, ep, "store_1", [200, 200, 403]),
            (Method::GET, eps, "store_2", [200, 403, 403]),
            (Method::POST, eps, "store_2", [200, 403, 403]),
            (Method::GET, "/v1/somewhere-new", "", [200, 403, 403]),
        ];
        for (method, route, path_tenant, want) in rows {
            let got = [Scope::Admin, key, ro]
                .map(|scope| status(scope, method.clone(), route, path_tenant));
            assert_eq!(&got, want, "{method} {route} on {path_tenant:?}");
        }
    }

    #[test]
    fn an_unmatched_route_is_left_to_the_fallback() {
        let t = tenant();
        let ro = Scope::Tenant {
            tenant: &t,
            read_only: true,
        };
        assert!(check(ro, &Method::POST, None, None).is_ok());
    }

    #[test]
    fn a_prefix_only_counts_at_a_segment_boundary() {
        assert!(under(
            "/v1/tenants/{tenantId}/events",
            "/v1/tenants/{tenantId}/events"
        ));
        assert!(!under(
            "/v1/tenants/{tenantId}/events-archive",
            "/v1/tenants/{tenantId}/events"
        ));
    }
}
