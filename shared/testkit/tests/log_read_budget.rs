//! DynamoDB only: a delivery-log filter that matches little in a busy log
//! does not read the whole partition in one call. Past the read budget the
//! page comes back short with a cursor, and following the cursors still
//! reaches every match.

use courier::attempt::{AttemptStatus, DeliveryAttempt, DeliveryQuery, StatusFilter};
use courier::ids::{DeliveryId, EndpointId, MessageId, TenantId};
use courier::message::Trigger;
use courier::ports::DeliveryLog;
use time::OffsetDateTime;

fn attempt(tenant: &TenantId, endpoint: EndpointId, status: AttemptStatus) -> DeliveryAttempt {
    let now = OffsetDateTime::now_utc();
    DeliveryAttempt {
        id: DeliveryId::generate(),
        tenant_id: tenant.clone(),
        endpoint_id: endpoint,
        event_id: "evt_budget".parse().unwrap(),
        event_type: "booking.created".parse().unwrap(),
        message_id: MessageId::generate(),
        attempt: 1,
        trigger: Trigger::Event,
        status,
        url: "https://example.com/".into(),
        http_status: Some(200),
        response_time_ms: Some(5),
        error_class: None,
        error: None,
        response_body: None,
        request_headers: Default::default(),
        created_at: now,
        next_attempt_at: None,
        expires_at: now + time::Duration::days(7),
        probe: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rare_filter_in_a_busy_log_pages_within_a_read_budget() {
    let store = courier_testkit::aws::store().await;
    let tenant: TenantId = format!("budget_{}", ulid::Ulid::new()).parse().unwrap();
    let endpoint = EndpointId::generate();
    // One skipped entry, oldest, under 3,000 successes.
    let mut entries = vec![attempt(&tenant, endpoint, AttemptStatus::Skipped)];
    entries.extend((0..3000).map(|_| attempt(&tenant, endpoint, AttemptStatus::Succeeded)));
    store.record_attempts(&entries).await.unwrap();

    let mut query = DeliveryQuery {
        limit: 10,
        status: Some(StatusFilter::Skipped),
        ..DeliveryQuery::default()
    };
    let first = store
        .recent_deliveries(&tenant, endpoint, &query)
        .await
        .unwrap();
    assert!(
        first.items.is_empty(),
        "the match is past the first page's budget"
    );
    assert!(
        first.next_cursor.is_some(),
        "a short page must say that more may follow"
    );

    let mut found = Vec::new();
    let mut pages = 1;
    query.cursor = first.next_cursor;
    while query.cursor.is_some() {
        let page = store
            .recent_deliveries(&tenant, endpoint, &query)
            .await
            .unwrap();
        found.extend(page.items);
        query.cursor = page.next_cursor;
        pages += 1;
        assert!(pages < 20, "paging does not end");
    }
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, entries[0].id);
}
