#!/usr/bin/env python3
"""Drive headless Chromium over the Chrome DevTools Protocol (CDP) for end-to-end tests.

usage: browser.py [--timeout S] [--width W] [--height H] [--fail-on-page-error] URL STEP...
STEP: wait:JS print:JS eval:JS goto:URL signal:PATH await:PATH screenshot:PATH (see README.md).
Needs Debian's chromium-headless-shell and PyPI's websocket-client; everything else is stdlib.
"""
import argparse, base64, contextlib, ctypes, json, math, os, shutil, signal, subprocess, sys, tempfile, time
from urllib.parse import urljoin

import websocket  # PyPI: websocket-client

KINDS = ("wait", "print", "eval", "goto", "signal", "await", "screenshot")
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
# /usr/bin/chromium-headless-shell is an `sh` wrapper that forks instead of exec-ing: launch the
# real binary so PR_SET_PDEATHSIG (which a fork does not inherit) lands on chromium itself.
BINARIES = ("/usr/lib/chromium/chromium-headless-shell", "chromium-headless-shell", "chromium")


class Failure(Exception):
    """A step or chromium failed; the message becomes the one `browser: ...` line on stderr."""


class CDP:
    """Tiny synchronous CDP client on the browser endpoint; page commands use a flat session."""

    def __init__(self, url, timeout, on_event):
        # suppress_origin: Chromium (>= 111) refuses DevTools websockets that send an Origin header.
        self.ws = websocket.create_connection(url, timeout=timeout, suppress_origin=True)
        self.next_id, self.replies, self.session, self.timeout, self.on_event = 0, {}, None, timeout, on_event

    def send(self, method, params=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if self.session:  # once attached, every command goes to the page
            msg["sessionId"] = self.session
        self.ws.send(json.dumps(msg))
        return self.next_id

    def pump(self, until, timeout):
        """Dispatch incoming messages until until() is true (-> True) or timeout passes (-> False)."""
        deadline = time.monotonic() + timeout
        while not until():
            if deadline <= time.monotonic():
                return False
            self.ws.settimeout(deadline - time.monotonic())
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                return until()
            except websocket.WebSocketConnectionClosedException:
                raise Failure("lost the DevTools connection (did chromium crash?)")
            if "id" in msg:
                self.replies[msg["id"]] = msg
            elif msg.get("sessionId") == self.session:  # ignore browser-level events
                self.on_event(msg["method"], msg.get("params", {}))
        return True

    def call(self, method, params=None, timeout=None):
        timeout, mid = timeout or self.timeout, self.send(method, params)
        if not self.pump(lambda: mid in self.replies, timeout):
            raise Failure(f"{method} got no answer within {timeout:g} s")
        reply = self.replies.pop(mid)
        if "error" in reply:
            raise Failure(f"{method}: {reply['error'].get('message')} {reply['error'].get('data', '')}".strip())
        return reply["result"]


class Browser:
    def __init__(self, args):
        self.args, self.proc, self.cdp = args, None, None
        self.page_errors, self.loaded, self.request_urls = 0, set(), {}  # loaded: loaderIds seen to 'load'
        self.tmp = tempfile.mkdtemp(prefix="browser-")  # holds the fresh --user-data-dir and the log
        self.log = open(os.path.join(self.tmp, "chromium.log"), "w+b")  # chromium's (noisy) stderr

    def launch(self):
        a, profile = self.args, os.path.join(self.tmp, "profile")
        exe = a.chromium or next(filter(None, map(shutil.which, BINARIES)), None)
        if not exe:
            raise Failure("chromium not found: apt-get install chromium-headless-shell")
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
               "--no-default-browser-check", "--hide-scrollbars", "--mute-audio", "--disable-extensions",
               "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-pings",
               f"--window-size={a.width},{a.height}", f"--user-data-dir={profile}",
               "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank"]
        libc, parent = ctypes.CDLL(None, use_errno=True), os.getpid()

        def preexec():  # in the child, after setsid(): undo the mask below, then die with this script
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            if os.getppid() != parent:  # this script died before the prctl
                os._exit(1)

        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)  # no stop signal between fork and self.proc
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                         start_new_session=True, preexec_fn=preexec)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        # Once listening, chromium writes "PORT\n/devtools/browser/UUID" to DevToolsActivePort.
        port_file, deadline = os.path.join(profile, "DevToolsActivePort"), time.monotonic() + a.timeout
        while len(lines := open(port_file).read().split() if os.path.exists(port_file) else []) != 2:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)  # its last lines usually say why
                tail = self.log.read().decode(errors="replace").strip().splitlines()[-3:]
                raise Failure(f"chromium did not start ({exe}, exit status {self.proc.poll()}): " + " | ".join(tail))
            time.sleep(0.05)
        self.cdp = CDP(f"ws://127.0.0.1:{lines[0]}{lines[1]}", a.timeout, self.on_event)
        targets = self.cdp.call("Target.getTargets")["targetInfos"]  # normally the about:blank tab
        page = next((t["targetId"] for t in targets if t["type"] == "page"), None)
        page = page or self.cdp.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.cdp.session = self.cdp.call("Target.attachToTarget", {"targetId": page, "flatten": True})["sessionId"]
        for method in ("Runtime.enable", "Page.enable", "Network.enable", "Log.enable"):
            self.cdp.call(method)
        self.cdp.call("Page.setLifecycleEventsEnabled", {"enabled": True})  # 'load' per loaderId
        self.cdp.call("Emulation.setDeviceMetricsOverride",
                      {"width": a.width, "height": a.height, "deviceScaleFactor": 1, "mobile": False})

    def close(self):
        if self.proc:  # chromium leads its own session and process group: kill all of it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def page_error(self, text):
        self.page_errors += 1
        print("browser: page error: " + " ".join(str(text).split())[:2000], file=sys.stderr, flush=True)

    def on_event(self, method, p):
        if method == "Page.lifecycleEvent" and p["name"] == "load":
            self.loaded.add(p["loaderId"])
        elif method == "Page.javascriptDialogOpening":  # would block every evaluate: accept it
            print(f"browser: accepting {p['type']} dialog: {p['message']}", file=sys.stderr, flush=True)
            self.cdp.send("Page.handleJavaScriptDialog", {"accept": True})
        elif method == "Runtime.exceptionThrown":  # also unhandled promise rejections
            self.page_error(describe_exception(p["exceptionDetails"]))
        elif method == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
            args = [a.get("value", a.get("description", a.get("type"))) for a in p["args"]]
            self.page_error(f"console.{p['type']}: " + " ".join(map(str, args)))
        elif method == "Log.entryAdded" and (e := p["entry"])["level"] == "error" and e["source"] != "network":
            self.page_error(f"{e['source']}: {e['text']} {e.get('url', '')}")  # e.g. CSP; network: below
        elif method == "Network.requestWillBeSent":
            self.request_urls[p["requestId"]] = p["request"]["url"]
        elif method == "Network.responseReceived" and (r := p["response"])["status"] >= 400:
            self.page_error(f"HTTP {r['status']} {r.get('statusText', '')} for {r['url']}")
        elif method == "Network.loadingFailed" and not p.get("canceled"):  # canceled: navigated away
            why = p.get("blockedReason") or p.get("corsErrorStatus", {}).get("corsError") or ""
            self.page_error(f"request failed: {p['errorText']} {why} for {self.request_urls.get(p['requestId'])}")

    def evaluate(self, expr, timeout=None):
        """The result as a CDP RemoteObject; Failure if the expression threw or its promise rejected."""
        r = self.cdp.call("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                               "awaitPromise": True, "userGesture": True}, timeout)
        if "exceptionDetails" in r:
            raise Failure(describe_exception(r["exceptionDetails"]))
        return r["result"]

    def goto(self, url):
        r = self.cdp.call("Page.navigate", {"url": url})
        if r.get("errorText"):
            raise Failure(f"navigation to {url} failed: {r['errorText']}")
        loader = r.get("loaderId")  # absent for same-document (#fragment) navigations
        if loader and not self.cdp.pump(lambda: loader in self.loaded, self.args.timeout):
            raise Failure(f"load of {url} timed out after {self.args.timeout:g} s")

    def poll(self, check, what, detail=lambda: ""):
        """Call check(time left) every 100 ms (handling events meanwhile) until it is true, or fail."""
        deadline = time.monotonic() + self.args.timeout
        while not check(max(0.1, deadline - time.monotonic())):
            if time.monotonic() >= deadline:
                raise Failure(f"{what} timed out after {self.args.timeout:g} s{detail()}")
            self.cdp.pump(lambda: False, 0.1)

    def wait(self, expr):
        last = "none (no evaluation finished)"

        def check(timeout):
            nonlocal last
            try:
                res = self.evaluate(expr, timeout)
                last = json.dumps(value_of(res))
                return truthy(res)
            except Failure as e:  # e.g. the element is not there yet, or the page is navigating
                last = f"error: {e}"
        self.poll(check, f"wait for {expr}", lambda: f"; last value: {last[:500]}")

    def screenshot(self, path):
        size = (m := self.cdp.call("Page.getLayoutMetrics")).get("cssContentSize") or m["contentSize"]
        clip = {"x": 0, "y": 0, "scale": 1, "width": max(self.args.width, math.ceil(size["width"])),
                "height": max(self.args.height, math.ceil(size["height"]))}
        r = self.cdp.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip})
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))

    def run(self, url, steps):
        self.launch()
        self.goto(url)
        actions = {"wait": self.wait, "eval": self.evaluate, "screenshot": self.screenshot,
                   "print": lambda js: print(json.dumps(value_of(self.evaluate(js))), flush=True),
                   "goto": lambda to: self.goto(urljoin(url, to)),  # relative to the first URL
                   "signal": lambda path: open(path, "a").close(),
                   "await": lambda path: self.poll(lambda _: os.path.exists(path), f"await {path}")}
        for kind, arg in steps:
            try:
                actions[kind](arg)
            except Failure as e:
                raise Failure(e if kind in ("wait", "goto", "await") else f"{kind}:{arg}: {e}")
        with contextlib.suppress(Failure):  # a round trip, to handle the events already sent
            self.cdp.call("Page.getFrameTree", timeout=2)


def describe_exception(d):
    """One line: 'Uncaught TypeError: ... at URL:LINE:COL' (the stack trace is dropped)."""
    exc, head = d.get("exception", {}), d.get("text", "Uncaught")
    text = (exc.get("description") or json.dumps(exc.get("value")) or "").splitlines()[:1]
    where = f" at {d['url']}:{d.get('lineNumber', 0) + 1}:{d.get('columnNumber', 0) + 1}" if d.get("url") else ""
    return (head + " " + text[0] if text and text[0] not in head else head) + where


def truthy(res):
    """JavaScript truthiness of a RemoteObject (objects and arrays are truthy, even empty ones)."""
    if "unserializableValue" in res:  # NaN, -0 and 0n are falsy; Infinity and other bigints are not
        return res["unserializableValue"] not in ("NaN", "-0", "0n")
    if res.get("type") == "undefined" or res.get("subtype") == "null":
        return False
    return bool(res.get("value")) if res.get("type") in ("boolean", "number", "string") else True


def value_of(res):
    return res.get("value", res.get("unserializableValue"))  # undefined -> null; NaN -> "NaN"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--timeout", type=float, default=20.0, help="seconds per wait step (default 20)")
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=900)
    p.add_argument("--fail-on-page-error", action="store_true", help="exit 1 if the page had errors")
    p.add_argument("--chromium", help="chromium binary (default: Debian's chromium-headless-shell)")
    p.add_argument("url")
    p.add_argument("steps", nargs="*", metavar="STEP", help="KIND:ARG, KIND one of " + ", ".join(KINDS))
    args = p.parse_args()
    steps = [tuple(s.split(":", 1)) for s in args.steps]
    for step, raw in zip(steps, args.steps):
        if len(step) != 2 or step[0] not in KINDS:
            p.error(f"bad step {raw!r}: expected KIND:ARG, KIND one of {', '.join(KINDS)}")

    def on_signal(signum, _frame):  # SystemExit: neither the retries in wait() nor `except Exception` catch it
        print(f"browser: terminated by {signal.Signals(signum).name}", file=sys.stderr)
        raise SystemExit(1)
    for sig in STOP_SIGNALS:
        signal.signal(sig, on_signal)
    browser, code = Browser(args), 1
    try:
        browser.run(args.url, steps)
        if args.fail_on_page_error and browser.page_errors:
            print(f"browser: {browser.page_errors} page error(s) and --fail-on-page-error", file=sys.stderr)
        else:
            code = 0
    except Failure as e:
        print(f"browser: {e}", file=sys.stderr)
    except Exception as e:  # still one clear line, and chromium still dies
        print(f"browser: internal error: {type(e).__name__}: {e}", file=sys.stderr)
    finally:
        for sig in STOP_SIGNALS:  # a second signal must not interrupt the cleanup
            signal.signal(sig, signal.SIG_IGN)
        browser.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
