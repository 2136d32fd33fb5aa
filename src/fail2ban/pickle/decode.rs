//! The decoder: an arena machine (`machine`) that runs the opcodes. The stack and the memo hold
//! node ids, containers hold child ids, so a memoized list that is filled later is seen filled,
//! exactly as in CPython, and `MEMOIZE` copies nothing. `build` turns the arena into a `Value`
//! at `STOP`.

use super::build::{int_from_le, int_from_text, python_string_literal, raw_unicode_escape};
use super::machine::{Machine, Node, Scratch, Span, Step, MARK_ID};
use super::*;

/// Decode one pickle at the start of `buf`. `Ok(None)`: incomplete, feed more bytes.
/// `Ok(Some((value, used)))`: `used` bytes, through `STOP`, made `value`.
///
/// A `Decoder` does the same and keeps its buffers for the next pickle.
pub fn decode(buf: &[u8]) -> Result<Option<(Value, usize)>, Error> {
    Decoder::default().decode(buf)
}

/// Decodes pickle after pickle in the same buffers. A reply's arena (a 10,000-IP `status` reply
/// makes 20,000 nodes and 30,000 memo entries) is then allocated once, not per reply, so the
/// next reply neither asks malloc for it again nor faults its pages back in after glibc gave
/// them back to the OS. At most `KEEP_SCRATCH_BYTES` are kept between pickles.
#[derive(Default)]
pub struct Decoder {
    scratch: Scratch,
}

impl Decoder {
    /// As `decode`.
    pub fn decode(&mut self, buf: &[u8]) -> Result<Option<(Value, usize)>, Error> {
        let mut m = Machine::new(buf, std::mem::take(&mut self.scratch));
        let done = match m.run() {
            Ok(Some(root)) => m.build(root).map(|value| Some((value, m.pos))),
            other => other.map(|_| None),
        };
        let scratch = m.into_scratch();
        if scratch.bytes() <= KEEP_SCRATCH_BYTES {
            self.scratch = scratch;
        }
        done
    }

    /// Heap bytes kept for the next pickle.
    #[cfg(test)]
    fn kept_bytes(&self) -> usize {
        self.scratch.bytes()
    }
}

macro_rules! need {
    ($e:expr) => {
        match $e {
            Some(v) => v,
            None => return Ok(None),
        }
    };
}

impl Machine<'_> {
    /// Run until STOP: the root id, or `None` when the input ends first.
    fn run(&mut self) -> Step<u32> {
        loop {
            self.at = self.pos;
            let op = need!(self.byte());
            match op {
                PROTO => {
                    self.proto = need!(self.byte());
                }
                FRAME => {
                    need!(self.take(8));
                }
                STOP => {
                    let root = self.pop()?;
                    if !self.s.stack.is_empty() {
                        return Err(self.err(ErrorKind::BadStop));
                    }
                    return Ok(Some(root));
                }
                MARK => {
                    if self.marks >= MAX_DEPTH {
                        return Err(self.err(ErrorKind::TooDeep));
                    }
                    self.marks += 1;
                    self.s.stack.push(MARK_ID);
                }
                POP => match self.s.stack.pop() {
                    Some(MARK_ID) => self.marks -= 1,
                    Some(_) => {}
                    None => return Err(self.err(ErrorKind::StackUnderflow)),
                },
                POP_MARK => {
                    let at = self.pop_mark()?;
                    self.s.stack.truncate(at);
                }
                DUP => {
                    let id = self.top()?;
                    self.s.stack.push(id);
                }
                NONE => self.push_node(Node::None)?,
                NEWTRUE => self.push_node(Node::Bool(true))?,
                NEWFALSE => self.push_node(Node::Bool(false))?,
                BININT1 => {
                    let b = need!(self.byte());
                    self.push_node(Node::Int(i64::from(b)))?;
                }
                BININT2 => {
                    let b = need!(self.take(2));
                    self.push_node(Node::Int(i64::from(u16::from_le_bytes([b[0], b[1]]))))?;
                }
                BININT => {
                    let n = need!(self.u32le()) as i32;
                    self.push_node(Node::Int(i64::from(n)))?;
                }
                LONG1 => {
                    let n = usize::from(need!(self.byte()));
                    let b = need!(self.take(n));
                    self.push(int_from_le(b).map_err(|kind| self.err(kind))?)?;
                }
                LONG4 => {
                    let n = need!(self.u32le()) as usize;
                    if n > self.buf.len() {
                        return Ok(None);
                    }
                    let b = need!(self.take(n));
                    self.push(int_from_le(b).map_err(|kind| self.err(kind))?)?;
                }
                INT | LONG => {
                    let line = need!(self.line());
                    let text =
                        std::str::from_utf8(line).map_err(|_| self.err(ErrorKind::BadNumber))?;
                    let text = text.strip_suffix('L').unwrap_or(text);
                    let v = match (op, text) {
                        (INT, "00") => Value::Bool(false),
                        (INT, "01") => Value::Bool(true),
                        _ => int_from_text(text).map_err(|kind| self.err(kind))?,
                    };
                    self.push(v)?;
                }
                FLOAT => {
                    let line = need!(self.line());
                    let f = std::str::from_utf8(line)
                        .ok()
                        .and_then(|t| float::parse(t.trim()));
                    self.push(Value::Float(f.ok_or(self.err(ErrorKind::BadNumber))?))?;
                }
                BINFLOAT => {
                    let b = need!(self.take(8));
                    self.push(Value::Float(f64::from_be_bytes([
                        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                    ])))?;
                }
                SHORT_BINUNICODE => {
                    let n = usize::from(need!(self.byte()));
                    let span = need!(self.span(n));
                    self.utf8(span)?;
                }
                BINUNICODE => {
                    let n = need!(self.u32le()) as usize;
                    let span = need!(self.span(n));
                    self.utf8(span)?;
                }
                BINUNICODE8 => {
                    let n = need!(self.len64());
                    let span = need!(self.span(n));
                    self.utf8(span)?;
                }
                SHORT_BINSTRING => {
                    let n = usize::from(need!(self.byte()));
                    let span = need!(self.span(n));
                    self.push_node(Node::Py2Str(span))?;
                }
                BINSTRING => {
                    let n = need!(self.u32le()) as usize;
                    let span = need!(self.span(n));
                    self.push_node(Node::Py2Str(span))?;
                }
                UNICODE => {
                    let line = need!(self.line());
                    let s = raw_unicode_escape(line).ok_or(self.err(ErrorKind::InvalidUtf8))?;
                    self.push(Value::Str(s.as_str().into()))?;
                }
                STRING => {
                    let line = need!(self.line());
                    let s = python_string_literal(line).ok_or(self.err(ErrorKind::InvalidUtf8))?;
                    self.push(Value::Str(s.as_str().into()))?;
                }
                SHORT_BINBYTES => {
                    let n = usize::from(need!(self.byte()));
                    let span = need!(self.span(n));
                    self.push_node(Node::Bytes(span))?;
                }
                BINBYTES => {
                    let n = need!(self.u32le()) as usize;
                    let span = need!(self.span(n));
                    self.push_node(Node::Bytes(span))?;
                }
                BINBYTES8 | BYTEARRAY8 => {
                    let n = need!(self.len64());
                    let span = need!(self.span(n));
                    self.push_node(Node::Bytes(span))?;
                }
                EMPTY_LIST | EMPTY_SET => self.new_list(self.s.stack.len())?,
                EMPTY_TUPLE => self.push_node(Node::Tuple(Span::of(0..0)))?,
                EMPTY_DICT => {
                    let dict = self.new_dict()?;
                    self.s.stack.push(dict);
                }
                LIST | FROZENSET => {
                    let at = self.pop_mark()?;
                    self.new_list(at)?;
                }
                TUPLE => {
                    let at = self.pop_mark()?;
                    self.tuple_from(at)?;
                }
                DICT => {
                    let at = self.pop_mark()?;
                    let dict = self.new_dict()?;
                    self.extend_dict(dict, at)?;
                    self.s.stack.push(dict);
                }
                TUPLE1 | TUPLE2 | TUPLE3 => {
                    let n = usize::from(op - TUPLE1 + 1);
                    let from = self
                        .s
                        .stack
                        .len()
                        .checked_sub(n)
                        .ok_or(self.err(ErrorKind::StackUnderflow))?;
                    if self.s.stack[from..].contains(&MARK_ID) {
                        return Err(self.err(ErrorKind::StackUnderflow));
                    }
                    self.tuple_from(from)?;
                }
                APPEND => {
                    let from = self
                        .s
                        .stack
                        .len()
                        .checked_sub(1)
                        .ok_or(self.err(ErrorKind::StackUnderflow))?;
                    if self.s.stack[from] == MARK_ID || from == 0 {
                        return Err(self.err(ErrorKind::StackUnderflow));
                    }
                    let list = self.s.stack[from - 1];
                    self.extend_list(list, from)?;
                }
                APPENDS | ADDITEMS => {
                    let at = self.pop_mark()?;
                    let list = *at
                        .checked_sub(1)
                        .and_then(|i| self.s.stack.get(i))
                        .ok_or(self.err(ErrorKind::StackUnderflow))?;
                    self.extend_list(list, at)?;
                }
                SETITEM => {
                    let from = self
                        .s
                        .stack
                        .len()
                        .checked_sub(2)
                        .ok_or(self.err(ErrorKind::StackUnderflow))?;
                    if self.s.stack[from..].contains(&MARK_ID) || from == 0 {
                        return Err(self.err(ErrorKind::StackUnderflow));
                    }
                    let dict = self.s.stack[from - 1];
                    self.extend_dict(dict, from)?;
                }
                SETITEMS => {
                    let at = self.pop_mark()?;
                    let dict = *at
                        .checked_sub(1)
                        .and_then(|i| self.s.stack.get(i))
                        .ok_or(self.err(ErrorKind::StackUnderflow))?;
                    self.extend_dict(dict, at)?;
                }
                GLOBAL => {
                    let module = need!(self.line());
                    let name = need!(self.line());
                    let (module, name) = (self.text(module)?, self.text(name)?);
                    self.global(module, name)?;
                }
                STACK_GLOBAL => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (module, name) = (self.str_of(module)?, self.str_of(name)?);
                    self.global(module, name)?;
                }
                REDUCE | NEWOBJ => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    self.call(callable, args)?;
                }
                NEWOBJ_EX => {
                    let _kwargs = self.pop()?;
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    self.push_node(Node::Call(callable, args))?;
                }
                BUILD => {
                    // The state would be applied by __setstate__; the object stays what it was.
                    self.pop()?;
                    self.top()?;
                }
                MEMOIZE => {
                    let index = self.s.memo.len();
                    self.memo_put(index)?;
                }
                BINPUT => {
                    let i = usize::from(need!(self.byte()));
                    self.memo_put(i)?;
                }
                LONG_BINPUT => {
                    let i = need!(self.u32le()) as usize;
                    self.memo_put(i)?;
                }
                PUT => {
                    let line = need!(self.line());
                    let i = std::str::from_utf8(line)
                        .ok()
                        .and_then(|t| t.parse::<usize>().ok());
                    self.memo_put(i.ok_or(self.err(ErrorKind::BadNumber))?)?;
                }
                BINGET => {
                    let i = need!(self.byte());
                    if !self.str_call(i) {
                        self.memo_get(usize::from(i))?;
                    }
                }
                LONG_BINGET => {
                    let i = need!(self.u32le()) as usize;
                    self.memo_get(i)?;
                }
                GET => {
                    let line = need!(self.line());
                    let i = std::str::from_utf8(line)
                        .ok()
                        .and_then(|t| t.parse::<usize>().ok());
                    self.memo_get(i.ok_or(self.err(ErrorKind::BadNumber))?)?;
                }
                other => return Err(self.err(ErrorKind::UnknownOpcode(other))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_input_is_none_not_an_error() {
        let full = b"\x80\x02K\x05.";
        for n in 0..full.len() {
            assert_eq!(decode(&full[..n]), Ok(None), "prefix {n}");
        }
        assert_eq!(decode(full), Ok(Some((Value::Int(5), 5))));
    }

    #[test]
    fn huge_declared_lengths_wait_for_bytes_instead_of_allocating() {
        let mut p = vec![PROTO, 4, BINUNICODE8];
        p.extend_from_slice(&(1u64 << 60).to_le_bytes());
        assert_eq!(decode(&p), Ok(None));
        let mut p = vec![PROTO, 4, LONG4];
        p.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode(&p), Ok(None));
    }

    #[test]
    fn big_ints_are_exact() {
        // 2**64 as LONG1: 9 bytes little-endian.
        let p = [PROTO, 2, LONG1, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1, STOP];
        assert_eq!(
            decode(&p).unwrap().unwrap().0,
            Value::BigInt("18446744073709551616".into())
        );
        let p = [PROTO, 2, LONG1, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, STOP];
        assert_eq!(
            decode(&p).unwrap().unwrap().0,
            Value::BigInt("-18446744073709551616".into())
        );
        let p = [PROTO, 2, LONG1, 2, 0xff, 0x7f, STOP];
        assert_eq!(decode(&p).unwrap().unwrap().0, Value::Int(32767));
        // Carries across bytes and limbs, both signs (the bytes of CPython's int.to_bytes).
        for (bytes, text) in [
            (
                &[255, 255, 255, 255, 255, 255, 255, 255, 255, 0][..],
                "4722366482869645213695",
            ),
            (&[0, 0, 0, 0, 0, 0, 0, 0, 0, 255], "-4722366482869645213696"),
            (
                &[255, 255, 255, 255, 255, 255, 255, 255, 254],
                "-18446744073709551617",
            ),
            (&[1, 0, 0, 0, 0, 0, 0, 0, 191], "-1199038364791120855039"),
            (
                &[0, 0, 0, 64, 234, 237, 116, 70, 208, 156, 44, 159, 12],
                "1000000000000000000000000000000",
            ),
            (
                &[0, 0, 0, 192, 21, 18, 139, 185, 47, 99, 211, 96, 243],
                "-1000000000000000000000000000000",
            ),
        ] {
            let mut p = vec![PROTO, 2, LONG1, bytes.len() as u8];
            p.extend_from_slice(bytes);
            p.push(STOP);
            assert_eq!(decode(&p).unwrap().unwrap().0, Value::BigInt(text.into()));
        }
    }

    /// Python 2's protocol 0 writes a str as its quoted repr, escapes and all.
    #[test]
    fn quoted_python2_strings_read_their_escapes() {
        let p = b"S'a\\101\\7b\\x41\\n\\'\\q'\n.";
        let want = Value::Str("aA\u{7}bA\n'\\q".into());
        assert_eq!(decode(p).unwrap().unwrap().0, want);
        // An octal escape above 0o377 is no byte.
        let err = decode(b"S'\\400'\n.").unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidUtf8);
    }

    /// Protocols 0 and 1 write ints as text; CPython refuses to read more than 4,300 digits.
    #[test]
    fn int_text_beyond_4300_digits_is_refused() {
        for (digits, ok) in [(4300, true), (4301, false)] {
            let mut p = b"L".to_vec();
            p.extend(std::iter::repeat_n(b'9', digits));
            p.extend_from_slice(b"L\n.");
            let got = decode(&p).map(|r| r.map(|(v, _)| v));
            match got {
                Ok(Some(Value::BigInt(text))) if ok => assert_eq!(text.len(), digits),
                Err(e) if !ok => assert_eq!(e.kind, ErrorKind::IntTooLarge),
                _ => panic!("{digits} digits read wrongly"),
            }
        }
    }

    #[test]
    fn shared_references_cannot_expand_without_bound() {
        // [x, x] memoized, then [[..],[..]] repeatedly: 2^40 nodes if expanded naively.
        let mut p = vec![PROTO, 2, NONE];
        for i in 0..40u8 {
            p.extend_from_slice(&[BINPUT, i, BINGET, i, TUPLE2]);
        }
        p.push(STOP);
        assert_eq!(decode(&p).unwrap_err().kind, ErrorKind::TooLarge);
    }

    #[test]
    fn a_list_memoized_before_it_is_filled_is_seen_filled() {
        // l = [1]; (l, l) with the second reference a memo GET after the append.
        let p = [
            PROTO, 2, EMPTY_LIST, BINPUT, 0, BININT1, 1, APPEND, BINGET, 0, TUPLE2, STOP,
        ];
        let one = Value::List(vec![Value::Int(1)]);
        assert_eq!(
            decode(&p).unwrap().unwrap().0,
            Value::Tuple(vec![one.clone(), one])
        );
    }

    #[test]
    fn self_reference_is_an_error_not_a_hang() {
        let p = [PROTO, 2, EMPTY_LIST, BINPUT, 0, BINGET, 0, APPEND, STOP];
        assert!(decode(&p).is_err());
    }

    /// Issue 13.5: a memo index read from the wire sized the memo before any value needed it.
    #[test]
    fn a_far_memo_index_is_refused_without_sizing_the_memo() {
        // 9 bytes: PROTO 4, NONE, LONG_BINPUT 0xFFFFF, STOP.
        let mut p = vec![PROTO, 4, NONE, LONG_BINPUT];
        p.extend_from_slice(&(MAX_MEMO as u32 - 1).to_le_bytes());
        p.push(STOP);
        assert_eq!(p.len(), 9);
        let mut m = Machine::new(&p, Scratch::default());
        let err = m.run().unwrap_err();
        assert_eq!((err.kind, err.offset), (ErrorKind::MemoTooLarge, 3));
        let memo_bytes = m.memo_bytes();
        assert!(
            memo_bytes <= 64,
            "a 9-byte pickle holds a {memo_bytes}-byte memo"
        );
    }

    #[test]
    fn memo_indexes_with_gaps_read_back() {
        // 'a' put at index 4, 'b' at 2, then (memo[4], memo[2]); memo[3] was never put.
        let p = [
            PROTO,
            2,
            SHORT_BINUNICODE,
            1,
            b'a',
            BINPUT,
            4,
            SHORT_BINUNICODE,
            1,
            b'b',
            BINPUT,
            2,
            POP,
            POP,
            BINGET,
            4,
            BINGET,
            2,
            TUPLE2,
            STOP,
        ];
        let s = |t: &str| Value::Str(t.into());
        assert_eq!(
            decode(&p).unwrap().unwrap().0,
            Value::Tuple(vec![s("a"), s("b")])
        );
        let p = [PROTO, 2, NONE, BINPUT, 5, BINGET, 4, STOP];
        assert_eq!(decode(&p).unwrap_err().kind, ErrorKind::BadMemoRef);
    }

    /// `Machine::str_call` runs fail2ban's `IPAddr` pattern in one step: what it leaves in the
    /// memo (the str, its 1-tuple) must read back as the opcodes one by one would leave it, and
    /// anything off the pattern must still be read (or refused) by the opcodes.
    #[test]
    fn ipaddr_strings_read_in_one_step_leave_the_memo_as_the_opcodes_would() {
        let ipaddr = |text: &[u8]| {
            let mut p = vec![SHORT_BINUNICODE, text.len() as u8];
            p.extend_from_slice(text);
            p.extend_from_slice(&[MEMOIZE, TUPLE1, MEMOIZE, REDUCE, MEMOIZE]);
            p
        };
        let mut p = vec![PROTO, 4, EMPTY_LIST, MEMOIZE, MARK];
        p.extend_from_slice(b"\x8c\x08builtins\x94\x8c\x03str\x94\x93\x94");
        p.extend(ipaddr(b"a")); // memo 4, 5, 6: after STACK_GLOBAL, one by one
        p.extend([BINGET, 3]);
        p.extend(ipaddr(b"b")); // memo 7, 8, 9: after BINGET of the class, in one step
        p.extend([BINGET, 8, BINGET, 7, BINGET, 9, BINGET, 6]);
        p.extend([BINGET, 1]); // BINGET of a str, not the class: one by one
        p.extend(ipaddr(b"c"));
        p.extend([APPENDS, STOP]);
        let s = |t: &str| Value::Str(t.into());
        let call = Value::Call(Box::new(Call {
            callable: s("builtins"),
            args: vec![s("c")],
        }));
        let want = Value::List(vec![
            s("a"),
            s("b"),
            Value::Tuple(vec![s("b")]),
            s("b"),
            s("b"),
            s("a"),
            call,
        ]);
        assert_eq!(decode(&p).unwrap().unwrap().0, want);
        // Cut short, or not UTF-8, the pattern is the opcodes' to read and refuse.
        let mut p = vec![PROTO, 4, EMPTY_LIST, MEMOIZE, MARK];
        p.extend_from_slice(b"\x8c\x08builtins\x94\x8c\x03str\x94\x93\x94");
        p.extend([BINGET, 3]);
        let at = p.len();
        let mut good = p.clone();
        good.extend(ipaddr(b"d"));
        for n in at..good.len() {
            assert_eq!(decode(&good[..n]), Ok(None), "{n} bytes");
        }
        p.extend(ipaddr(b"\xff"));
        p.extend([APPENDS, STOP]);
        let err = decode(&p).unwrap_err();
        assert_eq!((err.kind, err.offset), (ErrorKind::InvalidUtf8, at));
    }

    /// Minor page faults of the calling thread so far (`/proc/thread-self/stat`, field 10):
    /// memory touched for the first time, or again after malloc gave it back to the OS.
    fn page_faults() -> u64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        // The command name, field 2, may hold spaces: count from the `)` that ends it.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        after.split(' ').nth(7).unwrap().parse().unwrap()
    }

    /// Issue 14.4: the 10,000-IP `status` reply decoded at half CPython's speed, mostly in page
    /// faults: its arena (and 10,000 heap strings) were allocated, freed and trimmed back to
    /// the OS on every decode, so every decode faulted ~670 KB in again.
    #[test]
    fn decoding_a_big_reply_again_touches_no_new_memory() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/1.0.2-py3.11/bulk_status_jail.bin"
        );
        let bytes = std::fs::read(path).unwrap();
        let pickle = bytes.strip_suffix(TERMINATOR).unwrap();
        let mut decoder = Decoder::default();
        let first = decoder.decode(pickle).unwrap().unwrap().0;
        let kept = decoder.kept_bytes();
        assert!(kept > 0 && kept <= KEEP_SCRATCH_BYTES, "{kept} bytes kept");
        let before = page_faults();
        for _ in 0..20 {
            let (value, used) = decoder.decode(pickle).unwrap().unwrap();
            assert_eq!((&value, used), (&first, pickle.len()));
        }
        let faults = page_faults() - before;
        // Before: ~170 per decode (4 KiB pages), 3,376 here; now ~8 (the output list).
        assert!(faults <= 400, "{faults} page faults in 20 decodes");
    }

    #[test]
    fn a_decoder_frees_buffers_beyond_its_bound_and_decodes_on() {
        // 300,000 `None`s in a list: 4.8 MB of nodes, more than the decoder may keep.
        let mut p = vec![PROTO, 4, EMPTY_LIST, MARK];
        p.extend(std::iter::repeat_n(NONE, 300_000));
        p.extend_from_slice(&[APPENDS, STOP]);
        let mut decoder = Decoder::default();
        let (value, _) = decoder.decode(&p).unwrap().unwrap();
        assert!(matches!(value, Value::List(items) if items.len() == 300_000));
        assert_eq!(decoder.kept_bytes(), 0);
        // A bad pickle leaves it as usable as a good one.
        assert!(decoder.decode(&[PROTO, 2, APPEND, STOP]).is_err());
        let small = [PROTO, 2, EMPTY_LIST, BININT1, 7, APPEND, STOP];
        let (value, _) = decoder.decode(&small).unwrap().unwrap();
        assert_eq!(value, Value::List(vec![Value::Int(7)]));
        assert!(decoder.kept_bytes() <= KEEP_SCRATCH_BYTES);
    }

    /// "Any reply must decode in time linear in its size" (issue 13.2): the tree copies a shared
    /// reference, so a big string referenced many times multiplied its bytes.
    #[test]
    fn shared_references_to_a_big_string_cannot_multiply_its_bytes() {
        // s = 'x' * 256 KiB, then [s, s, ...] by 4,096 memo references: 1 GiB if all copied.
        let mut p = vec![PROTO, 4, BINUNICODE];
        p.extend_from_slice(&(256u32 << 10).to_le_bytes());
        p.extend(std::iter::repeat_n(b'x', 256 << 10));
        p.extend_from_slice(&[MEMOIZE, POP, EMPTY_LIST, MARK]);
        for _ in 0..4096 {
            p.extend_from_slice(&[BINGET, 0]);
        }
        p.extend_from_slice(&[APPENDS, STOP]);
        // (Not `unwrap_err`: a wrong answer would print a gigabyte.)
        let kind = decode(&p).err().map(|e| e.kind);
        assert_eq!(kind, Some(ErrorKind::TooLarge));
    }
}
