//! What a streaming fan-out needs from storage: subscribers page by page,
//! the per-tenant endpoint count, and the fan-out lease with its resume point.

use std::collections::BTreeSet;

use courier::ids::EndpointId;
use courier::ports::{FanOutClaim, Store};
use time::{Duration, OffsetDateTime};

use super::{endpoint, event, unique_tenant};

/// Pages of two, read after the last id of the previous page, list every
/// subscriber once in id order, even one that several filters select; a
/// short page ends the list.
pub async fn subscribers_page_in_id_order_without_repeats(store: &dyn Store) {
    let t = unique_tenant();
    let mut expected = BTreeSet::new();
    for filters in [
        &["*"][..],
        &["booking.*", "*"],
        &["booking.created"],
        &["order.*"],
    ] {
        let ep = endpoint(&t, filters);
        store.create_endpoint(&ep).await.unwrap();
        if filters != ["order.*"] {
            expected.insert(ep.id);
        }
    }
    let mut disabled = endpoint(&t, &["*"]);
    disabled.enabled = false;
    store.create_endpoint(&disabled).await.unwrap();

    let booking = "booking.created".parse().unwrap();
    let mut seen: Vec<EndpointId> = Vec::new();
    let mut pages = Vec::new();
    loop {
        let page = store
            .subscribed_endpoints_after(&t, &booking, seen.last().copied(), 2)
            .await
            .unwrap();
        pages.push(page.len());
        let end = page.len() < 2;
        seen.extend(page);
        if end {
            break;
        }
    }
    assert_eq!(pages, [2, 1], "three subscribers in pages of two");
    assert_eq!(seen, expected.into_iter().collect::<Vec<_>>());
    let last = *seen.last().unwrap();
    let after_last = store
        .subscribed_endpoints_after(&t, &booking, Some(last), 2)
        .await
        .unwrap();
    assert!(after_last.is_empty(), "{after_last:?}");
}

/// A tenant's endpoints are counted, disabled ones included, another
/// tenant's not; a deleted one no longer counts.
pub async fn endpoint_count_counts_the_tenants_endpoints(store: &dyn Store) {
    let (t, other) = (unique_tenant(), unique_tenant());
    assert_eq!(store.endpoint_count(&t).await.unwrap(), 0);
    let mut eps = Vec::new();
    for enabled in [true, true, false] {
        let mut ep = endpoint(&t, &["*"]);
        ep.enabled = enabled;
        store.create_endpoint(&ep).await.unwrap();
        eps.push(ep);
    }
    store
        .create_endpoint(&endpoint(&other, &["*"]))
        .await
        .unwrap();
    assert_eq!(store.endpoint_count(&t).await.unwrap(), 3);
    store.delete_endpoint(&t, eps[0].id).await.unwrap();
    assert_eq!(store.endpoint_count(&t).await.unwrap(), 2);
    assert_eq!(store.endpoint_count(&other).await.unwrap(), 1);
}

/// The request that stored an event holds its fan-out; once released with
/// a resume point, exactly one claimant takes it over and resumes there;
/// a finished or unknown event cannot be claimed.
pub async fn fan_out_lease_is_taken_over_once_and_resumes(store: &dyn Store) {
    let t = unique_tenant();
    let e = event(&t, "booking.created", "{}");
    let week = OffsetDateTime::now_utc() + Duration::days(7);
    store.store_event(&e, week).await.unwrap();
    assert_eq!(
        store.claim_fan_out(&t, &e.id).await.unwrap(),
        FanOutClaim::Held,
        "the storer holds the lease"
    );
    let stopped_at = EndpointId::generate();
    store
        .release_fan_out(&t, &e.id, Some(stopped_at))
        .await
        .unwrap();
    let claims = futures::future::join_all((0..4).map(|_| store.claim_fan_out(&t, &e.id))).await;
    let claims: Vec<FanOutClaim> = claims.into_iter().map(Result::unwrap).collect();
    let resumed = FanOutClaim::Claimed {
        resume_after: Some(stopped_at),
    };
    assert_eq!(
        claims.iter().filter(|c| **c == resumed).count(),
        1,
        "{claims:?}"
    );
    assert_eq!(
        claims.iter().filter(|c| **c == FanOutClaim::Held).count(),
        3
    );

    store.mark_fanned_out(&e, week).await.unwrap();
    store.release_fan_out(&t, &e.id, None).await.unwrap();
    assert_eq!(
        store.claim_fan_out(&t, &e.id).await.unwrap(),
        FanOutClaim::Finished
    );
    let unknown = event(&t, "booking.created", "{}");
    assert_eq!(
        store.claim_fan_out(&t, &unknown.id).await.unwrap(),
        FanOutClaim::Finished
    );
}
