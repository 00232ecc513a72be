//! API keys and portal sessions.
//!
//! **Endpoints table** (kept: a key lives until it is revoked):
//!
//! | item | pk | sk | attributes |
//! |---|---|---|---|
//! | API key | `APIKEYS#{tenant}` | `{key_id}` (ULID: oldest first) | the `ApiKey` in camelCase, `hash` (hex SHA-256 of the key) |
//! | key lookup | `APIKEY#{hash}` | `APIKEY` | the same attributes |
//!
//! The two items are written, touched and deleted together in one
//! transaction, so a revoked key stops working at the next request.
//!
//! **Deliveries table** (expiring):
//!
//! | item | pk | sk | attributes | expires |
//! |---|---|---|---|---|
//! | portal session | `PORTAL#{hash}` | `SESSION` | `tenantId`, `readOnly`, `createdAt`, `expiresAtRfc3339` | at the session's end |

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use courier::credentials::{ApiKey, ApiKeyId, CredentialHash, CredentialStore, PortalSession};
use courier::ids::TenantId;
use courier::paging::{MAX_PAGE, decode_cursor};
use courier::ports::{Page, StoreError};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{
    DynamoStore, Item, build, condition_failed, first_condition_failed, from_item, get_s,
    into_page, key, n, query_first, s, to_item, transaction_cancelled, unavailable,
};
use crate::schema::{PARTITION_KEY, TTL_ATTRIBUTE};

const LOOKUP_SK: &str = "APIKEY";
const SESSION_SK: &str = "SESSION";

fn keys_pk(tenant: &TenantId) -> String {
    format!("APIKEYS#{tenant}")
}

fn lookup_key(hash: &str) -> Item {
    key(format!("APIKEY#{hash}"), LOOKUP_SK.to_owned())
}

fn listing_key(tenant: &TenantId, id: ApiKeyId) -> Item {
    key(keys_pk(tenant), id.to_string())
}

fn session_key(hash: &CredentialHash) -> Item {
    key(format!("PORTAL#{}", hash.to_hex()), SESSION_SK.to_owned())
}

fn rfc3339(t: OffsetDateTime) -> Result<String, StoreError> {
    t.format(&Rfc3339)
        .map_err(|e| StoreError::Unavailable(format!("could not format a time: {e}")))
}

fn parse_time(item: &Item, name: &str) -> Result<OffsetDateTime, StoreError> {
    get_s(item, name)
        .and_then(|v| OffsetDateTime::parse(v, &Rfc3339).ok())
        .ok_or_else(|| StoreError::Unavailable(format!("stored portal session lacks {name}")))
}

impl DynamoStore {
    /// The listing item and the lookup item of a key, both conditional on
    /// being new.
    fn put_api_key_items(
        &self,
        api_key: &ApiKey,
        hash: &str,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut body = to_item(api_key)?;
        body.insert("hash".into(), s(hash));
        let mut items = Vec::new();
        for place in [
            listing_key(&api_key.tenant_id, api_key.id),
            lookup_key(hash),
        ] {
            let mut item = body.clone();
            item.extend(place);
            let put = build(
                Put::builder()
                    .table_name(&self.endpoints_table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", PARTITION_KEY)
                    .build(),
            )?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        Ok(items)
    }

    /// The listing item of a key, read consistently.
    async fn read_api_key(
        &self,
        tenant: &TenantId,
        id: ApiKeyId,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.endpoints_table)
            .set_key(Some(listing_key(tenant, id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }

    /// Sets `lastUsedAt` on both items of a key that still exists.
    fn touch_items(
        &self,
        places: [Item; 2],
        at: &str,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        places
            .into_iter()
            .map(|place| {
                let update = build(
                    Update::builder()
                        .table_name(&self.endpoints_table)
                        .set_key(Some(place))
                        .update_expression("SET lastUsedAt = :at")
                        .condition_expression("attribute_exists(#pk)")
                        .expression_attribute_names("#pk", PARTITION_KEY)
                        .expression_attribute_values(":at", s(at))
                        .build(),
                )?;
                Ok(TransactWriteItem::builder().update(update).build())
            })
            .collect()
    }

    /// Deletes both items of a key, the listing item only if still there.
    fn delete_items(&self, places: [Item; 2]) -> Result<Vec<TransactWriteItem>, StoreError> {
        places
            .into_iter()
            .enumerate()
            .map(|(i, place)| {
                let mut delete = Delete::builder()
                    .table_name(&self.endpoints_table)
                    .set_key(Some(place));
                if i == 0 {
                    delete = delete
                        .condition_expression("attribute_exists(#pk)")
                        .expression_attribute_names("#pk", PARTITION_KEY);
                }
                Ok(TransactWriteItem::builder()
                    .delete(build(delete.build())?)
                    .build())
            })
            .collect()
    }
}

#[async_trait]
impl CredentialStore for DynamoStore {
    async fn create_api_key(&self, key: &ApiKey, hash: &CredentialHash) -> Result<(), StoreError> {
        let items = self.put_api_key_items(key, &hash.to_hex())?;
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(e) if transaction_cancelled(&e) => Err(StoreError::AlreadyExists),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn api_keys(
        &self,
        tenant: &TenantId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<ApiKey>, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let start = match cursor {
            Some(c) => {
                let after: ApiKeyId = decode_cursor(c)?
                    .parse()
                    .map_err(|_| StoreError::InvalidCursor)?;
                Some(listing_key(tenant, after))
            }
            None => None,
        };
        let query = self
            .client
            .query()
            .table_name(&self.endpoints_table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_values(":pk", s(keys_pk(tenant)))
            .consistent_read(true);
        let items = query_first(query, start, limit + 1)
            .await?
            .into_iter()
            .map(from_item)
            .collect::<Result<Vec<ApiKey>, _>>()?;
        Ok(into_page(items, limit, |k| k.id.to_string()))
    }

    async fn api_key_by_hash(&self, hash: &CredentialHash) -> Result<Option<ApiKey>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.endpoints_table)
            .set_key(Some(lookup_key(&hash.to_hex())))
            // A revoked key must fail on the very next request.
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.item.map(from_item).transpose()
    }

    async fn touch_api_key(
        &self,
        tenant: &TenantId,
        id: ApiKeyId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let Some(item) = self.read_api_key(tenant, id).await? else {
            return Ok(());
        };
        let hash = get_s(&item, "hash").unwrap_or_default().to_owned();
        let items =
            self.touch_items([listing_key(tenant, id), lookup_key(&hash)], &rfc3339(at)?)?;
        match self.transact(items).await {
            // Revoked meanwhile, or another request touched it: nothing to record.
            Ok(()) => Ok(()),
            Err(e) if transaction_cancelled(&e) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn revoke_api_key(&self, tenant: &TenantId, id: ApiKeyId) -> Result<bool, StoreError> {
        let Some(item) = self.read_api_key(tenant, id).await? else {
            return Ok(false);
        };
        let hash = get_s(&item, "hash").unwrap_or_default().to_owned();
        let items = self.delete_items([listing_key(tenant, id), lookup_key(&hash)])?;
        match self.transact(items).await {
            Ok(()) => Ok(true),
            // Revoked by a concurrent request.
            Err(e) if first_condition_failed(&e) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn create_portal_session(
        &self,
        session: &PortalSession,
        hash: &CredentialHash,
    ) -> Result<(), StoreError> {
        let mut item = session_key(hash);
        item.insert("tenantId".into(), s(session.tenant_id.as_str()));
        item.insert("readOnly".into(), AttributeValue::Bool(session.read_only));
        item.insert("createdAt".into(), s(rfc3339(session.created_at)?));
        item.insert("expiresAtRfc3339".into(), s(rfc3339(session.expires_at)?));
        // Rounded up: TTL must never drop a session before its end.
        let ttl =
            session.expires_at.unix_timestamp() + i64::from(session.expires_at.nanosecond() > 0);
        item.insert(TTL_ATTRIBUTE.into(), n(ttl));
        self.client
            .put_item()
            .table_name(&self.deliveries_table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                if condition_failed(&e) {
                    StoreError::AlreadyExists
                } else {
                    unavailable(e)
                }
            })
    }

    async fn portal_session(
        &self,
        hash: &CredentialHash,
    ) -> Result<Option<PortalSession>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.deliveries_table)
            .set_key(Some(session_key(hash)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let tenant_id = get_s(&item, "tenantId")
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| {
                StoreError::Unavailable("stored portal session lacks tenantId".into())
            })?;
        Ok(Some(PortalSession {
            tenant_id,
            read_only: item
                .get("readOnly")
                .and_then(|v| v.as_bool().ok())
                .copied()
                .unwrap_or(true),
            created_at: parse_time(&item, "createdAt")?,
            expires_at: parse_time(&item, "expiresAtRfc3339")?,
        }))
    }
}
