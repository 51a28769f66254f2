//! Validation and coercion of a service's configuration against its declared fields, with the
//! original's rules and error strings (reference §1.2), before any plugin sees it.
//!
//! Rules, in order: keys the service does not declare are dropped; `null` and `""` drop the
//! key (empty means unset); each remaining value is coerced to its field's kind; then every
//! declared field still without a value gets its default, in declaration order.
//!
//! Deliberate differences from the original, all stricter or needed for INI input:
//! * text fields refuse JSON lists and objects (the original would store a Python repr);
//! * integers come from a JSON integer or a string in Python `int()` syntax, never from a
//!   float or a bool (the original truncated `1.9` to `1`);
//! * a multi-choice value may also be a comma-separated string, which is how INI carries it;
//! * booleans and numbers stringified for text fields use JSON spelling (`true`, not `True`).

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use indexmap::IndexMap;
use serde_json::Value;
use thiserror::Error;

use crate::spec::{ConfigField, ConfigValue, FieldKind, ServiceConfig, ServiceSpec};

/// Prefix marking a textarea value as base64 (the UI sends multi-line text this way).
pub const TEXTAREA_BASE64_PREFIX: &str = "b64:";

/// Standard-alphabet base64 with mandatory padding, no whitespace, and trailing bits ignored:
/// what Python's `base64.b64decode(s, validate=True)` accepts.
const STRICT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical)
        .with_decode_allow_trailing_bits(true),
);

/// A configuration value the service cannot take. Displays as `<field>: <message>`, the
/// original's format, e.g. `port: expected int, got 'abc'`.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{field}: {message}")]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

impl ConfigError {
    fn new(field: &str, message: String) -> Self {
        Self { field: field.to_owned(), message }
    }
}

/// Checks and coerces `raw` against `spec`'s fields, then fills defaults.
pub fn validate_config(
    spec: &ServiceSpec,
    raw: &IndexMap<String, Value>,
) -> Result<ServiceConfig, ConfigError> {
    let mut given: IndexMap<&str, ConfigValue> = IndexMap::new();
    for (key, value) in raw {
        let Some(field) = spec.field(key) else {
            continue;
        };
        if is_unset(value) {
            continue;
        }
        given.insert(field.key.as_str(), coerce(field, value)?);
    }
    // Declaration order, explicit values first, defaults for the rest.
    let config = spec
        .fields
        .iter()
        .filter_map(|field| {
            let value = given.shift_remove(field.key.as_str()).or_else(|| field.default.clone())?;
            Some((field.key.clone(), value))
        })
        .collect();
    Ok(ServiceConfig(config))
}

/// `null` and `""` mean "not set".
fn is_unset(value: &Value) -> bool {
    matches!(value, Value::Null) || value.as_str() == Some("")
}

/// Coerces one set value to `field`'s kind.
pub fn coerce(field: &ConfigField, value: &Value) -> Result<ConfigValue, ConfigError> {
    let key = field.key.as_str();
    match field.kind {
        FieldKind::Text | FieldKind::Password => Ok(ConfigValue::Text(scalar_text(key, value)?)),
        FieldKind::Textarea => textarea(key, value).map(ConfigValue::Text),
        FieldKind::Integer => integer(key, value).map(ConfigValue::Integer),
        FieldKind::Boolean => boolean(key, value).map(ConfigValue::Boolean),
        FieldKind::Choice => choice(field, value).map(ConfigValue::Text),
        FieldKind::MultiChoice => multi_choice(field, value).map(ConfigValue::Choices),
    }
}

/// A string as is; a number or bool in its JSON spelling; anything else is an error.
fn scalar_text(key: &str, value: &Value) -> Result<String, ConfigError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(ConfigError::new(key, format!("expected text, got {}", py_type(other)))),
    }
}

fn textarea(key: &str, value: &Value) -> Result<String, ConfigError> {
    let text = scalar_text(key, value)?;
    let Some(payload) = text.strip_prefix(TEXTAREA_BASE64_PREFIX) else {
        return Ok(text);
    };
    STRICT_BASE64
        .decode(payload)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| ConfigError::new(key, "malformed b64: payload".to_owned()))
}

fn integer(key: &str, value: &Value) -> Result<i64, ConfigError> {
    let parsed = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => parse_py_int(s),
        _ => None,
    };
    parsed.ok_or_else(|| ConfigError::new(key, format!("expected int, got {}", py_repr(value))))
}

/// Python `int(str)` syntax: surrounding whitespace, an optional sign, decimal digits with
/// single underscores between them.
fn parse_py_int(text: &str) -> Option<i64> {
    let trimmed = text.trim();
    let digits = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
    let well_formed = !digits.is_empty()
        && !digits.starts_with('_')
        && !digits.ends_with('_')
        && !digits.contains("__")
        && digits.chars().all(|c| c.is_ascii_digit() || c == '_');
    if !well_formed {
        return None;
    }
    let cleaned: String = trimmed.chars().filter(|c| *c != '_').collect();
    cleaned.parse().ok()
}

fn boolean(key: &str, value: &Value) -> Result<bool, ConfigError> {
    let parsed = match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(true),
            "false" | "0" | "no" | "off" => Some(false),
            _ => None,
        },
        _ => None,
    };
    parsed.ok_or_else(|| ConfigError::new(key, format!("expected bool, got {}", py_repr(value))))
}

fn choice(field: &ConfigField, value: &Value) -> Result<String, ConfigError> {
    let text = py_str(value);
    check_allowed(field, text)
}

fn multi_choice(field: &ConfigField, value: &Value) -> Result<Vec<String>, ConfigError> {
    let key = field.key.as_str();
    let items: Vec<String> = match value {
        Value::Array(items) => items.iter().map(py_str).collect(),
        // INI carries a list as comma-separated text.
        Value::String(s) => {
            s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
        }
        other => {
            return Err(ConfigError::new(key, format!("expected list, got {}", py_type(other))));
        }
    };
    if items.is_empty() {
        return Err(ConfigError::new(key, "list must not be empty".to_owned()));
    }
    let mut chosen: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let item = check_allowed(field, item)?;
        if !chosen.contains(&item) {
            chosen.push(item);
        }
    }
    Ok(chosen)
}

/// `value` must be one of `field.choices` (when the field declares any).
fn check_allowed(field: &ConfigField, value: String) -> Result<String, ConfigError> {
    if field.choices.is_empty() || field.choices.contains(&value) {
        return Ok(value);
    }
    Err(ConfigError::new(
        &field.key,
        format!("{} not in allowed values [{}]", py_repr(&Value::String(value)), field.choices.join(", ")),
    ))
}

/// Python `str(value)` for JSON values.
fn py_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Python `repr(value)` for JSON values: `'abc'`, `5`, `True`, `None`, `[1, 'a']`, `{'k': 1}`.
pub fn py_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => py_repr_str(s),
        Value::Array(items) => {
            format!("[{}]", items.iter().map(py_repr).collect::<Vec<_>>().join(", "))
        }
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", py_repr_str(k), py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Python's string repr: single quotes unless the text has a single quote and no double one.
fn py_repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's type name of a JSON value, as in "expected list, got dict".
fn py_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field(key: &str, kind: FieldKind) -> ConfigField {
        ConfigField {
            key: key.to_owned(),
            label: key.to_owned(),
            kind,
            default: None,
            help: None,
            choices: Vec::new(),
            placeholder: None,
            secret: false,
        }
    }

    fn with_choices(mut f: ConfigField, choices: &[&str]) -> ConfigField {
        f.choices = choices.iter().map(|s| (*s).to_owned()).collect();
        f
    }

    fn with_default(mut f: ConfigField, value: ConfigValue) -> ConfigField {
        f.default = Some(value);
        f
    }

    fn spec(fields: Vec<ConfigField>) -> ServiceSpec {
        ServiceSpec {
            slug: "svc".into(),
            display_name: "Svc".into(),
            description: String::new(),
            ports: Vec::new(),
            fleet_singleton: false,
            fields,
            images: Vec::new(),
            capabilities: Vec::new(),
            read_only_root: true,
        }
    }

    fn raw(value: Value) -> IndexMap<String, Value> {
        serde_json::from_value(value).unwrap()
    }

    fn one(kind: FieldKind, value: Value) -> Result<Option<ConfigValue>, ConfigError> {
        let s = spec(vec![field("k", kind)]);
        validate_config(&s, &raw(json!({ "k": value }))).map(|c| c.get("k").cloned())
    }

    fn err(kind: FieldKind, value: Value) -> String {
        one(kind, value).unwrap_err().to_string()
    }

    fn text(s: &str) -> Option<ConfigValue> {
        Some(ConfigValue::Text(s.to_owned()))
    }

    #[test]
    fn unknown_keys_are_dropped() {
        let s = spec(vec![field("known", FieldKind::Text)]);
        let c = validate_config(&s, &raw(json!({ "known": "a", "other": "b" }))).unwrap();
        assert_eq!(c.0.keys().collect::<Vec<_>>(), ["known"]);
    }

    #[test]
    fn null_and_empty_string_unset_the_key() {
        for value in [json!(null), json!("")] {
            for kind in [FieldKind::Text, FieldKind::Integer, FieldKind::Boolean, FieldKind::MultiChoice] {
                assert_eq!(one(kind, value.clone()).unwrap(), None, "{kind:?} {value}");
            }
        }
        // A blank default comes back when the value is unset.
        let s = spec(vec![with_default(field("k", FieldKind::Integer), ConfigValue::Integer(7))]);
        let c = validate_config(&s, &raw(json!({ "k": "" }))).unwrap();
        assert_eq!(c.get("k"), Some(&ConfigValue::Integer(7)));
    }

    #[test]
    fn text_and_password_stringify_scalars() {
        for kind in [FieldKind::Text, FieldKind::Password] {
            assert_eq!(one(kind, json!("hi")).unwrap(), text("hi"));
            assert_eq!(one(kind, json!(42)).unwrap(), text("42"));
            assert_eq!(one(kind, json!(1.5)).unwrap(), text("1.5"));
            assert_eq!(one(kind, json!(true)).unwrap(), text("true"));
        }
        assert_eq!(err(FieldKind::Text, json!(["a"])), "k: expected text, got list");
        assert_eq!(err(FieldKind::Password, json!({"a": 1})), "k: expected text, got dict");
    }

    #[test]
    fn textarea_decodes_b64_prefix_strictly() {
        assert_eq!(one(FieldKind::Textarea, json!("line1\nline2")).unwrap(), text("line1\nline2"));
        assert_eq!(one(FieldKind::Textarea, json!("b64:aGVsbG8KdGhlcmU=")).unwrap(), text("hello\nthere"));
        assert_eq!(one(FieldKind::Textarea, json!("b64:")).unwrap(), text(""));
        // Trailing bits are ignored, as Python does ("QR==" decodes to "A").
        assert_eq!(one(FieldKind::Textarea, json!("b64:QR==")).unwrap(), text("A"));
        for bad in ["b64:not base64!", "b64:aGVsbG8", "b64:aGVs bG8=", "b64://8="] {
            assert_eq!(err(FieldKind::Textarea, json!(bad)), "k: malformed b64: payload", "{bad}");
        }
    }

    #[test]
    fn integers_from_json_ints_and_python_int_strings() {
        assert_eq!(one(FieldKind::Integer, json!(22)).unwrap(), Some(ConfigValue::Integer(22)));
        assert_eq!(one(FieldKind::Integer, json!(-3)).unwrap(), Some(ConfigValue::Integer(-3)));
        for (s, n) in [("22", 22), (" 22 ", 22), ("+5", 5), ("-5", -5), ("1_000", 1000)] {
            assert_eq!(one(FieldKind::Integer, json!(s)).unwrap(), Some(ConfigValue::Integer(n)), "{s}");
        }
        assert_eq!(err(FieldKind::Integer, json!("abc")), "k: expected int, got 'abc'");
        assert_eq!(err(FieldKind::Integer, json!("1.5")), "k: expected int, got '1.5'");
        assert_eq!(err(FieldKind::Integer, json!("1__0")), "k: expected int, got '1__0'");
        assert_eq!(err(FieldKind::Integer, json!("it's")), "k: expected int, got \"it's\"");
        assert_eq!(err(FieldKind::Integer, json!(1.5)), "k: expected int, got 1.5");
        assert_eq!(err(FieldKind::Integer, json!(true)), "k: expected int, got True");
        assert_eq!(err(FieldKind::Integer, json!([1])), "k: expected int, got [1]");
        assert_eq!(
            err(FieldKind::Integer, json!("99999999999999999999")),
            "k: expected int, got '99999999999999999999'"
        );
    }

    #[test]
    fn booleans_from_bools_and_words() {
        for s in ["true", "1", "yes", "on", "TRUE", "Yes", "oN"] {
            assert_eq!(one(FieldKind::Boolean, json!(s)).unwrap(), Some(ConfigValue::Boolean(true)), "{s}");
        }
        for s in ["false", "0", "no", "off", "False", "NO"] {
            assert_eq!(one(FieldKind::Boolean, json!(s)).unwrap(), Some(ConfigValue::Boolean(false)), "{s}");
        }
        assert_eq!(one(FieldKind::Boolean, json!(true)).unwrap(), Some(ConfigValue::Boolean(true)));
        assert_eq!(err(FieldKind::Boolean, json!("maybe")), "k: expected bool, got 'maybe'");
        assert_eq!(err(FieldKind::Boolean, json!(1)), "k: expected bool, got 1");
    }

    #[test]
    fn choice_must_be_allowed() {
        let s = spec(vec![with_choices(field("k", FieldKind::Choice), &["a", "b"])]);
        let ok = validate_config(&s, &raw(json!({ "k": "b" }))).unwrap();
        assert_eq!(ok.get("k"), text("b").as_ref());
        let e = validate_config(&s, &raw(json!({ "k": "x" }))).unwrap_err();
        assert_eq!(e.to_string(), "k: 'x' not in allowed values [a, b]");
        assert_eq!(e.field, "k");
        // A number is stringified before the check.
        let s = spec(vec![with_choices(field("v", FieldKind::Choice), &["1", "2"])]);
        assert_eq!(validate_config(&s, &raw(json!({ "v": 2 }))).unwrap().get("v"), text("2").as_ref());
    }

    #[test]
    fn multi_choice_from_lists_and_comma_text() {
        let s = spec(vec![with_choices(field("k", FieldKind::MultiChoice), &["a", "b", "c"])]);
        let get = |v: Value| validate_config(&s, &raw(json!({ "k": v }))).map(|c| c.get("k").cloned());
        let list =
            |items: &[&str]| Some(ConfigValue::Choices(items.iter().map(|s| (*s).to_owned()).collect()));
        assert_eq!(get(json!(["b", "a", "b"])).unwrap(), list(&["b", "a"]));
        assert_eq!(get(json!("c, a,c")).unwrap(), list(&["c", "a"]));
        assert_eq!(get(json!([])).unwrap_err().to_string(), "k: list must not be empty");
        assert_eq!(get(json!(" , ")).unwrap_err().to_string(), "k: list must not be empty");
        assert_eq!(get(json!(["a", "x"])).unwrap_err().to_string(), "k: 'x' not in allowed values [a, b, c]");
        assert_eq!(get(json!("a,zz")).unwrap_err().to_string(), "k: 'zz' not in allowed values [a, b, c]");
        assert_eq!(get(json!(5)).unwrap_err().to_string(), "k: expected list, got int");
        assert_eq!(get(json!({"a": 1})).unwrap_err().to_string(), "k: expected list, got dict");
        assert_eq!(get(json!(true)).unwrap_err().to_string(), "k: expected list, got bool");
    }

    #[test]
    fn defaults_fill_in_declaration_order() {
        let s = spec(vec![
            with_default(field("a", FieldKind::Text), ConfigValue::Text("x".into())),
            field("b", FieldKind::Integer),
            with_default(field("c", FieldKind::Boolean), ConfigValue::Boolean(true)),
            field("d", FieldKind::Text),
        ]);
        let c = validate_config(&s, &raw(json!({ "d": "given", "c": "no" }))).unwrap();
        let pairs: Vec<(&str, &ConfigValue)> = c.0.iter().map(|(k, v)| (k.as_str(), v)).collect();
        assert_eq!(
            pairs,
            [
                ("a", &ConfigValue::Text("x".into())),
                ("c", &ConfigValue::Boolean(false)),
                ("d", &ConfigValue::Text("given".into())),
            ]
        );
        assert!(validate_config(&spec(vec![]), &IndexMap::new()).unwrap().is_empty());
    }

    #[test]
    fn first_error_names_its_field() {
        let s = spec(vec![field("port", FieldKind::Integer), field("debug", FieldKind::Boolean)]);
        let e = validate_config(&s, &raw(json!({ "port": "x", "debug": "maybe" }))).unwrap_err();
        assert_eq!(e.field, "port");
        assert_eq!(e.message, "expected int, got 'x'");
    }
}
