//! STUB: API of the pickle codec being written on branch `pickle`; replaced at merge.
#![allow(dead_code, unused_variables)]
pub const TERMINATOR: &[u8] = b"<F2B_END_COMMAND>";
pub const DEFAULT_MAX_REPLY: usize = 64 << 20;
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    BigInt(String),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Global {
        module: String,
        name: String,
    },
    Call {
        callable: Box<Value>,
        args: Vec<Value>,
    },
}
#[derive(Debug)]
pub struct Error {
    pub offset: usize,
}
impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stub")
    }
}
impl std::error::Error for Error {}
#[derive(Debug)]
pub struct EncodeError;
impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stub")
    }
}
impl std::error::Error for EncodeError {}
pub fn encode_command<S: AsRef<str>>(args: &[S]) -> Result<Vec<u8>, EncodeError> {
    Err(EncodeError)
}
pub fn decode(buf: &[u8]) -> Result<Option<(Value, usize)>, Error> {
    Err(Error { offset: 0 })
}
impl Value {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
}
