//! `template.yaml` against the code, beyond tables and IAM: the functions
//! and their binaries, the environment each function reads, the queue and
//! event source settings, and the CloudWatch pieces (alarms, Logs Insights
//! queries, dashboard) that name metrics and log fields the code emits.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use courier::attempt::AttemptStatus;
use courier::config::Settings;
use courier::metrics;
use courier_aws::schema::{
    ENV_DELIVERIES_TABLE, ENV_DELIVERY_QUEUE_URL, ENV_ENDPOINTS_TABLE, ENV_SECRETS_KEY_ID,
    logical_ids,
};
use serde_yaml::Value;
use support::{
    Code, environment, function_property, functions, intrinsic, one_or_many, read, referenced_id,
    resource, resources_of, root, squeeze, template,
};

/// Function logical id → its crate folder.
const FUNCTIONS: [(&str, &str); 3] = [
    ("ApiFunction", "functions/api"),
    ("IntakeFunction", "functions/intake"),
    ("DeliveryFunction", "functions/delivery"),
];

/// Env-var-shaped string literals (`RETRY_SCHEDULE`) of a source file,
/// tests and the compile-time `env!("CARGO_...")` left out.
fn env_names_in(relative: &str) -> BTreeSet<String> {
    Code::new(&read(relative))
        .literals
        .into_iter()
        .filter(|l| {
            l.len() > 2
                && !l.starts_with("CARGO_")
                && l.contains('_')
                && l.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .collect()
}

/// The variables a function reads at start-up, from the `X::from_env()`
/// (and `AwsBackend::from_env_without_secrets()`) calls in its `main.rs`.
fn variables_read(crate_dir: &str) -> BTreeSet<String> {
    let main = squeeze(&Code::new(&read(&format!("{crate_dir}/src/main.rs"))).text);
    let mut vars = BTreeSet::new();
    let calls = main
        .match_indices("::from_env(")
        .chain(main.match_indices("::from_env_without_secrets("));
    for (at, _) in calls {
        let reader: String = main[..at]
            .chars()
            .rev()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        match reader.as_str() {
            "Settings" => vars.extend(env_names_in("shared/core/src/config.rs")),
            "AdminAuth" => vars.extend(env_names_in("shared/http/src/auth.rs")),
            "PortalSettings" => vars.extend(env_names_in("functions/api/src/portal/settings.rs")),
            "AwsBackend" => vars.extend(
                [
                    ENV_ENDPOINTS_TABLE,
                    ENV_DELIVERIES_TABLE,
                    ENV_DELIVERY_QUEUE_URL,
                ]
                .map(str::to_owned),
            ),
            // AWS_LAMBDA_FUNCTION_NAME, which Lambda sets itself.
            "Metrics" => {}
            other => panic!(
                "{crate_dir}/src/main.rs calls {other}::from_env(): teach this test which \
                 variables it reads"
            ),
        }
    }
    vars
}

#[test]
fn functions_build_the_crates_binaries_for_arm64() {
    let t = template();
    let g = &t["Globals"]["Function"];
    assert_eq!(g["Runtime"].as_str(), Some("provided.al2023"));
    assert_eq!(
        g["Architectures"],
        serde_yaml::from_str::<Value>("[arm64]").unwrap()
    );
    assert_eq!(g["Handler"].as_str(), Some("bootstrap"));
    assert_eq!(g["LoggingConfig"]["LogFormat"].as_str(), Some("JSON"));
    assert_eq!(
        g["LoggingConfig"]["ApplicationLogLevel"].as_str(),
        Some("INFO"),
        "metric lines carry no level and count as INFO: a higher level drops them"
    );
    let declared = resources_of(&t, "AWS::Serverless::Function");
    assert_eq!(declared.keys().map(String::as_str).collect::<Vec<_>>(), {
        let mut ids = FUNCTIONS.map(|(id, _)| id).to_vec();
        ids.sort();
        ids
    });
    let script = read("infra/build.sh");
    let built: Vec<&str> = script
        .lines()
        .find_map(|l| l.strip_prefix("FUNCTIONS=("))
        .and_then(|l| l.strip_suffix(')'))
        .expect("infra/build.sh sets FUNCTIONS=(...)")
        .split_whitespace()
        .collect();
    for (id, dir) in FUNCTIONS {
        let f = resource(&t, id);
        assert_eq!(
            f["Metadata"]["BuildMethod"].as_str(),
            Some("rust-cargolambda"),
            "{id}"
        );
        let binary = f["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        let manifest = read(&format!("{dir}/Cargo.toml"));
        assert!(
            manifest.contains(&format!("[[bin]]\nname = \"{binary}\"")),
            "{id} builds {binary}, which is not the [[bin]] of {dir}/Cargo.toml"
        );
        assert!(
            built.contains(&binary),
            "infra/build.sh builds {built:?}, not {binary}"
        );
    }
}

/// Whether a function's role may open endpoint secrets (`kms:Decrypt` on
/// the stack's key).
fn opens_secrets(t: &Value, function: &str) -> bool {
    let role = referenced_id(&resource(t, function)["Properties"]["Role"]).unwrap();
    one_or_many(&resource(t, &role)["Properties"]["Policies"])
        .into_iter()
        .flat_map(|p| one_or_many(&p["PolicyDocument"]["Statement"]))
        .any(|st| {
            one_or_many(&st["Action"]).contains(&&Value::from("kms:Decrypt"))
                && one_or_many(&st["Resource"])
                    .into_iter()
                    .any(|r| referenced_id(r).as_deref() == Some("SecretsKey"))
        })
}

#[test]
fn each_function_gets_exactly_the_environment_it_reads() {
    let t = template();
    let mut problems = Vec::new();
    for (id, dir) in FUNCTIONS {
        let mut read = variables_read(dir);
        // The backend reads the key's id when it is set: exactly for the
        // functions whose role may open secrets (not the intake).
        if read.contains(ENV_ENDPOINTS_TABLE) && opens_secrets(&t, id) {
            read.insert(ENV_SECRETS_KEY_ID.to_owned());
        }
        let set: BTreeSet<String> = environment(&t, id).into_keys().collect();
        if read != set {
            problems.push(format!(
                "{id}: {dir} reads {read:?}\n  but template.yaml sets {set:?}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn parameter_defaults_are_the_code_defaults() {
    let t = template();
    let env = environment(&t, "DeliveryFunction");
    let d = Settings::default();
    let default_of = |var: &str| {
        let param = referenced_id(&env[var]).unwrap_or_else(|| panic!("{var} is not !Ref"));
        let p = &t["Parameters"][param.as_str()];
        assert!(!p.is_null(), "{var}: no parameter {param}");
        match &p["Default"] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => panic!("{param}: default {other:?}"),
        }
    };
    assert_eq!(default_of("RETRY_SCHEDULE"), d.retry_schedule.to_string());
    assert_eq!(
        default_of("DELIVERY_TIMEOUT_MS"),
        d.delivery_timeout.as_millis().to_string()
    );
    assert_eq!(
        default_of("DISABLE_AFTER_FAILURES"),
        d.disable_after_failures.to_string()
    );
    assert_eq!(
        default_of("LOG_RETENTION_DAYS"),
        (d.retention.as_secs() / 86_400).to_string()
    );
    assert_eq!(
        default_of("MAX_PAYLOAD_BYTES"),
        d.max_payload_bytes.to_string()
    );
    assert_eq!(
        default_of("SIMPLE_SIGNATURE_HEADER"),
        d.simple_signature_header.to_string()
    );
    assert_eq!(
        default_of("ALLOW_PRIVATE_TARGETS"),
        d.allow_private_targets.to_string()
    );
    assert_eq!(
        default_of("SIMPLE_SIGNATURE_HEADER_NAME"),
        d.simple_signature_header_name
    );
    assert_eq!(default_of("TENANT_FIELD"), d.tenant_field.as_str());
    assert_eq!(
        default_of("OPERATIONS_TENANT"),
        d.operations_tenant.as_str()
    );
    // Empty is the code's default, the product and version: the template
    // does not repeat a version that changes with every release.
    assert_eq!(default_of("USER_AGENT"), "");
    // The parameters' ranges are the code's: template_parameters.rs.
    let admin = &t["Parameters"]["AdminTokenSha256"];
    assert_eq!(
        admin["NoEcho"].as_bool(),
        Some(true),
        "the token hash is NoEcho"
    );
    assert!(admin["Default"].is_null(), "no token hash in the template");
}

#[test]
fn the_queue_outlasts_the_delivery_function() {
    let t = template();
    let timeout = function_property(&t, "DeliveryFunction", "Timeout")
        .as_u64()
        .expect("DeliveryFunction Timeout");
    let queue = &resource(&t, logical_ids::DELIVERY_QUEUE)["Properties"];
    let visibility = queue["VisibilityTimeout"].as_u64().unwrap();
    assert!(
        visibility >= 6 * timeout,
        "visibility timeout {visibility} s < 6 x the delivery function's {timeout} s"
    );
    let (_, _, max_attempt_ms) = courier::config::NUMERIC_LIMITS
        .into_iter()
        .find(|(var, _, _)| *var == "DELIVERY_TIMEOUT_MS")
        .unwrap();
    assert!(
        max_attempt_ms < timeout * 1000,
        "an attempt may take longer than the delivery function may run"
    );

    let events = resource(&t, "DeliveryFunction")["Properties"]["Events"]
        .as_mapping()
        .unwrap();
    let sqs: Vec<&Value> = events
        .values()
        .filter(|e| e["Type"].as_str() == Some("SQS"))
        .map(|e| &e["Properties"])
        .collect();
    assert_eq!(sqs.len(), 1, "one SQS event source");
    let source = sqs[0];
    assert_eq!(
        referenced_id(&source["Queue"]).as_deref(),
        Some(logical_ids::DELIVERY_QUEUE)
    );
    assert_eq!(
        one_or_many(&source["FunctionResponseTypes"]),
        [&Value::from("ReportBatchItemFailures")],
        "retries are batch item failures"
    );
    for setting in [
        &source["BatchSize"],
        &source["MaximumBatchingWindowInSeconds"],
        &source["ScalingConfig"]["MaximumConcurrency"],
    ] {
        let param = referenced_id(setting).expect("an event source setting is a parameter");
        assert!(!t["Parameters"][param.as_str()].is_null(), "{param}");
    }
    assert!(
        t["Parameters"]["DeliveryBatchSize"]["MaxValue"].as_u64() <= Some(10),
        "SQS needs a batching window above 10 messages"
    );
}

/// The fields `log_attempt` in the delivery function logs, and its target.
fn attempt_log_fields() -> (String, BTreeSet<String>) {
    let code = Code::new(&read("functions/delivery/src/lib.rs"));
    let f = functions(&code)
        .into_iter()
        .find(|f| f.name == "log_attempt")
        .expect("functions/delivery/src/lib.rs has no fn log_attempt");
    let target = if f.body.contains("target:\"\"") {
        // The literal itself is among the file's literals.
        code.literals
            .iter()
            .find(|l| l.starts_with("courier::"))
            .expect("log_attempt's target literal")
            .clone()
    } else {
        panic!("log_attempt sets no target")
    };
    let mut fields = BTreeSet::new();
    let chars: Vec<char> = f.body.chars().collect();
    for i in 0..chars.len() {
        if chars[i] == '=' && chars.get(i + 1) != Some(&'=') && chars.get(i + 1) != Some(&'>') {
            let name: String = chars[..i]
                .iter()
                .rev()
                .take_while(|c| c.is_alphanumeric() || **c == '_')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            if !name.is_empty() {
                fields.insert(name);
            }
        }
    }
    assert!(
        f.body.contains("status=?e.status"),
        "log_attempt logs the status with Debug (\"Failed\"), as the queries expect"
    );
    (target, fields)
}

/// The field names a Logs Insights query reads (not functions, keywords,
/// `@` fields, strings or the aliases it defines).
fn query_fields(query: &str) -> BTreeSet<String> {
    const KEYWORDS: [&str; 12] = [
        "fields", "filter", "stats", "sort", "limit", "by", "and", "or", "not", "desc", "asc", "in",
    ];
    let mut text = String::new();
    for line in query.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let mut in_string = false;
        for c in line.chars() {
            if c == '"' {
                in_string = !in_string;
            } else if !in_string {
                text.push(c);
            }
        }
        text.push('\n');
    }
    let tokens: Vec<(String, char)> = {
        let mut out = Vec::new();
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '@' {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || "_@.".contains(chars[i])) {
                    i += 1;
                }
                let next = chars[i..].iter().find(|c| !c.is_whitespace()).copied();
                out.push((chars[start..i].iter().collect(), next.unwrap_or(' ')));
            } else {
                i += 1;
            }
        }
        out
    };
    let aliases: BTreeSet<&str> = tokens
        .windows(2)
        .filter(|w| w[0].0 == "as")
        .map(|w| w[1].0.as_str())
        .collect();
    tokens
        .iter()
        .filter(|(t, next)| {
            !t.starts_with('@')
                && !t.starts_with(|c: char| c.is_ascii_digit())
                && *next != '('
                && t != "as"
                && !KEYWORDS.contains(&t.as_str())
                && !aliases.contains(t.as_str())
        })
        .map(|(t, _)| t.clone())
        .collect()
}

#[test]
fn queries_are_the_shipped_files_and_read_logged_fields() {
    let t = template();
    let dir = root().join("infra/cloudwatch/queries");
    let mut files: BTreeMap<String, String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "query"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    let (target, fields) = attempt_log_fields();
    let statuses = [
        AttemptStatus::Succeeded,
        AttemptStatus::Failed,
        AttemptStatus::Skipped,
    ]
    .map(|s| format!("\"{s:?}\""));

    for (id, q) in resources_of(&t, "AWS::Logs::QueryDefinition") {
        let text = q["Properties"]["QueryString"].as_str().unwrap();
        let file = files
            .iter()
            .find(|(_, body)| body.trim_end() == text.trim_end())
            .map(|(name, _)| name.clone())
            .unwrap_or_else(|| panic!("{id}: its query is not in infra/cloudwatch/queries/"));
        files.remove(&file);
        let groups: Vec<String> = one_or_many(&q["Properties"]["LogGroupNames"])
            .into_iter()
            .map(|g| referenced_id(g).expect("a log group of the stack"))
            .collect();
        if text.contains(&format!("\"{target}\"")) {
            let delivery_logs = referenced_id(
                &function_property(&t, "DeliveryFunction", "LoggingConfig")["LogGroup"],
            )
            .unwrap();
            assert!(
                groups.contains(&delivery_logs),
                "{id} reads attempt lines: it needs {delivery_logs}"
            );
            let unknown: Vec<String> = query_fields(text)
                .into_iter()
                .filter(|f| !fields.contains(f) && f != "target")
                .collect();
            assert!(
                unknown.is_empty(),
                "{file}: fields {unknown:?} are not logged by log_attempt ({fields:?})"
            );
            for part in text.split("status").skip(1) {
                let value = part.trim_start_matches([' ', '=', '!']);
                if value.starts_with('"') {
                    assert!(
                        statuses.iter().any(|s| value.starts_with(s.as_str())),
                        "{file}: status values are {statuses:?}"
                    );
                }
            }
        }
    }
    assert!(
        files.is_empty(),
        "infra/cloudwatch/queries has files no QueryDefinition ships: {:?}",
        files.keys()
    );
}

/// Which function records each metric, found from the recording calls.
fn metric_sources() -> BTreeMap<&'static str, &'static str> {
    let calls = [
        (
            "DeliveryFunction",
            "functions/delivery",
            "metrics::attempt(",
        ),
        (
            "DeliveryFunction",
            "functions/delivery",
            "metrics::endpoint_disabled(",
        ),
        (
            "IntakeFunction",
            "functions/intake",
            "metrics::event_accepted(",
        ),
    ];
    for (id, dir, call) in calls {
        let main = squeeze(&read(&format!("{dir}/src/main.rs")));
        assert!(
            main.contains("Metrics::from_env(") && main.contains("metrics.flush()"),
            "{id}: {dir}/src/main.rs must install and flush the metrics"
        );
        let found = support::rust_files(&format!("{dir}/src"))
            .iter()
            .any(|(_, text)| squeeze(&Code::new(text).text).contains(call));
        assert!(found, "{dir} no longer calls {call}: update this test");
    }
    BTreeMap::from([
        (metrics::ATTEMPTS, "DeliveryFunction"),
        (metrics::SUCCEEDED, "DeliveryFunction"),
        (metrics::FAILED, "DeliveryFunction"),
        (metrics::SKIPPED, "DeliveryFunction"),
        (metrics::LATENCY, "DeliveryFunction"),
        (metrics::ENDPOINTS_DISABLED, "DeliveryFunction"),
        (metrics::EVENTS_ACCEPTED, "IntakeFunction"),
        (metrics::FAN_OUT, "IntakeFunction"),
    ])
}

#[test]
fn alarms_watch_every_function_the_queues_and_auto_disable() {
    let t = template();
    let sources = metric_sources();
    let alarms = resources_of(&t, "AWS::CloudWatch::Alarm");
    let watched: BTreeSet<(String, String, String)> = alarms
        .iter()
        .map(|(id, a)| {
            let p = &a["Properties"];
            let actions: Vec<String> = one_or_many(&p["AlarmActions"])
                .into_iter()
                .filter_map(referenced_id)
                .collect();
            assert_eq!(actions, ["AlarmTopic"], "{id} notifies the alarm topic");
            let dims = one_or_many(&p["Dimensions"]);
            assert_eq!(dims.len(), 1, "{id}: one dimension");
            let target = referenced_id(&dims[0]["Value"]).unwrap_or_default();
            let namespace = p["Namespace"].as_str().unwrap().to_owned();
            let name = p["MetricName"].as_str().unwrap().to_owned();
            if namespace == metrics::NAMESPACE {
                assert_eq!(dims[0]["Name"].as_str(), Some(metrics::FUNCTION_NAME));
                assert_eq!(
                    sources.get(name.as_str()).copied(),
                    Some(target.as_str()),
                    "{id}: {name} is recorded by another function, or by none"
                );
            }
            (namespace, name, target)
        })
        .collect();
    let mut expected: BTreeSet<(String, String, String)> = BTreeSet::new();
    for (id, _) in FUNCTIONS {
        for m in ["Errors", "Throttles"] {
            expected.insert(("AWS/Lambda".into(), m.into(), id.into()));
        }
    }
    expected.insert((
        "AWS/SQS".into(),
        "ApproximateNumberOfMessagesVisible".into(),
        logical_ids::DEAD_LETTER_QUEUE.into(),
    ));
    expected.insert((
        metrics::NAMESPACE.into(),
        metrics::ENDPOINTS_DISABLED.into(),
        "DeliveryFunction".into(),
    ));
    let missing: Vec<_> = expected.difference(&watched).collect();
    assert!(missing.is_empty(), "no alarm on {missing:?}");
}

#[test]
fn the_dashboard_is_json_on_real_metrics_and_resources() {
    let t = template();
    let dash = resource(&t, "Dashboard");
    let (tag, body) = intrinsic(&dash["Properties"]["DashboardBody"]).expect("!Sub body");
    assert_eq!(tag, "Sub");
    // Every ${...} names a resource (or attribute) of the stack or a pseudo
    // parameter; replace each with a sample value to read the JSON.
    let mut json = String::new();
    let mut rest = body.as_str();
    while let Some(at) = rest.find("${") {
        json.push_str(&rest[..at]);
        let end = rest[at..].find('}').unwrap() + at;
        let name = &rest[at + 2..end];
        let id = name.split('.').next().unwrap();
        assert!(
            name.starts_with("AWS::") || !t["Resources"][id].is_null(),
            "the dashboard names ${{{name}}}, which is not in the template"
        );
        json.push_str(&format!("sample-{}", name.replace([':', '.'], "-")));
        rest = &rest[end + 1..];
    }
    json.push_str(rest);
    let board: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("DashboardBody is not JSON: {e}"));
    let sources = metric_sources();
    let mut courier_metrics = BTreeSet::new();
    for w in board["widgets"].as_array().unwrap() {
        for m in w["properties"]["metrics"].as_array().into_iter().flatten() {
            let m = m.as_array().unwrap();
            if m[0] == metrics::NAMESPACE {
                let name = m[1].as_str().unwrap();
                assert!(
                    sources.contains_key(name),
                    "the dashboard graphs {name}, which no function records"
                );
                assert_eq!(m[2], metrics::FUNCTION_NAME);
                assert_eq!(m[3], format!("sample-{}", sources[name]));
                courier_metrics.insert(name);
            } else if let Some(expr) = m[0]["expression"].as_str() {
                assert!(
                    expr.contains(metrics::ERROR_CLASS) && expr.contains(metrics::FAILED),
                    "{expr}"
                );
            }
        }
    }
    let unshown: Vec<_> = sources
        .keys()
        .filter(|m| !courier_metrics.contains(*m))
        .collect();
    assert!(unshown.is_empty(), "the dashboard leaves out {unshown:?}");
}
