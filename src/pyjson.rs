//! Decoded pickle values as JSON, the way Python's `json.dumps` would write them: what
//! `banwatch query` prints and how replies are quoted in error messages. It lives outside the
//! codec so that decoding fail2ban's replies does not depend on a JSON library.

use crate::fail2ban::pickle::Value;
use crate::fail2ban::replies::ServerError;

/// jq-friendly JSON: tuples and lists as arrays, dicts as objects (keys as text), big ints as
/// strings of digits, class references as `{"global": "module.name"}`, calls of a class (how
/// exceptions arrive) as `{"class": name, "args": [...]}`.
pub fn to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::None => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(n) => J::from(*n),
        Value::BigInt(s) => J::String(s.clone()),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::Str(s) => J::String(s.to_string()),
        Value::Bytes(b) => J::String(String::from_utf8_lossy(b).into_owned()),
        Value::List(v) | Value::Tuple(v) => J::Array(v.iter().map(to_json).collect()),
        Value::Dict(pairs) => J::Object(
            pairs
                .iter()
                .map(|(k, v)| (key_text(k), to_json(v)))
                .collect(),
        ),
        Value::Global(g) => {
            serde_json::json!({ "global": format!("{}.{}", g.module, g.name) })
        }
        Value::Call(call) => {
            let args: Vec<J> = call.args.iter().map(to_json).collect();
            match &call.callable {
                Value::Global(g) => {
                    serde_json::json!({ "class": g.name, "args": args })
                }
                other => serde_json::json!({ "call": to_json(other), "args": args }),
            }
        }
    }
}

/// A server error (an exception reply) as `{"class": name, "args": [...]}`.
pub fn server_error(e: &ServerError) -> serde_json::Value {
    serde_json::json!({ "class": e.class, "args": e.args.iter().map(to_json).collect::<Vec<_>>() })
}

/// A dict key as JSON object key text, as Python's `json.dumps` writes it.
fn key_text(key: &Value) -> String {
    match key {
        Value::Str(s) => s.to_string(),
        Value::None => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(n) => n.to_string(),
        Value::BigInt(s) => s.clone(),
        Value::Float(f) => python_float_repr(*f),
        other => to_json(other).to_string(),
    }
}

/// `repr(float)` for finite values as Python prints them (`1.0`, `1e+16`, `0.1`).
fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let s = format!("{f:?}");
    // Rust prints 1e16 as "1e16" and Python as "1e+16".
    match s.split_once('e') {
        Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
        _ => s,
    }
}
