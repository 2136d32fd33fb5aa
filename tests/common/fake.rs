//! A fake fail2ban socket, used ONLY for faults the real fail2ban-server cannot produce on
//! demand: a server that accepts and never answers (hung), one that answers garbage, a reply
//! cut short followed by EOF, a reply larger than banwatch's limit, and one that drips a valid
//! reply one byte per second. Everything else is tested against the real server.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Accept, read requests, never answer.
    Hang,
    /// Answer every request with bytes that are not a pickle, plus the terminator.
    Garbage,
    /// Answer half of a valid reply, then close.
    TruncatedThenEof,
    /// Answer with a valid pickle string of this many bytes.
    Oversized(usize),
    /// Answer a valid `(0, 'pong')`-like reply at one byte per second.
    Slow,
}

pub struct FakeFail2ban {
    pub path: PathBuf,
    stop: Arc<AtomicBool>,
}

const TERMINATOR: &[u8] = b"<F2B_END_COMMAND>";

/// `(0, [('Number of jail', 0), ('Jail list', '')])` as protocol-2 pickle, a valid `status` reply.
fn status_reply() -> Vec<u8> {
    let mut p = vec![0x80, 0x02, b'K', 0x00, b']', b'('];
    for (k, v) in [("Number of jail", None), ("Jail list", Some(""))] {
        p.push(b'X');
        p.extend_from_slice(&(k.len() as u32).to_le_bytes());
        p.extend_from_slice(k.as_bytes());
        match v {
            None => p.extend_from_slice(&[b'K', 0]),
            Some(s) => {
                p.push(b'X');
                p.extend_from_slice(&(s.len() as u32).to_le_bytes());
                p.extend_from_slice(s.as_bytes());
            }
        }
        p.push(0x86); // TUPLE2
    }
    p.extend_from_slice(&[b'e', 0x86, b'.']); // APPENDS, TUPLE2 (0, list), STOP
    p
}

impl FakeFail2ban {
    pub fn start(path: &Path, fault: Fault) -> FakeFail2ban {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path).expect("bind fake socket");
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        let stop3 = stop2.clone();
                        // The serving thread owns the stream: when it returns, the peer sees EOF.
                        std::thread::spawn(move || serve(s, fault, stop3));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FakeFail2ban {
            path: path.to_path_buf(),
            stop,
        }
    }
}

fn serve(mut s: UnixStream, fault: Fault, stop: Arc<AtomicBool>) {
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        match s.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => continue,
        }
        while let Some(pos) = buf.windows(TERMINATOR.len()).position(|w| w == TERMINATOR) {
            buf.drain(..pos + TERMINATOR.len());
            let reply = match fault {
                Fault::Hang => continue,
                Fault::Garbage => [&b"this is not a pickle"[..], TERMINATOR].concat(),
                Fault::TruncatedThenEof => {
                    let r = status_reply();
                    let _ = s.write_all(&r[..r.len() / 2]);
                    return;
                }
                Fault::Oversized(n) => {
                    let mut p = vec![0x80, 0x02, b'K', 0x00, b'X'];
                    p.extend_from_slice(&(n as u32).to_le_bytes());
                    p.extend(std::iter::repeat_n(b'a', n));
                    p.extend_from_slice(&[0x86, b'.']);
                    p.extend_from_slice(TERMINATOR);
                    p
                }
                Fault::Slow => {
                    for b in [status_reply(), TERMINATOR.to_vec()].concat() {
                        if stop.load(Ordering::Relaxed) || s.write_all(&[b]).is_err() {
                            return;
                        }
                        std::thread::sleep(Duration::from_secs(1));
                    }
                    continue;
                }
            };
            if s.write_all(&reply).is_err() {
                return;
            }
        }
    }
}

impl Drop for FakeFail2ban {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = std::fs::remove_file(&self.path);
    }
}
