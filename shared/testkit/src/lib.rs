//! Shared test support: the storage and queue conformance suite (written
//! once, run on the embedded and the AWS adapters), the backends it runs on
//! (the AWS one on DynamoDB Local and moto), and a loopback receiver for
//! delivery tests.

pub mod aws;
mod backends;
pub mod builders;
pub mod conformance;
pub mod fakes;
pub mod faults;
mod queue;
pub mod receiver;
pub mod samples;
pub mod standardwebhooks;
pub mod stream;

pub use backends::{
    AwsTestBackend, EmbeddedTestBackend, StreamBatch, TEST_VISIBILITY, TestBackend,
};
pub use builders::{
    api_key, endpoint, endpoint_at, ensure_event_type, event, portal_token, unique_tenant,
};
pub use fakes::{PartlyFailingQueue, RecordingQueue};
pub use queue::{ReceivingQueue, SqsTestQueue, drain_messages};
pub use receiver::{Receiver, RecordedRequest, Reply, ReplyRule};

/// Expands to one `#[tokio::test]` per conformance function, each run on a
/// fresh store or queue from `$backend` (an expression of a type that
/// implements [`TestBackend`]). Both backends' test files invoke it, so they
/// run the very same list.
#[macro_export]
macro_rules! conformance_tests {
    ($backend:expr) => {
        $crate::conformance_tests!(@store $backend;
            endpoint_create_then_read_round_trips,
            endpoints_list_paginates_in_creation_order,
            endpoints_list_rejects_invalid_cursors,
            endpoint_update_conflicts_on_a_stale_revision,
            endpoint_update_keeps_the_delivery_bookkeeping,
            re_enabling_an_endpoint_resets_its_failure_counter,
            endpoint_delete_removes_it_once,
            rotated_secrets_are_read_back_after_an_update,
            custom_headers_round_trip_through_every_write,
            subscribed_endpoints_match_exact_all_and_prefix_filters,
            subscribed_endpoints_exclude_disabled_deleted_and_other_tenants,
            subscribed_endpoints_follow_updates,
            subscribers_page_in_id_order_without_repeats,
            endpoint_count_counts_the_tenants_endpoints,
            fan_out_lease_is_taken_over_once_and_resumes,
            record_outcome_counts_failures_and_resets_on_success,
            last_attempt_time_only_moves_forward,
            reaching_the_threshold_disables_the_endpoint_once,
            concurrent_outcomes_disable_the_endpoint_only_once,
            the_circuit_opens_and_one_probe_at_a_time_is_claimed,
            record_outcome_of_a_missing_endpoint_is_none,
            another_tenants_ids_are_not_found,
            events_are_new_then_unfinished_then_duplicate,
            an_expired_event_is_absent_and_can_be_stored_again,
            a_finished_mark_never_finishes_a_later_event_of_the_same_id,
            event_data_bytes_survive_unchanged,
            events_vanish_once_their_time_is_up,
            delivery_round_trips_one_attempt,
            deliveries_are_newest_first_in_cursor_pages,
            deliveries_filter_by_event_type_and_status,
            deliveries_filter_by_time_range,
            a_filtered_page_of_deliveries_is_filled,
            expired_deliveries_are_never_returned,
            deliveries_vanish_once_their_time_is_up,
            an_attempt_is_logged_once_under_its_id,
            concurrent_claims_of_one_attempt_log_it_once,
            stats_add_up_per_day_and_read_by_range,
            stats_past_retention_are_not_returned,
            event_types_create_read_and_delete,
            event_types_list_in_name_order_in_pages,
            rate_slots_count_per_endpoint_window_and_tenant,
        );
        $crate::conformance_tests!(@backend $backend;
            logged_attempts_are_counted_once,
            counted_failures_disable_at_the_threshold,
        );
        $crate::conformance_tests!(@queue $backend;
            enqueued_messages_are_received_unchanged,
            many_messages_are_all_enqueued,
            retry_after_brings_a_message_back_after_the_delay,
        );
    };
    (@store $backend:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let store = $crate::TestBackend::store(&$backend).await;
                $crate::conformance::$name(&*store).await;
            }
        )*
    };
    (@backend $backend:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $crate::conformance::$name(&$backend).await;
            }
        )*
    };
    (@queue $backend:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let queue = $crate::TestBackend::queue(&$backend).await;
                $crate::conformance::$name(&*queue).await;
            }
        )*
    };
}

/// The one per-backend macro of the test crates. Expands scenario functions
/// into one test per backend, in modules whose names start with `embedded`
/// and `aws` (so `infra/test.sh` can count each backend's tests):
///
/// - `backend_tests!(a, b)`: `async fn(&dyn TestBackend)`, in `embedded`
///   and `aws`;
/// - `backend_tests!(store: a, b)`: `async fn(Arc<dyn Store>)`, in
///   `embedded_store` and `aws_store`.
#[macro_export]
macro_rules! backend_tests {
    (store: $($name:ident),* $(,)?) => {
        $crate::backend_tests!(@mods embedded_store, aws_store;
            |b| $crate::TestBackend::store(b).await; $($name),*);
    };
    ($($name:ident),* $(,)?) => {
        $crate::backend_tests!(@mods embedded, aws; |b| b; $($name),*);
    };
    (@mods $embedded:ident, $aws:ident; |$b:ident| $arg:expr; $($name:ident),*) => {
        mod $embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let $b: &dyn $crate::TestBackend = &$crate::EmbeddedTestBackend;
                    super::$name($arg).await;
                }
            )*
        }
        mod $aws {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let $b: &dyn $crate::TestBackend = &$crate::AwsTestBackend;
                    super::$name($arg).await;
                }
            )*
        }
    };
}
