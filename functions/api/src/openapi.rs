//! The OpenAPI 3.1 document, generated from the handlers' annotations and
//! checked in as `functions/api/openapi.json` (a test keeps the two equal).
//! Each operation's security schemes and its 403 come from
//! [`courier_http::access::check`], the same rule the middleware applies.

use axum::http::Method;
use courier::access::Scope;
use courier::ids::TenantId;
use courier_http::access::check;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::model::access::{
    ApiKeyList, ApiKeyView, CreateApiKey, CreatePortalSession, CreatedApiKey, CredentialKind,
    CredentialView, PortalSessionCreated,
};

use crate::events::{EventPublished, PublishEvent};
use crate::model::deliveries::{
    AttemptStatusDto, DeliveriesRecovered, DeliveryDetail, DeliveryList, DeliveryQueued,
    DeliverySummary, ErrorClassDto, RecoverDeliveries, SendTestEvent, TriggerDto,
};
use crate::model::stats::{DayStats, EndpointStats, FailureCounts, StatsTotals};
use crate::model::{
    CircuitDto, CreateEndpoint, CreateEventType, CreatedEndpoint, DisabledReasonDto, EndpointList,
    EndpointView, EventTypeList, EventTypeView, PayloadFormatDto, RotateSecret, SecretView,
    UpdateEndpoint,
};
use crate::problem::{PROBLEM_JSON, Problem};

/// Name of the bearer security scheme in the document (also written out in
/// the `security` attribute below, which takes only a literal).
const BEARER: &str = "adminToken";
/// Name of the tenant credential scheme (API keys and portal tokens).
const TENANT_BEARER: &str = "tenantToken";

/// Declares a reusable problem response, referenced from the paths as
/// `response = crate::openapi::Name`.
macro_rules! problem_responses {
    ($($name:ident => $description:literal,)*) => {
        $(
            #[doc = $description]
            pub struct $name;

            impl<'s> utoipa::ToResponse<'s> for $name {
                fn response() -> (&'s str, RefOr<Response>) {
                    (stringify!($name), problem_response($description))
                }
            }
        )*
    };
}

problem_responses! {
    BadRequest => "The request cannot be understood: malformed JSON, a body that is not an object, or an invalid cursor.",
    Unauthorized => "Missing, unknown, revoked or expired bearer credential.",
    Forbidden => "The credential may not call this route: another tenant's path, a write with a read-only portal session, or a route only the admin token may call.",
    NotFound => "No such resource; an endpoint of another tenant is not found either.",
    Conflict => "The current state refuses the request, and the same request succeeds once it changes: the resource already exists, it kept changing while the request was applied, `eventTypes` names an exact event type that is not in the catalogue (add it with `POST /v1/event-types`), or a rotation's `secret` is already the current one.",
    EndpointRefused => "The state refuses the endpoint, and the same request succeeds once it changes: an exact event type of `eventTypes` is not in the catalogue (add it with `POST /v1/event-types`), or the tenant has `MAX_ENDPOINTS_PER_TENANT` endpoints already (delete one).",
    ResendNotFound => "No such endpoint or delivery, or the delivery's event has expired and can no longer be resent.",
    EndpointDisabled => "The endpoint is disabled, so the delivery would be skipped; re-enable it first (a test event still reaches it).",
    PayloadTooLarge => "The body is larger than 256 KiB.",
    NotInCatalogue => "The event's `type` is not in the catalogue; add it with `POST /v1/event-types` and publish again.",
    EventTooLarge => "The event, once wrapped in its envelope, is larger than `MAX_PAYLOAD_BYTES` (256 KiB by default).",
    PublishUnavailable => "The event could not be stored, or was stored but not yet queued for every endpoint; when the problem names an `eventId`, publish again with that `id` to complete it.",
    UnsupportedMediaType => "The body is not sent as `application/json`.",
    ValidationFailed => "A field or parameter is invalid; `field` names it. Unknown fields are refused too.",
    Unavailable => "A backing service is temporarily unavailable; retry shortly.",
}

fn problem_response(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
        .into()
}

/// Adds the two bearer schemes, and names on each operation the ones that
/// may call it, as [`check`] decides.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The platform's admin token; the deployment stores its SHA-256 (ADMIN_TOKEN_SHA256). It may call every route.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            TENANT_BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A tenant API key (`ck_...`) or portal session token (`cpt_...`): the routes of its own tenant and reading the catalogue; a read-only portal session may only read.",
                    ))
                    .build(),
            ),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                (Method::GET, &mut item.get),
                (Method::POST, &mut item.post),
                (Method::PATCH, &mut item.patch),
                (Method::DELETE, &mut item.delete),
                (Method::PUT, &mut item.put),
            ];
            for (method, operation) in operations {
                if let Some(operation) = operation {
                    secure(path, &method, operation);
                }
            }
        }
    }
}

/// Sets the operation's schemes, and its 403 when a tenant credential can
/// be refused there.
fn secure(path: &str, method: &Method, operation: &mut Operation) {
    let own: TenantId = "t".parse().expect("a valid tenant id");
    let tenant_path = path.contains("{tenantId}").then_some("t");
    let writer = Scope::Tenant {
        tenant: &own,
        read_only: false,
    };
    let reader = Scope::Tenant {
        tenant: &own,
        read_only: true,
    };
    let tenant_may = check(writer, method, Some(path), tenant_path).is_ok();
    let mut security = vec![SecurityRequirement::new(BEARER, Vec::<String>::new())];
    if tenant_may {
        security.push(SecurityRequirement::new(
            TENANT_BEARER,
            Vec::<String>::new(),
        ));
    }
    operation.security = Some(security);
    let refusable = !tenant_may
        || tenant_path.is_some()
        || check(reader, method, Some(path), tenant_path).is_err();
    if refusable {
        operation
            .responses
            .responses
            .entry("403".into())
            .or_insert_with(|| Ref::from_response_name("Forbidden").into());
    }
}

/// The document's definition: every route of the admin API, and intake's.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Courier admin API",
        description = "Endpoints, their signing secrets, delivery logs, resends, test events, recovery and statistics, the event-type catalogue, tenant API keys and portal sessions of Courier, a multi-tenant webhook delivery service, and the intake route that publishes events (served by the intake function). The admin token may call every route; a tenant API key or portal token the routes of its own tenant and reading the catalogue. Errors are RFC 9457 problems (`application/problem+json`). Request bodies are JSON of at most 256 KiB; unknown fields are refused with 422. 422 means the request itself is wrong and will never succeed as sent; 409 means the current state refuses it (an event type not yet in the catalogue, a disabled endpoint, a tenant at its endpoint limit) and the same request succeeds once that state changes. Integer fields take any JSON number with no fractional part (`3600` or `3600.0`), as JSON Schema defines `integer`."
    ),
    paths(
        crate::event_types::list_event_types,
        crate::event_types::create_event_type,
        crate::event_types::delete_event_type,
        crate::endpoints::create_endpoint,
        crate::endpoints::list_endpoints,
        crate::endpoints::get_endpoint,
        crate::endpoints::update_endpoint,
        crate::endpoints::delete_endpoint,
        crate::secrets::reveal_secret,
        crate::secrets::rotate_secret,
        crate::deliveries::list_deliveries,
        crate::deliveries::get_delivery,
        crate::resend::resend_delivery,
        crate::recover::recover_deliveries,
        crate::test_events::send_test_event,
        crate::stats::endpoint_stats,
        crate::api_keys::create_api_key,
        crate::api_keys::list_api_keys,
        crate::api_keys::revoke_api_key,
        crate::portal_sessions::create_portal_session,
        crate::portal_sessions::credential,
        crate::events::publish_event,
    ),
    components(
        schemas(
            Problem, CreateEndpoint, UpdateEndpoint, EndpointView, CreatedEndpoint, EndpointList,
            PayloadFormatDto, DisabledReasonDto, CircuitDto, SecretView, RotateSecret, EventTypeView,
            CreateEventType, EventTypeList, DeliverySummary, DeliveryDetail, DeliveryList,
            DeliveryQueued, SendTestEvent, RecoverDeliveries, DeliveriesRecovered, TriggerDto, AttemptStatusDto, ErrorClassDto, EndpointStats, DayStats, StatsTotals, FailureCounts,
            CreateApiKey, ApiKeyView, CreatedApiKey, ApiKeyList, CreatePortalSession,
            PortalSessionCreated, CredentialKind, CredentialView, PublishEvent, EventPublished,
        ),
        responses(
            BadRequest, Unauthorized, Forbidden, NotFound, ResendNotFound, Conflict, EndpointRefused, EndpointDisabled, PayloadTooLarge, NotInCatalogue, EventTooLarge, PublishUnavailable,
            UnsupportedMediaType, ValidationFailed, Unavailable,
        ),
    ),
    modifiers(&BearerAuth),
    security(("adminToken" = [])),
    tags(
        (name = "events", description = "Publishing events to a tenant's endpoints (the intake route)"),
        (name = "event-types", description = "The catalogue of event types endpoints subscribe to"),
        (name = "endpoints", description = "A tenant's webhook endpoints"),
        (name = "secrets", description = "An endpoint's signing secret"),
        (name = "deliveries", description = "An endpoint's delivery log, resends, test events and recovery"),
        (name = "stats", description = "An endpoint's daily delivery statistics"),
        (name = "api-keys", description = "A tenant's API keys, for its apps and integrations (admin token only)"),
        (name = "portal", description = "Portal sessions for the embeddable webhooks panel at /portal, and the caller's own credential"),
    )
)]
pub struct ApiDoc;

/// The document as pretty-printed JSON with a trailing newline, exactly as
/// checked in.
pub fn document_json() -> Result<String, serde_json::Error> {
    Ok(ApiDoc::openapi().to_pretty_json()? + "\n")
}
