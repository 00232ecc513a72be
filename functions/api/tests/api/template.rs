//! The panel's stack parameters refuse what `PortalSettings` refuses and
//! default to what it defaults to, so a value the api function would
//! refuse at start-up cannot be deployed.

use courier_api::portal::PortalSettings;
use serde_yaml::Value;

const TEMPLATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");

/// (variable, parameter, values to try).
const PARAMETERS: [(&str, &str, &[&str]); 4] = [
    (
        "PORTAL_FRAME_ANCESTORS",
        "PortalFrameAncestors",
        &[
            "https://shop.example.com",
            "https://a.example.com, http://127.0.0.1:8080 'self'",
            "https://*.example.org",
            "https://a.com;script-src *",
            "*",
            "https://a.com/path",
            "javascript://x",
        ],
    ),
    (
        "PORTAL_PLATFORM_NAME",
        "PortalPlatformName",
        &["Shopline", "Ünïcode Shop"],
    ),
    (
        "PORTAL_ACCENT_COLOR",
        "PortalAccentColor",
        &["#0a7", "#0a7f5c", "red", "#12345", "0a7f5c"],
    ),
    (
        "PORTAL_URL",
        "PortalUrl",
        &[
            "https://hooks.example.com/portal",
            "hooks.example.com",
            "https://x/portal#a",
        ],
    ),
];

fn template() -> Value {
    let text = std::fs::read_to_string(TEMPLATE).expect("read template.yaml");
    serde_yaml::from_str(&text).expect("template.yaml is YAML")
}

fn accepts(param: &Value, value: &str) -> bool {
    let pattern_ok = param["AllowedPattern"].as_str().is_none_or(|p| {
        regex::Regex::new(&format!("^(?:{p})$"))
            .expect("AllowedPattern compiles")
            .is_match(value)
    });
    let length_ok = param["MaxLength"]
        .as_u64()
        .is_none_or(|max| value.chars().count() as u64 <= max);
    pattern_ok && length_ok
}

#[test]
fn portal_parameters_match_the_settings_parser() {
    let t = template();
    let env = &t["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"];
    let defaults = PortalSettings::default();
    for (variable, name, values) in PARAMETERS {
        let param = &t["Parameters"][name];
        assert!(!param.is_null(), "{name} is a parameter");
        match &env[variable] {
            Value::Tagged(tag) => assert_eq!(tag.value.as_str(), Some(name), "{variable}"),
            other => panic!("{variable} is set from !Ref {name}, not {other:?}"),
        }
        let default = param["Default"].as_str().unwrap_or_default();
        let parsed = PortalSettings::from_lookup(|v| (v == variable).then(|| default.to_owned()))
            .unwrap_or_else(|e| panic!("{name}'s default is refused: {e}"));
        assert_eq!(parsed, defaults, "{name}'s default is the code's");
        for value in values {
            let code =
                PortalSettings::from_lookup(|v| (v == variable).then(|| (*value).to_owned()));
            assert_eq!(
                accepts(param, value),
                code.is_ok(),
                "{name} and {variable} disagree on {value:?}: {code:?}"
            );
        }
    }
}
