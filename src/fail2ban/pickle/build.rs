//! From the decode arena to values: the tree builder, and the conversions of Python's text and
//! number encodings (Python 2 strings, raw-unicode-escape, quoted literals, decimal and
//! little-endian ints).

use super::machine::{Machine, Node, Span};
use super::*;

/// Turns the arena into a tree. The arena is only read, so a node reached twice (a shared
/// reference) is simply built twice; `left` bounds the total, one per node plus the bytes of
/// text it copies, so sharing cannot expand without bound (neither in nodes nor in the bytes
/// of a big string referenced many times), and `MAX_DEPTH` stops reference cycles.
pub(super) struct Builder<'m, 'a> {
    pub(super) m: &'m Machine<'a>,
    /// Nodes plus bytes of text the tree may still hold.
    pub(super) left: usize,
    pub(super) offset: usize,
}

impl Builder<'_, '_> {
    fn err(&self, kind: ErrorKind) -> Error {
        Error {
            kind,
            offset: self.offset,
        }
    }

    pub(super) fn build(&mut self, id: u32, depth: usize) -> Result<Value, Error> {
        if depth > MAX_DEPTH {
            return Err(self.err(ErrorKind::TooDeep));
        }
        let m = self.m;
        let node = m.s.nodes[id as usize];
        let text = match node {
            Node::Str(span) | Node::Py2Str(span) | Node::Bytes(span) => span.range().len(),
            Node::Other(index) => match &m.others[index as usize] {
                Value::Str(s) => s.len(),
                Value::BigInt(s) => s.len(),
                Value::Global(g) => g.module.len() + g.name.len(),
                _ => 0,
            },
            _ => 0,
        };
        self.take(1 + text)?;
        Ok(match node {
            Node::None => Value::None,
            Node::Bool(b) => Value::Bool(b),
            Node::Int(n) => Value::Int(n),
            Node::Str(span) => Value::Str(self.str(span)?),
            Node::Py2Str(span) => Value::Str(latin1_or_utf8(&m.buf[span.range()]).as_str().into()),
            Node::Bytes(span) => Value::Bytes(m.buf[span.range()].to_vec()),
            Node::StrClass => Value::Global(Box::new(Global {
                module: "builtins".into(),
                name: "str".into(),
            })),
            Node::Other(index) => m.others[index as usize].clone(),
            Node::Tuple(span) => Value::Tuple(self.build_all(&m.s.edges[span.range()], depth)?),
            Node::List(index) => Value::List(self.build_all(&m.s.lists[index], depth)?),
            Node::Dict(index) => {
                let pairs = &m.s.lists[index];
                Value::Dict(self.build_all(pairs, depth)?)
            }
            Node::Call(callable, args) => {
                let mut args = match self.build(args, depth + 1)? {
                    Value::Tuple(a) | Value::List(a) => a,
                    other => vec![other],
                };
                // `builtins.str(x)` with one str argument is that str (fail2ban's `IPAddr`;
                // `Machine::call` already took those whose str it read as UTF-8).
                if let (Node::StrClass, [Value::Str(_)]) =
                    (m.s.nodes[callable as usize], args.as_slice())
                {
                    return Ok(args.pop().unwrap_or(Value::None));
                }
                let callable = self.build(callable, depth + 1)?;
                Value::Call(Box::new(Call { callable, args }))
            }
        })
    }

    fn build_all(&mut self, ids: &[u32], depth: usize) -> Result<Vec<Value>, Error> {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            // A ban list's strings, built here rather than by a call to `build`: its
            // `Result<Value>`, stored byte by byte and moved again at once, stalled the copy.
            let value = match self.m.s.nodes[id as usize] {
                Node::Str(span) => {
                    self.take(1 + span.range().len())?;
                    match Text::from_checked_in(self.m.buf, span.range()) {
                        Some(text) => Value::Str(text),
                        None => return Err(self.err(ErrorKind::InvalidUtf8)),
                    }
                }
                _ => self.build(id, depth + 1)?,
            };
            out.push(value);
        }
        Ok(out)
    }

    /// Count `n` nodes plus bytes of text against `left`.
    fn take(&mut self, n: usize) -> Result<(), Error> {
        self.left = self
            .left
            .checked_sub(n)
            .ok_or(self.err(ErrorKind::TooLarge))?;
        Ok(())
    }

    fn str(&self, span: Span) -> Result<Text, Error> {
        Text::from_checked_in(self.m.buf, span.range()).ok_or(self.err(ErrorKind::InvalidUtf8))
    }
}

/// Python 2 byte strings: UTF-8 when they are, else Latin-1 (as `encoding='latin1'` would).
fn latin1_or_utf8(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => b.iter().map(|&c| char::from(c)).collect(),
    }
}

/// Decode `raw-unicode-escape`: Latin-1 bytes with `\uXXXX` and `\UXXXXXXXX` escapes.
pub(super) fn raw_unicode_escape(b: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() && (b[i + 1] == b'u' || b[i + 1] == b'U') {
            let n = if b[i + 1] == b'u' { 4 } else { 8 };
            let hex = std::str::from_utf8(b.get(i + 2..i + 2 + n)?).ok()?;
            out.push(char::from_u32(u32::from_str_radix(hex, 16).ok()?)?);
            i += 2 + n;
        } else {
            out.push(char::from(b[i]));
            i += 1;
        }
    }
    Some(out)
}

/// A quoted Python 2 str literal as protocol 0 writes it: `'...'` with backslash escapes.
pub(super) fn python_string_literal(line: &[u8]) -> Option<String> {
    let q = *line.first()?;
    if !(q == b'\'' || q == b'"') || line.len() < 2 || *line.last()? != q {
        return None;
    }
    let body = &line[1..line.len() - 1];
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i] != b'\\' {
            out.push(body[i]);
            i += 1;
            continue;
        }
        let c = *body.get(i + 1)?;
        i += 2;
        match c {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'\\' | b'\'' | b'"' => out.push(c),
            b'x' => {
                let hex = std::str::from_utf8(body.get(i..i + 2)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b'0'..=b'7' => {
                // Up to three octal digits, `c` the first; above 0o377 is not a byte.
                let mut v = u32::from(c - b'0');
                for _ in 0..2 {
                    match body.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push(u8::try_from(v).ok()?);
            }
            _ => {
                out.push(b'\\');
                out.push(c);
            }
        }
    }
    Some(latin1_or_utf8(&out))
}

/// An int from its decimal text: `Int` when it fits, else the exact digits as `BigInt`.
pub(super) fn int_from_text(text: &str) -> Result<Value, ErrorKind> {
    let digits = text
        .strip_prefix('-')
        .or_else(|| text.strip_prefix('+'))
        .unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ErrorKind::BadNumber);
    }
    // CPython counts every digit written, leading zeros too.
    if digits.len() > MAX_INT_DIGITS {
        return Err(ErrorKind::IntTooLarge);
    }
    Ok(match text.parse::<i64>() {
        Ok(n) => Value::Int(n),
        Err(_) => {
            let mut big = String::from(if text.starts_with('-') { "-" } else { "" });
            big.push_str(digits.trim_start_matches('0'));
            Value::BigInt(big)
        }
    })
}

/// An int from little-endian two's complement bytes (LONG1/LONG4).
pub(super) fn int_from_le(b: &[u8]) -> Result<Value, ErrorKind> {
    if b.is_empty() {
        return Ok(Value::Int(0));
    }
    let negative = b[b.len() - 1] & 0x80 != 0;
    let fill = if negative { 0xff } else { 0 };
    if b.len() <= 8 {
        let mut w = [fill; 8];
        w[..b.len()].copy_from_slice(b);
        return Ok(Value::Int(i64::from_le_bytes(w)));
    }
    // High bytes that only extend the sign carry no digits: drop them (keeping one for the
    // sign). Every byte left adds more than two decimal digits, so the length alone refuses what
    // cannot fit `MAX_INT_DIGITS`, before the conversion below, which is quadratic in it.
    let significant = b.len() - b.iter().rev().take_while(|&&x| x == fill).count();
    if significant > MAX_INT_DIGITS / 2 {
        return Err(ErrorKind::IntTooLarge);
    }
    let b = &b[..(significant + 1).min(b.len())];
    // Limbs of nine decimal digits, least significant first, by Horner's rule from the most
    // significant byte. A negative's magnitude is its complement plus one, the one added with
    // the last byte.
    let mut parts: Vec<u32> = Vec::new();
    for (i, &byte) in b.iter().enumerate().rev() {
        let byte = if negative { !byte } else { byte };
        let mut carry = u64::from(byte) + u64::from(negative && i == 0);
        for part in parts.iter_mut() {
            let v = u64::from(*part) * 256 + carry;
            *part = (v % 1_000_000_000) as u32;
            carry = v / 1_000_000_000;
        }
        if carry > 0 {
            parts.push(carry as u32);
        }
    }
    let mut text = String::from(if negative { "-" } else { "" });
    for (i, &p) in parts.iter().rev().enumerate() {
        // Nine digits a limb, the first limb without its leading zeros (no `format!` for this).
        let mut digits = [b'0'; 9];
        let mut rest = p;
        for d in digits.iter_mut().rev() {
            *d += (rest % 10) as u8;
            rest /= 10;
        }
        let zeros = if i == 0 {
            digits[..8].iter().take_while(|&&d| d == b'0').count()
        } else {
            0
        };
        text.push_str(std::str::from_utf8(&digits[zeros..]).unwrap_or_default());
    }
    if text.trim_start_matches('-').len() > MAX_INT_DIGITS {
        return Err(ErrorKind::IntTooLarge);
    }
    Ok(match text.parse::<i64>() {
        Ok(n) => Value::Int(n),
        Err(_) if parts.is_empty() => Value::Int(0),
        Err(_) => Value::BigInt(text),
    })
}
