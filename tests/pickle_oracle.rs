//! The pickle codec against CPython, the oracle (tests/oracle/pickle_oracle.py): every captured
//! reply of fail2ban 0.11.2 (Python 2.7), 1.0.2 (Python 3.7, 3.11) and 1.1.1 decodes to exactly
//! what CPython's pickle yields; random values pickled by CPython at protocols 0-5 decode to the
//! same JSON; CPython unpickles our requests; and no input, truncated, mutated or random, panics.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use banwatch::fail2ban::pickle::{
    decode, encode_command, scan, ErrorKind, NotFast, StrListReader, Value, MAX_INT_DIGITS,
    TERMINATOR,
};
use banwatch::fail2ban::{envelope, JailStatus};
use serde_json::Value as Json;

/// banwatch's JSON text of a value, read back: it must be valid JSON to compare at all.
fn to_json(value: &Value) -> Json {
    let text = banwatch::pyjson::to_json(value);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

const ORACLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oracle/pickle_oracle.py");

fn python(args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new("python3")
        .arg(ORACLE)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is the codec's oracle: install python3 (3.7 or later)");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "oracle {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// JSON equality, floats bit for bit (serde_json's `float_roundtrip` reads both texts exactly).
fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) if x.is_f64() || y.is_f64() => {
            x.as_f64().unwrap().to_bits() == y.as_f64().unwrap().to_bits()
        }
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn golden_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut files = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".bin") && !name.ends_with(".request.bin") {
                files.push(f);
            }
        }
    }
    files.sort();
    assert!(
        files.len() > 100,
        "expected the captured replies in tests/data, found {}",
        files.len()
    );
    files
}

fn reply_pickle(bytes: &[u8]) -> &[u8] {
    bytes.strip_suffix(TERMINATOR).unwrap_or(bytes)
}

#[test]
fn every_captured_reply_decodes_exactly_as_cpython() {
    let files = golden_files();
    let paths: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let mut args = vec!["golden"];
    args.extend(paths.iter().map(String::as_str));
    let out = python(&args, None);
    let mut checked = 0;
    for line in out.lines() {
        let doc: Json = serde_json::from_str(line).unwrap();
        let path = doc["file"].as_str().unwrap();
        let bytes = std::fs::read(path).unwrap();
        let mut ours = Vec::new();
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let (value, used) = decode(rest)
                .unwrap_or_else(|e| panic!("{path}: {e}"))
                .unwrap_or_else(|| panic!("{path}: reported incomplete"));
            ours.push(to_json(&value));
            rest = &rest[used..];
            rest = rest
                .strip_prefix(TERMINATOR)
                .unwrap_or_else(|| panic!("{path}: no terminator after a reply"));
        }
        let ours = Json::Array(ours);
        assert!(
            same(&ours, &doc["replies"]),
            "{path}:\n ours:    {ours}\n CPython: {}",
            doc["replies"]
        );
        checked += 1;
    }
    assert_eq!(checked, files.len());
}

/// One line of the oracle's `random` or `strlists` output: the document, its pickle, its protocol.
fn oracle_pickle(line: &str) -> (Json, Vec<u8>, usize) {
    let doc: Json = serde_json::from_str(line).unwrap();
    let hex = doc["hex"].as_str().unwrap();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let proto = doc["protocol"].as_u64().unwrap() as usize;
    (doc, bytes, proto)
}

#[test]
fn random_values_at_protocols_0_to_5_decode_as_cpython_pickled_them() {
    let out = python(&["random", "20261122", "300"], None);
    let mut per_protocol = [0usize; 6];
    for line in out.lines() {
        let (doc, bytes, proto) = oracle_pickle(line);
        let hex = doc["hex"].as_str().unwrap();
        let (value, used) = decode(&bytes)
            .unwrap_or_else(|e| panic!("protocol {proto} {hex}: {e}"))
            .unwrap_or_else(|| panic!("protocol {proto} {hex}: incomplete"));
        assert_eq!(used, bytes.len());
        assert!(
            same(&to_json(&value), &doc["json"]),
            "protocol {proto} {hex}:\n ours:   {}\n CPython: {}",
            to_json(&value),
            doc["json"]
        );
        per_protocol[proto] += 1;
    }
    assert_eq!(per_protocol, [300; 6]);
}

/// Issue 13.2: ints are read up to CPython's int/str conversion limit and refused beyond it, as
/// CPython refuses to turn them into text.
#[test]
fn ints_at_cpythons_digit_limit_decode_and_beyond_it_are_refused() {
    let out = python(&["bigints"], None);
    let (mut read, mut refused) = (0, 0);
    for line in out.lines() {
        let (doc, bytes, proto) = oracle_pickle(line);
        let result = decode(&bytes);
        if doc["json"][1].is_null() {
            let e = result.expect_err("CPython refuses this int's digits");
            assert_eq!(e.kind, ErrorKind::IntTooLarge, "protocol {proto}");
            assert!(e.to_string().contains("4300 digits"), "{e}");
            refused += 1;
        } else {
            let value = result.unwrap().unwrap().0;
            assert!(same(&to_json(&value), &doc["json"]), "protocol {proto}");
            read += 1;
        }
    }
    assert_eq!(MAX_INT_DIGITS, 4300);
    // 4,299 and 4,300 digits at protocols 0-5; 4,301 and 5,000 at 2-5 (0 and 1 write digits).
    assert_eq!((read, refused), (2 * 2 * 6, 2 * 2 * 4));
}

/// Issue 13.2: a reply holding a 128 KiB LONG4 took ~4.9 s (quadratic decimal conversion).
/// Replies may be 64 MiB, so reading one must take time linear in its size.
#[test]
fn a_reply_holding_a_128_kib_int_is_refused_within_50_ms() {
    for fill in [0x5a_u8, 0xa5] {
        // (0, n) at protocol 2, n a LONG4 of 131,072 bytes (positive, then negative).
        let mut p = vec![0x80, 2, b'K', 0, 0x8b];
        p.extend_from_slice(&(128u32 << 10).to_le_bytes());
        p.extend(std::iter::repeat_n(fill, 128 << 10));
        p.extend_from_slice(&[0x86, b'.']);
        let t = std::time::Instant::now();
        let result = decode(&p);
        let took = t.elapsed();
        assert_eq!(result.map(|_| ()).unwrap_err().kind, ErrorKind::IntTooLarge);
        assert!(took.as_millis() < 50, "took {took:?}");
    }
}

/// Issue 13.6: Python 2 pickles name `str` `__builtin__.unicode`; CPython's unpickler maps it
/// (below protocol 3), so banned IPs are plain strings there and must be here too.
#[test]
fn a_python2_unicode_ban_list_reads_as_plain_strings_as_cpython_loads_it() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/0.11.2-py2.7");
    for name in [
        "status_jail_unicode.bin",
        "invalid_command_standarderror.bin",
    ] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let pickle = reply_pickle(&bytes);
        let value = decode(pickle).unwrap().unwrap().0;
        if name.starts_with("status") {
            // CPython's plain pickle.loads, real classes and all: tuples come out as lists.
            let hex: String = pickle.iter().map(|b| format!("{b:02x}")).collect();
            let theirs: Json = serde_json::from_str(&python(&["unpickle"], Some(&hex))).unwrap();
            assert_eq!(to_json(&value), theirs, "{name}");
            let status = JailStatus::from_value(&envelope(value).unwrap());
            assert_eq!(status.unwrap().banned.unwrap(), ["203.0.113.5"]);
        } else {
            // `exceptions.StandardError` is `builtins.Exception` in CPython's table.
            let e = envelope(value).unwrap_err();
            assert_eq!(
                format!("{e:?}").matches("class: \"Exception\"").count(),
                1,
                "{e:?}"
            );
        }
    }
}

#[test]
fn cpython_unpickles_our_requests() {
    let requests: Vec<Vec<String>> = vec![
        vec!["ping".into()],
        vec!["status".into(), "sshd".into(), "short".into()],
        vec![
            "get".into(),
            "jail with spaces é中".into(),
            "banip".into(),
            "--with-time".into(),
        ],
        vec!["set".into(), "x".into(), "banip".into(), "a".repeat(70_000)],
        vec![],
    ];
    let hex: Vec<String> = requests
        .iter()
        .map(|r| {
            let bytes = encode_command(r).unwrap();
            reply_pickle(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .collect();
    let out = python(&["unpickle"], Some(&(hex.join("\n") + "\n")));
    let got: Vec<Json> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let want: Vec<Json> = requests.iter().map(|r| serde_json::json!(r)).collect();
    assert_eq!(got, want);
    // And byte-for-byte, the shape the protocol doc gives.
    assert_eq!(
        encode_command(&["ping"]).unwrap(),
        b"\x80\x02](X\x04\x00\x00\x00pinge.<F2B_END_COMMAND>".to_vec()
    );
}

#[test]
fn every_truncation_of_every_reply_is_incomplete_or_an_error_never_a_panic() {
    for path in golden_files() {
        let bytes = std::fs::read(&path).unwrap();
        let pickle = reply_pickle(&bytes);
        if pickle.len() > 20_000 {
            // The 10k-IP replies: every 97th cut is plenty and keeps the test fast.
            for n in (0..pickle.len()).step_by(97) {
                assert!(
                    !matches!(decode(&pickle[..n]), Ok(Some(_))),
                    "{}: prefix {n} decoded",
                    path.display()
                );
            }
            continue;
        }
        // The first reply of the stream: every proper prefix is incomplete or an error.
        let first = match decode(pickle) {
            Ok(Some((_, used))) => used,
            other => panic!("{}: {other:?}", path.display()),
        };
        for n in 0..first {
            match decode(&pickle[..n]) {
                Ok(None) | Err(_) => {}
                Ok(Some((_, used))) => {
                    // Only a pickle that legitimately ends earlier may decode (none of ours do).
                    panic!(
                        "{}: prefix of {n} bytes decoded ({used} used)",
                        path.display()
                    );
                }
            }
        }
    }
}

/// xorshift64*: a fixed-seed generator, so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn random_bytes_and_mutated_replies_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..100_000 {
        let len = (rng.next() % 64) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let _ = decode(&bytes);
        let _ = banwatch::fail2ban::pickle::scan(&bytes);
    }
    // Random opcodes from the protocol's alphabet reach deeper than random bytes.
    let alphabet = b"(.012FIJKLMNRSTUVXabcdeghjlpqrstu}])G\x80\x81\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f\x90\x91\x93\x94\x95";
    for _ in 0..100_000 {
        let len = (rng.next() % 48) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                if rng.next().is_multiple_of(3) {
                    rng.next() as u8
                } else {
                    alphabet[(rng.next() % alphabet.len() as u64) as usize]
                }
            })
            .collect();
        let _ = decode(&bytes);
        let _ = read_strings(&bytes);
        let _ = banwatch::fail2ban::pickle::scan(&bytes);
    }
    for path in golden_files() {
        let bytes = std::fs::read(&path).unwrap();
        if bytes.len() > 20_000 {
            continue;
        }
        for _ in 0..200 {
            let mut m = bytes.clone();
            let i = (rng.next() as usize) % m.len();
            m[i] = rng.next() as u8;
            let _ = decode(reply_pickle(&m));
        }
    }
}

#[test]
fn framing_a_reply_as_it_arrives_ends_where_framing_it_whole_does() {
    use banwatch::fail2ban::pickle::scan_from;
    for path in golden_files() {
        let bytes = std::fs::read(&path).unwrap();
        let pickle = reply_pickle(&bytes);
        let whole = scan(pickle).unwrap();
        for chunk in [1, 7, 64] {
            let (mut resume, mut end) = (0, None);
            for len in (chunk..pickle.len() + chunk).step_by(chunk) {
                let len = len.min(pickle.len());
                end = scan_from(&pickle[..len], &mut resume).unwrap();
                assert!(resume <= len, "{}", path.display());
                // Incomplete until the bytes through `STOP` are there, then the same end.
                let want = whole.filter(|&w| w <= len);
                assert_eq!(
                    end,
                    want,
                    "{} at {len} in chunks of {chunk}",
                    path.display()
                );
            }
            assert_eq!(end, whole, "{} in chunks of {chunk}", path.display());
        }
    }
}

/// Every string `StrListReader` hands out, or `NotFast`.
fn read_strings(pickle: &[u8]) -> Result<Vec<String>, NotFast> {
    let mut reader = StrListReader::new(pickle)?;
    let mut out = Vec::new();
    while let Some(s) = reader.next(pickle)? {
        out.push(s.to_string());
    }
    Ok(out)
}

#[test]
fn the_ban_list_reader_agrees_with_the_full_decode_on_every_captured_reply() {
    let mut fast = 0;
    for path in golden_files() {
        let bytes = std::fs::read(&path).unwrap();
        let pickle = reply_pickle(&bytes);
        let (full, used) = decode(pickle).unwrap().unwrap();
        assert_eq!(scan(pickle).unwrap(), Some(used), "{}", path.display());
        if let Ok(lines) = read_strings(&pickle[..used]) {
            let want = Value::Tuple(vec![
                Value::Int(0),
                Value::List(
                    lines
                        .into_iter()
                        .map(|l| Value::Str(l.as_str().into()))
                        .collect(),
                ),
            ]);
            assert_eq!(full, want, "{}", path.display());
            fast += 1;
        }
    }
    assert!(
        fast >= 10,
        "the reader should take the string-list replies, took {fast}"
    );
}

#[test]
fn the_ban_list_reader_reads_cpythons_string_lists_at_protocols_2_to_5() {
    let out = python(&["strlists", "20261123", "60"], None);
    let mut read = [0usize; 6];
    let mut shared = 0;
    for line in out.lines() {
        let (doc, bytes, proto) = oracle_pickle(line);
        let hex = doc["hex"].as_str().unwrap();
        let want: Vec<String> = doc["json"][1]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        // What the reader does not take, `decode` must (the caller's fallback).
        let (full, _) = decode(&bytes).unwrap().unwrap();
        assert!(
            same(&to_json(&full), &doc["json"]),
            "protocol {proto} {hex}"
        );
        let is_shared = doc["shared"] == true;
        match read_strings(&bytes) {
            Ok(lines) => {
                assert!(proto >= 2 && !is_shared, "protocol {proto} read: {hex}");
                assert_eq!(lines, want, "protocol {proto}");
                read[proto] += 1;
            }
            // Protocols 0-1 have no fast shape; a memo reference goes to the full decode.
            Err(NotFast) => {
                assert!(proto < 2 || is_shared, "protocol {proto} not read: {hex}");
                shared += usize::from(is_shared && proto == 5);
            }
        }
        // Any cut of the reply is refused, never misread.
        let cut = bytes.len() * 2 / 3;
        assert!(
            read_strings(&bytes[..cut]).is_err(),
            "protocol {proto}: a reply cut at {cut} was read"
        );
    }
    assert!(shared > 0, "no list with a shared string was generated");
    assert_eq!(read[2..], [60 - shared; 4], "lists read per protocol 2-5");
}

/// Issue 14: floats are read and written without core's float code, exactly as CPython does.
/// For 26,000 doubles (every power of two and of ten with its neighbours, the edges, random bit
/// patterns, subnormals, values near 1) `banwatch query` writes `repr(x)` byte for byte and the
/// decoder reads x's protocol-0 pickle bit for bit; for 20,000 texts a protocol-0 pickle may
/// hold (halfway points between doubles and a hair either side, 18 to 40 digits, syntax
/// variants, overflow) the decoder reads the double CPython's unpickler reads, or refuses what
/// it refuses.
#[test]
fn floats_read_and_print_as_cpython_reads_and_prints_them() {
    let out = python(&["floats", "20261202", "5000"], None);
    let read = |pickle: &[u8]| match decode(pickle) {
        Ok(Some((Value::Float(f), used))) if used == pickle.len() => Some(f),
        Ok(Some((other, _))) => panic!("not a float: {other:?}"),
        _ => None,
    };
    let (mut doubles, mut texts, mut halfway) = (0, 0, 0);
    for line in out.lines() {
        let mut fields = line.split(' ');
        match (fields.next(), fields.next(), fields.next(), fields.next()) {
            (Some("r"), Some(bits), Some(repr), Some(hex)) => {
                let f = f64::from_bits(bits.parse().unwrap());
                let pickle: Vec<u8> = (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                    .collect();
                let ours = read(&pickle).unwrap_or_else(|| panic!("{repr}: refused"));
                assert!(
                    ours.to_bits() == f.to_bits() || (ours.is_nan() && f.is_nan()),
                    "{repr}: read as {:#x}, CPython {:#x}",
                    ours.to_bits(),
                    f.to_bits()
                );
                if f.is_finite() {
                    let text = banwatch::pyjson::to_json(&Value::Float(f));
                    assert_eq!(text, repr, "repr of {:#x}", f.to_bits());
                }
                doubles += 1;
            }
            (Some("t"), Some(text), Some(cpython), Some(kind)) => {
                let ours = read(format!("F{text}\n.").as_bytes());
                let theirs = cpython.parse::<u64>().ok().map(f64::from_bits);
                assert!(
                    match (ours, theirs) {
                        (Some(a), Some(b)) =>
                            a.to_bits() == b.to_bits() || a.is_nan() && b.is_nan(),
                        (a, b) => a.is_none() && b.is_none(),
                    },
                    "{text}: read as {ours:?}, CPython {theirs:?}"
                );
                halfway += usize::from(kind == "half");
                texts += 1;
            }
            _ => panic!("oracle line: {line}"),
        }
    }
    assert!(
        doubles >= 20_000 && texts >= 20_000 && halfway >= 5_000,
        "{doubles} doubles, {texts} texts, {halfway} halfway"
    );
}
