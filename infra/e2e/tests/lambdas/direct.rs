//! The intake's direct `Invoke` door, through the Lambda Invoke API.

use courier_e2e::Stack;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_direct_invocation_is_a_function_error() {
    let stack = Stack::start().await;
    let missing_data = json!({"tenantId": "store_1", "type": "booking.created"});
    let err = stack
        .watch
        .invoke("intake", &missing_data)
        .await
        .unwrap_err();
    assert_eq!(err.error_type, "InvalidEvent", "{err:?}");
    assert!(err.message.contains("data"), "{err:?}");
    let unknown_type = json!({"tenantId": "store_1", "type": "no.such", "data": {}});
    let err = stack
        .watch
        .invoke("intake", &unknown_type)
        .await
        .unwrap_err();
    assert_eq!(err.error_type, "InvalidEvent", "{err:?}");
}
