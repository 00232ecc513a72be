//! The template's parameters refuse what the code's settings parser
//! refuses: a stack cannot be deployed with a value that would make every
//! function fail at start-up. Each out-of-range value is fed to both the
//! parameter's constraints (as CloudFormation checks them) and
//! `Settings::from_lookup`.

use std::collections::BTreeMap;

use courier::config::{NUMERIC_LIMITS, Settings};
use serde_yaml::Value;

const TEMPLATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");

fn template() -> Value {
    let text = std::fs::read_to_string(TEMPLATE).expect("read template.yaml");
    serde_yaml::from_str(&text).expect("template.yaml is YAML")
}

/// Environment variable → the parameter it is set from (`VAR: !Ref Param`).
fn parameter_of_variable(t: &Value) -> BTreeMap<String, String> {
    let vars = t["Globals"]["Function"]["Environment"]["Variables"]
        .as_mapping()
        .expect("Globals.Function.Environment.Variables");
    vars.iter()
        .filter_map(|(k, v)| match v {
            Value::Tagged(tag) if tag.tag == "!Ref" => {
                Some((k.as_str()?.to_owned(), tag.value.as_str()?.to_owned()))
            }
            _ => None,
        })
        .filter(|(_, p)| !t["Parameters"][p.as_str()].is_null())
        .collect()
}

/// Whether CloudFormation would accept `value` for `param`.
fn template_accepts(param: &Value, value: &str) -> bool {
    if let Some(allowed) = param["AllowedValues"].as_sequence() {
        let allowed: Vec<String> = allowed.iter().map(text).collect();
        if !allowed.iter().any(|a| a == value) {
            return false;
        }
    }
    if let Some(pattern) = param["AllowedPattern"].as_str() {
        // CloudFormation matches the whole value against the pattern.
        let re = regex::Regex::new(&format!("^(?:{pattern})$")).expect("AllowedPattern compiles");
        if !re.is_match(value) {
            return false;
        }
    }
    if param["Type"].as_str() == Some("Number") {
        let Ok(n) = value.parse::<f64>() else {
            return false;
        };
        if param["MinValue"].as_f64().is_some_and(|min| n < min)
            || param["MaxValue"].as_f64().is_some_and(|max| n > max)
        {
            return false;
        }
    }
    true
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("unexpected parameter value {other:?}"),
    }
}

fn code_accepts(var: &str, value: &str) -> bool {
    Settings::from_lookup(|k| (k == var).then(|| value.to_owned())).is_ok()
}

/// Checks each value on both sides: they must agree, except that the
/// template may be stricter where `template_may_be_stricter` says so.
fn check(var: &str, values: &[&str], template_may_be_stricter: bool) {
    let t = template();
    let params = parameter_of_variable(&t);
    let name = params
        .get(var)
        .unwrap_or_else(|| panic!("{var} is not set from a template parameter"));
    let param = &t["Parameters"][name.as_str()];
    let default = text(&param["Default"]);
    assert!(
        template_accepts(param, &default) && code_accepts(var, &default),
        "{name}'s default {default:?} must pass both"
    );
    for value in values {
        let (template, code) = (template_accepts(param, value), code_accepts(var, value));
        if !code {
            assert!(
                !template,
                "{name} accepts {value:?}, which {var} refuses: it would deploy and fail at start-up"
            );
        } else if !template_may_be_stricter {
            assert!(template, "{name} refuses {value:?}, which {var} accepts");
        }
    }
}

#[test]
fn numeric_parameters_refuse_what_the_code_refuses() {
    for (var, min, max) in NUMERIC_LIMITS {
        let values = [
            min.saturating_sub(1).to_string(),
            min.to_string(),
            format!("0{min}"),
            ((min + max) / 2).to_string(),
            max.to_string(),
            (max + 1).to_string(),
            (max * 10).to_string(),
            format!("{min}.5"),
            "1e3".into(),
            "-1".into(),
            "ten".into(),
        ];
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        check(var, &values, false);
    }
}

#[test]
fn the_retry_schedule_parameter_refuses_what_the_code_refuses() {
    let values = [
        "",
        "60",
        "60,600",
        "0,0",
        " 1, 2 ",
        "43200",
        "043200",
        "43201",
        "99999",
        "100000",
        "1,2,3,4,5,6,7,8",
        "1,2,3,4,5,6,7,8,9",
        "43200,43200,43200,43200,43200,43200,43200,43200",
        "60,,600",
        "60,",
        ",60",
        "a",
        "-1",
        "1.5",
        "60;600",
    ];
    check("RETRY_SCHEDULE", &values, false);
    // The one setting crossing two others is gone: the longest schedule
    // with the shortest retention starts.
    let longest = Settings::from_lookup(|k| match k {
        "RETRY_SCHEDULE" => Some("43200,43200,43200,43200,43200,43200,43200,43200".into()),
        "LOG_RETENTION_DAYS" => Some("1".into()),
        _ => None,
    });
    assert!(longest.is_ok(), "{longest:?}");
}

#[test]
fn flag_parameters_take_only_values_the_code_reads() {
    for var in ["SIMPLE_SIGNATURE_HEADER", "ALLOW_PRIVATE_TARGETS"] {
        // The code also reads 1/0, yes/no, on/off; the template offers
        // true and false only.
        check(var, &["true", "false", "maybe", "TRUE", "1", ""], true);
    }
    let t = template();
    assert_eq!(
        t["Parameters"]["AllowPrivateTargets"]["Default"].as_str(),
        Some("false"),
        "the SSRF guard is on by default"
    );
}

/// Whether both the template and the code take `value` for `var`.
fn both_accept(var: &str, value: &str) -> bool {
    let t = template();
    let name = &parameter_of_variable(&t)[var];
    template_accepts(&t["Parameters"][name.as_str()], value) && code_accepts(var, value)
}

#[test]
fn white_label_parameters_refuse_what_the_code_refuses() {
    // Patterns cannot list the reserved names, so each parameter takes a
    // shape none of them has (an X- header, a field ending in id): stricter.
    let long_header = format!("X-{}", "a".repeat(63));
    let headers = [
        "host",
        "Content-Type",
        "content-length",
        "user-agent",
        "webhook-signature",
        "Webhook-Id",
        "transfer-encoding",
        "connection",
        "te",
        "x-",
        "X-a b",
        "x-sig:",
        "x-sïg",
        "Prometora-Signature",
        &long_header,
    ];
    check("SIMPLE_SIGNATURE_HEADER_NAME", &headers, true);
    let long_agent = "a".repeat(201);
    let agents = [
        "Bookora/1.0 (+https://bookora.example)",
        " a",
        "a\tb",
        "é",
        &long_agent,
    ];
    check("USER_AGENT", &agents, true);
    let long_field = format!("s{}Id", "x".repeat(30));
    let fields = [
        "id",
        "Id",
        "type",
        "createdAt",
        "data",
        "time",
        "source",
        "store-id",
        "1Id",
        "_id",
        "storeId",
        "store_id",
        &long_field,
    ];
    check("TENANT_FIELD", &fields, true);
    let long_tenant = "t".repeat(65);
    let tenants = [
        "platform",
        "ops-team_1",
        "ops team",
        "ops.team",
        "ö",
        &long_tenant,
    ];
    check("OPERATIONS_TENANT", &tenants, false);
    for (var, value) in [
        ("SIMPLE_SIGNATURE_HEADER_NAME", "X-Prometora-Signature"),
        ("SIMPLE_SIGNATURE_HEADER_NAME", "X-Bookora-Signature"),
        ("USER_AGENT", "Bookora-Webhooks/1.0"),
        ("TENANT_FIELD", "storeId"),
        ("TENANT_FIELD", "store_id"),
    ] {
        assert!(
            both_accept(var, value),
            "{var}={value:?}: the seeds' names deploy"
        );
    }
}
