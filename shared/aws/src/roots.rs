//! The root certificates every HTTPS client of a function trusts (the
//! SDK's and, in the delivery function, deliveries'): the platform's CA
//! bundle, read once per process.
//!
//! `rustls_native_certs::load_native_certs`, which the SDK's client calls
//! by default while it is built (in every cold start), reads the bundle and
//! then every file of the certificate directories. Those hold the same
//! certificates again, one file each (146 on Debian, where that walk is
//! 2.8 of the 3.4 ms the whole load takes), or other bundles (Amazon
//! Linux's `ca-bundle.trust.crt`). So the bundle alone is read when there is
//! one and every certificate in it parses; the whole store when there is
//! none, when it holds something that does not parse (the SDK's parser
//! would panic on it), or when `SSL_CERT_FILE` or `SSL_CERT_DIR` name where
//! the certificates are.

use std::path::Path;
use std::sync::OnceLock;

use aws_smithy_http_client::tls::TrustStore;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// The platform's root certificates, parsed, and how to hand them to the SDK.
#[derive(Debug, Clone)]
pub struct PlatformRoots {
    /// For rustls clients (deliveries).
    pub store: RootCertStore,
    /// The bundle's PEM when every certificate of it parsed; `None` when
    /// the whole store was read instead.
    bundle_pem: Option<Vec<u8>>,
}

impl PlatformRoots {
    /// The SDK's trust store: the bundle, or the platform's native store.
    pub fn trust_store(&self) -> TrustStore {
        match &self.bundle_pem {
            Some(pem) => TrustStore::empty()
                .with_native_roots(false)
                .with_pem_certificate(pem.clone()),
            None => TrustStore::default(),
        }
    }

    /// True when the bundle alone was read.
    pub fn from_bundle(&self) -> bool {
        self.bundle_pem.is_some()
    }
}

/// This process's root certificates (see the module docs), read on first use.
pub fn platform() -> &'static PlatformRoots {
    static ROOTS: OnceLock<PlatformRoots> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let named = ["SSL_CERT_FILE", "SSL_CERT_DIR"]
            .iter()
            .any(|var| std::env::var_os(var).is_some());
        let bundle = (!named).then(|| openssl_probe::probe().cert_file).flatten();
        roots_from(bundle.as_deref())
    })
}

/// The certificates of `bundle` if it has some and all parse, else the
/// whole store.
fn roots_from(bundle: Option<&Path>) -> PlatformRoots {
    if let Some(file) = bundle {
        match bundle_roots(file) {
            Ok(roots) => return roots,
            Err(why) => {
                tracing::warn!(bundle = %file.display(), why, "reading the whole root store")
            }
        }
    }
    let mut store = RootCertStore::empty();
    // Unreadable certificates are skipped, as the SDK's client does.
    let (added, _) =
        store.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if added == 0 {
        tracing::error!("no root certificates found: every https request will fail");
    }
    PlatformRoots {
        store,
        bundle_pem: None,
    }
}

fn bundle_roots(file: &Path) -> Result<PlatformRoots, &'static str> {
    let pem = std::fs::read(file).map_err(|_| "the CA bundle could not be read")?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| "the CA bundle holds malformed PEM")?;
    let mut store = RootCertStore::empty();
    let (added, ignored) = store.add_parsable_certificates(certs);
    match (added, ignored) {
        (0, _) => Err("the CA bundle holds no certificate"),
        (_, 0) => Ok(PlatformRoots {
            store,
            bundle_pem: Some(pem),
        }),
        _ => Err("a certificate of the CA bundle does not parse"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path =
            std::env::temp_dir().join(format!("courier-roots-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Two PEM certificates of this machine's store, copied from its bundle.
    fn two_certificates() -> Vec<u8> {
        let bundle = openssl_probe::probe()
            .cert_file
            .expect("this machine has a CA bundle");
        let text = std::fs::read_to_string(bundle).unwrap();
        let end = "-----END CERTIFICATE-----\n";
        let mut out = String::new();
        for block in text.split_inclusive(end).take(2) {
            out.push_str(&block[block.find("-----BEGIN").unwrap()..]);
        }
        out.into_bytes()
    }

    #[test]
    fn a_bundle_whose_certificates_all_parse_is_read_alone() {
        let file = temp_file("two.pem", &two_certificates());
        let roots = roots_from(Some(&file));
        std::fs::remove_file(&file).unwrap();
        assert!(roots.from_bundle());
        assert_eq!(roots.store.len(), 2);
    }

    #[test]
    fn an_empty_missing_or_broken_bundle_falls_back_to_the_whole_store() {
        let whole = rustls_native_certs::load_native_certs().certs.len();
        let mut broken = two_certificates();
        // A certificate whose DER is not X.509: the SDK would panic on it.
        broken.extend_from_slice(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        for (name, bytes) in [
            ("empty.pem", &b"not a certificate\n"[..]),
            ("broken.pem", &broken),
        ] {
            let file = temp_file(name, bytes);
            let roots = roots_from(Some(&file));
            std::fs::remove_file(&file).unwrap();
            assert!(!roots.from_bundle(), "{name}");
            assert!(roots.store.len() > 2, "{name}: the whole store");
            assert!(roots.store.len() <= whole, "{name}");
        }
        let missing = std::env::temp_dir().join("courier-roots-no-such-file.pem");
        assert!(!roots_from(Some(&missing)).from_bundle());
        assert!(!roots_from(None).from_bundle());
    }

    #[test]
    fn the_platform_bundle_holds_only_certificates_of_the_store() {
        let bundle = openssl_probe::probe()
            .cert_file
            .expect("this machine has a CA bundle");
        let roots = roots_from(Some(&bundle));
        assert!(roots.from_bundle(), "Debian's bundle parses whole");
        let mut whole = RootCertStore::empty();
        whole.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        let missing = roots
            .store
            .roots
            .iter()
            .filter(|a| !whole.roots.contains(a))
            .count();
        assert_eq!(missing, 0);
        assert!(
            roots.store.len() + 2 >= whole.len(),
            "the directory adds little"
        );
    }

    #[test]
    fn an_sdk_client_is_built_on_the_bundle() {
        use aws_smithy_http_client::tls::{Provider, TlsContext, rustls_provider::CryptoMode};
        let bundle = openssl_probe::probe()
            .cert_file
            .expect("this machine has a CA bundle");
        let roots = roots_from(Some(&bundle));
        assert!(roots.from_bundle());
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .tls_context(
                TlsContext::builder()
                    .with_trust_store(roots.trust_store())
                    .build()
                    .unwrap(),
            )
            .build_https();
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .region(aws_types::region::Region::new("us-east-1"))
            .http_client(http)
            .build();
        // Building the client builds its connector, which parses the PEM
        // (and would panic on a certificate it cannot parse).
        let _client = aws_sdk_sqs::Client::from_conf(config);
    }
}
