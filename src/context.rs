//! What the router and the metrics both read besides `State`: the process's settings for
//! HTTP, its counters and the cached /health answer. It sits below both `api` and `metrics`
//! so that neither imports the other.

use std::rc::Rc;

/// Per-process facts the router needs besides `State`.
pub struct Context {
    /// The bearer token; `None` means writes are disabled.
    pub token: Option<Vec<u8>>,
    pub protect_reads: bool,
    pub metrics_per_ip: usize,
    pub stats: HttpStats,
    pub open_connections: usize,
    /// The last /health answer and the state it was built from (built once per change).
    pub health: Option<HealthAnswer>,
}

impl Context {
    pub fn new(token: Option<Vec<u8>>, protect_reads: bool, metrics_per_ip: usize) -> Self {
        Context {
            token,
            protect_reads,
            metrics_per_ip,
            stats: HttpStats::default(),
            open_connections: 0,
            health: None,
        }
    }
}

/// A /health answer with every state field it was written from.
pub struct HealthAnswer {
    pub key: HealthKey,
    pub status: u16,
    /// Shared by every answer until the state changes: a request copies no body.
    pub body: Rc<[u8]>,
    pub retry_after: String,
}

/// The state fields /health shows; the answer is rebuilt when any differs.
#[derive(PartialEq)]
pub struct HealthKey {
    pub health: crate::state::Health,
    pub since: std::time::SystemTime,
    pub checked_at: Option<std::time::SystemTime>,
    pub jails: usize,
    pub interval: std::time::Duration,
    pub version: Option<String>,
    pub error: Option<String>,
}

/// Counters of HTTP answers by status code, kept by the loop.
#[derive(Debug, Default, Clone)]
pub struct HttpStats {
    /// (status code, count), few distinct codes so a small Vec.
    pub by_code: Vec<(u16, u64)>,
}

impl HttpStats {
    pub fn count(&mut self, code: u16) {
        // Kept sorted by inserting in place: a sort would instantiate ~1.5 KB of code.
        let at = self.by_code.partition_point(|(c, _)| *c < code);
        match self.by_code.get_mut(at) {
            Some((c, n)) if *c == code => *n += 1,
            _ => self.by_code.insert(at, (code, 1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_counts_stay_sorted_by_code() {
        let mut stats = HttpStats::default();
        for code in [404, 200, 503, 200, 101, 404, 200] {
            stats.count(code);
        }
        assert_eq!(stats.by_code, [(101, 1), (200, 3), (404, 2), (503, 1)]);
    }
}
