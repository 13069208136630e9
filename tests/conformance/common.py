"""What both conformance scripts share: the run's configuration (written by the Rust test
`tests/it/conformance.rs`), a listener that stands in for a merchant's notify endpoint, and a
tiny runner that keeps going after a failed check so that one run lists every mismatch.

Nothing here speaks a payment protocol: that is left to the SDKs under test.
"""

import datetime
import http.server
import json
import queue
import re
import sys
import threading
import traceback
import urllib.parse

from cryptography.hazmat.primitives import serialization

BEIJING = datetime.timezone(datetime.timedelta(hours=8))

# WeChat Pay documents its times as RFC 3339 with whole seconds and the zone,
# `yyyy-MM-DDTHH:mm:ss+TIMEZONE` (e.g. `2018-06-08T10:34:56+08:00`).
WECHAT_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")


def load_config():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} CONFIG.json (written by tests/it/conformance.rs)")
    with open(sys.argv[1], encoding="utf-8") as f:
        return json.load(f)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def public_pem_of(private_pem):
    """The public half of a private key PEM, as a channel would hand it to a merchant."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def beijing_now():
    return datetime.datetime.now(BEIJING)


def wechat_time(moment):
    """Whole seconds, Beijing time, as the protocol documents."""
    return moment.astimezone(BEIJING).replace(microsecond=0).isoformat()


class Notifications:
    """A merchant's notify endpoint on 127.0.0.1: records every POST and answers the way the
    channel expects (`/wechat`: 204; `/alipay`: the plain body `success`)."""

    def __init__(self):
        self.received = queue.Queue()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8")
                owner.received.put((self.path, self.headers, body))
                if self.path.startswith("/alipay"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.end_headers()
                    self.wfile.write(b"success")
                else:
                    self.send_response(204)
                    self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next(self, path, timeout_secs=15):
        """The next notification posted to `path`: (headers, body)."""
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=timeout_secs)
        while True:
            left = (deadline - datetime.datetime.now()).total_seconds()
            if left <= 0:
                raise AssertionError(f"no notification reached {path} within {timeout_secs}s")
            try:
                got_path, headers, body = self.received.get(timeout=left)
            except queue.Empty:
                continue
            if got_path.startswith(path):
                return headers, body

    def close(self):
        self.server.shutdown()


def form(body):
    return dict(urllib.parse.parse_qsl(body, keep_blank_values=True))


class Suite:
    """Runs named checks, prints one line each, and a closing `name: N passed, N failed`."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = []

    def check(self, title, fn):
        try:
            fn()
        except Exception as error:  # a failed check is reported, and the run goes on
            self.failed.append(title)
            detail = str(error) or type(error).__name__
            print(f"FAIL {title}\n     {detail[:600]}")
            if not isinstance(error, AssertionError):
                last = traceback.extract_tb(error.__traceback__)[-1]
                print(f"     ({type(error).__name__} at {last.filename}:{last.lineno})")
            return False
        self.passed += 1
        print(f"ok   {title}")
        return True

    def finish(self):
        if self.failed:
            print(f"{self.name} failed checks: " + "; ".join(self.failed))
        print(f"{self.name}: {self.passed} passed, {len(self.failed)} failed")
        sys.stdout.flush()
        return 1 if self.failed else 0


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def expect_eq(actual, expected, what):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")
