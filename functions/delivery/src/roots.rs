//! The root certificates deliveries trust: the platform's CA bundle.
//!
//! `rustls_native_certs::load_native_certs` reads the bundle and then every
//! file of the certificate directories, which on most systems hold the same
//! certificates again, one file each (146 on Debian, where that directory
//! walk is 2.8 of the 3.4 ms the whole load takes, paid in every cold
//! start), or other bundles (Amazon Linux's `ca-bundle.trust.crt`). So the
//! bundle alone is read when there is one with certificates in it; the
//! whole store when there is none, or when `SSL_CERT_FILE` or
//! `SSL_CERT_DIR` name where the certificates are.

use std::path::Path;

use rustls::pki_types::CertificateDer;

/// The platform's root certificates (see the module docs).
pub(crate) fn platform_roots() -> Vec<CertificateDer<'static>> {
    let named = ["SSL_CERT_FILE", "SSL_CERT_DIR"]
        .iter()
        .any(|var| std::env::var_os(var).is_some());
    let bundle = (!named).then(|| openssl_probe::probe().cert_file).flatten();
    roots_from(bundle.as_deref())
}

/// The certificates of `bundle` if it has any, else the whole store.
fn roots_from(bundle: Option<&Path>) -> Vec<CertificateDer<'static>> {
    if let Some(file) = bundle {
        let found = rustls_native_certs::load_certs_from_paths(Some(file), None);
        if !found.certs.is_empty() {
            return found.certs;
        }
        tracing::warn!(bundle = %file.display(), errors = ?found.errors, "no certificate in the CA bundle: reading the whole store");
    }
    rustls_native_certs::load_native_certs().certs
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn pem(certs: &[CertificateDer<'_>]) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        certs
            .iter()
            .map(|c| {
                let body = b64.encode(c.as_ref());
                let lines: Vec<&str> = body
                    .as_bytes()
                    .chunks(64)
                    .map(|l| std::str::from_utf8(l).unwrap())
                    .collect();
                format!(
                    "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                    lines.join("\n")
                )
            })
            .collect()
    }

    fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
        let path =
            std::env::temp_dir().join(format!("courier-roots-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_bundle_with_certificates_is_read_alone() {
        let store = rustls_native_certs::load_native_certs().certs;
        assert!(store.len() >= 3, "this machine has a root store");
        let bundle = temp_file("two.pem", &pem(&store[..2]));
        let roots = roots_from(Some(&bundle));
        std::fs::remove_file(&bundle).unwrap();
        assert_eq!(roots, store[..2].to_vec());
    }

    #[test]
    fn an_empty_or_missing_bundle_falls_back_to_the_whole_store() {
        let store = rustls_native_certs::load_native_certs().certs;
        let empty = temp_file("empty.pem", "not a certificate\n");
        let roots = roots_from(Some(&empty));
        std::fs::remove_file(&empty).unwrap();
        assert_eq!(roots.len(), store.len());
        let missing = std::env::temp_dir().join("courier-roots-no-such-file.pem");
        assert_eq!(roots_from(Some(&missing)).len(), store.len());
        assert_eq!(roots_from(None).len(), store.len());
    }

    #[test]
    fn the_platform_bundle_gives_the_stores_certificates() {
        // Debian's bundle holds every certificate of its directory but
        // locally added ones.
        let store = rustls_native_certs::load_native_certs().certs;
        let roots = platform_roots();
        assert!(!roots.is_empty());
        let missing = roots.iter().filter(|c| !store.contains(c)).count();
        assert_eq!(missing, 0, "the bundle's certificates are the store's");
    }
}
