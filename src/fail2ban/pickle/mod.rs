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
//! `builtins.str(x)` into `x`; below protocol 3, Python 2 names (`__builtin__.unicode`,
//! `exceptions.ValueError`) read as CPython's unpickler reads them (`names`).
//!
//! Speed (a 10,000-IP `status` reply, `build/bench-decode`): a `Decoder` keeps the arena's
//! buffers from one reply to the next (up to `KEEP_SCRATCH_BYTES`), so a reply costs no
//! allocation and no page fault for them; a short string is held inline in its `Value`
//! (`Text`), not in a heap box of its own; and fail2ban's `IPAddr` pattern, seven opcodes per
//! address, is run in one step (`Machine::str_call`).
//!
//! Ban lists, the one large reply, have their own reader: `StrListReader` walks a
//! `(0, [str, ...])` pickle a string at a time without building a tree, and hands anything else
//! back to `decode`.
//!
//! Limits: `MAX_DEPTH` nesting, `MAX_MEMO` memo entries (and no index beyond the bytes read),
//! `MAX_INT_DIGITS` per int, and the built tree may not exceed `MAX_EXPANSION` times the input
//! size in nodes plus bytes of text (shared references cannot blow up). A length
//! read from the wire is checked against the bytes present before anything is allocated: when
//! they are not there yet, `decode` answers `Ok(None)`.
//!
//! Files: this one holds the limits, the opcodes, `Value` and the decode error; `encode` the
//! request encoder; `machine` the decode arena and `decode` the opcodes run on it (and
//! `Decoder`); `build` the tree builder and the conversions of Python's text and number
//! encodings; `text` the inline string of `Value::Str`; `fast` the framing scan and the ban-list
//! reader; `names` the Python 2 names; `float` protocol 0's float text and `repr(float)`.

mod build;
mod decode;
mod encode;
mod fast;
pub(crate) mod float;
mod machine;
mod names;
mod text;

use std::fmt;

pub use decode::{decode, Decoder};
pub use encode::{encode_command, EncodeError};
pub use fast::{scan, scan_from, NotFast, StrListReader};
pub use text::Text;

/// Ends every request and reply on the socket.
pub const TERMINATOR: &[u8] = b"<F2B_END_COMMAND>";
/// Largest reply the client accepts by default (`--max-reply-bytes`).
pub const DEFAULT_MAX_REPLY: usize = 64 << 20;
/// Containers nested deeper than this are refused (the stack of marks and the built tree).
pub const MAX_DEPTH: usize = 200;
/// Memo indexes at or above this are refused, and so are indexes beyond the bytes read so far.
pub const MAX_MEMO: usize = 1 << 20;
/// Ints with more decimal digits than this are refused, as CPython refuses to convert them to or
/// from text (`sys.get_int_max_str_digits()`): the conversion is quadratic, so an unbounded one
/// would let one reply stall the loop.
pub const MAX_INT_DIGITS: usize = 4300;
/// A `Decoder` keeps the buffers of its last pickle for the next one while they hold at most
/// this many bytes (the ~0.8 MB of a 10,000-IP `status` reply, whose pickle the client also
/// keeps room for, `KEEP_REPLY_CAPACITY`); bigger ones are freed.
const KEEP_SCRATCH_BYTES: usize = 1 << 20;
/// The built tree holds at most this many nodes plus bytes of text per input byte (plus a small
/// constant).
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
    /// Inline when short (`Text`): a ban list's addresses cost no allocation each.
    Str(Text),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    /// Insertion-ordered, keys and values alternating (`[k0, v0, k1, v1, ...]`): one element
    /// type for every container keeps one copy of the Vec code.
    Dict(Vec<Value>),
    /// A class reference; Python 2 names are mapped as CPython maps them (`names`).
    Global(Box<Global>),
    /// `REDUCE` / `NEWOBJ`: a call (exceptions, `IPAddr`).
    Call(Box<Call>),
}

/// A class reference, `module.name`. (The rare variants of `Value` are boxed so that every
/// value is 32 bytes: a ban list holds thousands.)
#[derive(Debug, Clone, PartialEq)]
pub struct Global {
    pub module: String,
    pub name: String,
}

/// A call of `callable` with `args`.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub callable: Value,
    pub args: Vec<Value>,
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
    /// An int of more than `MAX_INT_DIGITS` decimal digits.
    IntTooLarge,
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
            ErrorKind::MemoTooLarge => "pickle memo index too large for the pickle",
            ErrorKind::BadMemoRef => "pickle memo reference to nothing",
            ErrorKind::InvalidUtf8 => "pickle string is not valid UTF-8",
            ErrorKind::BadNumber => "pickle number is malformed",
            ErrorKind::IntTooLarge => {
                "pickle int has more than 4300 digits (CPython's int/str conversion limit)"
            }
            ErrorKind::TooLarge => "pickle shared references expand too much",
            ErrorKind::BadStop => "pickle STOP with a stack not holding exactly one value",
        };
        write!(f, "{what} at byte {}", self.offset)
    }
}

impl std::error::Error for Error {}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}
