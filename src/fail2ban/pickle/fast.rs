//! The fast paths that need no tree: `scan` frames a reply by its opcodes alone, and
//! `StrListReader` reads a ban list a string at a time.

use super::*;

/// Where the pickle at the start of `buf` ends (just past `STOP`), found by walking opcode
/// framing only: no stack, no memo, no allocation. `Ok(None)`: incomplete. It does not check
/// that the opcodes make sense together; `decode` does that.
pub fn scan(buf: &[u8]) -> Result<Option<usize>, Error> {
    scan_from(buf, &mut 0)
}

/// `scan` of a buffer that grows: `resume` is where the last call on the same (longer now)
/// buffer stopped, an opcode boundary, and is moved to where this one stops. Framing a reply as
/// it arrives costs each byte once, however many reads it takes.
pub fn scan_from(buf: &[u8], resume: &mut usize) -> Result<Option<usize>, Error> {
    let mut pos = *resume;
    let le = |at: usize, n: usize| -> Option<u64> {
        let b = buf.get(at..at.checked_add(n)?)?;
        Some(
            b.iter()
                .rev()
                .fold(0u64, |acc, &x| (acc << 8) | u64::from(x)),
        )
    };
    loop {
        let at = pos;
        *resume = at;
        let Some(&op) = buf.get(pos) else {
            return Ok(None);
        };
        pos += 1;
        // Bytes of argument after the opcode, or how to find them.
        let arg: u64 = match op {
            STOP => return Ok(Some(pos)),
            MARK | POP | POP_MARK | DUP | NONE | NEWTRUE | NEWFALSE | REDUCE | NEWOBJ
            | NEWOBJ_EX | BUILD | APPEND | APPENDS | ADDITEMS | SETITEM | SETITEMS | EMPTY_LIST
            | EMPTY_TUPLE | EMPTY_DICT | EMPTY_SET | LIST | TUPLE | TUPLE1 | TUPLE2 | TUPLE3
            | DICT | FROZENSET | STACK_GLOBAL | MEMOIZE => 0,
            PROTO | BININT1 | BINPUT | BINGET => 1,
            BININT2 => 2,
            BININT | LONG_BINPUT | LONG_BINGET => 4,
            FRAME | BINFLOAT => 8,
            SHORT_BINUNICODE | SHORT_BINSTRING | SHORT_BINBYTES | LONG1 => match le(pos, 1) {
                Some(n) => 1 + n,
                None => return Ok(None),
            },
            BINUNICODE | BINSTRING | BINBYTES | LONG4 => match le(pos, 4) {
                Some(n) => 4 + n,
                None => return Ok(None),
            },
            BINUNICODE8 | BINBYTES8 | BYTEARRAY8 => match le(pos, 8) {
                Some(n) => 8u64.saturating_add(n),
                None => return Ok(None),
            },
            INT | LONG | FLOAT | STRING | UNICODE | PUT | GET | GLOBAL => {
                let lines = if op == GLOBAL { 2 } else { 1 };
                for _ in 0..lines {
                    match buf
                        .get(pos..)
                        .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
                    {
                        Some(n) => pos += n + 1,
                        None => return Ok(None),
                    }
                }
                0
            }
            other => {
                return Err(Error {
                    kind: ErrorKind::UnknownOpcode(other),
                    offset: at,
                })
            }
        };
        match usize::try_from(arg).ok().and_then(|a| pos.checked_add(a)) {
            Some(end) if end <= buf.len() => pos = end,
            _ => return Ok(None),
        }
    }
}

/// Reads a `(0, [str, ...])` reply, such as `get JAIL banip --with-time`, one string at a time,
/// each borrowed from the input: a 50,000-line ban list costs no tree and no heap string per
/// line, and the reader can stop after any string and go on later, so the event loop spreads a
/// big list over several turns. It takes the opcodes CPython writes for that shape at protocols
/// 2-5 (and Python 2 byte strings that are UTF-8, which `decode` reads the same); on anything
/// else it answers `NotFast`, and the caller decodes the reply with `decode`, exact for every
/// shape. Strings come out as they are read: after `NotFast`, forget the ones already taken.
#[derive(Debug, Clone)]
pub struct StrListReader {
    pos: usize,
    /// Inside `MARK ... APPENDS`, with this many strings since the mark.
    batch: Option<usize>,
    /// A string outside a batch, waiting for its `APPEND`.
    loose: bool,
    /// The memo's length, as `decode` would have it (`MAX_MEMO` applies alike).
    memo: usize,
}

/// The reply is not in the shape `StrListReader` reads: decode it with `decode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotFast;

impl StrListReader {
    /// Check the reply starts as `(0, [` at protocol 2-5. `buf` is the whole pickle, through `STOP`.
    pub fn new(buf: &[u8]) -> Result<Self, NotFast> {
        let mut r = StrListReader {
            pos: 0,
            batch: None,
            loose: false,
            memo: 0,
        };
        if r.op(buf)? != PROTO || !(2..=5).contains(&r.bytes::<1>(buf)?[0]) {
            return Err(NotFast);
        }
        if r.op(buf)? != BININT1 || r.bytes::<1>(buf)? != [0] || r.op(buf)? != EMPTY_LIST {
            return Err(NotFast);
        }
        Ok(r)
    }

    /// The next string of the list; `Ok(None)` once the reply's `STOP` ends `buf` exactly.
    pub fn next<'a>(&mut self, buf: &'a [u8]) -> Result<Option<&'a str>, NotFast> {
        loop {
            let op = self.op(buf)?;
            match op {
                // A mark on top of the stack cannot be memoized: `decode` says why.
                MEMOIZE | BINPUT | LONG_BINPUT if self.batch != Some(0) => {
                    self.memo_put(op, buf)?
                }
                SHORT_BINUNICODE | BINUNICODE | BINUNICODE8 | SHORT_BINSTRING | BINSTRING => {
                    let len = match op {
                        SHORT_BINUNICODE | SHORT_BINSTRING => u64::from(self.bytes::<1>(buf)?[0]),
                        BINUNICODE | BINSTRING => u64::from(u32::from_le_bytes(self.bytes(buf)?)),
                        _ => u64::from_le_bytes(self.bytes(buf)?),
                    };
                    let len = usize::try_from(len).map_err(|_| NotFast)?;
                    let end = self.pos.checked_add(len).ok_or(NotFast)?;
                    let text = buf.get(self.pos..end).ok_or(NotFast)?;
                    let text = std::str::from_utf8(text).map_err(|_| NotFast)?;
                    self.pos = end;
                    match &mut self.batch {
                        Some(n) => *n += 1,
                        None if self.loose => return Err(NotFast),
                        None => self.loose = true,
                    }
                    return Ok(Some(text));
                }
                APPEND if self.loose && self.batch.is_none() => self.loose = false,
                MARK if !self.loose && self.batch.is_none() => self.batch = Some(0),
                APPENDS if self.batch.is_some() => self.batch = None,
                TUPLE2 if !self.loose && self.batch.is_none() => {
                    // Only memo puts may follow, then `STOP` as the last byte.
                    loop {
                        match self.op(buf)? {
                            op @ (MEMOIZE | BINPUT | LONG_BINPUT) => self.memo_put(op, buf)?,
                            STOP if self.pos == buf.len() => return Ok(None),
                            _ => return Err(NotFast),
                        }
                    }
                }
                _ => return Err(NotFast),
            }
        }
    }

    fn memo_put(&mut self, op: u8, buf: &[u8]) -> Result<(), NotFast> {
        let index = match op {
            MEMOIZE => self.memo,
            BINPUT => usize::from(self.bytes::<1>(buf)?[0]),
            _ => u32::from_le_bytes(self.bytes(buf)?) as usize,
        };
        // As `decode`: an index beyond the bytes read is refused (there, as an error).
        if index >= MAX_MEMO || index > self.pos {
            return Err(NotFast);
        }
        self.memo = self.memo.max(index + 1);
        Ok(())
    }

    /// The next opcode, skipping `FRAME`s (a length hint only, as in `decode`).
    fn op(&mut self, buf: &[u8]) -> Result<u8, NotFast> {
        loop {
            let op = self.bytes::<1>(buf)?[0];
            if op != FRAME {
                return Ok(op);
            }
            self.bytes::<8>(buf)?;
        }
    }

    fn bytes<const N: usize>(&mut self, buf: &[u8]) -> Result<[u8; N], NotFast> {
        let b = buf
            .get(self.pos..self.pos + N)
            .and_then(|b| <[u8; N]>::try_from(b).ok())
            .ok_or(NotFast)?;
        self.pos += N;
        Ok(b)
    }
}
