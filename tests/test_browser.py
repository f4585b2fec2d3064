"""The report and compare pages in headless Chromium: no console errors, every image
loaded; full-page screenshots are kept in the run folder (CI artefacts).

Chromium is driven over the DevTools protocol through a pipe (--remote-debugging-pipe:
JSON messages on file descriptors 3 and 4), so no Python package is needed.  The test
skips only where Chromium is absent and CI is not set; in CI (CI=true) a missing browser
fails (.ci/run installs the Debian packages chromium and chromium-driver).
"""
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from gankit import config as C
from gankit.cli import main

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium() -> str:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("CI: chromium is not installed; .ci/run installs it (apt-get install chromium chromium-driver)")
    pytest.skip("chromium is not installed (apt-get install chromium); CI runs this test")


class Browser:
    """A minimal DevTools-protocol client over --remote-debugging-pipe."""

    def __init__(self, exe: str):
        self.profile = tempfile.mkdtemp(prefix="gankit-chromium-")
        to_r, to_w = os.pipe()        # we write commands to to_w; chromium reads fd 3
        from_r, from_w = os.pipe()    # chromium writes fd 4; we read from_r
        self.proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-pipe", "about:blank"],
            pass_fds=(3, 4), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=lambda: (os.dup2(to_r, 3), os.dup2(from_w, 4)))
        os.close(to_r)
        os.close(from_w)
        self.w, self.r = os.fdopen(to_w, "wb", buffering=0), os.fdopen(from_r, "rb", buffering=0)
        self.buf, self.next_id, self.events = b"", 0, []

    def _read(self, timeout: float) -> dict:
        import select
        end = time.time() + timeout
        while b"\0" not in self.buf:
            left = end - time.time()
            if left <= 0 or not select.select([self.r], [], [], left)[0]:
                raise TimeoutError("chromium did not answer")
            chunk = self.r.read(1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout=60.0) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.w.write(json.dumps(msg).encode() + b"\0")
        while True:
            m = self._read(timeout)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method: str, timeout: float = 60.0) -> dict:
        for i, e in enumerate(self.events):
            if e.get("method") == method:
                return self.events.pop(i)
        end = time.time() + timeout
        while time.time() < end:
            m = self._read(end - time.time())
            if m.get("method") == method:
                return m
            self.events.append(m)
        raise TimeoutError(method)

    def check_page(self, path: Path, screenshot: Path) -> dict:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        s = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=s)
        self.send("Emulation.setDeviceMetricsOverride", {"width": 1400, "height": 900, "deviceScaleFactor": 1,
                                                         "mobile": False}, session=s)
        self.send("Page.navigate", {"url": path.resolve().as_uri()}, session=s)
        self.wait_event("Page.loadEventFired")
        images = self.send("Runtime.evaluate", {"expression": "JSON.stringify([...document.images].map("
                                                "i => [i.complete, i.naturalWidth, i.alt]))",
                                                "returnByValue": True}, session=s)["result"]["value"]
        height = self.send("Page.getLayoutMetrics", session=s)["cssContentSize"]["height"]
        self.send("Emulation.setDeviceMetricsOverride", {"width": 1400, "height": int(min(height, 16000)),
                                                         "deviceScaleFactor": 1, "mobile": False}, session=s)
        shot = self.send("Page.captureScreenshot", {"format": "png"}, session=s)["data"]
        import base64
        screenshot.write_bytes(base64.b64decode(shot))
        errors = [e for e in self.events if (e.get("method") == "Runtime.exceptionThrown") or
                  (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert")) or
                  (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]
        self.events.clear()
        return {"images": json.loads(images), "errors": errors, "height": height}

    def close(self):
        try:
            self.send("Browser.close", timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture
def browser():
    b = Browser(chromium())
    yield b
    b.close()


def _assert_renders(result: dict, min_images: int):
    assert not result["errors"], result["errors"]
    imgs = result["images"]
    assert len(imgs) >= min_images, imgs
    broken = [alt for complete, width, alt in imgs if not (complete and width > 0)]
    assert not broken, f"images that did not load: {broken}"


def test_report_and_compare_render_in_chromium(tmp_path, tiny_cli, browser):
    runs = []
    for name, extra in (("ns", []), ("hinge", ["--set", 'loss.name="hinge"'])):
        out = tmp_path / name
        assert main(["train", "ring", "--out", str(out), *tiny_cli, "--set", "train.eval_every=6", *extra]) == 0
        runs.append(out)
    result = browser.check_page(runs[0] / "report.html", runs[0] / "report.png")
    _assert_renders(result, min_images=4)     # samples, training curves, metrics over steps, lr
    assert (runs[0] / "report.png").stat().st_size > 10_000
    page = tmp_path / "compare.html"     # not inside a run folder: compare refuses that
    assert main(["compare", *map(str, runs), "--out", str(page)]) == 0
    result = browser.check_page(page, tmp_path / "compare.png")
    _assert_renders(result, min_images=1)


def test_image_report_renders_in_chromium(tmp_path, digits, browser):
    from gankit.api import train
    run = train("mnist-dcgan", tmp_path / "img", digits + ["train.eval_every=2"],
                log=None)
    result = browser.check_page(run.folder.report_path, run.dir / "report.png")
    _assert_renders(result, min_images=5)
    assert C.load(run.folder.read_config()).data.name == "digits8x8"
