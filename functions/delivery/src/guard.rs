//! The SSRF guard: webhooks go only to public addresses. Host names are
//! resolved by [`PublicResolver`], which hands reqwest nothing but public
//! addresses, so the address actually connected to is the one checked and a
//! DNS answer that changes between checks (rebinding) cannot get through.
//! IP literals never reach a resolver, so [`check_literal`] covers them.

use std::error::Error;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use courier::net::is_public_ip;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Host;

/// The target is not a public address.
#[derive(Debug, Clone)]
pub struct Blocked {
    /// The host that was refused.
    pub host: String,
}

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "blocked: {} is not a public address (private, loopback, link-local or metadata)",
            self.host
        )
    }
}

impl Error for Blocked {}

/// Refuses a URL whose host is a non-public IP literal, in any spelling the
/// URL parser normalises (`2130706433`, `0x7f000001`, `[::ffff:127.0.0.1]`).
pub fn check_literal(url: &url::Url) -> Result<(), Blocked> {
    let ip = match url.host() {
        Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
        _ => return Ok(()),
    };
    if is_public_ip(ip) {
        Ok(())
    } else {
        Err(Blocked {
            host: ip.to_string(),
        })
    }
}

/// A DNS resolver that drops every non-public address and fails with
/// [`Blocked`] when none is left.
#[derive(Debug, Default, Clone)]
pub struct PublicResolver;

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|a| is_public_ip(a.ip()))
                .collect();
            if public.is_empty() {
                return Err(Box::new(Blocked { host }) as Box<dyn Error + Send + Sync>);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// True when `err` or any error it wraps is a [`Blocked`].
pub fn is_blocked(err: &(dyn Error + 'static)) -> bool {
    let mut current: Option<&(dyn Error + 'static)> = Some(err);
    while let Some(e) = current {
        if e.is::<Blocked>() {
            return true;
        }
        current = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn resolver_refuses_names_that_resolve_to_loopback() {
        let err = match PublicResolver.resolve("localhost".parse().unwrap()).await {
            Ok(_) => panic!("localhost resolved through the guard"),
            Err(e) => e,
        };
        assert!(is_blocked(err.as_ref()));
    }

    #[test]
    fn literal_private_addresses_are_blocked_in_every_spelling() {
        // Host names in the corpus (localhost, *.internal) are the resolver's job.
        let literals = courier::net::PRIVATE_TARGET_URLS
            .iter()
            .filter(|raw| !matches!(url::Url::parse(raw).unwrap().host(), Some(Host::Domain(_))));
        for raw in literals {
            let url = url::Url::parse(raw).unwrap();
            assert!(check_literal(&url).is_err(), "{raw} passed the guard");
        }
        assert!(check_literal(&url::Url::parse("https://93.184.216.34/").unwrap()).is_ok());
        assert!(check_literal(&url::Url::parse("https://example.com/").unwrap()).is_ok());
    }
}
