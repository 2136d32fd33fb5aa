#!/usr/bin/env python3
"""How long other requests wait while banwatch fetches and reads a big ban list.

    stall.py PORT JAIL

One keep-alive connection asks /api/v1/jails over and over while a second asks for the jail's
ban list (the first fetch: fail2ban builds it, banwatch reads and converts it). Prints the
slowest and the 99th-percentile /api/v1/jails answer from the moment the list was asked until
it arrived, how many took over 5 ms (the target), the same for 5,000 requests before (the
reference: this machine's own jitter), and how long the list took. Measuring from one keep-alive connection keeps the
prober's own cost (no process or TCP handshake per request) out of the numbers.
"""
import http.client
import sys
import threading
import time

port, jail = int(sys.argv[1]), sys.argv[2]
REFERENCE_REQUESTS = 5000
TARGET = 0.005
done = threading.Event()
took = {}


def fetch_bans():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    t = time.perf_counter()
    c.request("GET", "/api/v1/jails/%s/bans?page=1" % jail)
    r = c.getresponse()
    r.read()
    took["bans"] = time.perf_counter() - t
    took["status"] = r.status
    done.set()


def timed(probe):
    t = time.perf_counter()
    probe.request("GET", "/api/v1/jails")
    r = probe.getresponse()
    r.read()
    if r.status != 200:
        sys.exit("/api/v1/jails answered %d" % r.status)
    return time.perf_counter() - t


def summary(times):
    times = sorted(times)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    over = sum(t > TARGET for t in times)
    return "slowest %.1f ms, p99 %.1f ms, %d of %d over %.0f ms" % (
        times[-1] * 1000, p99 * 1000, over, len(times), TARGET * 1000)


probe = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
# The reference: the same requests with nothing else going on (this machine's own jitter).
quiet = [timed(probe) for _ in range(REFERENCE_REQUESTS)]
threading.Thread(target=fetch_bans, daemon=True).start()
busy = []
while not done.is_set():
    busy.append(timed(probe))
if took.get("status") != 200:
    sys.exit("the ban list answered %s" % took.get("status"))
print("%s (quiet: %s); the ban list took %.0f ms" % (summary(busy), summary(quiet), took["bans"] * 1000))
