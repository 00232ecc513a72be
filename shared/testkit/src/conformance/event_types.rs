//! The event-type catalogue.

use courier::event_type::{EventType, EventTypeName};
use courier::paging::encode_cursor;
use courier::ports::{Store, StoreError};
use time::OffsetDateTime;

/// Names no other test uses (the catalogue is shared by all tenants).
fn unique_names(n: usize) -> Vec<EventTypeName> {
    let prefix = format!("t{}", ulid::Ulid::new().to_string().to_lowercase());
    (0..n)
        .map(|i| format!("{prefix}.thing_{i}.created").parse().unwrap())
        .collect()
}

fn event_type(name: &EventTypeName) -> EventType {
    EventType {
        name: name.clone(),
        description: format!("{name} happened"),
        created_at: OffsetDateTime::now_utc(),
    }
}

/// A type reads back; adding it twice fails; deleting it twice reports
/// that the second found nothing.
pub async fn event_types_create_read_and_delete(store: &dyn Store) {
    let name = unique_names(1).remove(0);
    let et = event_type(&name);
    store.create_event_type(&et).await.unwrap();
    assert_eq!(store.event_type(&name).await.unwrap(), Some(et.clone()));
    assert!(matches!(
        store.create_event_type(&et).await,
        Err(StoreError::AlreadyExists)
    ));
    assert!(store.delete_event_type(&name).await.unwrap());
    assert!(!store.delete_event_type(&name).await.unwrap());
    assert_eq!(store.event_type(&name).await.unwrap(), None);
}

/// The catalogue lists in name order, in cursor pages.
pub async fn event_types_list_in_name_order_in_pages(store: &dyn Store) {
    let names = unique_names(5);
    // Created out of order.
    for i in [3, 0, 4, 1, 2] {
        store
            .create_event_type(&event_type(&names[i]))
            .await
            .unwrap();
    }
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store.list_event_types(2, cursor.as_deref()).await.unwrap();
        assert!(page.items.len() <= 2);
        listed.extend(page.items.into_iter().map(|t| t.name));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted, "name order across pages");
    let ours: Vec<_> = listed.into_iter().filter(|n| names.contains(n)).collect();
    assert_eq!(ours, names);
    assert!(matches!(
        store
            .list_event_types(2, Some(&encode_cursor("not a name!")))
            .await,
        Err(StoreError::InvalidCursor)
    ));
}
