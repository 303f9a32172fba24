"""Opens a page in headless Chromium and reports what a reader would see.

Usage: python3 tests/browser.py CHROMIUM PAGE.html SCREENSHOT.png

Chromium is driven over the DevTools protocol on a pipe
(--remote-debugging-pipe: commands on fd 3, answers on fd 4), so nothing
but the standard library is needed. Prints one JSON object: the console
errors and exceptions, every request the page made, the charts (their
dots and texts), the headline sentences and the tables' cells.
"""

import base64
import fcntl
import json
import os
import select
import subprocess
import sys
import tempfile
import time

# Seconds any one answer of the browser may take.
TIMEOUT = 60

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--hide-scrollbars",
]

FACTS = r"""
(() => {
  const text = (el) => el.textContent.trim();
  const charts = {};
  for (const fig of document.querySelectorAll('figure.chart')) {
    const svg = fig.querySelector('svg');
    charts[fig.dataset.chart] = {
      dots: svg ? svg.querySelectorAll('circle').length : 0,
      texts: svg ? [...svg.querySelectorAll('text')].map(text) : [],
      width: svg ? svg.getBoundingClientRect().width : 0,
    };
  }
  const tables = {};
  for (const section of document.querySelectorAll('section')) {
    tables[section.id] = [...section.querySelectorAll('table')].map((t) =>
      [...t.querySelectorAll('tr')].map((tr) => [...tr.children].map(text)));
  }
  return {
    title: document.title,
    charts,
    headlines: [...document.querySelectorAll('#headline .sentence')].map(text),
    gate: document.querySelector('#gate') ? text(document.querySelector('#gate')) : null,
    tables,
    material: [...document.querySelectorAll('tr.material td:first-child')].map(text),
    height: document.documentElement.scrollHeight,
  };
})()
"""


class Browser:
    def __init__(self, chromium, profile):
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()

        def wire():
            # Out of the way first, in case a pipe already sits on 3 or 4.
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_child_r, from_child_w)]
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.proc = subprocess.Popen(
            [chromium, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            close_fds=False,  # fds 3 and 4 must survive; the rest close on exec
            preexec_fn=wire,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self.next_id = 0
        self.buffer = b""
        self.events = []

    def send(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_child, json.dumps(message).encode() + b"\0")
        return self.wait(lambda m: m.get("id") == self.next_id)

    def wait(self, wanted, since=None):
        """The first message `wanted` accepts: among the events stored from
        index `since` on (one may have come in while waiting for an
        answer), else the next to arrive."""
        if since is not None:
            for event in self.events[since:]:
                if wanted(event):
                    return event
        deadline = time.monotonic() + TIMEOUT
        while True:
            while b"\0" not in self.buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.from_child], [], [], left)[0]:
                    raise RuntimeError(f"chromium did not answer within {TIMEOUT} s")
                chunk = os.read(self.from_child, 1 << 16)
                if not chunk:
                    raise RuntimeError("chromium closed the pipe")
                self.buffer += chunk
            raw, self.buffer = self.buffer.split(b"\0", 1)
            message = json.loads(raw)
            if "method" in message:
                self.events.append(message)
            if wanted(message):
                if "error" in message:
                    raise RuntimeError(f"{message['error']}")
                return message

    def close(self):
        try:
            self.send("Browser.close")
            self.proc.wait(timeout=TIMEOUT)
        except Exception:
            self.proc.kill()
            self.proc.wait()


def main():
    chromium, page, screenshot = sys.argv[1:4]
    with tempfile.TemporaryDirectory() as profile:
        b = Browser(chromium, profile)
        try:
            facts, url = look(b, page, screenshot)
        finally:
            b.close()
    report(b, facts, url)


def look(b, page, screenshot):
    target = b.send("Target.createTarget", {"url": "about:blank"})["result"]["targetId"]
    session = b.send("Target.attachToTarget", {"targetId": target, "flatten": True})["result"]["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        b.send(f"{domain}.enable", session=session)
    b.send("Emulation.setDeviceMetricsOverride",
           {"width": 1200, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=session)
    url = "file://" + os.path.abspath(page)
    since = len(b.events)
    b.send("Page.navigate", {"url": url}, session=session)
    b.wait(lambda m: m.get("method") == "Page.loadEventFired", since=since)
    facts = b.send("Runtime.evaluate", {"expression": FACTS, "returnByValue": True},
                   session=session)["result"]["result"]["value"]
    b.send("Emulation.setDeviceMetricsOverride",
           {"width": 1200, "height": facts["height"], "deviceScaleFactor": 1, "mobile": False},
           session=session)
    shot = b.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True},
                  session=session)["result"]["data"]
    with open(screenshot, "wb") as f:
        f.write(base64.b64decode(shot))
    return facts, url


def report(b, facts, url):
    errors, requests = [], []
    for e in b.events:
        method, params = e["method"], e.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(" ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            errors.append(params["exceptionDetails"].get("text", "exception"))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            errors.append(params["entry"].get("text", ""))
        elif method == "Network.requestWillBeSent":
            requested = params["request"]["url"]
            if requested != url:
                requests.append(requested)
    facts["console_errors"] = errors
    facts["requests"] = requests
    facts["page_url"] = url
    print(json.dumps(facts))


if __name__ == "__main__":
    main()
