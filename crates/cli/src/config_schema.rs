//! `ntsb config schema`: the JSON Schema of the TOML configuration file, made
//! from the same clap declarations the file is checked against
//! ([`crate::config::settings`]), so the schema cannot drift from what
//! `--config` accepts.
//!
//! clap keeps a value parser as a closure, not as a description, so each
//! setting's type and integer bounds are found by asking its own parser: a
//! setting whose parser takes `1` but not `x` is an integer, and its minimum and
//! maximum are the edges of the range the parser accepts (found by bisection).
//! A range the server enforces is therefore a range the schema states.

use clap::{ArgAction, Command};
use serde_json::{Map, Value, json};

use crate::config::{Table, check_value, settings};

/// The JSON Schema (draft 2020-12) of the configuration file for `command`.
pub fn json_schema(command: &Command) -> Value {
    let mut tables: [(Table, Map<String, Value>); 3] =
        [(Table::Top, Map::new()), (Table::Auth, Map::new()), (Table::Serve, Map::new())];
    for (table, arg) in settings(command) {
        let properties = &mut tables.iter_mut().find(|(t, _)| *t == table).expect("every table is listed").1;
        properties.insert(arg.get_id().to_string(), property(&arg));
    }
    let [(_, mut top), (_, auth), (_, serve)] = tables;
    top.insert(
        "auth".into(),
        json!({
            "type": "object",
            "description": "Accounts, quotas and limits.",
            "properties": auth,
            "additionalProperties": false,
        }),
    );
    top.insert(
        "serve".into(),
        json!({
            "type": "object",
            "description": "Settings of `ntsb serve`.",
            "properties": serve,
            "additionalProperties": false,
        }),
    );
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "NTSB Analytics configuration file",
        "description": "The TOML file named by --config / NTSB_CONFIG. Every key is also a flag and an \
                        environment variable (x-flag, x-env); a flag or variable wins over the file, \
                        the file over the default.",
        "type": "object",
        "properties": top,
        "additionalProperties": false,
    })
}

/// One setting's schema: type, bounds or allowed values, default, help text,
/// and the flag and variable that set it too.
fn property(arg: &clap::Arg) -> Value {
    let mut schema = Map::new();
    let kind = value_kind(arg);
    let many = matches!(arg.get_action(), ArgAction::Append) || arg.get_num_args().is_some_and(|n| n.max_values() > 1);
    let item = kind.schema();
    if many {
        schema.insert("type".into(), json!("array"));
        schema.insert("items".into(), Value::Object(item));
    } else {
        schema.extend(item);
    }
    if let Some(help) = arg.get_long_help().or(arg.get_help()) {
        schema.insert("description".into(), json!(help.to_string()));
    }
    let mut defaults: Vec<Value> = arg.get_default_values().iter().map(|v| kind.typed(&v.to_string_lossy())).collect();
    if defaults.is_empty() && kind == Kind::Boolean {
        // A switch is off unless given (on, for the rare `SetFalse`).
        defaults.push(json!(matches!(arg.get_action(), ArgAction::SetFalse)));
    }
    if !arg.is_hide_default_value_set() || matches!(kind, Kind::Boolean) {
        match (many, defaults.len()) {
            (true, _) if !defaults.is_empty() => {
                schema.insert("default".into(), Value::Array(defaults));
            }
            (false, 1) => {
                schema.insert("default".into(), defaults[0].clone());
            }
            _ => {}
        }
    }
    if let Some(long) = arg.get_long() {
        schema.insert("x-flag".into(), json!(format!("--{long}")));
    }
    if let Some(env) = arg.get_env() {
        schema.insert("x-env".into(), json!(env.to_string_lossy()));
    }
    Value::Object(schema)
}

/// What a setting's values are, as its value parser accepts them.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Boolean,
    Integer { minimum: Option<i128>, maximum: Option<i128> },
    Number,
    OneOf(Vec<String>),
    Text,
}

impl Kind {
    fn schema(&self) -> Map<String, Value> {
        let mut out = Map::new();
        match self {
            Kind::Boolean => {
                out.insert("type".into(), json!("boolean"));
            }
            Kind::Integer { minimum, maximum } => {
                out.insert("type".into(), json!("integer"));
                if let Some(min) = minimum {
                    out.insert("minimum".into(), json!(min));
                }
                if let Some(max) = maximum {
                    out.insert("maximum".into(), json!(max));
                }
            }
            Kind::Number => {
                out.insert("type".into(), json!("number"));
            }
            Kind::OneOf(values) => {
                out.insert("type".into(), json!("string"));
                out.insert("enum".into(), json!(values));
            }
            Kind::Text => {
                out.insert("type".into(), json!("string"));
            }
        }
        out
    }

    /// A default value (clap keeps them as text) as the JSON value of this kind.
    fn typed(&self, text: &str) -> Value {
        match self {
            Kind::Boolean => text.parse::<bool>().map_or_else(|_| json!(text), Value::Bool),
            Kind::Integer { .. } => text.parse::<i64>().map_or_else(|_| json!(text), |n| json!(n)),
            Kind::Number => text.parse::<f64>().map_or_else(|_| json!(text), |n| json!(n)),
            Kind::OneOf(_) | Kind::Text => json!(text),
        }
    }
}

/// Asks the setting's own parser what it accepts.
fn value_kind(arg: &clap::Arg) -> Kind {
    if matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse) {
        return Kind::Boolean;
    }
    let choices: Vec<String> =
        arg.get_possible_values().iter().filter(|v| !v.is_hide_set()).map(|v| v.get_name().to_string()).collect();
    if !choices.is_empty() {
        return Kind::OneOf(choices);
    }
    let accepts = |text: &str| check_value(arg, &[text.to_string()]).is_ok();
    if accepts("not-a-number") {
        return Kind::Text;
    }
    if accepts("1.5") {
        return Kind::Number;
    }
    // An integer parser: find the ends of the range it accepts.
    let Some(inside) = ["1", "0", "100"]
        .into_iter()
        .chain(arg.get_default_values().iter().filter_map(|v| v.to_str()))
        .find_map(|v| v.parse::<i128>().ok().filter(|n| accepts(&n.to_string())))
    else {
        return Kind::Text;
    };
    let accepts_n = |n: i128| accepts(&n.to_string());
    let minimum = if accepts_n(i64::MIN as i128) { None } else { Some(edge(inside, i64::MIN as i128, &accepts_n)) };
    let maximum = if accepts_n(u64::MAX as i128) { None } else { Some(edge(inside, u64::MAX as i128, &accepts_n)) };
    Kind::Integer { minimum, maximum }
}

/// The accepted value nearest to `outside`, given that `inside` is accepted,
/// `outside` is not, and the accepted values form one range.
fn edge(mut inside: i128, mut outside: i128, accepts: &dyn Fn(i128) -> bool) -> i128 {
    while (outside - inside).abs() > 1 {
        let middle = inside + (outside - inside) / 2;
        if accepts(middle) {
            inside = middle;
        } else {
            outside = middle;
        }
    }
    inside
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::cli::Cli;

    fn schema() -> Value {
        json_schema(&Cli::command())
    }

    #[test]
    fn every_setting_is_in_the_schema_with_its_flag_and_variable() {
        let schema = schema();
        for (table, arg) in settings(&Cli::command()) {
            let path = match table {
                Table::Top => format!("/properties/{}", arg.get_id()),
                Table::Auth => format!("/properties/auth/properties/{}", arg.get_id()),
                Table::Serve => format!("/properties/serve/properties/{}", arg.get_id()),
            };
            let property = schema.pointer(&path).unwrap_or_else(|| panic!("{path} missing"));
            assert!(property.get("type").is_some(), "{path} has no type");
            assert!(property.get("description").is_some(), "{path} has no description");
            if let Some(env) = arg.get_env() {
                assert_eq!(property["x-env"], json!(env.to_string_lossy()), "{path}");
            }
        }
    }

    #[test]
    fn types_and_ranges_are_those_the_parsers_enforce() {
        let schema = schema();
        let at = |p: &str| schema.pointer(p).cloned().unwrap_or_else(|| panic!("{p} missing"));
        assert_eq!(
            at("/properties/db_pool_size"),
            json!({"type": "integer", "minimum": 1, "maximum": 200, "default": 16,
                   "description": at("/properties/db_pool_size/description"),
                   "x-flag": "--db-pool-size", "x-env": "NTSB_DB_POOL_SIZE"})
        );
        assert_eq!(at("/properties/serve/properties/request_timeout/minimum"), json!(1));
        assert_eq!(at("/properties/serve/properties/request_timeout/maximum"), json!(3600));
        assert_eq!(at("/properties/demo/type"), json!("boolean"));
        assert_eq!(at("/properties/demo/default"), json!(false));
        assert_eq!(at("/properties/log_format/enum"), json!(["text", "json"]));
        assert_eq!(at("/properties/serve/properties/cors_origins/type"), json!("array"));
        assert_eq!(at("/properties/serve/properties/listen/type"), json!("string"));
        assert_eq!(at("/additionalProperties"), json!(false));
        assert_eq!(at("/properties/serve/additionalProperties"), json!(false));
    }

    #[test]
    fn a_file_made_of_every_default_is_accepted_and_a_value_past_a_bound_is_not() {
        let schema = schema();
        let mut file = toml::Table::new();
        let mut put = |table: Option<&str>, properties: &Map<String, Value>| {
            let mut out = toml::Table::new();
            for (key, property) in properties {
                let Some(default) = property.get("default") else { continue };
                let value: toml::Value = serde_json::from_value(default.clone()).expect("a TOML value");
                out.insert(key.clone(), value);
            }
            match table {
                Some(name) => {
                    file.insert(name.to_string(), toml::Value::Table(out));
                }
                None => file.extend(out),
            }
        };
        let top = schema["properties"].as_object().unwrap();
        put(None, top);
        put(Some("auth"), schema["properties"]["auth"]["properties"].as_object().unwrap());
        put(Some("serve"), schema["properties"]["serve"]["properties"].as_object().unwrap());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ntsb.toml");
        std::fs::write(&path, toml::to_string(&file).unwrap()).unwrap();
        crate::config::parse(["ntsb", "--config", path.to_str().unwrap(), "stats"])
            .unwrap_or_else(|e| panic!("defaults refused: {e:#}\n{}", std::fs::read_to_string(&path).unwrap()));

        let max = schema["properties"]["db_pool_size"]["maximum"].as_i64().unwrap();
        std::fs::write(&path, format!("db_pool_size = {}\n", max + 1)).unwrap();
        let refused = crate::config::parse(["ntsb", "--config", path.to_str().unwrap(), "stats"]).unwrap_err();
        assert!(format!("{refused:#}").contains("db_pool_size"), "{refused:#}");
    }
}
