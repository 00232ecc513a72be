//! What each credential may call: the one rule for every route of the API,
//! the intake function's publish route included. The api's middleware and
//! the intake function ask [`check`] before every handler, and the OpenAPI
//! document derives each route's security schemes from it.
//!
//! | route (as the router matched it) | admin | tenant credential | read-only portal |
//! |---|---|---|---|
//! | none matched (answered 404 by the fallback) | yes | yes | yes |
//! | `GET /v1/credential` | yes | yes | yes |
//! | `GET /v1/event-types` | yes | yes | yes |
//! | other `/v1/event-types…` (writes) | yes | 403 | 403 |
//! | `/v1/tenants/{t}/api-keys…`, `…/portal-sessions` | yes | 403 | 403 |
//! | other `/v1/tenants/{t}/…` (publishing included), `t` its own tenant | yes | yes | reads only, else 403 |
//! | other `/v1/tenants/{t}/…`, `t` another tenant | yes | 403 | 403 |
//! | anything else | yes | 403 | 403 |
//!
//! Publishing (`POST /v1/tenants/{t}/events`) is a tenant's own route like
//! any other: an event of tenant `t` only ever reaches `t`'s own endpoints,
//! so a tenant's credential can make the platform say something to that
//! tenant's integrations alone. A read-only portal session cannot, as it
//! cannot write anything. Unknown routes are denied by default.

use crate::ids::TenantId;

use super::AccessError;

/// The prefix of every tenant-scoped route.
const TENANT_ROUTES: &str = "/v1/tenants/{tenantId}";

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
        /// A read-only portal session: reads only.
        read_only: bool,
    },
}

/// Whether `scope` may call `route` (the matched route template, `None`
/// when no route matched) with `path_tenant` as the path's `{tenantId}`;
/// `reads` is true for a method that changes nothing (`GET`, `HEAD`).
/// [`AccessError::Forbidden`] says why not.
pub fn check(
    scope: Scope<'_>,
    reads: bool,
    route: Option<&str>,
    path_tenant: Option<&str>,
) -> Result<(), AccessError> {
    let Scope::Tenant { tenant, read_only } = scope else {
        return Ok(());
    };
    let Some(route) = route else {
        return Ok(());
    };
    if under(route, TENANT_ROUTES) {
        if let Some((_, why)) = ADMIN_ONLY.iter().find(|(prefix, _)| under(route, prefix)) {
            return Err(AccessError::Forbidden(format!(
                "{why}; a tenant credential cannot call this route"
            )));
        }
        if path_tenant != Some(tenant.as_str()) {
            return Err(AccessError::Forbidden(format!(
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
            AccessError::Forbidden(
                "the event-type catalogue is managed by the platform's admin token".into(),
            )
        });
    }
    Err(AccessError::Forbidden(
        "only the platform's admin token may call this route".into(),
    ))
}

fn read_only_refusal() -> AccessError {
    AccessError::Forbidden("this portal session is read-only: it may only read".into())
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

    const READ: bool = true;
    const WRITE: bool = false;

    fn tenant() -> TenantId {
        "store_1".parse().unwrap()
    }

    fn status(scope: Scope<'_>, reads: bool, route: &str, t: &str) -> u16 {
        match check(scope, reads, Some(route), Some(t).filter(|t| !t.is_empty())) {
            Ok(()) => 200,
            Err(AccessError::Forbidden(_)) => 403,
            Err(other) => panic!("check answers allowed or forbidden, not {other:?}"),
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
        let events = "/v1/tenants/{tenantId}/events";
        let keys = "/v1/tenants/{tenantId}/api-keys";
        let rows: &[(bool, &str, &str, [u16; 3])] = &[
            (READ, "/v1/credential", "", [200, 200, 200]),
            (READ, "/v1/event-types", "", [200, 200, 200]),
            (WRITE, "/v1/event-types", "", [200, 403, 403]),
            (WRITE, "/v1/event-types/{name}", "", [200, 403, 403]),
            (WRITE, keys, "store_1", [200, 403, 403]),
            (READ, keys, "store_1", [200, 403, 403]),
            (
                WRITE,
                "/v1/tenants/{tenantId}/api-keys/{keyId}",
                "store_1",
                [200, 403, 403],
            ),
            (
                WRITE,
                "/v1/tenants/{tenantId}/portal-sessions",
                "store_1",
                [200, 403, 403],
            ),
            (WRITE, events, "store_1", [200, 200, 403]),
            (WRITE, events, "store_2", [200, 403, 403]),
            (READ, eps, "store_1", [200, 200, 200]),
            (WRITE, eps, "store_1", [200, 200, 403]),
            (WRITE, ep, "store_1", [200, 200, 403]),
            (READ, eps, "store_2", [200, 403, 403]),
            (WRITE, eps, "store_2", [200, 403, 403]),
            (READ, "/v1/somewhere-new", "", [200, 403, 403]),
        ];
        for (reads, route, path_tenant, want) in rows {
            let got =
                [Scope::Admin, key, ro].map(|scope| status(scope, *reads, route, path_tenant));
            assert_eq!(&got, want, "reads={reads} {route} on {path_tenant:?}");
        }
    }

    #[test]
    fn an_unmatched_route_is_left_to_the_fallback() {
        let t = tenant();
        let ro = Scope::Tenant {
            tenant: &t,
            read_only: true,
        };
        assert!(check(ro, WRITE, None, None).is_ok());
    }

    #[test]
    fn a_prefix_only_counts_at_a_segment_boundary() {
        assert!(under(
            "/v1/tenants/{tenantId}/api-keys",
            "/v1/tenants/{tenantId}/api-keys"
        ));
        assert!(!under(
            "/v1/tenants/{tenantId}/api-keys-archive",
            "/v1/tenants/{tenantId}/api-keys"
        ));
    }
}
