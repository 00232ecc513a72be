//! Settings (DESIGN §5): read from the environment once, in `main`, and
//! validated; defaults are written here and nowhere else.

use std::time::Duration;

use crate::event::{DEFAULT_MAX_PAYLOAD_BYTES, TenantField};
use crate::ids::TenantId;
use crate::schedule::RetrySchedule;

/// A setting that could not be read; names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {var}: {problem}")]
pub struct ConfigError {
    /// The variable at fault.
    pub var: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

/// Largest `MAX_PAYLOAD_BYTES` accepted (384 KiB): an event must fit in one
/// DynamoDB item.
pub const MAX_PAYLOAD_LIMIT: u64 = 384 * 1024;

/// The whole-number settings and the range each accepts, inclusive. The
/// SAM template's parameters carry the same bounds (a test holds them to
/// this table), so a value refused here cannot be deployed.
pub const NUMERIC_LIMITS: [(&str, u64, u64); 7] = [
    // The delivery function runs a batch's attempts at once within its 60 s
    // timeout: one attempt plus the bookkeeping must fit.
    ("DELIVERY_TIMEOUT_MS", 100, 30_000),
    ("DISABLE_AFTER_FAILURES", 1, 1_000_000),
    ("LOG_RETENTION_DAYS", 1, 365),
    // Events are stored in one DynamoDB item (400 KB at most) and travel in
    // one SQS message (1 MiB), so the envelope stays below both.
    ("MAX_PAYLOAD_BYTES", 1024, MAX_PAYLOAD_LIMIT),
    // Fan-out streams in bounded memory whatever the count; 10,000 is the
    // largest fan-out measured to finish within one intake invocation.
    ("MAX_ENDPOINTS_PER_TENANT", 1, 10_000),
    // The circuit breaker keeps its window of outcomes in one 64-bit number
    // (see `courier::circuit`); fewer than 4 attempts is a single error.
    ("CIRCUIT_WINDOW", 4, crate::circuit::MAX_WINDOW as u64),
    ("CIRCUIT_OPEN_AFTER", 2, crate::circuit::MAX_WINDOW as u64),
];

/// `USER_AGENT` by default: the product and its version.
pub const DEFAULT_USER_AGENT: &str = concat!("Courier-Webhooks/", env!("CARGO_PKG_VERSION"));

/// Longest `SIMPLE_SIGNATURE_HEADER_NAME` accepted.
pub const MAX_HEADER_NAME_LEN: usize = 64;

/// Longest `USER_AGENT` accepted: a product and version, not a document.
pub const MAX_USER_AGENT_LEN: usize = 200;

/// `SIMPLE_SIGNATURE_HEADER_NAME`: an HTTP token (RFC 9110), lowercased as
/// every header is sent, and none the service or HTTP owns
/// ([`crate::headers::is_owned`], the rule custom headers follow too).
fn header_name(value: &str) -> Result<String, String> {
    let name = value.trim().to_ascii_lowercase();
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || name.len() > MAX_HEADER_NAME_LEN || !name.chars().all(token) {
        return Err(format!(
            "'{value}' is not an HTTP header name of 1 to {MAX_HEADER_NAME_LEN} letters, digits and -.!#$%&'*+^_`|~"
        ));
    }
    if crate::headers::is_owned(&name) {
        return Err(format!(
            "'{value}' is a header the service or HTTP itself sets"
        ));
    }
    Ok(name)
}

/// `USER_AGENT`: a header value of visible ASCII and inner spaces.
fn user_agent(value: &str) -> Result<String, String> {
    let agent = value.trim();
    if agent.len() > MAX_USER_AGENT_LEN {
        return Err(format!("longer than {MAX_USER_AGENT_LEN} characters"));
    }
    if !agent.chars().all(|c| c == ' ' || c.is_ascii_graphic()) {
        return Err(format!(
            "'{value}' has a character other than visible ASCII and spaces"
        ));
    }
    Ok(agent.to_owned())
}

/// A text setting through its parser; unset or empty is `None`.
fn text<T>(
    get: &dyn Fn(&'static str) -> Option<String>,
    var: &'static str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, ConfigError> {
    get(var)
        .map(|v| parse(&v).map_err(|problem| ConfigError { var, problem }))
        .transpose()
}

/// The values `var` accepts, from [`NUMERIC_LIMITS`].
fn limits(var: &str) -> (u64, u64) {
    NUMERIC_LIMITS
        .iter()
        .find(|(name, _, _)| *name == var)
        .map(|(_, min, max)| (*min, *max))
        .unwrap_or((0, u64::MAX))
}

/// Behaviour shared by the three functions and the local server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `RETRY_SCHEDULE`: delays before each retry.
    pub retry_schedule: RetrySchedule,
    /// `DELIVERY_TIMEOUT_MS`: per-attempt request timeout.
    pub delivery_timeout: Duration,
    /// `DISABLE_AFTER_FAILURES`: consecutive failures that disable an endpoint.
    pub disable_after_failures: u32,
    /// `LOG_RETENTION_DAYS`: how long events and log entries are kept.
    pub retention: Duration,
    /// `ALLOW_PRIVATE_TARGETS`: allow http, loopback and private addresses.
    pub allow_private_targets: bool,
    /// `MAX_PAYLOAD_BYTES`: largest delivered body accepted at intake.
    pub max_payload_bytes: usize,
    /// `SIMPLE_SIGNATURE_HEADER`: send the simple signature header (no
    /// replay protection, so a deployment may switch it off).
    pub simple_signature_header: bool,
    /// `SIMPLE_SIGNATURE_HEADER_NAME`: its name, lowercase
    /// (`x-webhook-signature`, or a platform's own like `x-bookora-signature`).
    pub simple_signature_header_name: String,
    /// `USER_AGENT`: the `user-agent` of every attempt.
    pub user_agent: String,
    /// `TENANT_FIELD`: the body's key for the tenant's id.
    pub tenant_field: TenantField,
    /// `MAX_ENDPOINTS_PER_TENANT`: endpoints a tenant may have; creating
    /// one more is refused with 422.
    pub max_endpoints_per_tenant: usize,
    /// `CIRCUIT_WINDOW`: recent attempts an endpoint's circuit looks at.
    pub circuit_window: u32,
    /// `CIRCUIT_OPEN_AFTER`: failures among them that open it (a larger
    /// value is taken as `CIRCUIT_WINDOW`).
    pub circuit_open_after: u32,
    /// `OPERATIONS_TENANT`: the tenant whose endpoints receive the
    /// operational webhooks ([`crate::operational`]).
    pub operations_tenant: TenantId,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            retry_schedule: RetrySchedule::default(),
            delivery_timeout: Duration::from_millis(10_000),
            disable_after_failures: 10,
            retention: Duration::from_secs(7 * 24 * 3600),
            allow_private_targets: false,
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
            simple_signature_header: true,
            simple_signature_header_name: "x-webhook-signature".into(),
            user_agent: DEFAULT_USER_AGENT.into(),
            tenant_field: TenantField::default(),
            max_endpoints_per_tenant: 100,
            circuit_window: 32,
            circuit_open_after: 20,
            operations_tenant: TenantId::platform(),
        }
    }
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = Self::default();
        let get = |var: &'static str| lookup(var).filter(|v| !v.trim().is_empty());
        let err = |var: &'static str, problem: String| ConfigError { var, problem };
        let num = |var: &'static str| -> Result<Option<u64>, ConfigError> {
            let Some(v) = get(var) else { return Ok(None) };
            let (min, max) = limits(var);
            let n: u64 = v
                .trim()
                .parse()
                .map_err(|_| err(var, format!("'{v}' is not a whole number")))?;
            if !(min..=max).contains(&n) {
                return Err(err(var, format!("{n} is outside {min}..={max}")));
            }
            Ok(Some(n))
        };
        let flag = |var: &'static str, default: bool| -> Result<bool, ConfigError> {
            match get(var).map(|v| v.trim().to_ascii_lowercase()) {
                None => Ok(default),
                Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
                Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
                Some(v) => Err(err(var, format!("'{v}' is not true or false"))),
            }
        };
        let retry_schedule = match lookup("RETRY_SCHEDULE") {
            None => d.retry_schedule,
            Some(v) => v.parse().map_err(|p| err("RETRY_SCHEDULE", p))?,
        };
        let settings = Self {
            retry_schedule,
            delivery_timeout: num("DELIVERY_TIMEOUT_MS")?
                .map(Duration::from_millis)
                .unwrap_or(d.delivery_timeout),
            disable_after_failures: num("DISABLE_AFTER_FAILURES")?
                .map(|n| n as u32)
                .unwrap_or(d.disable_after_failures),
            retention: num("LOG_RETENTION_DAYS")?
                .map(|days| Duration::from_secs(days * 24 * 3600))
                .unwrap_or(d.retention),
            allow_private_targets: flag("ALLOW_PRIVATE_TARGETS", d.allow_private_targets)?,
            max_payload_bytes: num("MAX_PAYLOAD_BYTES")?
                .map(|n| n as usize)
                .unwrap_or(d.max_payload_bytes),
            simple_signature_header: flag("SIMPLE_SIGNATURE_HEADER", d.simple_signature_header)?,
            simple_signature_header_name: text(&get, "SIMPLE_SIGNATURE_HEADER_NAME", header_name)?
                .unwrap_or(d.simple_signature_header_name),
            user_agent: text(&get, "USER_AGENT", user_agent)?.unwrap_or(d.user_agent),
            tenant_field: text(&get, "TENANT_FIELD", str::parse)?.unwrap_or(d.tenant_field),
            max_endpoints_per_tenant: num("MAX_ENDPOINTS_PER_TENANT")?
                .map(|n| n as usize)
                .unwrap_or(d.max_endpoints_per_tenant),
            circuit_window: num("CIRCUIT_WINDOW")?
                .map(|n| n as u32)
                .unwrap_or(d.circuit_window),
            circuit_open_after: num("CIRCUIT_OPEN_AFTER")?
                .map(|n| n as u32)
                .unwrap_or(d.circuit_open_after),
            operations_tenant: text(&get, "OPERATIONS_TENANT", |v| {
                v.trim().parse().map_err(|e: crate::ids::IdError| e.0)
            })?
            .unwrap_or(d.operations_tenant),
        };
        // More failures than the window holds could never open the circuit:
        // taken as the whole window (the template cannot check one parameter
        // against another).
        let mut settings = settings;
        settings.circuit_open_after = settings.circuit_open_after.min(settings.circuit_window);
        Ok(settings)
    }

    /// The circuit breaker's and auto-disable's rules (`courier::circuit`).
    pub fn health_rules(&self) -> crate::circuit::HealthRules {
        crate::circuit::HealthRules::new(
            self.circuit_window,
            self.circuit_open_after,
            self.disable_after_failures,
            &self.retry_schedule,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_match_the_design() {
        let s = read(&[]).unwrap();
        assert_eq!(s.retry_schedule.to_string(), "60,600");
        assert_eq!(s.delivery_timeout, Duration::from_secs(10));
        assert_eq!(s.disable_after_failures, 10);
        assert_eq!(s.retention, Duration::from_secs(7 * 86400));
        assert!(!s.allow_private_targets);
        assert_eq!(s.max_payload_bytes, 256 * 1024);
        assert!(s.simple_signature_header);
        assert_eq!(s.simple_signature_header_name, "x-webhook-signature");
        assert_eq!(
            s.user_agent,
            format!("Courier-Webhooks/{}", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(s.tenant_field.as_str(), "tenantId");
        assert_eq!(s.max_endpoints_per_tenant, 100);
        assert_eq!((s.circuit_window, s.circuit_open_after), (32, 20));
        assert_eq!(s.operations_tenant.as_str(), "platform");
        assert_eq!(s.health_rules(), crate::circuit::HealthRules::default());
    }

    #[test]
    fn values_are_read_and_bad_ones_name_the_variable() {
        let s = read(&[
            ("RETRY_SCHEDULE", "1,2"),
            ("ALLOW_PRIVATE_TARGETS", "true"),
            ("DISABLE_AFTER_FAILURES", "3"),
        ])
        .unwrap();
        assert_eq!(s.retry_schedule.max_attempts(), 3);
        assert!(s.allow_private_targets);
        assert_eq!(s.disable_after_failures, 3);
        assert_eq!(
            read(&[("DELIVERY_TIMEOUT_MS", "soon")]).unwrap_err().var,
            "DELIVERY_TIMEOUT_MS"
        );
        assert_eq!(
            read(&[("ALLOW_PRIVATE_TARGETS", "maybe")]).unwrap_err().var,
            "ALLOW_PRIVATE_TARGETS"
        );
        assert_eq!(
            read(&[("RETRY_SCHEDULE", "x")]).unwrap_err().var,
            "RETRY_SCHEDULE"
        );
        assert_eq!(
            read(&[("DISABLE_AFTER_FAILURES", "0")]).unwrap_err().var,
            "DISABLE_AFTER_FAILURES"
        );
        // Nine retries could outlast the queue's 10 receives.
        let nine = [("RETRY_SCHEDULE", "1,1,1,1,1,1,1,1,1")];
        assert_eq!(read(&nine).unwrap_err().var, "RETRY_SCHEDULE");
        // A delay past SQS's 12-hour visibility limit.
        let long = [("RETRY_SCHEDULE", "43201")];
        assert_eq!(read(&long).unwrap_err().var, "RETRY_SCHEDULE");
        assert_eq!(
            read(&[("DELIVERY_TIMEOUT_MS", "30001")]).unwrap_err().var,
            "DELIVERY_TIMEOUT_MS"
        );
        assert_eq!(
            read(&[("MAX_ENDPOINTS_PER_TENANT", "0")]).unwrap_err().var,
            "MAX_ENDPOINTS_PER_TENANT"
        );
        assert_eq!(
            read(&[("CIRCUIT_WINDOW", "65")]).unwrap_err().var,
            "CIRCUIT_WINDOW"
        );
        let capped = read(&[("CIRCUIT_WINDOW", "10"), ("CIRCUIT_OPEN_AFTER", "11")]).unwrap();
        assert_eq!(capped.circuit_open_after, 10, "at most the window");
        let ops = read(&[("OPERATIONS_TENANT", " ops_team ")]).unwrap();
        assert_eq!(ops.operations_tenant.as_str(), "ops_team");
        let e = read(&[("OPERATIONS_TENANT", "ops team")]).unwrap_err();
        assert_eq!(e.var, "OPERATIONS_TENANT");
        let raised = read(&[("MAX_ENDPOINTS_PER_TENANT", "10000")]).unwrap();
        assert_eq!(raised.max_endpoints_per_tenant, 10_000);
    }

    #[test]
    fn white_label_names_are_read_and_checked() {
        let s = read(&[
            ("SIMPLE_SIGNATURE_HEADER_NAME", " X-Prometora-Signature "),
            (
                "USER_AGENT",
                "Bookora-Webhooks/2.1 (+https://bookora.example)",
            ),
            ("TENANT_FIELD", "storeId"),
        ])
        .unwrap();
        assert_eq!(s.simple_signature_header_name, "x-prometora-signature");
        assert_eq!(
            s.user_agent,
            "Bookora-Webhooks/2.1 (+https://bookora.example)"
        );
        assert_eq!(s.tenant_field.as_str(), "storeId");
        // Empty is the default, as for every setting.
        let empty = read(&[("USER_AGENT", " "), ("SIMPLE_SIGNATURE_HEADER_NAME", "")]).unwrap();
        assert_eq!(empty.user_agent, DEFAULT_USER_AGENT);
        assert_eq!(empty.simple_signature_header_name, "x-webhook-signature");

        let long_name = format!("x-{}", "a".repeat(MAX_HEADER_NAME_LEN - 1));
        for bad in [
            "Host",
            "content-length",
            "Content-Type",
            "user-agent",
            "Webhook-Signature",
            "webhook-id",
            "Transfer-Encoding",
            "Content-Encoding",
            "proxy-authorization",
            "connection",
            "x signature",
            "x-signature:",
            "x-sïgnature",
            &long_name,
        ] {
            let e = read(&[("SIMPLE_SIGNATURE_HEADER_NAME", bad)]).unwrap_err();
            assert_eq!(e.var, "SIMPLE_SIGNATURE_HEADER_NAME", "{bad:?}");
        }
        let long_agent = "a".repeat(MAX_USER_AGENT_LEN + 1);
        for bad in [
            "Bookora\r\nX-Injected: 1",
            "Bookora\t1",
            "Böokora",
            &long_agent,
        ] {
            assert_eq!(read(&[("USER_AGENT", bad)]).unwrap_err().var, "USER_AGENT");
        }
        for bad in ["id", "createdAt", "data", "store-id", "1d"] {
            let e = read(&[("TENANT_FIELD", bad)]).unwrap_err();
            assert_eq!(e.var, "TENANT_FIELD", "{bad:?}");
        }
        let e = read(&[("TENANT_FIELD", "type")]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("environment variable TENANT_FIELD:"),
            "{e}"
        );
    }
}
