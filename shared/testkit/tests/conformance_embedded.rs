//! The conformance suite on the embedded adapters.

courier_testkit::conformance_tests!(courier_testkit::EmbeddedTestBackend);
