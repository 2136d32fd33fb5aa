//! Request parsing: bytes in, `Ok(None)` for "need more", or a `Request` and how many bytes it
//! used. Pure (no I/O), so every rule here is unit-tested on byte strings.
//!
//! Rules beyond httparse's: Content-Length is digits only and appears at most once, chunked
//! bodies are refused, HTTP/1.1 requires exactly one Host, and an absolute-form target
//! (`http://host/path`) is routed on its path.

use std::borrow::Cow;

/// Request line plus headers.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
/// Request body (Content-Length only).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Header fields per request.
pub const MAX_HEADERS: usize = 32;

/// A parsed request, owned so it can wait (parked) while fail2ban answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Borrowed for the methods in `METHODS`: most requests allocate only their target.
    pub method: Cow<'static, str>,
    /// The request target in origin form, e.g. `/api/v1/jails?page=2` (an absolute-form target
    /// is reduced to this).
    pub target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    pub keep_alive: bool,
    pub authorization: Option<String>,
    pub if_none_match: Option<String>,
    /// Whether a gzip-coded answer is acceptable (`Accept-Encoding`, see `Codings`).
    pub accepts_gzip: bool,
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

/// The methods a request's `method` borrows instead of copying.
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"];

fn known_method(method: &str) -> Cow<'static, str> {
    match METHODS.iter().find(|m| **m == method) {
        Some(m) => Cow::Borrowed(m),
        None => Cow::Owned(method.to_string()),
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
    /// Only the malformed case is formatted; the limits' texts are literals (a test holds them
    /// to the constants), so no formatting code is linked for them.
    pub fn message(self) -> Cow<'static, str> {
        match self {
            ParseError::Malformed(why) => format!("malformed request: {why}").into(),
            ParseError::UriTooLong => "request line longer than 8192 bytes".into(),
            ParseError::HeadersTooLarge => {
                "request headers larger than 8192 bytes or 32 fields".into()
            }
            ParseError::BodyTooLarge => "request body larger than 16384 bytes".into(),
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
                return Err(too_large(buf));
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
    let mut hosts = 0;
    let mut connection = "";
    let mut authorization = None;
    let mut if_none_match = None;
    let mut codings = Codings::default();
    for h in req.headers.iter() {
        let value = std::str::from_utf8(h.value)
            .map_err(|_| ParseError::Malformed("header value is not UTF-8"))?;
        if h.name.eq_ignore_ascii_case("content-length") {
            // Digits only (RFC 9110 8.6): `+2`, `-0` or `2, 2` are framing a proxy may read
            // differently.
            let digits = value.trim();
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ParseError::Malformed("Content-Length is not a number"));
            }
            if content_length.is_some() {
                // Two Content-Length headers are a request-smuggling shape: refuse, even if equal.
                return Err(ParseError::Malformed("more than one Content-Length"));
            }
            // All digits, so only an overflow fails: that is over any limit anyway.
            content_length = Some(digits.parse::<usize>().unwrap_or(usize::MAX));
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(ParseError::Malformed(
                "Transfer-Encoding is not supported; send Content-Length",
            ));
        } else if h.name.eq_ignore_ascii_case("host") {
            hosts += 1;
        } else if h.name.eq_ignore_ascii_case("connection") {
            connection = value;
        } else if h.name.eq_ignore_ascii_case("authorization") {
            authorization = Some(value.to_string());
        } else if h.name.eq_ignore_ascii_case("if-none-match") {
            if_none_match = Some(value.to_string());
        } else if h.name.eq_ignore_ascii_case("accept-encoding") {
            codings.read(value);
        }
    }
    // RFC 9112 3.2: a 1.1 request without Host, or with several, gets a 400.
    if minor_version == 1 && hosts != 1 {
        return Err(ParseError::Malformed(if hosts == 0 {
            "HTTP/1.1 request without a Host header"
        } else {
            "more than one Host header"
        }));
    }
    let body_len = content_length.unwrap_or(0);
    if body_len > MAX_BODY_BYTES {
        return Err(ParseError::BodyTooLarge);
    }
    let total = head_len + body_len;
    if buf.len() < total {
        return Ok(None);
    }
    let has_token = |t: &str| {
        connection
            .split(',')
            .any(|c| c.trim().eq_ignore_ascii_case(t))
    };
    let keep_alive = if minor_version == 0 {
        has_token("keep-alive")
    } else {
        !has_token("close")
    };
    let request = Request {
        method: known_method(req.method.unwrap_or_default()),
        target: origin_form(req.path.unwrap_or_default()).to_string(),
        minor_version,
        keep_alive,
        authorization,
        if_none_match,
        accepts_gzip: codings.gzip(),
        body: buf[head_len..total].to_vec(),
    };
    Ok(Some((request, total)))
}

/// What the Accept-Encoding lines say of gzip (RFC 9110 12.5.3), read line by line into one
/// list (RFC 9110 5.3). No such line: any coding is acceptable. Otherwise `gzip` (or its alias
/// `x-gzip`) decides when listed, else `*`, else it is not acceptable; a weight of `q=0` (`0.`,
/// `0.0` .. `0.000`) means "not acceptable". Codings are case-insensitive; a weight that is not
/// a number is not a zero.
#[derive(Default)]
struct Codings {
    seen: bool,
    gzip: Option<bool>,
    any: Option<bool>,
}

impl Codings {
    fn read(&mut self, value: &str) {
        self.seen = true;
        for item in value.split(',') {
            let (coding, params) = item.split_once(';').unwrap_or((item, ""));
            let coding = coding.trim();
            let slot =
                if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                    &mut self.gzip
                } else if coding == "*" {
                    &mut self.any
                } else {
                    continue;
                };
            let refused = params.split(';').any(|p| {
                p.split_once('=').is_some_and(|(name, weight)| {
                    name.trim().eq_ignore_ascii_case("q") && is_zero_weight(weight.trim())
                })
            });
            // gzip listed twice (`gzip;q=0, x-gzip`): acceptable if either says so.
            *slot = Some(slot.unwrap_or(false) || !refused);
        }
    }

    fn gzip(&self) -> bool {
        !self.seen || self.gzip.or(self.any).unwrap_or(false)
    }
}

/// `0`, `0.`, `0.0`, `0.00`, `0.000`: the qvalues that mean "not acceptable".
fn is_zero_weight(w: &str) -> bool {
    let fraction = match w.strip_prefix('0') {
        Some("") => return true,
        Some(rest) => rest.strip_prefix('.'),
        None => None,
    };
    fraction.is_some_and(|f| f.len() <= 3 && f.bytes().all(|b| b == b'0'))
}

/// `http://host:port/path?q` -> `/path?q` (RFC 9112 3.2.2: a server must accept the absolute
/// form); anything else is returned as it is, for the router to judge.
fn origin_form(target: &str) -> &str {
    let scheme_len = ["http://", "https://"].into_iter().find_map(|s| {
        let head = target.get(..s.len())?;
        head.eq_ignore_ascii_case(s).then_some(s.len())
    });
    let Some(n) = scheme_len else {
        return target;
    };
    let rest = &target[n..];
    match rest.bytes().position(|b| b == b'/' || b == b'?') {
        Some(i) if rest.as_bytes()[i] == b'/' => &rest[i..],
        // `http://host?q` or `http://host`: the path is `/` (the query of the former is lost,
        // which no route here needs).
        _ => "/",
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Option<(Request, usize)>, ParseError> {
        parse_request(s.as_bytes())
    }

    #[test]
    fn the_limit_messages_name_the_limits() {
        assert_eq!(
            ParseError::UriTooLong.message(),
            format!("request line longer than {MAX_HEADER_BYTES} bytes")
        );
        assert_eq!(
            ParseError::HeadersTooLarge.message(),
            format!("request headers larger than {MAX_HEADER_BYTES} bytes or {MAX_HEADERS} fields")
        );
        assert_eq!(
            ParseError::BodyTooLarge.message(),
            format!("request body larger than {MAX_BODY_BYTES} bytes")
        );
    }

    #[test]
    fn partial_input_is_not_an_error() {
        assert_eq!(parse("GET /health HTTP/1.1\r\nHost: x\r\n"), Ok(None));
        assert_eq!(
            parse("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab"),
            Ok(None)
        );
    }

    #[test]
    fn keep_alive_follows_version_and_connection_header() {
        let r = |s: &str| parse(s).unwrap().unwrap().0.keep_alive;
        assert!(r("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(!r("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        assert!(!r("GET / HTTP/1.0\r\n\r\n"));
        assert!(r("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
    }

    #[test]
    fn pipelined_requests_parse_one_at_a_time() {
        let two = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
        let (first, used) = parse(two).unwrap().unwrap();
        assert_eq!(first.target, "/a");
        assert_eq!(parse(&two[used..]).unwrap().unwrap().0.target, "/b");
    }

    #[test]
    fn smuggling_shapes_and_limits_are_refused() {
        let status = |s: &str| parse(s).unwrap_err().status();
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx"),
            400
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
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
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
                MAX_BODY_BYTES + 1
            )),
            413
        );
    }

    #[test]
    fn content_length_is_digits_only() {
        let err = |s: &str| parse(s).unwrap_err();
        let bad = ParseError::Malformed("Content-Length is not a number");
        for value in ["+2", "-0", "2 2", "0x2", "", "2,2"] {
            let req = format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {value}\r\n\r\nab");
            assert_eq!(err(&req), bad, "Content-Length: {value:?}");
        }
        let (req, used) = parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length:  2 \r\n\r\nab")
            .unwrap()
            .unwrap();
        assert_eq!((req.body.as_slice(), used), (&b"ab"[..], 51));
        assert_eq!(
            err("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
            ParseError::BodyTooLarge
        );
    }

    #[test]
    fn http11_needs_exactly_one_host_and_http10_none() {
        assert_eq!(
            parse("GET / HTTP/1.1\r\n\r\n").unwrap_err(),
            ParseError::Malformed("HTTP/1.1 request without a Host header")
        );
        assert_eq!(
            parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").unwrap_err(),
            ParseError::Malformed("more than one Host header")
        );
        assert!(parse("GET / HTTP/1.0\r\n\r\n").unwrap().is_some());
    }

    #[test]
    fn an_absolute_form_target_is_routed_on_its_path() {
        let target = |t: &str| {
            parse(&format!("GET {t} HTTP/1.1\r\nHost: h\r\n\r\n"))
                .unwrap()
                .unwrap()
                .0
                .target
        };
        assert_eq!(target("http://host/health"), "/health");
        assert_eq!(
            target("HTTP://host:8080/api/v1/jails?page=2"),
            "/api/v1/jails?page=2"
        );
        assert_eq!(target("https://host"), "/");
        assert_eq!(target("http://host?x=1"), "/");
        assert_eq!(target("/plain?q"), "/plain?q");
        assert_eq!(target("ftp://host/x"), "ftp://host/x");
    }

    #[test]
    fn gzip_is_acceptable_unless_the_client_says_otherwise() {
        let gzip = |lines: &[&str]| {
            let mut codings = Codings::default();
            lines.iter().for_each(|l| codings.read(l));
            codings.gzip()
        };
        for ok in [
            &[][..],
            &["gzip"],
            &["gzip, deflate, br, zstd"],
            &["deflate,GZip;q=0.5"],
            &["x-gzip"],
            &["*"],
            &["br;q=1.0, *;q=0.1"],
            &["  gzip ;  q=1 "],
            &["gzip;q=0.001"],
            &["identity", "gzip"],
            &["gzip;q=0, x-gzip"],
            &["gzip;q=junk"],
        ] {
            assert!(gzip(ok), "{ok:?}");
        }
        for refused in [
            &[""][..],
            &["identity"],
            &["identity;q=1, br"],
            &["gzip;q=0"],
            &["gzip; Q=0.0"],
            &["gzip;q=0., identity"],
            &["GZIP;q=0.00"],
            &["x-gzip;q=0.000"],
            &["*;q=0"],
            // An explicit gzip weight wins over `*` (RFC 9110 12.5.3).
            &["gzip;q=0, *"],
            &["br", "gzip;q=0"],
        ] {
            assert!(!gzip(refused), "{refused:?}");
        }
        for (w, zero) in [
            ("0", true),
            ("0.", true),
            ("0.000", true),
            ("0.0000", false),
            ("0.5", false),
            ("1", false),
            ("", false),
            (".0", false),
        ] {
            assert_eq!(is_zero_weight(w), zero, "{w:?}");
        }
    }

    #[test]
    fn accept_encoding_lines_are_read_as_one_list() {
        let req = |headers: &str| {
            parse(&format!("GET / HTTP/1.1\r\nHost: x\r\n{headers}\r\n"))
                .unwrap()
                .unwrap()
                .0
                .accepts_gzip
        };
        assert!(req(""));
        assert!(req("Accept-Encoding: br\r\naccept-encoding: gzip\r\n"));
        assert!(!req("Accept-Encoding: identity\r\n"));
        assert!(!req("Accept-Encoding: *\r\nAccept-Encoding: gzip;q=0\r\n"));
    }
}
