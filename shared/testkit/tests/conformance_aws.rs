//! The conformance suite on the AWS adapters, against DynamoDB Local and
//! moto (started by infra/test.sh). Fails when they are not running.

courier_testkit::conformance_tests!(courier_testkit::AwsTestBackend);
