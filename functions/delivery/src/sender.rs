//! Sends one attempt: builds the signed request (the service's headers,
//! then the endpoint's custom ones), POSTs it with the shared client, and
//! classifies what came back.

use std::time::{Duration, Instant};

use courier::attempt::{ErrorClass, RESPONSE_BODY_LIMIT, truncate_body};
use courier::config::Settings;
use courier::endpoint::{Endpoint, PayloadFormat};
use courier::event::{Event, TenantField};
use courier::headers::{CustomHeader, MASK};
use courier::policy::AttemptResult;
use courier::signing::{signature_header, simple_signature_header};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use time::OffsetDateTime;

use crate::guard::{self, PublicResolver};

/// What one attempt produced, ready to be logged.
#[derive(Debug, Clone)]
pub struct AttemptReport {
    /// Success, failure class, or gone.
    pub result: AttemptResult,
    /// Response status, when one arrived.
    pub http_status: Option<u16>,
    /// Time from sending to the end of the (truncated) response.
    pub latency_ms: u64,
    /// Readable reason of a failure.
    pub error: Option<String>,
    /// First 4 KiB of the response body.
    pub response_body: Option<String>,
    /// The headers sent, signature values redacted, custom header values
    /// masked.
    pub request_headers: std::sync::Arc<[(String, String)]>,
}

/// The HTTP side of delivery: one client for the life of the process.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    guard: bool,
    /// The simple signature header's name (`SIMPLE_SIGNATURE_HEADER_NAME`),
    /// `None` when `SIMPLE_SIGNATURE_HEADER` is off.
    simple_signature: Option<HeaderName>,
    /// `USER_AGENT`, checked at start-up.
    user_agent: HeaderValue,
    /// `TENANT_FIELD`: the body's key for the tenant.
    tenant_field: TenantField,
}

/// A white-label setting reqwest would not take; `Settings` checks the same
/// rules, so only a `Settings` built by hand gets here.
#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    /// The HTTP client could not be built.
    #[error(transparent)]
    Client(#[from] reqwest::Error),
    /// A header name or value out of the settings is not valid HTTP.
    #[error("{0} is not valid in an HTTP header")]
    Header(&'static str),
}

impl Sender {
    /// Builds the client: request timeout from the settings, redirects never
    /// followed (a 3xx is a failure), proxies from the environment ignored,
    /// and, unless private targets are allowed, the SSRF-guarding resolver.
    pub fn new(settings: &Settings) -> Result<Self, SenderError> {
        let user_agent = HeaderValue::from_str(&settings.user_agent)
            .map_err(|_| SenderError::Header("USER_AGENT"))?;
        let simple_signature = match settings.simple_signature_header {
            false => None,
            true => Some(
                HeaderName::from_bytes(settings.simple_signature_header_name.as_bytes())
                    .map_err(|_| SenderError::Header("SIMPLE_SIGNATURE_HEADER_NAME"))?,
            ),
        };
        let mut builder = reqwest::Client::builder()
            .timeout(settings.delivery_timeout)
            .connect_timeout(settings.delivery_timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(user_agent.clone())
            .use_preconfigured_tls(tls_config())
            .pool_idle_timeout(Duration::from_secs(30));
        let guard = !settings.allow_private_targets;
        if guard {
            builder = builder.dns_resolver(std::sync::Arc::new(PublicResolver));
        }
        Ok(Self {
            client: builder.build()?,
            guard,
            simple_signature,
            user_agent,
            tenant_field: settings.tenant_field.clone(),
        })
    }

    /// Signs and POSTs `event` to `endpoint` as attempt number `attempt`.
    pub async fn send(&self, endpoint: &Endpoint, event: &Event, attempt: u32) -> AttemptReport {
        let now = OffsetDateTime::now_utc();
        let body = event.body_as(endpoint.payload_format, &self.tenant_field);
        let headers = self.headers(endpoint, event, attempt, now, &body);
        let request_headers: std::sync::Arc<[_]> =
            redacted(&headers, self.simple_signature.as_ref(), &endpoint.headers).into();
        let started = Instant::now();
        let fail = |class: ErrorClass, error: String, status: Option<u16>| AttemptReport {
            result: AttemptResult::Failed(class),
            http_status: status,
            latency_ms: started.elapsed().as_millis() as u64,
            error: Some(error),
            response_body: None,
            request_headers: request_headers.clone(),
        };
        let url = match url::Url::parse(&endpoint.url) {
            Ok(url) => url,
            Err(e) => {
                return fail(
                    ErrorClass::Connection,
                    format!("invalid endpoint url: {e}"),
                    None,
                );
            }
        };
        if self.guard
            && let Err(blocked) = guard::check_literal(&url)
        {
            return fail(ErrorClass::Blocked, blocked.to_string(), None);
        }
        let response = self
            .client
            .post(url)
            .headers(headers)
            .body(body)
            .send()
            .await;
        let mut response = match response {
            Ok(r) => r,
            Err(e) => {
                let (class, text) = classify(&e);
                return fail(class, text, None);
            }
        };
        let status = response.status().as_u16();
        // Read at most 4 KiB: a receiver's body is kept for debugging only,
        // and a huge or endless body must not hold the attempt.
        let mut kept = Vec::new();
        // A body that fails after the status arrived does not change the
        // outcome: the status is the receiver's answer.
        while kept.len() < RESPONSE_BODY_LIMIT {
            match response.chunk().await {
                Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        let latency_ms = started.elapsed().as_millis() as u64;
        let response_body = Some(truncate_body(&kept)).filter(|b| !b.is_empty());
        let result = AttemptResult::of_status(status);
        let error = match result {
            AttemptResult::Delivered => None,
            AttemptResult::Gone => Some("receiver answered 410 Gone; endpoint disabled".into()),
            AttemptResult::Failed(ErrorClass::Redirect) => Some(format!(
                "receiver answered {status}; redirects are not followed, update the endpoint URL"
            )),
            AttemptResult::Failed(_) => Some(format!("receiver answered HTTP {status}")),
        };
        AttemptReport {
            result,
            http_status: Some(status),
            latency_ms,
            error,
            response_body,
            request_headers,
        }
    }

    fn headers(
        &self,
        endpoint: &Endpoint,
        event: &Event,
        attempt: u32,
        now: OffsetDateTime,
        body: &[u8],
    ) -> HeaderMap {
        let timestamp = now.unix_timestamp();
        let secrets = endpoint.signing_secrets(now);
        let mut h = HeaderMap::new();
        let mut put = |name: &'static str, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(HeaderName::from_static(name), v);
            }
        };
        // CloudEvents' HTTP binding marks a structured-mode body by its type.
        let content_type = match endpoint.payload_format {
            PayloadFormat::Default => "application/json",
            PayloadFormat::Cloudevents => "application/cloudevents+json",
        };
        put("content-type", content_type.into());
        put("webhook-id", event.id.to_string());
        put("webhook-timestamp", timestamp.to_string());
        put(
            "webhook-signature",
            signature_header(secrets.iter().copied(), event.id.as_str(), timestamp, body),
        );
        put("webhook-attempt", attempt.to_string());
        h.insert(reqwest::header::USER_AGENT, self.user_agent.clone());
        if let Some(name) = &self.simple_signature {
            let value = simple_signature_header(secrets.iter().copied(), body);
            // Hex digits, `sha256=` and spaces: always a valid value.
            if let Ok(value) = HeaderValue::from_str(&value) {
                h.insert(name.clone(), value);
            }
        }
        for custom in &endpoint.headers {
            let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(custom.name.as_bytes()),
                HeaderValue::from_str(&custom.value),
            ) else {
                continue;
            };
            // The API refuses the service's names; this keeps a header
            // stored before a setting renamed one (the simple signature's)
            // from replacing the service's own.
            if !h.contains_key(&name) {
                h.insert(name, value);
            }
        }
        h
    }
}

/// Maps a transport error to its class and a readable reason.
fn classify(e: &reqwest::Error) -> (ErrorClass, String) {
    if guard::is_blocked(e) {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(s) = source {
            if let Some(b) = s.downcast_ref::<guard::Blocked>() {
                return (ErrorClass::Blocked, b.to_string());
            }
            source = s.source();
        }
        return (
            ErrorClass::Blocked,
            "blocked: target is not a public address".into(),
        );
    }
    if e.is_timeout() {
        return (
            ErrorClass::Timeout,
            "no response within the delivery timeout".into(),
        );
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    (ErrorClass::Connection, text)
}

/// The headers for the log, with signature values replaced so the log
/// cannot be used to forge or replay anything, and the endpoint's custom
/// header values (possibly credentials) masked; `simple` is the simple
/// signature's configured name.
fn redacted(
    headers: &HeaderMap,
    simple: Option<&HeaderName>,
    custom: &[CustomHeader],
) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let shown = if name == "webhook-signature" {
                redact_each(value, "v1,<redacted>")
            } else if Some(name) == simple {
                redact_each(value, "sha256=<redacted>")
            } else if custom
                .iter()
                .any(|c| c.name.eq_ignore_ascii_case(name.as_str()))
            {
                MASK.to_owned()
            } else {
                value.to_str().unwrap_or_default().to_owned()
            };
            (name.as_str().to_owned(), shown)
        })
        .collect()
}

/// One `placeholder` per space-separated value, so the log still shows how
/// many secrets signed the attempt.
fn redact_each(value: &HeaderValue, placeholder: &str) -> String {
    value
        .to_str()
        .unwrap_or_default()
        .split(' ')
        .map(|_| placeholder)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The TLS configuration of deliveries: rustls on ring and the system's
/// root certificates as the SDK's client reads them, once per process
/// ([`courier_aws::roots`]), so the binary carries one TLS stack and one
/// root store.
fn tls_config() -> rustls::ClientConfig {
    let roots = courier_aws::roots::platform().store.clone();
    rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports the default TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth()
}

#[cfg(test)]
mod tests {
    use super::*;
    use courier::headers::CustomHeader;

    #[test]
    fn custom_headers_follow_the_services_own_and_are_masked_in_the_log() {
        let sender = Sender::new(&Settings::default()).unwrap();
        let tenant = courier_testkit::unique_tenant();
        let mut ep = courier_testkit::endpoint(&tenant, &["*"]);
        ep.headers = vec![
            CustomHeader {
                name: "Authorization".into(),
                value: "Bearer unit-credential".into(),
            },
            // As if stored before SIMPLE_SIGNATURE_HEADER_NAME named it.
            CustomHeader {
                name: "X-Webhook-Signature".into(),
                value: "forged".into(),
            },
        ];
        let event = courier_testkit::event(&tenant, "booking.created", "{}");
        let headers = sender.headers(&ep, &event, 1, OffsetDateTime::now_utc(), b"{}");
        assert_eq!(headers["authorization"], "Bearer unit-credential");
        let simple = headers["x-webhook-signature"].to_str().unwrap();
        assert!(simple.starts_with("sha256="), "the service's own wins");

        let logged = redacted(&headers, sender.simple_signature.as_ref(), &ep.headers);
        assert!(logged.contains(&("authorization".into(), MASK.into())));
        assert!(logged.contains(&("x-webhook-signature".into(), "sha256=<redacted>".into())));
        assert!(logged.iter().all(|(_, v)| !v.contains("unit-credential")));
    }
}
