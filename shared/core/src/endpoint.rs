//! Endpoints: where a tenant wants webhooks sent, which event types, and the
//! secrets they are signed with.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::circuit::Circuit;
use crate::event_type::EventTypeFilter;
use crate::headers::CustomHeader;
use crate::ids::{EndpointId, TenantId};
use crate::signing::Secret;

/// Most event-type filters one endpoint may hold; keeps the subscription
/// index of an endpoint writable in one DynamoDB transaction.
pub const MAX_EVENT_TYPE_FILTERS: usize = 32;
/// Longest description accepted.
pub const MAX_DESCRIPTION_LEN: usize = 1024;
/// Longest grace period of a secret rotation (7 days).
pub const MAX_ROTATION_GRACE: Duration = Duration::days(7);
/// Grace period of a rotation when none is given (24 hours).
pub const DEFAULT_ROTATION_GRACE: Duration = Duration::hours(24);
/// Most secrets an endpoint keeps: the current one and two rotated out.
/// Every one of them signs each attempt until its grace ends, so each is a
/// key that can forge and two HMACs per attempt; two old ones let an owner
/// correct a rotation (rotate again) without cutting off receivers still on
/// the original. Headers stay under 400 bytes, the item a few hundred more.
pub const MAX_SIGNING_SECRETS: usize = 3;

/// Body format an endpoint receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayloadFormat {
    /// `{"id","type","createdAt","tenantId","data"}`.
    #[default]
    Default,
    /// CloudEvents 1.0 structured JSON.
    Cloudevents,
}

/// Why an endpoint is disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisabledReason {
    /// Switched off through the API.
    Manual,
    /// Too many failed attempts in a row.
    ConsecutiveFailures,
    /// The receiver answered `410 Gone`.
    Gone,
}

/// A secret that signs deliveries, until `expires_at` when it was rotated out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SigningSecret {
    /// The secret.
    pub secret: Secret,
    /// End of its grace period after a rotation; `None` for the current one.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

/// A tenant's webhook endpoint as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// `ep_` + ULID.
    pub id: EndpointId,
    /// Owner.
    pub tenant_id: TenantId,
    /// Where attempts are POSTed.
    pub url: String,
    /// Which event types it receives.
    pub event_types: Vec<EventTypeFilter>,
    /// Free text for its owner.
    #[serde(default)]
    pub description: String,
    /// Disabled endpoints receive nothing but test events.
    pub enabled: bool,
    /// Why it is disabled, when it is.
    #[serde(default)]
    pub disabled_reason: Option<DisabledReason>,
    /// Failed attempts since the last success.
    #[serde(default)]
    pub consecutive_failures: u32,
    /// When it was last attempted (kept to the minute to save writes).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_attempt_at: Option<OffsetDateTime>,
    /// Its circuit breaker, kept by the counting of its attempts.
    #[serde(default)]
    pub circuit: Circuit,
    /// Until when the open circuit's probe is taken by a delivery in flight.
    #[serde(default, with = "unix_millis")]
    pub probe_lease_until: Option<OffsetDateTime>,
    /// Body format.
    #[serde(default)]
    pub payload_format: PayloadFormat,
    /// Headers sent with every attempt, in the order given; sealed at rest
    /// with the secrets (see [`crate::headers`]).
    #[serde(default)]
    pub headers: Vec<CustomHeader>,
    /// Most attempts per second this endpoint receives (1–1000); `None`
    /// for no limit. Deliveries above the rate wait, spending no attempt.
    #[serde(default)]
    pub rate_limit_per_second: Option<u32>,
    /// Current secret first, then rotated-out ones still in their grace
    /// period, newest first; at most [`MAX_SIGNING_SECRETS`].
    pub secrets: Vec<SigningSecret>,
    /// Bumped by every change of settings, so concurrent updates conflict
    /// instead of silently overwriting each other.
    #[serde(default)]
    pub revision: u64,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change of settings.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A time as whole unix milliseconds (an `i64`): DynamoDB compares numbers
/// in conditions, and `time`'s own millisecond format needs `i128`.
mod unix_millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_some(&((t.unix_timestamp_nanos() / 1_000_000) as i64)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        Option::<i64>::deserialize(d)?
            .map(|ms| {
                OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                    .map_err(serde::de::Error::custom)
            })
            .transpose()
    }
}

impl Endpoint {
    /// A new enabled endpoint with a freshly generated secret.
    pub fn new(
        tenant_id: TenantId,
        url: String,
        event_types: Vec<EventTypeFilter>,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id: EndpointId::generate(),
            tenant_id,
            url,
            event_types,
            description: String::new(),
            enabled: true,
            disabled_reason: None,
            consecutive_failures: 0,
            last_attempt_at: None,
            circuit: Circuit::default(),
            probe_lease_until: None,
            payload_format: PayloadFormat::Default,
            headers: Vec::new(),
            rate_limit_per_second: None,
            secrets: vec![SigningSecret {
                secret: Secret::generate(),
                expires_at: None,
            }],
            revision: 0,
            created_at: now,
            updated_at: now,
        }
    }

    /// The secret new deliveries are signed with and shown to the owner.
    pub fn current_secret(&self) -> &Secret {
        &self.secrets[0].secret
    }

    /// Every secret that signs an attempt made at `now`: the current one
    /// plus rotated ones still inside their grace period.
    pub fn signing_secrets(&self, now: OffsetDateTime) -> Vec<&Secret> {
        self.secrets
            .iter()
            .filter(|s| s.expires_at.is_none_or(|exp| exp > now))
            .map(|s| &s.secret)
            .collect()
    }

    /// Makes `new` the current secret; the old one keeps signing for `grace`.
    /// Secrets past their grace period are dropped, and beyond
    /// [`MAX_SIGNING_SECRETS`] the ones rotated out longest ago.
    pub fn rotate_secret(&mut self, new: Secret, grace: Duration, now: OffsetDateTime) {
        for s in &mut self.secrets {
            if s.expires_at.is_none() {
                s.expires_at = Some(now + grace);
            }
        }
        // A secret rotated back in is the current one, not an old one too.
        self.secrets
            .retain(|s| s.expires_at.is_some_and(|exp| exp > now) && s.secret != new);
        self.secrets.insert(
            0,
            SigningSecret {
                secret: new,
                expires_at: None,
            },
        );
        // Newest first, so this drops the oldest whatever its grace left.
        self.secrets.truncate(MAX_SIGNING_SECRETS);
    }

    /// Turns the endpoint on or off by hand. Re-enabling forgets past
    /// failures and closes the circuit, so the endpoint gets a fresh run of
    /// attempts.
    pub fn set_enabled(&mut self, enabled: bool) {
        if enabled && !self.enabled {
            self.consecutive_failures = 0;
            self.disabled_reason = None;
            self.circuit = Circuit::default();
            self.probe_lease_until = None;
        }
        if !enabled && self.enabled {
            self.disabled_reason = Some(DisabledReason::Manual);
        }
        self.enabled = enabled;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(now: OffsetDateTime) -> Endpoint {
        Endpoint::new(
            "t1".parse().unwrap(),
            "https://example.com".into(),
            vec![EventTypeFilter::All],
            now,
        )
    }

    #[test]
    fn rotation_signs_with_both_secrets_until_the_grace_period_ends() {
        let now = OffsetDateTime::now_utc();
        let mut ep = endpoint(now);
        let old = ep.current_secret().clone();
        let new = Secret::generate();
        ep.rotate_secret(new.clone(), DEFAULT_ROTATION_GRACE, now);
        assert_eq!(ep.current_secret(), &new);
        assert_eq!(ep.signing_secrets(now), vec![&new, &old]);
        let later = now + DEFAULT_ROTATION_GRACE + Duration::seconds(1);
        assert_eq!(ep.signing_secrets(later), vec![&new]);
        // A second rotation after the grace drops the expired secret.
        ep.rotate_secret(Secret::generate(), Duration::hours(1), later);
        assert_eq!(ep.secrets.len(), 2);
    }

    #[test]
    fn rotating_again_within_the_grace_period_replaces_the_oldest_secret() {
        let now = OffsetDateTime::now_utc();
        let mut ep = endpoint(now);
        let mut history = vec![ep.current_secret().clone()];
        for minute in 1..=4 {
            let new = Secret::generate();
            // Shorter grace each time: the oldest has the most left, so
            // only the bound can drop it.
            let grace = DEFAULT_ROTATION_GRACE - Duration::minutes(2 * minute);
            ep.rotate_secret(new.clone(), grace, now + Duration::minutes(minute));
            history.insert(0, new);
        }
        assert_eq!(ep.secrets.len(), MAX_SIGNING_SECRETS);
        let newest: Vec<&Secret> = history.iter().take(MAX_SIGNING_SECRETS).collect();
        assert_eq!(ep.signing_secrets(now + Duration::minutes(5)), newest);
        assert_eq!(ep.current_secret(), &history[0]);
        assert_eq!(ep.secrets[0].expires_at, None);
    }

    #[test]
    fn rotating_back_to_an_old_secret_keeps_it_once() {
        let now = OffsetDateTime::now_utc();
        let mut ep = endpoint(now);
        let first = ep.current_secret().clone();
        let second = Secret::generate();
        ep.rotate_secret(second.clone(), DEFAULT_ROTATION_GRACE, now);
        ep.rotate_secret(first.clone(), DEFAULT_ROTATION_GRACE, now);
        assert_eq!(ep.signing_secrets(now), vec![&first, &second]);
        assert_eq!(ep.secrets[0].expires_at, None);
    }

    #[test]
    fn re_enabling_resets_the_failure_counter() {
        let mut ep = endpoint(OffsetDateTime::now_utc());
        ep.enabled = false;
        ep.disabled_reason = Some(DisabledReason::ConsecutiveFailures);
        ep.consecutive_failures = 10;
        ep.circuit.state = crate::circuit::CircuitState::Open;
        ep.set_enabled(true);
        assert!(ep.enabled);
        assert_eq!(ep.consecutive_failures, 0);
        assert_eq!(ep.circuit, Circuit::default());
        assert_eq!(ep.disabled_reason, None);
        ep.set_enabled(false);
        assert_eq!(ep.disabled_reason, Some(DisabledReason::Manual));
    }
}
