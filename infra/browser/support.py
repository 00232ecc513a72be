"""What the browser tests stand on: free loopback ports, the real
courier-local binary, a receiver that fails its first delivery, pages on
other loopback origins that frame the panel, and headless Chromium with
its network log."""

import http.server
import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCREENSHOTS = os.path.join(REPO, "target", "browser")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CourierLocal:
    """courier-local on a free port; `banner` is what it printed at start."""

    def __init__(self, env):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.token = "browser-test-admin-token"
        binary = os.environ.get("COURIER_LOCAL_BIN", os.path.join(REPO, "target", "debug", "courier-local"))
        full_env = dict(os.environ, LISTEN_ADDR=f"127.0.0.1:{self.port}", ADMIN_TOKEN=self.token, RUST_LOG="warn", **env)
        self.process = subprocess.Popen([binary], env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.banner = ""
        deadline = time.time() + 30
        while "Ctrl-C stops the server" not in self.banner:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"courier-local exited: {self.banner}")
            self.banner += line
            if time.time() > deadline:
                raise RuntimeError(f"courier-local did not start: {self.banner}")
        threading.Thread(target=self.process.stdout.read, daemon=True).start()

    def demo_portal_url(self):
        match = re.search(r"webhooks panel of tenant (\S+) \(7 days\): (\S+)", self.banner)
        return match.group(1), match.group(2)

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("content-type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
            return json.loads(text) if text else None

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that logs nothing and answers with `reply`."""

    def reply(self, status, body, content_type):
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class LoopbackServer:
    """`handler` (a QuietHandler) served on a free loopback port from a
    daemon thread until `stop`."""

    def __init__(self, handler):
        self.port = free_port()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


class Receiver(LoopbackServer):
    """A loopback webhook receiver: 500 to its first delivery and to every
    one while `failing` is set, 200 otherwise."""

    def __init__(self):
        self.received = []
        self.failing = False
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.received.append((dict(self.headers), body))
                if len(receiver.received) == 1 or receiver.failing:
                    self.reply(500, b"busy, try again", "text/plain")
                else:
                    self.reply(200, b'{"ok":true}', "application/json")

        super().__init__(Handler)
        self.url = f"http://127.0.0.1:{self.port}/hook"


class FramingPage(LoopbackServer):
    """A page on its own loopback origin that frames `target`."""

    def __init__(self, title):
        self.target = ""
        page = self

        class Handler(QuietHandler):
            def do_GET(self):
                html = (
                    f"<!doctype html><title>{title}</title><h1>{title}: Store Settings</h1>"
                    f'<iframe id="panel" src="{page.target}" width="1100" height="800" '
                    f'allow="clipboard-write"></iframe>'
                ).encode()
                self.reply(200, html, "text/html; charset=utf-8")

        super().__init__(Handler)
        self.origin = f"http://127.0.0.1:{self.port}"


def chromium():
    """Headless Chromium from Debian, with its network and console logs."""
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1100", "--disable-dev-shm-usage"]:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    service = Service(os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    return driver


class NetworkLog:
    """Every request the browser made, from the performance log."""

    def __init__(self, driver):
        self.driver = driver
        self.requests = []

    def collect(self):
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                params = message["params"]
                self.requests.append((params["request"]["url"], params.get("documentURL", "")))
        return self.requests


def wait_for(driver, condition, timeout=20, what="the condition"):
    """Waits for `condition(driver)` to be truthy, retrying over re-renders."""

    def check(d):
        try:
            return condition(d)
        except StaleElementReferenceException:
            return False

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(check, message=f"waiting for {what}")


def screenshot(driver, name):
    os.makedirs(SCREENSHOTS, exist_ok=True)
    path = os.path.join(SCREENSHOTS, f"{name}.png")
    driver.save_screenshot(path)
    return path
