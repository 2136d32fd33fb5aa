//! Decoded pickle values as JSON, the way Python's `json.dumps` would write them: what
//! `banwatch query` prints and how replies are quoted in error messages. It lives outside the
//! codec so that decoding fail2ban's replies does not depend on JSON; it writes with `crate::json`.

use crate::fail2ban::pickle::{float, Value};
use crate::fail2ban::replies::ServerError;
use crate::json::{self, List, Obj};

/// jq-friendly JSON: tuples and lists as arrays, dicts as objects (keys as text), big ints as
/// strings of digits, class references as `{"global": "module.name"}`, calls of a class (how
/// exceptions arrive) as `{"class": name, "args": [...]}`. Object keys come out sorted, a
/// repeated key with its last value (the map serde_json built did that).
pub fn to_json(value: &Value) -> String {
    let mut out = Vec::new();
    write(&mut out, value);
    String::from_utf8(out).unwrap_or_default()
}

/// `to_json`, appended to `out`.
pub fn write(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::None => out.extend_from_slice(b"null"),
        Value::Bool(b) => json::bool(out, *b),
        Value::Int(n) => json::int(out, *n),
        Value::BigInt(s) => json::str(out, s),
        Value::Str(s) => json::str(out, s.as_str()),
        Value::Float(f) if f.is_finite() => out.extend_from_slice(python_float_repr(*f).as_bytes()),
        Value::Float(_) => out.extend_from_slice(b"null"),
        Value::Bytes(b) => json::str(out, &String::from_utf8_lossy(b)),
        Value::List(v) | Value::Tuple(v) => items(out, v),
        Value::Dict(pairs) => {
            let mut keys = Vec::with_capacity(pairs.len() / 2);
            for key in pairs.iter().step_by(2) {
                keys.push(key_text(key));
            }
            let order = sorted_order(&keys);
            let mut obj = Obj::new(out);
            for (n, &i) in order.iter().enumerate() {
                // Among equal keys the last one written in the dict comes last; only it counts.
                if order.get(n + 1).is_some_and(|&next| keys[next] == keys[i]) {
                    continue;
                }
                write(obj.key(&keys[i]), &pairs[2 * i + 1]);
            }
            obj.end();
        }
        Value::Global(g) => {
            Obj::new(out)
                .str("global", &format!("{}.{}", g.module, g.name))
                .end();
        }
        Value::Call(call) => {
            let mut obj = Obj::new(out);
            items(obj.key("args"), &call.args);
            match &call.callable {
                Value::Global(g) => {
                    obj.str("class", &g.name);
                }
                other => write(obj.key("call"), other),
            }
            obj.end();
        }
    }
}

fn items(out: &mut Vec<u8>, values: &[Value]) {
    let mut list = List::new(out);
    for v in values {
        write(list.item(), v);
    }
    list.end();
}

/// The indices of `keys` ordered by (key, index), by heapsort: O(n log n) in a few lines where
/// a std sort instantiates ~5 KB of code (build/size).
fn sorted_order(keys: &[String]) -> Vec<usize> {
    let less = |a: usize, b: usize| (keys[a].as_str(), a) < (keys[b].as_str(), b);
    let sift = |idx: &mut [usize], mut root: usize| loop {
        let mut child = 2 * root + 1;
        if child >= idx.len() {
            break;
        }
        if child + 1 < idx.len() && less(idx[child], idx[child + 1]) {
            child += 1;
        }
        if !less(idx[root], idx[child]) {
            break;
        }
        idx.swap(root, child);
        root = child;
    };
    let mut idx: Vec<usize> = (0..keys.len()).collect();
    for root in (0..idx.len() / 2).rev() {
        sift(&mut idx, root);
    }
    for end in (1..idx.len()).rev() {
        idx.swap(0, end);
        sift(&mut idx[..end], 0);
    }
    idx
}

/// A server error (an exception reply) as `{"args": [...], "class": name}`.
pub fn server_error(out: &mut Vec<u8>, e: &ServerError) {
    let mut obj = Obj::new(out);
    items(obj.key("args"), &e.args);
    obj.str("class", &e.class).end();
}

/// A dict key as JSON object key text, as Python's `json.dumps` writes it.
fn key_text(key: &Value) -> String {
    match key {
        Value::Str(s) => s.to_string(),
        Value::BigInt(s) => s.clone(),
        Value::Float(f) => python_float_repr(*f),
        // None, bools and ints read the same as keys as they do as values.
        other => to_json(other),
    }
}

/// `repr(float)` as Python prints it (`1.0`, `1e+16`, `0.1`), with `json.dumps`'s names for the
/// values JSON has no number for (a dict key can still be one).
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
    let mut s = String::new();
    float::repr(f, &mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heapsort_orders_by_key_then_position() {
        let mut seed = 7u32;
        for len in 0..60 {
            let keys: Vec<String> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    ((seed >> 16) % 7).to_string()
                })
                .collect();
            let mut want: Vec<usize> = (0..len).collect();
            want.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
            assert_eq!(sorted_order(&keys), want, "{keys:?}");
        }
    }

    #[test]
    fn dicts_have_sorted_keys_and_the_last_duplicate_wins() {
        let s = |t: &str| Value::Str(t.into());
        let dict = Value::Dict(vec![
            s("b"),
            Value::Int(1),
            Value::Int(2),
            Value::None,
            s("a"),
            Value::Bool(true),
            s("b"),
            s("x\"y"),
        ]);
        assert_eq!(to_json(&dict), r#"{"2":null,"a":true,"b":"x\"y"}"#);
        let keys = Value::Dict(vec![
            Value::None,
            Value::Int(1),
            Value::Bool(false),
            Value::Int(2),
            Value::Int(-30),
            Value::Int(3),
            Value::BigInt("-123456789012345678901".into()),
            Value::Int(4),
            Value::Float(f64::NEG_INFINITY),
            Value::Int(5),
        ]);
        assert_eq!(
            to_json(&keys),
            r#"{"-123456789012345678901":4,"-30":3,"-Infinity":5,"false":2,"null":1}"#
        );
    }
}
