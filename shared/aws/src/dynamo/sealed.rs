//! Endpoint items in sealed form: the `secrets` list and the custom
//! `headers` are never written; their sealed bytes (one value, see
//! `courier::sealing`) are stored in `sealedSecrets`. Items of earlier
//! releases with plaintext `secrets` are still read, and lose them at their
//! next full write (`update_endpoint` removes them, and any `headers`).

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use courier::endpoint::Endpoint;
use courier::ids::{EndpointId, TenantId};
use courier::ports::StoreError;
use courier::sealing::{SealedParts, seal_secrets};

use super::{DynamoStore, Item, from_item, to_item};

/// The plaintext secrets list of items written before sealing; never written now.
pub(super) const SECRETS: &str = "secrets";
/// The custom headers, whose values may be credentials; never written.
pub(super) const HEADERS: &str = "headers";
/// The secrets list and the custom headers, sealed (binary).
pub(super) const SEALED_SECRETS: &str = "sealedSecrets";

/// An endpoint item's endpoint, its secrets still sealed: `secrets` is
/// empty and the sealed bytes are returned beside it. An item of an earlier
/// release holds plaintext `secrets` instead: read as it is, with `None`.
pub(super) fn endpoint_from_item(
    mut item: Item,
) -> Result<(Endpoint, Option<Vec<u8>>), StoreError> {
    let sealed = match item.remove(SEALED_SECRETS) {
        Some(AttributeValue::B(b)) => {
            item.insert(SECRETS.into(), AttributeValue::L(Vec::new()));
            item.remove(HEADERS);
            Some(b.into_inner())
        }
        Some(_) => {
            return Err(StoreError::Unavailable(format!(
                "stored endpoint has a malformed {SEALED_SECRETS}"
            )));
        }
        None => None,
    };
    Ok((from_item(item)?, sealed))
}

impl DynamoStore {
    /// The endpoint's attributes as stored: its secrets and headers sealed,
    /// no `secrets` or `headers`.
    pub(super) async fn endpoint_attributes(&self, ep: &Endpoint) -> Result<Item, StoreError> {
        let sealed = seal_secrets(&*self.sealer, ep).await?;
        let mut item = to_item(ep)?;
        item.remove(SECRETS);
        item.remove(HEADERS);
        item.insert(SEALED_SECRETS.into(), AttributeValue::B(Blob::new(sealed)));
        Ok(item)
    }

    /// The endpoint [`endpoint_from_item`] read, its secrets and headers opened.
    pub(super) async fn opened(
        &self,
        (mut ep, sealed): (Endpoint, Option<Vec<u8>>),
    ) -> Result<Endpoint, StoreError> {
        if let Some(sealed) = sealed {
            self.open_secrets(&ep.tenant_id, ep.id, &sealed)
                .await?
                .apply_to(&mut ep);
        }
        Ok(ep)
    }

    /// What `sealed` holds for the endpoint `tenant`/`id`: remembered, or
    /// opened by the sealer (KMS `Decrypt` of its data key, when not cached).
    async fn open_secrets(
        &self,
        tenant: &TenantId,
        id: EndpointId,
        sealed: &[u8],
    ) -> Result<SealedParts, StoreError> {
        self.secrets.open(&*self.sealer, tenant, id, sealed).await
    }
}
