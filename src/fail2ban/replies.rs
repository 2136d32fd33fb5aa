//! STUB: API of the typed reply views being written on branch `pickle`; replaced at merge.
#![allow(dead_code, unused_variables)]
use super::pickle::Value;
#[derive(Debug, Clone)]
pub struct ServerError {
    pub class: String,
    pub args: Vec<Value>,
}
impl ServerError {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
}
impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stub")
    }
}
#[derive(Debug, Clone)]
pub struct ShapeError;
impl std::fmt::Display for ShapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stub")
    }
}
#[derive(Debug)]
pub enum ReplyError {
    Server(ServerError),
    Shape(ShapeError),
}
pub fn envelope(v: Value) -> Result<Value, ReplyError> {
    Err(ReplyError::Shape(ShapeError))
}
pub struct ServerStatus {
    pub jails: Vec<String>,
}
impl ServerStatus {
    pub fn from_value(v: &Value) -> Result<Self, ShapeError> {
        Err(ShapeError)
    }
}
#[derive(Debug, Clone, Default)]
pub struct JailStatus {
    pub currently_failed: u64,
    pub total_failed: u64,
    pub files: Vec<String>,
    pub journal_matches: Vec<String>,
    pub currently_banned: u64,
    pub total_banned: u64,
    pub banned: Option<Vec<String>>,
}
impl JailStatus {
    pub fn from_value(v: &Value) -> Result<Self, ShapeError> {
        Err(ShapeError)
    }
}
#[derive(Debug, Clone)]
pub struct BanEntry {
    pub ip: String,
    pub banned_at: i64,
    pub ban_seconds: i64,
    pub expires_at: Option<i64>,
}
pub fn ban_entries(v: &Value, local: time::UtcOffset) -> Result<Vec<BanEntry>, ShapeError> {
    Err(ShapeError)
}
pub fn banned_ips(v: &Value) -> Result<Vec<Vec<String>>, ShapeError> {
    Err(ShapeError)
}
pub fn string_list(v: &Value) -> Result<Vec<String>, ShapeError> {
    Err(ShapeError)
}
pub fn int(v: &Value) -> Result<i64, ShapeError> {
    Err(ShapeError)
}
pub fn string(v: &Value) -> Result<String, ShapeError> {
    Err(ShapeError)
}
