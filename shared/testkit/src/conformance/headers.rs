//! Custom headers: kept with the endpoint (sealed with its secrets) through
//! every write, its settings' and its delivery bookkeeping's.

use courier::endpoint::DisabledReason;
use courier::headers::CustomHeader;
use courier::ports::Store;
use time::{Duration, OffsetDateTime};

use super::outcome::{failure, rules};
use super::{endpoint, unique_tenant};

/// A custom header of the tests.
pub fn custom_header(name: &str, value: &str) -> CustomHeader {
    CustomHeader {
        name: name.into(),
        value: value.into(),
    }
}

/// Custom headers read back in order on every read path, survive failure
/// counting and auto-disable, other settings' updates, and are replaced or
/// cleared by an update that changes them.
pub async fn custom_headers_round_trip_through_every_write(store: &dyn Store) {
    let tenant = unique_tenant();
    let mut ep = endpoint(&tenant, &["*"]);
    ep.headers = vec![
        custom_header("X-Routing-Key", "eu-1"),
        custom_header("Authorization", "Bearer conformance-credential"),
    ];
    store.create_endpoint(&ep).await.unwrap();
    assert_eq!(
        store.endpoint(&tenant, ep.id).await.unwrap(),
        Some(ep.clone())
    );
    let listed = store.list_endpoints(&tenant, 10, None).await.unwrap();
    assert_eq!(listed.items[0].headers, ep.headers);

    // Counting and auto-disable write parts of the item only.
    let at = OffsetDateTime::now_utc() + Duration::minutes(1);
    let two = [failure(at), failure(at + Duration::seconds(10))];
    let recorded = store
        .record_outcome(&tenant, ep.id, &two, &rules(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(recorded.disabled, Some(DisabledReason::ConsecutiveFailures));
    let read = store.endpoint(&tenant, ep.id).await.unwrap().unwrap();
    assert!(!read.enabled);
    assert_eq!(read.headers, ep.headers, "counting keeps the headers");

    // Another setting changed: the headers stay.
    let mut renamed = read.clone();
    renamed.description = "renamed".into();
    renamed.revision += 1;
    store.update_endpoint(&read, &renamed).await.unwrap();
    let read = store.endpoint(&tenant, ep.id).await.unwrap().unwrap();
    assert_eq!(read.headers, ep.headers);

    // Replaced as a whole, then cleared.
    let mut replaced = read.clone();
    replaced.headers = vec![custom_header("X-Other", "v2")];
    replaced.revision += 1;
    store.update_endpoint(&read, &replaced).await.unwrap();
    let read = store.endpoint(&tenant, ep.id).await.unwrap().unwrap();
    assert_eq!(read.headers, replaced.headers);
    assert_eq!(
        read.secrets, ep.secrets,
        "the secrets are sealed beside them"
    );
    let mut cleared = read.clone();
    cleared.headers.clear();
    cleared.revision += 1;
    store.update_endpoint(&read, &cleared).await.unwrap();
    let read = store.endpoint(&tenant, ep.id).await.unwrap().unwrap();
    assert!(read.headers.is_empty());
    assert_eq!(read.description, "renamed");
}
