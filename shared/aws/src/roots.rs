//! The system's root certificates, loaded once per process for every HTTPS
//! client of a binary: the SDK's ([`crate::sdk_config_from`]) and the
//! deliveries' (`courier_delivery::Sender`). Each client used to load the
//! platform's store itself — the CA bundle, then each file of the
//! certificate directory — so the delivery function read and parsed it
//! twice during its cold start.

use std::sync::LazyLock;

use base64::Engine;
use rustls_pki_types::CertificateDer;

static ROOTS: LazyLock<Vec<CertificateDer<'static>>> = LazyLock::new(load);

/// The platform's root certificates, as `rustls-native-certs` finds them
/// (`SSL_CERT_FILE` and `SSL_CERT_DIR`, else where OpenSSL would look),
/// loaded on first use. Unreadable ones are left out and the rest kept.
pub fn system_roots() -> &'static [CertificateDer<'static>] {
    &ROOTS
}

/// The same certificates as PEM text: the SDK's trust store takes PEM.
pub fn system_roots_pem() -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut pem = String::new();
    for cert in system_roots() {
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        let text = b64.encode(cert.as_ref());
        for line in text.as_bytes().chunks(64) {
            // Base64 is ASCII.
            pem.push_str(std::str::from_utf8(line).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    pem.into_bytes()
}

fn load() -> Vec<CertificateDer<'static>> {
    let found = rustls_native_certs::load_native_certs();
    if !found.errors.is_empty() {
        tracing::warn!(errors = found.errors.len(), first = %found.errors[0], "some root certificates could not be read");
    }
    if found.certs.is_empty() {
        tracing::error!("no root certificates found: every https request will fail");
    }
    found.certs
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::pem::PemObject;

    #[test]
    fn the_store_is_loaded_once_and_reads_back_from_its_pem() {
        let roots = system_roots();
        assert!(
            roots.len() > 100,
            "{} certificates on this machine",
            roots.len()
        );
        assert!(std::ptr::eq(roots, system_roots()), "loaded once");
        let pem = system_roots_pem();
        let back: Vec<_> = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .expect("valid PEM");
        assert_eq!(back, roots);
    }
}
