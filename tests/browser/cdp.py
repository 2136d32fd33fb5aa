#!/usr/bin/env python3
"""Open a page in headless Chromium at an exact viewport and report what it rendered.

Headless Chromium will not make a window narrower than 500 px, so a phone's 390 px viewport is
set through the DevTools protocol (Emulation.setDeviceMetricsOverride) over --remote-debugging-pipe
(fd 3 in, fd 4 out, NUL-terminated JSON): Python's standard library is enough, no driver needed.

usage: cdp.py URL WIDTH HEIGHT READY_JS [--screenshot PATH] [--dark]
Waits (at most 20 s) until READY_JS is true in the page, then prints one JSON object:
{"scroll_width", "client_width", "text", "dom"} and saves a PNG screenshot if asked.
"""
import base64
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import time

CHROMIUM = "/usr/bin/chromium"


class Browser:
    def __init__(self, profile):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        # Chromium reads commands on fd 3 and writes replies on fd 4. Both are first copied above
        # 4, so that neither dup2 overwrites the other's source.
        def fds():
            r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(r, 3)
            os.dup2(w, 4)
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-quic", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--hide-scrollbars", "--remote-debugging-pipe",
             "--user-data-dir=" + profile, "about:blank"],
            preexec_fn=fds, pass_fds=(3, 4),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b""
        self.next_id = 0

    def call(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" not in self.buf:
                chunk = os.read(self.from_chrome, 1 << 20)
                if not chunk:
                    raise SystemExit("chromium closed the DevTools pipe")
                self.buf += chunk
            raw, self.buf = self.buf.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise SystemExit("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})

    def close(self):
        try:
            self.call("Browser.close")
        except SystemExit:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def main():
    args = sys.argv[1:]
    url, width, height, ready = args[0], int(args[1]), int(args[2]), args[3]
    shot = args[args.index("--screenshot") + 1] if "--screenshot" in args else None
    dark = "--dark" in args
    with tempfile.TemporaryDirectory() as profile:
        b = Browser(profile)
        try:
            target = b.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            s = b.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            b.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                   "deviceScaleFactor": 1, "mobile": width < 500}, s)
            if dark:
                b.call("Emulation.setEmulatedMedia", {"features": [
                    {"name": "prefers-color-scheme", "value": "dark"}]}, s)
            b.call("Page.enable", {}, s)
            b.call("Page.navigate", {"url": url}, s)

            def js(expr):
                r = b.call("Runtime.evaluate", {"expression": expr, "returnByValue": True}, s)
                return r.get("result", {}).get("value")

            deadline = time.monotonic() + 20
            while not js("document.readyState === 'complete' && !!(%s)" % ready):
                if time.monotonic() > deadline:
                    raise SystemExit("not ready within 20 s: %s\n%s" % (
                        ready, js("document.body && document.body.innerText")))
                time.sleep(0.1)
            out = {
                "scroll_width": js("document.documentElement.scrollWidth"),
                "client_width": js("document.documentElement.clientWidth"),
                "text": js("document.body.innerText"),
                "dom": js("document.documentElement.outerHTML"),
            }
            if shot:
                png = b.call("Page.captureScreenshot", {"format": "png"}, s)["data"]
                with open(shot, "wb") as f:
                    f.write(base64.b64decode(png))
            print(json.dumps(out))
        finally:
            b.close()


if __name__ == "__main__":
    main()
