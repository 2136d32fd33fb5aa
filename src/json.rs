//! JSON without a JSON library: a writer that appends straight into a response buffer (strings
//! escaped in one place, numbers without `core::fmt`) and a reader for the one request body the
//! API takes, `{"ip": "..."}`. serde + serde_json cost ~40 KB of generic code for that; a value
//! tree per answer also cost an allocation per field.
//!
//! Objects are written with `Obj`, arrays with `List`; both place the commas. The API writes
//! keys in sorted order, the order serde_json's map kept, so answers stay byte-identical.

use std::fmt;
use std::time::Duration;

/// Deepest nesting the reader follows; deeper bodies are refused, never recursed into.
pub const MAX_DEPTH: usize = 32;

/// `s` as a JSON string literal: `"`, `\` and control characters escaped as serde_json does
/// (short forms where JSON has them, else `\u00xx`); everything else as UTF-8.
pub fn str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x08 => b'b',
            0x0c => b'f',
            0..=0x1f => b'u',
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.push(b'\\');
        out.push(short);
        if short == b'u' {
            out.extend_from_slice(b"00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// A whole number in decimal.
pub fn uint(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(decimal(&mut [0; 20], n));
}

/// The decimal digits of `n`, written at the end of `buf` (20 digits hold any u64): on the
/// stack, so the seconds writers below need no `Vec` of their own.
fn decimal(buf: &mut [u8; 20], mut n: u64) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

pub fn int(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    uint(out, n.unsigned_abs());
}

/// A duration in seconds as `{:?}` of `d.as_secs_f64()` wrote it, from integer nanoseconds
/// (core's float formatting costs ~20 KB): `5.0`, `0.013456`, and below 0.1 ms core's exponent
/// form, `5e-5`. The decimal is exact, where `as_secs_f64()` rounded twice and was off by an
/// ulp for one nanosecond-resolution duration in 200, and for `--interval 1.118`
/// (`1.1179999999999999`).
pub fn secs(out: &mut Vec<u8>, d: Duration) {
    let nanos = d.subsec_nanos();
    if d.as_secs() == 0 && (1..100_000).contains(&nanos) {
        let mut buf = [0; 20];
        let digits = decimal(&mut buf, u64::from(nanos));
        let exponent = 10 - digits.len();
        let digits = &digits[..digits.len() - trailing_zeros(digits)];
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.extend_from_slice(b"e-");
        uint(out, exponent as u64);
    } else {
        plain_secs(out, d);
        if nanos == 0 {
            out.extend_from_slice(b".0");
        }
    }
}

/// Whole seconds, then `.` and the nanoseconds without trailing zeros if there are any.
fn plain_secs(out: &mut Vec<u8>, d: Duration) {
    uint(out, d.as_secs());
    let nanos = d.subsec_nanos();
    if nanos != 0 {
        let mut buf = [0; 20];
        let digits = decimal(&mut buf, u64::from(nanos) + 1_000_000_000);
        out.push(b'.');
        out.extend_from_slice(&digits[1..digits.len() - trailing_zeros(digits)]);
    }
}

fn trailing_zeros(digits: &[u8]) -> usize {
    digits.iter().rev().take_while(|&&c| c == b'0').count()
}

/// A duration in seconds as `{}` of `as_secs_f64()` printed it in metrics and of
/// `as_secs_f32()` in messages (`5`, `0.5`, `0.000013`): whole seconds and the nonzero fraction,
/// without float formatting. It is the exact value, also where an f32 lost digits.
pub struct Secs(pub Duration);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::with_capacity(32);
        plain_secs(&mut out, self.0);
        f.write_str(std::str::from_utf8(&out).unwrap_or_default())
    }
}

pub fn bool(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

/// Writes `{`, then `"key":` before each value (with the commas), then `}` at `end`.
pub struct Obj<'a> {
    out: &'a mut Vec<u8>,
    empty: bool,
}

impl<'a> Obj<'a> {
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Obj { out, empty: true }
    }
    /// Write the key; the caller writes the value into the returned buffer.
    pub fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        str(self.out, key);
        self.out.push(b':');
        self.out
    }
    pub fn str(&mut self, key: &str, v: &str) -> &mut Self {
        str(self.key(key), v);
        self
    }
    pub fn opt_str(&mut self, key: &str, v: Option<&str>) -> &mut Self {
        match v {
            Some(v) => str(self.key(key), v),
            None => self.key(key).extend_from_slice(b"null"),
        }
        self
    }
    pub fn uint(&mut self, key: &str, v: u64) -> &mut Self {
        uint(self.key(key), v);
        self
    }
    pub fn opt_uint(&mut self, key: &str, v: Option<u64>) -> &mut Self {
        match v {
            Some(v) => uint(self.key(key), v),
            None => self.key(key).extend_from_slice(b"null"),
        }
        self
    }
    pub fn opt_int(&mut self, key: &str, v: Option<i64>) -> &mut Self {
        match v {
            Some(v) => int(self.key(key), v),
            None => self.key(key).extend_from_slice(b"null"),
        }
        self
    }
    pub fn bool(&mut self, key: &str, v: bool) -> &mut Self {
        bool(self.key(key), v);
        self
    }
    pub fn end(&mut self) {
        self.out.push(b'}');
    }
}

/// Writes `[`, the commas between items, then `]` at `end`.
pub struct List<'a> {
    out: &'a mut Vec<u8>,
    empty: bool,
}

impl<'a> List<'a> {
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'[');
        List { out, empty: true }
    }
    /// The buffer to write the next item into.
    pub fn item(&mut self) -> &mut Vec<u8> {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out
    }
    pub fn end(&mut self) {
        self.out.push(b']');
    }
}

/// An array of strings.
pub fn strs<'s>(out: &mut Vec<u8>, items: impl IntoIterator<Item = &'s str>) {
    let mut list = List::new(out);
    for s in items {
        str(list.item(), s);
    }
    list.end();
}

/// A request body that is not one JSON object.
#[derive(Debug, PartialEq)]
pub struct NotJson;

/// The string member `key` of a JSON object document: `Err` when `body` is not one JSON object
/// (trailing whitespace allowed), `Ok(None)` when the object has no such member or it is not a
/// string. A repeated key counts with its last value, as serde_json read it.
pub fn object_str_member(body: &[u8], key: &str) -> Result<Option<String>, NotJson> {
    let text = std::str::from_utf8(body).map_err(|_| NotJson)?;
    let mut r = Reader {
        b: text.as_bytes(),
        i: 0,
        key,
        found: None,
    };
    r.ws();
    if r.peek() != Some(b'{') {
        return Err(NotJson);
    }
    r.value(0)?;
    r.ws();
    if r.i != r.b.len() {
        return Err(NotJson);
    }
    Ok(r.found)
}

/// A cursor over a JSON text (already valid UTF-8), keeping the top-level object's string
/// member `key` as it passes it: one walker for the document and the values nested in it.
struct Reader<'a> {
    b: &'a [u8],
    i: usize,
    key: &'a str,
    found: Option<String>,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let c = self.peek();
        self.i += 1;
        c
    }
    fn expect(&mut self, c: u8) -> Result<(), NotJson> {
        if self.next() == Some(c) {
            Ok(())
        } else {
            Err(NotJson)
        }
    }
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// Skip one value, nested at most `MAX_DEPTH` deep.
    fn value(&mut self, depth: usize) -> Result<(), NotJson> {
        if depth > MAX_DEPTH {
            return Err(NotJson);
        }
        match self.peek().ok_or(NotJson)? {
            b'"' => self.string().map(drop),
            b'{' | b'[' => {
                let close = if self.next() == Some(b'{') {
                    b'}'
                } else {
                    b']'
                };
                self.ws();
                if self.peek() == Some(close) {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    let mut wanted = false;
                    if close == b'}' {
                        // Only the document's own members (depth 0) are looked up.
                        wanted = self.string()? == self.key && depth == 0;
                        self.ws();
                        self.expect(b':')?;
                        self.ws();
                    }
                    if wanted && self.peek() == Some(b'"') {
                        self.found = Some(self.string()?);
                    } else {
                        if wanted {
                            self.found = None;
                        }
                        self.value(depth + 1)?;
                    }
                    self.ws();
                    match self.next() {
                        Some(b',') => continue,
                        Some(c) if c == close => return Ok(()),
                        _ => return Err(NotJson),
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number(),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), NotJson> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(NotJson)
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Result<(), NotJson> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(NotJson),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            self.digits1()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            self.digits1()?;
        }
        Ok(())
    }
    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
    }
    fn digits1(&mut self) -> Result<(), NotJson> {
        let start = self.i;
        self.digits();
        if self.i == start {
            Err(NotJson)
        } else {
            Ok(())
        }
    }

    /// A string literal, unescaped. Lone surrogates are refused, as serde_json refuses them.
    fn string(&mut self) -> Result<String, NotJson> {
        self.expect(b'"')?;
        let mut out = String::new();
        loop {
            let start = self.i;
            while !matches!(self.peek(), Some(b'"' | b'\\') | None) {
                if self.b[self.i] < 0x20 {
                    return Err(NotJson);
                }
                self.i += 1;
            }
            // The slice ends at an ASCII byte, so it is whole UTF-8.
            out.push_str(std::str::from_utf8(&self.b[start..self.i]).map_err(|_| NotJson)?);
            match self.next().ok_or(NotJson)? {
                b'"' => return Ok(out),
                _ => {
                    let c = match self.next().ok_or(NotJson)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.escaped_char()?,
                        _ => return Err(NotJson),
                    };
                    out.push(c);
                }
            }
        }
    }

    /// The character of a `\uXXXX` escape (the `\u` read), with its low surrogate if any.
    fn escaped_char(&mut self) -> Result<char, NotJson> {
        let hi = self.hex4()?;
        if !(0xD800..0xDC00).contains(&hi) {
            return char::from_u32(hi).ok_or(NotJson);
        }
        self.literal(b"\\u")?;
        let lo = self.hex4()?;
        if !(0xDC00..0xE000).contains(&lo) {
            return Err(NotJson);
        }
        char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)).ok_or(NotJson)
    }
    fn hex4(&mut self) -> Result<u32, NotJson> {
        let mut n = 0;
        for _ in 0..4 {
            let d = char::from(self.next().ok_or(NotJson)?)
                .to_digit(16)
                .ok_or(NotJson)?;
            n = n * 16 + d;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_escape_as_serde_json_did() {
        assert_eq!(
            text(|o| str(o, "a\"b\\c\nd\te\u{1}\u{8}\u{c}\r\u{1f}é/\u{7f}")),
            r#""a\"b\\c\nd\te\u0001\b\f\r\u001fé/"#.to_string() + "\u{7f}\""
        );
        assert_eq!(text(|o| str(o, "")), "\"\"");
    }

    #[test]
    fn numbers_and_nesting() {
        assert_eq!(text(|o| uint(o, 0)), "0");
        assert_eq!(text(|o| uint(o, u64::MAX)), "18446744073709551615");
        assert_eq!(text(|o| int(o, i64::MIN)), "-9223372036854775808");
        let out = text(|o| {
            let mut obj = Obj::new(o);
            obj.str("a", "x").opt_uint("b", None).bool("c", true);
            strs(obj.key("d"), ["p", "q"]);
            List::new(obj.key("e")).end();
            Obj::new(obj.key("f")).end();
            obj.opt_int("g", Some(-1)).end();
        });
        assert_eq!(
            out,
            r#"{"a":"x","b":null,"c":true,"d":["p","q"],"e":[],"f":{},"g":-1}"#
        );
    }

    /// A duration's exact decimal, which `{:?}` of the double nearest to it printed (a decimal
    /// of up to 15 digits reads back exactly), and `{}` likewise.
    #[test]
    fn seconds_print_as_core_printed_the_nearest_double() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut durations: Vec<Duration> = [0, 1, 9, 10, 99_999, 100_000, 500_000_000, 999_999_999]
            .iter()
            .flat_map(|&n| [0, 1, 5, 59, 86_400, 999_999].map(|s| Duration::new(s, n)))
            .collect();
        for _ in 0..100_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let nanos = (seed >> 32) as u32 % 1_000_000_000;
            // Every scale: ns, us and ms resolution, probe-sized and interval-sized.
            let nanos = nanos / 10u32.pow((seed % 10) as u32) * 10u32.pow((seed % 10) as u32);
            let secs = [0, seed % 10, seed % 1_000_000][(seed >> 8) as usize % 3];
            durations.push(Duration::new(secs, nanos));
        }
        for d in durations {
            let nearest: f64 = text(|o| plain_secs(o, d)).parse().unwrap();
            assert_eq!(text(|o| secs(o, d)), format!("{nearest:?}"), "{d:?}");
            assert_eq!(Secs(d).to_string(), format!("{nearest}"), "{d:?}");
        }
        // What `as_secs_f64()` itself gives, where it is the nearest double.
        for (d, old) in [
            (Duration::from_secs(5), "5.0"),
            (Duration::from_micros(13_456), "0.013456"),
        ] {
            assert_eq!(text(|o| secs(o, d)), format!("{:?}", d.as_secs_f64()));
            assert_eq!(text(|o| secs(o, d)), old);
        }
        // Where `as_secs_f64()` was not the nearest double, the old text showed its error.
        let d = Duration::from_millis(1118);
        assert_eq!(format!("{:?}", d.as_secs_f64()), "1.1179999999999999");
        assert_eq!(text(|o| secs(o, d)), "1.118");
        assert_eq!(text(|o| secs(o, Duration::from_nanos(50_000))), "5e-5");
        assert_eq!(text(|o| secs(o, Duration::from_nanos(12_340))), "1.234e-5");
        assert_eq!(text(|o| secs(o, Duration::ZERO)), "0.0");
        assert_eq!(Secs(Duration::ZERO).to_string(), "0");
        assert_eq!(
            Secs(Duration::from_millis(86_399_999)).to_string(),
            "86399.999"
        );
    }

    #[test]
    fn reads_the_member_of_an_object_and_refuses_what_is_not_json() {
        let ip = |b: &str| object_str_member(b.as_bytes(), "ip");
        assert_eq!(ip(r#"{"ip":"1.2.3.4"}"#), Ok(Some("1.2.3.4".into())));
        assert_eq!(
            ip(r#" { "x": [1, -2.5e+3, {"y": null}, true, false, "\"\u00e9"], "ip" : "a\/b" } "#),
            Ok(Some("a/b".into()))
        );
        assert_eq!(ip(r#"{"ip":"a","ip":"b"}"#), Ok(Some("b".into())));
        assert_eq!(ip(r#"{"ip":"\ud83d\ude00"}"#), Ok(Some("\u{1f600}".into())));
        assert_eq!(ip(r#"{"ip":5}"#), Ok(None));
        assert_eq!(ip(r#"{"ip":"a","ip":5}"#), Ok(None));
        assert_eq!(ip("{}"), Ok(None));
        for bad in [
            "",
            "[1]",
            "\"ip\"",
            r#"{"ip":"1.2.3.4""#,
            r#"{"ip":"1.2.3.4"} x"#,
            r#"{"ip":"1.2.3.4",}"#,
            r#"{"ip":01}"#,
            r#"{"ip":"\ud800"}"#,
            r#"{"ip":"\x"}"#,
            "{\"ip\":\"a\nb\"}",
            r#"{"a":1.}"#,
            r#"{"a":tru}"#,
            r#"{ip:"1"}"#,
        ] {
            assert_eq!(ip(bad), Err(NotJson), "{bad}");
        }
        assert_eq!(object_str_member(b"{\"ip\":\"\xff\"}", "ip"), Err(NotJson));
        let deep = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert_eq!(ip(&format!("{{\"a\":{deep}}}")), Ok(None));
        let deeper = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(ip(&format!("{{\"a\":{deeper}}}")), Err(NotJson));
    }
}
