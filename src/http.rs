//! HTTP/1.0 and 1.1 for a small server: request parsing (httparse), response bytes, and the
//! per-connection state machine with bounded buffers. The event loop owns the sockets and calls
//! `Connection::read_from` / `write_to` when poll says so.
//!
//! ```text
//!            bytes arrive              request complete           reply queued
//!   Idle ───────────────► Reading ───────────────────► (routed) ──► Writing ──► Idle (keep-alive)
//!    │ 30 s idle: close     │ 10 s: 408, close            │ needs fail2ban        └─► closed
//!                           │ too big: 413/414/431, close  └─► Parked until the reply (or 504)
//! ```
//! In scope: Content-Length bodies, keep-alive, pipelining (answered in order), HEAD.
//! Out of scope: chunked request bodies (refused with 400), TLS, HTTP/2, Expect: 100-continue.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use rustix::event::PollFlags;

/// Request line plus headers.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
/// Request body (Content-Length only).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Header fields per request.
pub const MAX_HEADERS: usize = 32;
/// From the first byte of a request to its last header.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// A keep-alive connection with nothing to do is closed after this.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// A connection stops reading new requests while this much output is unsent (pipelining backpressure).
pub const MAX_PENDING_OUTPUT: usize = 256 * 1024;
/// Bytes read per `read(2)`.
const READ_CHUNK: usize = 16 * 1024;

/// A parsed request, owned so it can wait (parked) while fail2ban answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: String,
    /// The raw request target, e.g. `/api/v1/jails?page=2`.
    pub target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    pub keep_alive: bool,
    pub authorization: Option<String>,
    pub if_none_match: Option<String>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn is_head(&self) -> bool {
        self.method == "HEAD"
    }
    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }
    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }
}

/// Why a request could not be parsed; each maps to one status code, and the connection closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// 400: not HTTP, or ambiguous framing.
    Malformed(&'static str),
    /// 414: the request line alone exceeds `MAX_HEADER_BYTES`.
    UriTooLong,
    /// 431: headers exceed `MAX_HEADER_BYTES` or `MAX_HEADERS`.
    HeadersTooLarge,
    /// 413: Content-Length above `MAX_BODY_BYTES`.
    BodyTooLarge,
}

impl ParseError {
    pub fn status(self) -> u16 {
        match self {
            ParseError::Malformed(_) => 400,
            ParseError::UriTooLong => 414,
            ParseError::HeadersTooLarge => 431,
            ParseError::BodyTooLarge => 413,
        }
    }
    pub fn message(self) -> String {
        match self {
            ParseError::Malformed(why) => format!("malformed request: {why}"),
            ParseError::UriTooLong => format!("request line longer than {MAX_HEADER_BYTES} bytes"),
            ParseError::HeadersTooLarge => {
                format!(
                    "request headers larger than {MAX_HEADER_BYTES} bytes or {MAX_HEADERS} fields"
                )
            }
            ParseError::BodyTooLarge => format!("request body larger than {MAX_BODY_BYTES} bytes"),
        }
    }
}

/// Parse one request at the start of `buf`. `Ok(None)`: need more bytes.
/// `Ok(Some((request, used)))`: `used` bytes (headers and body) belong to this request.
pub fn parse_request(buf: &[u8]) -> Result<Option<(Request, usize)>, ParseError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() > MAX_HEADER_BYTES {
                let line_done = buf[..MAX_HEADER_BYTES].windows(2).any(|w| w == b"\r\n");
                return Err(if line_done {
                    ParseError::HeadersTooLarge
                } else {
                    ParseError::UriTooLong
                });
            }
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => return Err(ParseError::HeadersTooLarge),
        Err(e) => return Err(ParseError::Malformed(parse_error_text(e))),
    };
    if head_len > MAX_HEADER_BYTES {
        return Err(too_large(buf));
    }
    let minor_version = req.version.unwrap_or(1);
    let mut content_length: Option<usize> = None;
    let mut connection = String::new();
    let mut authorization = None;
    let mut if_none_match = None;
    for h in req.headers.iter() {
        let value = std::str::from_utf8(h.value)
            .map_err(|_| ParseError::Malformed("header value is not UTF-8"))?;
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = value
                .trim()
                .parse::<usize>()
                .map_err(|_| ParseError::Malformed("Content-Length is not a number"))?;
            if content_length.is_some() {
                // Two Content-Length headers are a request-smuggling shape: refuse, even if equal.
                return Err(ParseError::Malformed("more than one Content-Length"));
            }
            content_length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(ParseError::Malformed(
                "Transfer-Encoding is not supported; send Content-Length",
            ));
        } else if h.name.eq_ignore_ascii_case("connection") {
            connection = value.to_ascii_lowercase();
        } else if h.name.eq_ignore_ascii_case("authorization") {
            authorization = Some(value.to_string());
        } else if h.name.eq_ignore_ascii_case("if-none-match") {
            if_none_match = Some(value.to_string());
        }
    }
    let body_len = content_length.unwrap_or(0);
    if body_len > MAX_BODY_BYTES {
        return Err(ParseError::BodyTooLarge);
    }
    let total = head_len + body_len;
    if buf.len() < total {
        return Ok(None);
    }
    let has_token = |t: &str| connection.split(',').any(|c| c.trim() == t);
    let keep_alive = if minor_version == 0 {
        has_token("keep-alive")
    } else {
        !has_token("close")
    };
    let request = Request {
        method: req.method.unwrap_or_default().to_string(),
        target: req.path.unwrap_or_default().to_string(),
        minor_version,
        keep_alive,
        authorization,
        if_none_match,
        body: buf[head_len..total].to_vec(),
    };
    Ok(Some((request, total)))
}

/// 414 when the request line alone is over the limit, else 431.
fn too_large(buf: &[u8]) -> ParseError {
    let window = &buf[..buf.len().min(MAX_HEADER_BYTES)];
    if window.windows(2).any(|w| w == b"\r\n") {
        ParseError::HeadersTooLarge
    } else {
        ParseError::UriTooLong
    }
}

fn parse_error_text(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status",
        httparse::Error::Token => "invalid token in the request line",
        httparse::Error::TooManyHeaders => "too many headers",
        httparse::Error::Version => "invalid HTTP version",
    }
}

/// A response about to be serialized.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: std::borrow::Cow<'static, [u8]>,
    /// Close the connection after this response (errors that leave the stream unsynchronized).
    pub close: bool,
}

impl Response {
    pub fn new(
        status: u16,
        content_type: &'static str,
        body: impl Into<std::borrow::Cow<'static, [u8]>>,
    ) -> Self {
        Response {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
            close: false,
        }
    }
    /// A JSON body written with `crate::json`; the line ends here.
    pub fn json(status: u16, mut body: Vec<u8>) -> Self {
        body.push(b'\n');
        Response::new(status, "application/json", body)
    }
    /// `{"error": message}` with the given status.
    pub fn error(status: u16, message: &str) -> Self {
        let mut body = Vec::with_capacity(16 + message.len());
        crate::json::Obj::new(&mut body).str("error", message).end();
        Response::json(status, body)
    }
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
    pub fn closing(mut self) -> Self {
        self.close = true;
        self
    }

    /// Append the response bytes to `out`. `date` is the preformatted IMF-fixdate.
    pub fn write_to(
        &self,
        out: &mut Vec<u8>,
        head_only: bool,
        keep_alive: bool,
        minor_version: u8,
        date: &str,
    ) {
        let keep_alive = keep_alive && !self.close;
        let _ = write!(
            out,
            "HTTP/1.1 {} {}\r\nDate: {date}\r\nServer: banwatch\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        );
        if !keep_alive {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if minor_version == 0 {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        for (name, value) in &self.headers {
            let _ = write!(out, "{name}: {value}\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if !head_only {
            out.extend_from_slice(&self.body);
        }
    }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        414 => "URI Too Long",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Keep-alive, waiting for the first byte of the next request (idle timeout).
    Idle,
    /// Part of a request has arrived (header timeout).
    Reading,
    /// A request waits for fail2ban; nothing more is read meanwhile (answers stay in order).
    Parked,
    /// Flush what is queued, then close.
    Closing,
}

pub struct Connection {
    pub id: u64,
    pub stream: TcpStream,
    input: Vec<u8>,
    output: Vec<u8>,
    /// Bytes of `output` already written.
    written: usize,
    pub phase: Phase,
    /// Idle or header timeout, by phase; none while parked.
    pub deadline: Instant,
    /// The peer closed its sending side: answer what is queued, then close.
    peer_done: bool,
    /// When the connection last made progress (a byte read or a response queued).
    pub last_progress: Instant,
}

impl Connection {
    pub fn new(id: u64, stream: TcpStream, now: Instant) -> Self {
        Connection {
            id,
            stream,
            input: Vec::new(),
            output: Vec::new(),
            written: 0,
            phase: Phase::Idle,
            deadline: now + IDLE_TIMEOUT,
            peer_done: false,
            last_progress: now,
        }
    }

    /// Poll interest, derived from state every time (never stored).
    pub fn interest(&self) -> PollFlags {
        let mut flags = PollFlags::empty();
        if self.written < self.output.len() {
            flags |= PollFlags::OUT;
        }
        let reading = matches!(self.phase, Phase::Idle | Phase::Reading);
        if reading && !self.peer_done && self.output.len() - self.written < MAX_PENDING_OUTPUT {
            flags |= PollFlags::IN;
        }
        flags
    }

    /// The deadline that matters now (none while parked: fail2ban's timeout bounds that).
    pub fn deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Parked => None,
            _ => Some(self.deadline),
        }
    }

    /// True when everything is written and the connection should go.
    pub fn finished(&self) -> bool {
        self.written >= self.output.len()
            && (self.phase == Phase::Closing
                || (self.peer_done && self.phase != Parked && self.input.is_empty()))
    }

    /// Read what is available. Returns false on a fatal error (drop the connection).
    pub fn read_from_socket(&mut self, now: Instant) -> bool {
        let mut chunk = [0u8; READ_CHUNK];
        // Enough for one maximal request plus its pipelined successor's start.
        let cap = MAX_HEADER_BYTES + MAX_BODY_BYTES + READ_CHUNK;
        while self.input.len() < cap {
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    self.peer_done = true;
                    break;
                }
                Ok(n) => {
                    self.last_progress = now;
                    if self.phase == Phase::Idle {
                        self.phase = Phase::Reading;
                        self.deadline = now + HEADER_TIMEOUT;
                    }
                    self.input.extend_from_slice(&chunk[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return false,
            }
        }
        true
    }

    /// Write what the socket takes. Returns false on a fatal error.
    pub fn write_to_socket(&mut self) -> bool {
        while self.written < self.output.len() {
            match self.stream.write(&self.output[self.written..]) {
                Ok(0) => return false,
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return false,
            }
        }
        if self.written == self.output.len() {
            self.output.clear();
            self.written = 0;
            if self.output.capacity() > MAX_PENDING_OUTPUT {
                self.output = Vec::new();
            }
        }
        true
    }

    /// The next complete request, if any (only when not parked or closing).
    pub fn next_request(&mut self) -> Result<Option<Request>, ParseError> {
        if !matches!(self.phase, Phase::Idle | Phase::Reading) || self.input.is_empty() {
            return Ok(None);
        }
        if self.output.len() - self.written >= MAX_PENDING_OUTPUT {
            return Ok(None);
        }
        match parse_request(&self.input)? {
            Some((req, used)) => {
                self.input.drain(..used);
                if self.input.capacity() > 2 * (MAX_HEADER_BYTES + MAX_BODY_BYTES) {
                    self.input.shrink_to(MAX_HEADER_BYTES);
                }
                Ok(Some(req))
            }
            None if self.peer_done => Err(ParseError::Malformed("connection closed mid-request")),
            None => Ok(None),
        }
    }

    pub fn park(&mut self) {
        self.phase = Phase::Parked;
    }

    /// Queue a response to `req`, and move to the next phase.
    pub fn respond(&mut self, req: Option<&Request>, resp: &Response, now: Instant, date: &str) {
        let (head_only, keep_alive, minor) = match req {
            Some(r) => (r.is_head(), r.keep_alive, r.minor_version),
            None => (false, false, 1),
        };
        resp.write_to(&mut self.output, head_only, keep_alive, minor, date);
        self.last_progress = now;
        if !keep_alive || resp.close {
            self.phase = Phase::Closing;
            self.input.clear();
        } else if self.input.is_empty() {
            self.phase = Phase::Idle;
            self.deadline = now + IDLE_TIMEOUT;
        } else {
            // A pipelined request has (partly) arrived already.
            self.phase = Phase::Reading;
            self.deadline = now + HEADER_TIMEOUT;
        }
    }

    /// May be closed to make room for a new connection: waiting for (more of) a request, with
    /// nothing owed to the peer.
    pub fn evictable(&self) -> bool {
        matches!(self.phase, Phase::Idle | Phase::Reading) && self.written >= self.output.len()
    }

    /// The socket failed: drop everything and close.
    pub fn abort(&mut self) {
        self.input.clear();
        self.output.clear();
        self.written = 0;
        self.phase = Phase::Closing;
    }
}

use Phase::Parked;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Option<(Request, usize)>, ParseError> {
        parse_request(s.as_bytes())
    }

    #[test]
    fn partial_input_is_not_an_error() {
        assert_eq!(parse("GET /health HTTP/1.1\r\nHost: x\r\n"), Ok(None));
        assert_eq!(
            parse("POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nab"),
            Ok(None)
        );
    }

    #[test]
    fn keep_alive_follows_version_and_connection_header() {
        let r = |s: &str| parse(s).unwrap().unwrap().0.keep_alive;
        assert!(r("GET / HTTP/1.1\r\n\r\n"));
        assert!(!r("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"));
        assert!(!r("GET / HTTP/1.0\r\n\r\n"));
        assert!(r("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
    }

    #[test]
    fn pipelined_requests_parse_one_at_a_time() {
        let two = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
        let (first, used) = parse(two).unwrap().unwrap();
        assert_eq!(first.target, "/a");
        assert_eq!(parse(&two[used..]).unwrap().unwrap().0.target, "/b");
    }

    #[test]
    fn smuggling_shapes_and_limits_are_refused() {
        let status = |s: &str| parse(s).unwrap_err().status();
        assert_eq!(
            status("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx"),
            400
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            400
        );
        assert_eq!(status("GET / HTTP/1.1\r\nA: b\r\n  folded\r\n\r\n"), 400);
        assert_eq!(status("GET /\0 HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(
            status(&format!(
                "GET /{} HTTP/1.1\r\n\r\n",
                "a".repeat(MAX_HEADER_BYTES)
            )),
            414
        );
        assert_eq!(
            status(&format!(
                "GET / HTTP/1.1\r\nX: {}\r\n\r\n",
                "a".repeat(MAX_HEADER_BYTES)
            )),
            431
        );
        assert_eq!(
            status(&format!(
                "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
                MAX_BODY_BYTES + 1
            )),
            413
        );
    }

    #[test]
    fn response_bytes_are_exact() {
        let mut out = Vec::new();
        Response::new(200, "text/plain", &b"hi"[..]).write_to(&mut out, false, true, 1, "D");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 OK\r\nDate: D\r\nServer: banwatch\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"
        );
        let mut out = Vec::new();
        Response::new(200, "text/plain", &b"hi"[..]).write_to(&mut out, true, false, 0, "D");
        assert!(String::from_utf8(out)
            .unwrap()
            .ends_with("Content-Length: 2\r\nConnection: close\r\n\r\n"));
    }
}
