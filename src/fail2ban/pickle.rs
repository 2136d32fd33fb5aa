//! The pickle codec of fail2ban's control socket: bytes in, values out. No I/O.
//!
//! In scope: encoding a request (a list of str, protocol 2) and decoding a reply of any protocol
//! 0-5 built from the opcodes fail2ban and CPython emit for plain data: ints of any size, floats,
//! str, bytes, lists, tuples, dicts, sets, None, bools, class references (`GLOBAL`,
//! `STACK_GLOBAL`) and calls (`REDUCE`, `NEWOBJ`), as fail2ban uses for exceptions and for its
//! `IPAddr` strings. Out of scope: persistent ids, extension registry, out-of-band buffers; they
//! are clear errors. Nothing is ever executed: a class reference is only a name.
//!
//! The decoder is an arena machine: the stack and the memo hold node ids, containers hold child
//! ids, so a memoized list that is filled later is seen filled, exactly as in CPython, and
//! `MEMOIZE` copies nothing. The tree is built once at `STOP`. Post-processing turns
//! `builtins.str(x)` into `x` and names Python 2 modules (`__builtin__`, `exceptions`) `builtins`.
//!
//! Ban lists, the one large reply, have their own reader: `StrListReader` walks a
//! `(0, [str, ...])` pickle a string at a time without building a tree, and hands anything else
//! back to `decode`.
//!
//! Limits: `MAX_DEPTH` nesting, `MAX_MEMO` memo entries, and the built tree may not exceed
//! `MAX_EXPANSION` times the input size in nodes (shared references cannot blow up). A length
//! read from the wire is checked against the bytes present before anything is allocated: when
//! they are not there yet, `decode` answers `Ok(None)`.

use std::fmt;

/// Ends every request and reply on the socket.
pub const TERMINATOR: &[u8] = b"<F2B_END_COMMAND>";
/// Largest reply the client accepts by default (`--max-reply-bytes`).
pub const DEFAULT_MAX_REPLY: usize = 64 << 20;
/// Containers nested deeper than this are refused (the stack of marks and the built tree).
pub const MAX_DEPTH: usize = 200;
/// Memo indexes at or above this are refused.
pub const MAX_MEMO: usize = 1 << 20;
/// The built tree holds at most this many nodes per input byte (plus a small constant).
pub const MAX_EXPANSION: usize = 4;

// Opcodes, named as in CPython's Lib/pickle.py.
const MARK: u8 = b'('; // push a mark
const STOP: u8 = b'.'; // the end
const POP: u8 = b'0'; // discard the top
const POP_MARK: u8 = b'1'; // discard up to the mark
const DUP: u8 = b'2'; // duplicate the top
const FLOAT: u8 = b'F'; // float as text
const INT: u8 = b'I'; // int as text (or 00/01 for bools)
const BININT: u8 = b'J'; // 4-byte signed int
const BININT1: u8 = b'K'; // 1-byte unsigned int
const LONG: u8 = b'L'; // long as text, trailing L
const BININT2: u8 = b'M'; // 2-byte unsigned int
const NONE: u8 = b'N'; // None
const REDUCE: u8 = b'R'; // call: callable(*args)
const STRING: u8 = b'S'; // quoted str repr (Python 2 str)
const BINSTRING: u8 = b'T'; // 4-byte length str (Python 2)
const SHORT_BINSTRING: u8 = b'U'; // 1-byte length str (Python 2)
const UNICODE: u8 = b'V'; // raw-unicode-escape text
const BINUNICODE: u8 = b'X'; // 4-byte length UTF-8
const APPEND: u8 = b'a'; // list.append(top)
const BUILD: u8 = b'b'; // obj.__setstate__(top): kept as the object
const GLOBAL: u8 = b'c'; // module\nname\n class reference
const DICT: u8 = b'd'; // dict from mark
const EMPTY_DICT: u8 = b'}';
const APPENDS: u8 = b'e'; // list.extend(mark..)
const GET: u8 = b'g'; // memo get, text index
const BINGET: u8 = b'h'; // memo get, 1-byte index
const LONG_BINGET: u8 = b'j'; // memo get, 4-byte index
const LIST: u8 = b'l'; // list from mark
const EMPTY_LIST: u8 = b']';
const PUT: u8 = b'p'; // memo put, text index
const BINPUT: u8 = b'q'; // memo put, 1-byte index
const LONG_BINPUT: u8 = b'r'; // memo put, 4-byte index
const SETITEM: u8 = b's'; // dict[key] = value
const TUPLE: u8 = b't'; // tuple from mark
const EMPTY_TUPLE: u8 = b')';
const SETITEMS: u8 = b'u'; // dict.update(mark..)
const BINFLOAT: u8 = b'G'; // 8-byte big-endian double
const PROTO: u8 = 0x80; // protocol version
const NEWOBJ: u8 = 0x81; // cls.__new__(cls, *args)
const TUPLE1: u8 = 0x85;
const TUPLE2: u8 = 0x86;
const TUPLE3: u8 = 0x87;
const NEWTRUE: u8 = 0x88;
const NEWFALSE: u8 = 0x89;
const LONG1: u8 = 0x8a; // 1-byte length little-endian two's complement int
const LONG4: u8 = 0x8b; // 4-byte length little-endian two's complement int
const BINBYTES: u8 = b'B'; // 4-byte length bytes
const SHORT_BINBYTES: u8 = b'C'; // 1-byte length bytes
const SHORT_BINUNICODE: u8 = 0x8c; // 1-byte length UTF-8
const BINUNICODE8: u8 = 0x8d; // 8-byte length UTF-8
const BINBYTES8: u8 = 0x8e; // 8-byte length bytes
const EMPTY_SET: u8 = 0x8f;
const ADDITEMS: u8 = 0x90; // set.update(mark..)
const FROZENSET: u8 = 0x91; // frozenset from mark
const NEWOBJ_EX: u8 = 0x92; // cls.__new__(cls, *args, **kwargs)
const STACK_GLOBAL: u8 = 0x93; // class reference from two str on the stack
const MEMOIZE: u8 = 0x94; // memo put at the next index
const FRAME: u8 = 0x95; // 8-byte frame length: a hint, skipped
const BYTEARRAY8: u8 = 0x96; // 8-byte length bytearray

/// A decoded value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// The exact decimal text of an int that does not fit `i64`.
    BigInt(String),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    /// Insertion-ordered.
    Dict(Vec<(Value, Value)>),
    /// A class reference; Python 2 modules `exceptions` and `__builtin__` read `builtins`.
    Global {
        module: String,
        name: String,
    },
    /// `REDUCE` / `NEWOBJ`: a call of `callable` with `args` (exceptions, `IPAddr`).
    Call {
        callable: Box<Value>,
        args: Vec<Value>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    UnknownOpcode(u8),
    /// An opcode needed more stack than there was.
    StackUnderflow,
    /// `APPENDS`, `TUPLE` and friends without a `MARK`.
    NoMark,
    /// An opcode found the wrong kind of value (e.g. `APPEND` onto a tuple).
    WrongType,
    TooDeep,
    MemoTooLarge,
    BadMemoRef,
    InvalidUtf8,
    BadNumber,
    /// Shared references would build a tree too large for the input.
    TooLarge,
    /// `STOP` left more than one value, or none.
    BadStop,
}

/// A decode error and where it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    /// Byte offset of the opcode.
    pub offset: usize,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ErrorKind::UnknownOpcode(op) => {
                return write!(
                    f,
                    "unknown pickle opcode 0x{op:02x} at byte {}",
                    self.offset
                )
            }
            ErrorKind::StackUnderflow => "pickle stack underflow",
            ErrorKind::NoMark => "pickle opcode without a mark",
            ErrorKind::WrongType => "pickle opcode applied to the wrong kind of value",
            ErrorKind::TooDeep => "pickle nested too deeply",
            ErrorKind::MemoTooLarge => "pickle memo index too large",
            ErrorKind::BadMemoRef => "pickle memo reference to nothing",
            ErrorKind::InvalidUtf8 => "pickle string is not valid UTF-8",
            ErrorKind::BadNumber => "pickle number is malformed",
            ErrorKind::TooLarge => "pickle shared references expand too much",
            ErrorKind::BadStop => "pickle STOP with a stack not holding exactly one value",
        };
        write!(f, "{what} at byte {}", self.offset)
    }
}

impl std::error::Error for Error {}

/// A request argument fail2ban would misread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError {
    /// Index of the offending argument.
    pub index: usize,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "argument {} contains <F2B_END_COMMAND>, which would split the command",
            self.index + 1
        )
    }
}

impl std::error::Error for EncodeError {}

/// Encode a fail2ban request: protocol 2 `PROTO 2, EMPTY_LIST, MARK`, a `BINUNICODE` per
/// argument, `APPENDS, STOP`, then the terminator.
pub fn encode_command<S: AsRef<str>>(args: &[S]) -> Result<Vec<u8>, EncodeError> {
    let len: usize = args.iter().map(|a| a.as_ref().len() + 5).sum();
    let mut out = Vec::with_capacity(len + 6 + TERMINATOR.len());
    out.extend_from_slice(&[PROTO, 2, EMPTY_LIST, MARK]);
    for (index, arg) in args.iter().enumerate() {
        let arg = arg.as_ref().as_bytes();
        if arg.windows(TERMINATOR.len()).any(|w| w == TERMINATOR) {
            return Err(EncodeError { index });
        }
        out.push(BINUNICODE);
        out.extend_from_slice(&(arg.len() as u32).to_le_bytes());
        out.extend_from_slice(arg);
    }
    out.extend_from_slice(&[APPENDS, STOP]);
    out.extend_from_slice(TERMINATOR);
    Ok(out)
}

/// A node of the decode arena. Strings and bytes are ranges of the input (copied only when the
/// tree is built); tuples are ranges of the shared `edges`; only lists and dicts, which opcodes
/// mutate after creation, own their children.
#[derive(Debug)]
enum Node<'a> {
    None,
    Bool(bool),
    Int(i64),
    /// UTF-8, validated when read.
    Str(&'a str),
    /// A Python 2 byte string: UTF-8 if it is, else Latin-1.
    Py2Str(Span),
    Bytes(Span),
    /// `builtins.str`, recognized once so `str(x)` calls are cheap to spot.
    StrClass,
    /// Anything rarer (floats, big ints, escaped text, other class references).
    Other(Box<Value>),
    Tuple(Span),
    /// Index into `Machine::lists` (lists grow after creation; keeping them out of line keeps
    /// every node small).
    List(u32),
    Dict(Vec<(u32, u32)>),
    Call(u32, u32),
}

/// A range `start..end` of the input (for strings) or of `edges` (for tuples).
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    fn of(r: std::ops::Range<usize>) -> Span {
        // Inputs are capped far below 4 GiB by the client; saturate rather than wrap.
        Span {
            start: u32::try_from(r.start).unwrap_or(u32::MAX),
            end: u32::try_from(r.end).unwrap_or(u32::MAX),
        }
    }
    fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// Stack entry: a node id, or a mark.
const MARK_ID: u32 = u32::MAX;

struct Machine<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of the opcode being run (for errors).
    at: usize,
    nodes: Vec<Node<'a>>,
    /// Children of tuples, in ranges.
    edges: Vec<u32>,
    /// Children of each list.
    lists: Vec<Vec<u32>>,
    stack: Vec<u32>,
    marks: usize,
    memo: Vec<u32>,
}

/// `Ok(None)` inside the machine: the input ends early.
type Step<T> = Result<Option<T>, Error>;

/// Decode one pickle at the start of `buf`. `Ok(None)`: incomplete, feed more bytes.
/// `Ok(Some((value, used)))`: `used` bytes, through `STOP`, made `value`.
pub fn decode(buf: &[u8]) -> Result<Option<(Value, usize)>, Error> {
    let mut m = Machine::new(buf);
    let Some(root) = m.run()? else {
        return Ok(None);
    };
    let value = m.build(root)?;
    Ok(Some((value, m.pos)))
}

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
        if index >= MAX_MEMO {
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

macro_rules! need {
    ($e:expr) => {
        match $e {
            Some(v) => v,
            None => return Ok(None),
        }
    };
}

impl<'a> Machine<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Machine {
            buf,
            pos: 0,
            at: 0,
            // fail2ban's ban lists spend ~19 bytes per IP on 3 nodes, 1 edge and 3 memo entries.
            nodes: Vec::with_capacity(buf.len() / 6),
            edges: Vec::with_capacity(buf.len() / 16),
            lists: Vec::new(),
            stack: Vec::new(),
            marks: 0,
            memo: Vec::with_capacity(buf.len() / 6),
        }
    }

    /// Build the tree of `root` (after `run`).
    fn build(&self, root: u32) -> Result<Value, Error> {
        let mut b = Builder {
            m: self,
            left: self
                .buf
                .len()
                .saturating_mul(MAX_EXPANSION)
                .saturating_add(64),
            offset: self.pos,
        };
        b.build(root, 0)
    }

    fn err(&self, kind: ErrorKind) -> Error {
        Error {
            kind,
            offset: self.at,
        }
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    /// Like `take`, but as a span of the input.
    fn span(&mut self, n: usize) -> Option<Span> {
        let start = self.pos;
        self.take(n)?;
        Some(Span::of(start..self.pos))
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u32le(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A length that must fit in the remaining input (else: incomplete, never an allocation).
    fn len64(&mut self) -> Option<usize> {
        let b = self.take(8)?;
        let n = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.buf.len() - self.pos.min(self.buf.len()))
    }

    /// A text line without its newline.
    fn line(&mut self) -> Option<&'a [u8]> {
        let rest = self.buf.get(self.pos..)?;
        let n = rest.iter().position(|&b| b == b'\n')?;
        self.pos += n + 1;
        Some(&rest[..n])
    }

    fn push_node(&mut self, node: Node<'a>) -> Result<(), Error> {
        let id = u32::try_from(self.nodes.len())
            .ok()
            .filter(|&id| id != MARK_ID)
            .ok_or(self.err(ErrorKind::TooLarge))?;
        self.stack.push(id);
        self.nodes.push(node);
        Ok(())
    }

    fn push(&mut self, v: Value) -> Result<(), Error> {
        self.push_node(Node::Other(Box::new(v)))
    }

    fn utf8(&mut self, span: Span) -> Result<(), Error> {
        let buf: &'a [u8] = self.buf;
        let s = std::str::from_utf8(&buf[span.range()])
            .map_err(|_| self.err(ErrorKind::InvalidUtf8))?;
        self.push_node(Node::Str(s))
    }

    fn new_list(&mut self, items: Vec<u32>) -> Result<(), Error> {
        let index = u32::try_from(self.lists.len()).map_err(|_| self.err(ErrorKind::TooLarge))?;
        self.lists.push(items);
        self.push_node(Node::List(index))
    }

    fn pop(&mut self) -> Result<u32, Error> {
        match self.stack.pop() {
            Some(MARK_ID) | None => Err(self.err(ErrorKind::StackUnderflow)),
            Some(id) => Ok(id),
        }
    }

    /// Ids above the topmost mark, removing them and the mark.
    fn pop_mark(&mut self) -> Result<Vec<u32>, Error> {
        let at = self.mark_at()?;
        let items = self.stack.split_off(at + 1);
        self.stack.pop();
        self.marks -= 1;
        Ok(items)
    }

    fn mark_at(&self) -> Result<usize, Error> {
        self.stack
            .iter()
            .rposition(|&id| id == MARK_ID)
            .ok_or(self.err(ErrorKind::NoMark))
    }

    fn top(&self) -> Result<u32, Error> {
        match self.stack.last() {
            Some(&MARK_ID) | None => Err(self.err(ErrorKind::StackUnderflow)),
            Some(&id) => Ok(id),
        }
    }

    fn text(&self, bytes: &[u8]) -> Result<String, Error> {
        String::from_utf8(bytes.to_vec()).map_err(|_| self.err(ErrorKind::InvalidUtf8))
    }

    fn memo_put(&mut self, index: usize) -> Result<(), Error> {
        if index >= MAX_MEMO {
            return Err(self.err(ErrorKind::MemoTooLarge));
        }
        let id = self.top()?;
        if index == self.memo.len() {
            self.memo.push(id);
        } else {
            if index > self.memo.len() {
                self.memo.resize(index + 1, MARK_ID);
            }
            self.memo[index] = id;
        }
        Ok(())
    }

    fn memo_get(&mut self, index: usize) -> Result<(), Error> {
        match self.memo.get(index) {
            Some(&id) if id != MARK_ID => {
                self.stack.push(id);
                Ok(())
            }
            _ => Err(self.err(ErrorKind::BadMemoRef)),
        }
    }

    /// Move the stack entries from `from` on into the list `list`.
    fn extend_list(&mut self, list: u32, from: usize) -> Result<(), Error> {
        match self.nodes.get(list as usize) {
            Some(&Node::List(index)) => {
                let Machine { lists, stack, .. } = self;
                lists[index as usize].extend_from_slice(&stack[from..]);
                stack.truncate(from);
                Ok(())
            }
            _ => Err(self.err(ErrorKind::WrongType)),
        }
    }

    fn extend_dict(&mut self, dict: u32, from: usize) -> Result<(), Error> {
        if !(self.stack.len() - from).is_multiple_of(2) {
            return Err(self.err(ErrorKind::StackUnderflow));
        }
        let Machine { nodes, stack, .. } = self;
        match nodes.get_mut(dict as usize) {
            Some(Node::Dict(v)) => {
                v.extend(stack[from..].chunks_exact(2).map(|kv| (kv[0], kv[1])));
                stack.truncate(from);
                Ok(())
            }
            _ => Err(self.err(ErrorKind::WrongType)),
        }
    }

    /// A tuple of the stack entries from `from` on.
    fn tuple_from(&mut self, from: usize) -> Result<(), Error> {
        let start = self.edges.len();
        self.edges.extend_from_slice(&self.stack[from..]);
        self.stack.truncate(from);
        let span = Span::of(start..self.edges.len());
        self.push_node(Node::Tuple(span))
    }

    fn global(&mut self, module: String, name: String) -> Result<(), Error> {
        let module = match module.as_str() {
            "__builtin__" | "exceptions" => "builtins".to_string(),
            _ => module,
        };
        if module == "builtins" && name == "str" {
            return self.push_node(Node::StrClass);
        }
        self.push(Value::Global { module, name })
    }

    fn str_of(&self, id: u32) -> Result<String, Error> {
        match &self.nodes[id as usize] {
            Node::Str(s) => Ok((*s).to_string()),
            _ => Err(self.err(ErrorKind::WrongType)),
        }
    }

    /// Run until STOP: the root id, or `None` when the input ends first.
    fn run(&mut self) -> Step<u32> {
        loop {
            self.at = self.pos;
            let op = need!(self.byte());
            match op {
                PROTO => {
                    need!(self.byte());
                }
                FRAME => {
                    need!(self.take(8));
                }
                STOP => {
                    let root = self.pop()?;
                    if !self.stack.is_empty() {
                        return Err(self.err(ErrorKind::BadStop));
                    }
                    return Ok(Some(root));
                }
                MARK => {
                    if self.marks >= MAX_DEPTH {
                        return Err(self.err(ErrorKind::TooDeep));
                    }
                    self.marks += 1;
                    self.stack.push(MARK_ID);
                }
                POP => match self.stack.pop() {
                    Some(MARK_ID) => self.marks -= 1,
                    Some(_) => {}
                    None => return Err(self.err(ErrorKind::StackUnderflow)),
                },
                POP_MARK => {
                    self.pop_mark()?;
                }
                DUP => {
                    let id = self.top()?;
                    self.stack.push(id);
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
                    self.push(int_from_le(b))?;
                }
                LONG4 => {
                    let n = need!(self.u32le()) as usize;
                    if n > self.buf.len() {
                        return Ok(None);
                    }
                    let b = need!(self.take(n));
                    self.push(int_from_le(b))?;
                }
                INT | LONG => {
                    let line = need!(self.line());
                    let text =
                        std::str::from_utf8(line).map_err(|_| self.err(ErrorKind::BadNumber))?;
                    let text = text.strip_suffix('L').unwrap_or(text);
                    let v = match (op, text) {
                        (INT, "00") => Value::Bool(false),
                        (INT, "01") => Value::Bool(true),
                        _ => int_from_text(text).ok_or(self.err(ErrorKind::BadNumber))?,
                    };
                    self.push(v)?;
                }
                FLOAT => {
                    let line = need!(self.line());
                    let f = std::str::from_utf8(line)
                        .ok()
                        .and_then(|t| t.trim().parse::<f64>().ok());
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
                    self.push(Value::Str(s))?;
                }
                STRING => {
                    let line = need!(self.line());
                    let s = python_string_literal(line).ok_or(self.err(ErrorKind::InvalidUtf8))?;
                    self.push(Value::Str(s))?;
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
                EMPTY_LIST | EMPTY_SET => self.new_list(Vec::new())?,
                EMPTY_TUPLE => self.push_node(Node::Tuple(Span { start: 0, end: 0 }))?,
                EMPTY_DICT => self.push_node(Node::Dict(Vec::new()))?,
                LIST | FROZENSET => {
                    let items = self.pop_mark()?;
                    self.new_list(items)?;
                }
                TUPLE => {
                    let at = self.mark_at()?;
                    self.marks -= 1;
                    self.stack.remove(at);
                    self.tuple_from(at)?;
                }
                DICT => {
                    let at = self.mark_at()?;
                    self.marks -= 1;
                    self.stack.remove(at);
                    self.push_node(Node::Dict(Vec::new()))?;
                    let dict = self.pop()?;
                    self.extend_dict(dict, at)?;
                    self.stack.push(dict);
                }
                TUPLE1 | TUPLE2 | TUPLE3 => {
                    let n = usize::from(op - TUPLE1 + 1);
                    let from = self
                        .stack
                        .len()
                        .checked_sub(n)
                        .ok_or(self.err(ErrorKind::StackUnderflow))?;
                    if self.stack[from..].contains(&MARK_ID) {
                        return Err(self.err(ErrorKind::StackUnderflow));
                    }
                    self.tuple_from(from)?;
                }
                APPEND => {
                    let from = self
                        .stack
                        .len()
                        .checked_sub(1)
                        .ok_or(self.err(ErrorKind::StackUnderflow))?;
                    if self.stack[from] == MARK_ID || from == 0 {
                        return Err(self.err(ErrorKind::StackUnderflow));
                    }
                    let list = self.stack[from - 1];
                    self.extend_list(list, from)?;
                }
                APPENDS | ADDITEMS => {
                    let at = self.mark_at()?;
                    let list = *at
                        .checked_sub(1)
                        .and_then(|i| self.stack.get(i))
                        .ok_or(self.err(ErrorKind::StackUnderflow))?;
                    self.marks -= 1;
                    self.stack.remove(at);
                    self.extend_list(list, at)?;
                }
                SETITEM => {
                    let from = self
                        .stack
                        .len()
                        .checked_sub(2)
                        .ok_or(self.err(ErrorKind::StackUnderflow))?;
                    if self.stack[from..].contains(&MARK_ID) || from == 0 {
                        return Err(self.err(ErrorKind::StackUnderflow));
                    }
                    let dict = self.stack[from - 1];
                    self.extend_dict(dict, from)?;
                }
                SETITEMS => {
                    let at = self.mark_at()?;
                    let dict = *at
                        .checked_sub(1)
                        .and_then(|i| self.stack.get(i))
                        .ok_or(self.err(ErrorKind::StackUnderflow))?;
                    self.marks -= 1;
                    self.stack.remove(at);
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
                    self.push_node(Node::Call(callable, args))?;
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
                    let index = self.memo.len();
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
                    let i = usize::from(need!(self.byte()));
                    self.memo_get(i)?;
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

/// Turns the arena into a tree. The arena is only read, so a node reached twice (a shared
/// reference) is simply built twice; `left` bounds the total so sharing cannot expand without
/// bound, and `MAX_DEPTH` stops reference cycles.
struct Builder<'m, 'a> {
    m: &'m Machine<'a>,
    /// Nodes the tree may still hold.
    left: usize,
    offset: usize,
}

impl Builder<'_, '_> {
    fn err(&self, kind: ErrorKind) -> Error {
        Error {
            kind,
            offset: self.offset,
        }
    }

    fn build(&mut self, id: u32, depth: usize) -> Result<Value, Error> {
        if depth > MAX_DEPTH {
            return Err(self.err(ErrorKind::TooDeep));
        }
        self.left = self
            .left
            .checked_sub(1)
            .ok_or(self.err(ErrorKind::TooLarge))?;
        let m = self.m;
        Ok(match &m.nodes[id as usize] {
            Node::None => Value::None,
            Node::Bool(b) => Value::Bool(*b),
            Node::Int(n) => Value::Int(*n),
            Node::Str(s) => Value::Str((*s).to_string()),
            Node::Py2Str(span) => Value::Str(latin1_or_utf8(&m.buf[span.range()])),
            Node::Bytes(span) => Value::Bytes(m.buf[span.range()].to_vec()),
            Node::StrClass => Value::Global {
                module: "builtins".into(),
                name: "str".into(),
            },
            Node::Other(v) => (**v).clone(),
            Node::Tuple(span) => Value::Tuple(self.build_all(&m.edges[span.range()], depth)?),
            Node::List(index) => Value::List(self.build_all(&m.lists[*index as usize], depth)?),
            Node::Dict(pairs) => {
                let mut out = Vec::with_capacity(pairs.len());
                for &(k, v) in pairs {
                    out.push((self.build(k, depth + 1)?, self.build(v, depth + 1)?));
                }
                Value::Dict(out)
            }
            Node::Call(callable, args) => {
                // fail2ban's IPAddr, `builtins.str('203.0.113.5')`, thousands of times per ban
                // list: the string itself, without building the call.
                if let (Node::StrClass, Node::Tuple(span)) =
                    (&m.nodes[*callable as usize], &m.nodes[*args as usize])
                {
                    if let [arg] = &m.edges[span.range()] {
                        if let Node::Str(s) = &m.nodes[*arg as usize] {
                            return Ok(Value::Str((*s).to_string()));
                        }
                    }
                }
                let callable = self.build(*callable, depth + 1)?;
                let args = match self.build(*args, depth + 1)? {
                    Value::Tuple(a) | Value::List(a) => a,
                    other => vec![other],
                };
                simplify_call(callable, args)
            }
        })
    }

    fn build_all(&mut self, ids: &[u32], depth: usize) -> Result<Vec<Value>, Error> {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            out.push(self.build(id, depth + 1)?);
        }
        Ok(out)
    }
}

/// `builtins.str(x)` with one str argument is that str (fail2ban's `IPAddr`).
fn simplify_call(callable: Value, mut args: Vec<Value>) -> Value {
    if let Value::Global { module, name } = &callable {
        if module == "builtins"
            && name == "str"
            && args.len() == 1
            && matches!(args[0], Value::Str(_))
        {
            return args.pop().unwrap_or(Value::None);
        }
    }
    Value::Call {
        callable: Box::new(callable),
        args,
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
fn raw_unicode_escape(b: &[u8]) -> Option<String> {
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
fn python_string_literal(line: &[u8]) -> Option<String> {
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
                let end = (i + 2).min(body.len());
                let digits = std::iter::once(c).chain(
                    body[i..end]
                        .iter()
                        .copied()
                        .take_while(|d| (b'0'..=b'7').contains(d)),
                );
                let digits: Vec<u8> = digits.collect();
                i += digits.len() - 1;
                out.push(u8::from_str_radix(std::str::from_utf8(&digits).ok()?, 8).ok()?);
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
fn int_from_text(text: &str) -> Option<Value> {
    let digits = text
        .strip_prefix('-')
        .or_else(|| text.strip_prefix('+'))
        .unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(match text.parse::<i64>() {
        Ok(n) => Value::Int(n),
        Err(_) => {
            let trimmed = digits.trim_start_matches('0');
            let sign = if text.starts_with('-') { "-" } else { "" };
            Value::BigInt(format!("{sign}{trimmed}"))
        }
    })
}

/// An int from little-endian two's complement bytes (LONG1/LONG4).
fn int_from_le(b: &[u8]) -> Value {
    if b.is_empty() {
        return Value::Int(0);
    }
    let negative = b[b.len() - 1] & 0x80 != 0;
    if b.len() <= 8 {
        let fill = if negative { 0xff } else { 0 };
        let mut w = [fill; 8];
        w[..b.len()].copy_from_slice(b);
        return Value::Int(i64::from_le_bytes(w));
    }
    // Magnitude: two's complement negation for negatives.
    let mut mag: Vec<u8> = b.to_vec();
    if negative {
        let mut carry = true;
        for byte in mag.iter_mut() {
            *byte = !*byte;
            if carry {
                let (v, c) = byte.overflowing_add(1);
                *byte = v;
                carry = c;
            }
        }
    }
    // Repeated division by 10^9 over big-endian u32 limbs.
    let mut limbs: Vec<u32> = mag
        .chunks(4)
        .rev()
        .map(|c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(w)
        })
        .collect();
    let mut parts: Vec<u32> = Vec::new();
    while limbs.iter().any(|&l| l != 0) {
        let mut rem: u64 = 0;
        for l in limbs.iter_mut() {
            let cur = (rem << 32) | u64::from(*l);
            *l = (cur / 1_000_000_000) as u32;
            rem = cur % 1_000_000_000;
        }
        parts.push(rem as u32);
    }
    let mut text = String::from(if negative { "-" } else { "" });
    for (i, p) in parts.iter().rev().enumerate() {
        if i == 0 {
            text.push_str(&p.to_string());
        } else {
            text.push_str(&format!("{p:09}"));
        }
    }
    match text.parse::<i64>() {
        Ok(n) => Value::Int(n),
        Err(_) if parts.is_empty() => Value::Int(0),
        Err(_) => Value::BigInt(text),
    }
}

impl Value {
    /// jq-friendly JSON: tuples and lists as arrays, dicts as objects (keys as text), big ints as
    /// strings of digits, class references as `{"global": "module.name"}`, calls of a class (how
    /// exceptions arrive) as `{"class": name, "args": [...]}`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::None => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(n) => J::from(*n),
            Value::BigInt(s) => J::String(s.clone()),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Bytes(b) => J::String(String::from_utf8_lossy(b).into_owned()),
            Value::List(v) | Value::Tuple(v) => J::Array(v.iter().map(Value::to_json).collect()),
            Value::Dict(pairs) => J::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.key_text(), v.to_json()))
                    .collect(),
            ),
            Value::Global { module, name } => {
                serde_json::json!({ "global": format!("{module}.{name}") })
            }
            Value::Call { callable, args } => {
                let args: Vec<J> = args.iter().map(Value::to_json).collect();
                match callable.as_ref() {
                    Value::Global { name, .. } => {
                        serde_json::json!({ "class": name, "args": args })
                    }
                    other => serde_json::json!({ "call": other.to_json(), "args": args }),
                }
            }
        }
    }

    /// A dict key as JSON object key text, as Python's `json.dumps` writes it.
    fn key_text(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::None => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(n) => n.to_string(),
            Value::BigInt(s) => s.clone(),
            Value::Float(f) => python_float_repr(*f),
            other => other.to_json().to_string(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_protocol_2_requests_and_refuses_the_terminator() {
        let out = encode_command(&["ping"]).unwrap();
        assert_eq!(
            out,
            [&b"\x80\x02](X\x04\x00\x00\x00pinge."[..], TERMINATOR].concat()
        );
        assert_eq!(
            encode_command(&["set", "x<F2B_END_COMMAND>"]),
            Err(EncodeError { index: 1 })
        );
    }

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
}
