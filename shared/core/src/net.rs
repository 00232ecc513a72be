//! Which network addresses webhooks may be sent to. Used when an endpoint URL
//! is saved and again, by the delivery SSRF guard, on every address actually
//! connected to (so DNS rebinding cannot slip a private address through).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// True when `ip` is a globally routable unicast address: not private,
/// loopback, link-local, CGNAT, multicast, documentation, benchmarking,
/// reserved, or a v6 form that embeds such an IPv4 address.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let blocked = a == 0 // "this network", includes 0.0.0.0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 169 && b == 254) // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168)
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224; // multicast, reserved, broadcast
    !blocked
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    let blocked = ip.is_unspecified()
        || ip.is_loopback()
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // deprecated site-local
        || (s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x2001 && s[1] == 0) // Teredo tunnels to arbitrary v4
        || (s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 1) // local-use NAT64 (RFC 8215)
        || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0) // discard
        || s[0] == 0; // remaining ::/16 forms (IPv4-compatible, reserved)
    !blocked
}

/// The IPv4 address carried inside a v6 address that embeds one: mapped
/// (`::ffff:a.b.c.d`), NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    let from =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if s[0] == 0x0064 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return Some(from(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return Some(from(s[1], s[2]));
    }
    None
}

/// Why an endpoint URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UrlError(pub String);

/// Longest endpoint URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// Checks an endpoint URL: absolute `https` with a host, no credentials, and
/// not a private, loopback, link-local or metadata address. With
/// `allow_private` (the local dev server, tests) `http` and those addresses
/// are allowed too. Host names are checked again at send time.
pub fn validate_endpoint_url(raw: &str, allow_private: bool) -> Result<Url, UrlError> {
    if raw.len() > MAX_URL_LEN {
        return Err(UrlError(format!(
            "url must be at most {MAX_URL_LEN} characters"
        )));
    }
    let url = Url::parse(raw).map_err(|e| UrlError(format!("'{raw}' is not a valid URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => {
            return Err(UrlError(
                "url must use https: webhooks carry signed data and are sent over TLS only".into(),
            ));
        }
        other => {
            return Err(UrlError(format!(
                "url scheme '{other}' is not supported; use https"
            )));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError(
            "url must not contain credentials; the webhook signature authenticates each request"
                .into(),
        ));
    }
    let private = match url.host() {
        None => return Err(UrlError("url must have a host".into())),
        Some(Host::Ipv4(v4)) => !is_public_ip(IpAddr::V4(v4)),
        Some(Host::Ipv6(v6)) => !is_public_ip(IpAddr::V6(v6)),
        Some(Host::Domain(d)) => is_internal_name(d),
    };
    if private && !allow_private {
        return Err(UrlError(format!(
            "url host '{}' is a private, loopback, link-local or metadata address; endpoints must be reachable on the public internet",
            url.host_str().unwrap_or_default()
        )));
    }
    Ok(url)
}

/// Names that by convention never resolve to a public host.
fn is_internal_name(domain: &str) -> bool {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    let internal_suffixes = [
        ".localhost",
        ".local",
        ".internal",
        ".localdomain",
        ".home.arpa",
    ];
    d == "localhost" || !d.contains('.') || internal_suffixes.iter().any(|s| d.ends_with(s))
}

/// Spellings of private targets that must never be accepted or contacted
/// with the guard on: the corpus the URL check and the SSRF guard are tested with.
pub const PRIVATE_TARGET_URLS: &[&str] = &[
    "https://127.0.0.1/",
    "https://0.0.0.0/",
    "https://[::1]/",
    "https://10.0.0.1/",
    "https://172.16.0.1/",
    "https://192.168.1.1/",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.64.0.1/",
    "https://[fc00::1]/",
    "https://[fe80::1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://2130706433/",
    "https://0x7f000001/",
    "https://017700000001/",
    "https://127.1/",
    "https://localhost/",
    "https://foo.localhost/",
    "https://metadata.google.internal/",
    "https://[64:ff9b::a00:1]/",
    "https://[2002:7f00:1::]/",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_targets_are_refused_by_default() {
        for url in PRIVATE_TARGET_URLS {
            assert!(
                validate_endpoint_url(url, false).is_err(),
                "{url} was accepted"
            );
        }
    }

    #[test]
    fn private_targets_are_allowed_when_the_deployment_says_so() {
        assert!(validate_endpoint_url("http://127.0.0.1:8080/hook", true).is_ok());
        assert!(validate_endpoint_url("http://localhost:9000/", true).is_ok());
    }

    #[test]
    fn public_https_urls_are_accepted() {
        for url in [
            "https://example.com/webhooks",
            "https://93.184.216.34/x",
            "https://[2606:4700::1111]/",
        ] {
            assert!(validate_endpoint_url(url, false).is_ok(), "{url}");
        }
    }

    #[test]
    fn http_credentials_and_odd_schemes_are_refused() {
        assert!(validate_endpoint_url("http://example.com/", false).is_err());
        assert!(validate_endpoint_url("ftp://example.com/", false).is_err());
        assert!(validate_endpoint_url("https://user:pw@example.com/", false).is_err());
        assert!(validate_endpoint_url("not a url", false).is_err());
        assert!(
            validate_endpoint_url(&format!("https://example.com/{}", "a".repeat(2100)), false)
                .is_err()
        );
    }

    #[test]
    fn ip_classes() {
        let public = |s: &str| is_public_ip(s.parse().unwrap());
        assert!(public("8.8.8.8"));
        assert!(public("2606:4700:4700::1111"));
        for ip in [
            "127.0.0.1",
            "0.0.0.0",
            "::1",
            "::",
            "10.1.2.3",
            "172.31.255.255",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "2001:db8::1",
            "64:ff9b::7f00:1",
            "ff02::1",
            "64:ff9b:1::808:808",
        ] {
            assert!(!public(ip), "{ip}");
        }
    }
}
