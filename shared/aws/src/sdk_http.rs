//! The SDK's HTTPS client: rustls on ring with the platform's root
//! certificates as read once by [`crate::roots`], the same TLS stack and
//! roots as deliveries.
//!
//! The SDK's hyper client checks itself while each service client is built
//! (`validate_base_client_config`) by building a throw-away connector, so
//! that a missing root store fails at start-up rather than on the first
//! request. Each connector parses the whole CA bundle again: with three
//! service clients that is three parses of ~220 KB of PEM in every cold
//! start, for certificates [`crate::roots`] has already read and checked.
//! [`RootsChecked`] skips that check and forwards everything else; the one
//! real connector is still built on the first request and shared by every
//! client (the SDK caches it per timeout settings).

use aws_sdk_dynamodb::config::{
    ConfigBag, HttpClient, RuntimeComponents, RuntimeComponentsBuilder, SharedHttpClient,
};
use aws_smithy_http_client::tls::{Provider, TlsContext, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{HttpConnectorSettings, SharedHttpConnector};

/// The HTTPS client every SDK client of a function shares.
pub(crate) fn https_client() -> SharedHttpClient {
    let tls = TlsContext::builder()
        .with_trust_store(crate::roots::platform().trust_store())
        .build()
        .expect("a rustls TLS context takes any trust store");
    let client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls)
        .build_https();
    SharedHttpClient::new(RootsChecked(client))
}

/// An HTTP client whose root certificates were checked when they were read
/// ([`crate::roots::platform`]): the client-build check is not repeated.
#[derive(Debug)]
pub(crate) struct RootsChecked<C>(C);

impl<C: HttpClient> HttpClient for RootsChecked<C> {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn validate_base_client_config(
        &self,
        _: &RuntimeComponentsBuilder,
        _: &ConfigBag,
    ) -> Result<(), BoxError> {
        Ok(())
    }

    fn validate_final_config(
        &self,
        components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.validate_final_config(components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts the checks made of it; builds no connector.
    #[derive(Debug, Default)]
    struct Checks {
        base: AtomicUsize,
        r#final: AtomicUsize,
    }

    impl HttpClient for Checks {
        fn http_connector(
            &self,
            _: &HttpConnectorSettings,
            _: &RuntimeComponents,
        ) -> SharedHttpConnector {
            unreachable!("no request is made")
        }

        fn validate_base_client_config(
            &self,
            _: &RuntimeComponentsBuilder,
            _: &ConfigBag,
        ) -> Result<(), BoxError> {
            self.base.fetch_add(1, Ordering::Relaxed);
            Err("would build a connector".into())
        }

        fn validate_final_config(
            &self,
            _: &RuntimeComponents,
            _: &ConfigBag,
        ) -> Result<(), BoxError> {
            self.r#final.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }

        fn connector_metadata(&self) -> Option<ConnectorMetadata> {
            Some(ConnectorMetadata::new("checks", None))
        }
    }

    #[test]
    fn the_build_time_check_is_skipped_and_the_rest_forwarded() {
        let client = RootsChecked(Checks::default());
        let builder = RuntimeComponentsBuilder::new("test");
        let bag = ConfigBag::base();
        client
            .validate_base_client_config(&builder, &bag)
            .expect("skipped, so it cannot fail");
        assert_eq!(client.0.base.load(Ordering::Relaxed), 0);
        assert_eq!(
            client.connector_metadata().map(|m| m.name().to_string()),
            Some("checks".to_string())
        );
    }

    #[test]
    fn every_sdk_client_shares_the_hyper_client_on_ring() {
        let client = https_client();
        let debug = format!("{client:?}");
        assert!(debug.contains("RootsChecked"), "{debug}");
        assert_eq!(
            client.connector_metadata().map(|m| m.name().to_string()),
            Some("hyper".to_string())
        );
    }
}
