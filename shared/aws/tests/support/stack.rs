//! The template as CloudFormation would deploy it with given parameter
//! values: parameters from their defaults or the values given, conditions
//! evaluated, and `!Ref`, `!If`, `!Join` and the condition functions
//! resolved, so a test can read what a stack with those values gets.

use std::collections::BTreeMap;

use serde_yaml::Value;

/// A parameter's value: a string, or a list for `CommaDelimitedList`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamValue {
    /// `String` and `Number` parameters.
    Text(String),
    /// `CommaDelimitedList` parameters.
    List(Vec<String>),
}

/// The template with parameter values chosen.
pub struct Stack<'a> {
    template: &'a Value,
    params: BTreeMap<String, ParamValue>,
}

impl<'a> Stack<'a> {
    /// The stack with each parameter at its default, except those in
    /// `overrides` (`(name, value as given to CloudFormation)`). A parameter
    /// with neither is left out: a `!Ref` to it panics.
    pub fn new(template: &'a Value, overrides: &[(&str, &str)]) -> Self {
        let declared = template["Parameters"]
            .as_mapping()
            .expect("template.yaml has Parameters");
        let mut params = BTreeMap::new();
        for (name, p) in declared {
            let name = name.as_str().unwrap();
            let given = overrides
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned());
            let Some(text) = given.or_else(|| scalar(&p["Default"])) else {
                continue;
            };
            let value = if p["Type"].as_str() == Some("CommaDelimitedList") {
                ParamValue::List(text.split(',').map(|s| s.trim().to_owned()).collect())
            } else {
                ParamValue::Text(text)
            };
            params.insert(name.to_owned(), value);
        }
        for (name, _) in overrides {
            assert!(
                params.contains_key(*name),
                "template.yaml has no parameter {name}"
            );
        }
        Self { template, params }
    }

    /// Whether the named condition holds.
    pub fn condition(&self, name: &str) -> bool {
        let c = &self.template["Conditions"][name];
        assert!(!c.is_null(), "template.yaml has no condition {name}");
        self.truth(c)
    }

    /// Whether a resource with a `Condition` is created.
    pub fn creates(&self, logical_id: &str) -> bool {
        let r = &self.template["Resources"][logical_id];
        assert!(!r.is_null(), "template.yaml has no resource {logical_id}");
        r["Condition"].as_str().is_none_or(|c| self.condition(c))
    }

    /// `v` with every intrinsic this module knows resolved; `!If` to
    /// `AWS::NoValue` drops the key or item. A `!Ref` to a resource or a
    /// pseudo parameter stays as it is (its value is known only when
    /// deployed), as do `!GetAtt` and `!Sub`.
    pub fn resolve(&self, v: &Value) -> Option<Value> {
        match v {
            Value::Tagged(t) => {
                let tag = t.tag.to_string();
                match tag.trim_start_matches('!') {
                    "Ref" => {
                        let name = t.value.as_str().expect("!Ref takes a name");
                        if name == "AWS::NoValue" {
                            return None;
                        }
                        Some(match self.params.get(name) {
                            Some(ParamValue::Text(s)) => Value::String(s.clone()),
                            Some(ParamValue::List(items)) => {
                                Value::Sequence(items.iter().cloned().map(Value::String).collect())
                            }
                            None if self.template["Parameters"][name].is_null() => v.clone(),
                            None => panic!("parameter {name} has no default and no value"),
                        })
                    }
                    "If" => {
                        let args = t.value.as_sequence().expect("!If takes a list");
                        let name = args[0].as_str().expect("!If names a condition");
                        self.resolve(&args[if self.condition(name) { 1 } else { 2 }])
                    }
                    "Join" => {
                        let args = t.value.as_sequence().expect("!Join takes a list");
                        let items = self.resolve(&args[1]).unwrap_or(Value::Sequence(vec![]));
                        let parts: Vec<String> = items
                            .as_sequence()
                            .expect("!Join joins a list")
                            .iter()
                            .map(|i| scalar(i).expect("!Join joins strings"))
                            .collect();
                        Some(Value::String(parts.join(args[0].as_str().unwrap_or(""))))
                    }
                    "Equals" | "Not" | "And" | "Or" | "Condition" => {
                        Some(Value::Bool(self.truth(v)))
                    }
                    _ => Some(v.clone()),
                }
            }
            Value::Mapping(m) => Some(Value::Mapping(
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), self.resolve(v)?)))
                    .collect(),
            )),
            Value::Sequence(items) => Some(Value::Sequence(
                items.iter().filter_map(|i| self.resolve(i)).collect(),
            )),
            other => Some(other.clone()),
        }
    }

    /// The environment a function gets (`Globals` plus its own), resolved.
    pub fn environment(&self, function: &str) -> BTreeMap<String, Value> {
        super::environment(self.template, function)
            .into_iter()
            .filter_map(|(k, v)| Some((k, self.resolve(&v)?)))
            .collect()
    }

    fn truth(&self, v: &Value) -> bool {
        let Value::Tagged(t) = v else {
            panic!("not a condition: {v:?}")
        };
        let args = || {
            t.value
                .as_sequence()
                .expect("a condition function takes a list")
        };
        match t.tag.to_string().trim_start_matches('!') {
            "Equals" => {
                let a = args();
                self.resolve(&a[0]) == self.resolve(&a[1])
            }
            "Not" => !self.truth(&args()[0]),
            "And" => args().iter().all(|c| self.truth(c)),
            "Or" => args().iter().any(|c| self.truth(c)),
            "Condition" => self.condition(t.value.as_str().expect("!Condition takes a name")),
            other => panic!("unknown condition function !{other}"),
        }
    }
}

/// A scalar as CloudFormation reads it: text.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
