"""The leaderboard, the report page (in a real headless chromium) and `model-search report`."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pipeline import report
from pipeline.cli import main
from tests import datagen

pytestmark = pytest.mark.e2e


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is missing; .ci/install_chromium.sh installs it")
    pytest.skip("chromium is not installed (apt-get install chromium, or bash .ci/install_chromium.sh)")


def run_chromium(page: Path, *flags: str) -> subprocess.CompletedProcess:
    args = [chromium(), "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--enable-logging=stderr",
            "--v=0", f"--user-data-dir={page.parent / 'chromium-profile'}", *flags, page.as_uri()]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def console_messages(stderr: str) -> list[str]:
    # Chromium logs every console message (errors, CSP violations, uncaught exceptions) as CONSOLE lines.
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


class _Dom(HTMLParser):
    """Element counts, attributes and text of a dumped DOM."""

    def __init__(self):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def count(self, tag: str, css_class: str | None = None) -> int:
        return sum(1 for t, a in self.elements if t == tag and (css_class is None or css_class in (a.get("class") or "").split()))


def parse(dom: str) -> _Dom:
    parser = _Dom()
    parser.feed(dom)
    return parser


@pytest.fixture(scope="module")
def run_dir(csv_run) -> Path:
    return csv_run


def test_run_writes_leaderboard_and_report(run_dir):
    board = json.loads((run_dir / "leaderboard.json").read_text())
    assert {c["name"] for c in board["candidates"]} == {"best_single", "ensemble", "distilled"}
    page = (run_dir / "report.html").read_text()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert not list(run_dir.glob("*.tmp"))
    # Self-contained: nothing is fetched from anywhere.
    for reference in ("http://", "https://", "src=", "<link"):
        assert reference not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_leaderboard_command(run_dir, capsys):
    assert main(["leaderboard", "--output", str(run_dir), "--json"]) == 0
    board = json.loads(capsys.readouterr().out)
    assert board == json.loads((run_dir / "leaderboard.json").read_text())
    assert main(["leaderboard", "--output", str(run_dir)]) == 0
    table = capsys.readouterr().out
    assert f"{board['chosen']} (chosen)" in table
    assert "chosen on the estimates (test is reported only); how each was made:" in table
    assert board["chosen_on"] == "estimate" and "out-of-fold" in " ".join(table.split())
    for candidate in board["candidates"]:
        assert candidate["name"] in table and str(candidate["num_params"]) in table


def test_leaderboard_of_a_folder_without_a_run(tmp_path, capsys):
    assert main(["leaderboard", "--output", str(tmp_path)]) == 2
    assert "no leaderboard.json" in capsys.readouterr().err


def test_report_command_rebuilds_the_page(run_dir, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    (copy / "report.html").unlink()
    assert main(["report", "--output", str(copy), "--json"]) == 0
    path = Path(json.loads(capsys.readouterr().out)["report"])
    assert path == copy / "report.html"
    rebuilt = path.read_text()
    for trial in json.loads((run_dir / "leaderboard.json").read_text())["candidates"][0]["trial_ids"]:
        assert trial in rebuilt


def test_report_in_headless_chromium(run_dir, tmp_path):
    from PIL import Image

    page = tmp_path / "report.html"
    shutil.copy(run_dir / "report.html", page)
    dumped = run_chromium(page, "--dump-dom")
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert console_messages(dumped.stderr) == []
    dom = parse(dumped.stdout)
    completed = _completed_trials(run_dir)
    # Charts rendered: the best-so-far and Pareto charts each plot every completed trial.
    assert dom.count("svg") >= 4
    assert dom.count("circle", "point") == 2 * completed
    assert dom.count("polyline", "pareto") == 1 and dom.count("polyline", "series") >= 1
    assert dom.count("figure", "diagram") == min(report.TOP_MODELS, completed)
    assert dom.count("rect", "block") >= 3 * min(report.TOP_MODELS, completed)
    assert dom.count("g", "node") == completed
    # The hostile class name is text, not an element: our one script is the only one.
    assert dom.count("script") == 1
    assert datagen.HOSTILE_CLASS in "".join(dom.text)
    assert datagen.HOSTILE_COLUMN in "".join(dom.text)

    screenshot = tmp_path / "report.png"
    shot = run_chromium(page, f"--screenshot={screenshot}", "--window-size=1280,2000", "--hide-scrollbars")
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert console_messages(shot.stderr) == []
    with Image.open(screenshot) as image:
        assert image.size == (1280, 2000)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50, "the screenshot is blank"


def with_script(page: str, script: str, allowed: bool) -> str:
    """The page with `script` added before </body>, its hash added to the
    page's policy when `allowed`, as a page's own script is."""
    page = page.replace("</body>", f"<script>{script}</script></body>")
    if allowed:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        page = page.replace("script-src ", f"script-src 'sha256-{digest}' ", 1)
    return page


def test_trial_table_sorts_in_the_browser(run_dir, tmp_path):
    # The page's own script sorts (the policy allows it by its hash); a probe script clicks a
    # header twice and records the order.
    probe = """
      var header = document.querySelectorAll('#trials th')[4];
      function order() { return Array.prototype.map.call(document.querySelectorAll('#trials tbody tr'),
        function (row) { return row.cells[4].getAttribute('data-sort'); }).join(' '); }
      header.click(); document.body.setAttribute('data-ascending', order());
      header.click(); document.body.setAttribute('data-descending', order());
    """
    page = tmp_path / "report.html"
    page.write_text(with_script((run_dir / "report.html").read_text(), probe, allowed=True))
    dumped = run_chromium(page, "--dump-dom")
    assert console_messages(dumped.stderr) == []
    body = next(a for t, a in parse(dumped.stdout).elements if t == "body")
    ascending = [int(v) for v in body["data-ascending"].split()]
    assert ascending == sorted(ascending) and len(ascending) == _completed_trials(run_dir) >= 2
    assert [int(v) for v in body["data-descending"].split()] == sorted(ascending, reverse=True)


def test_the_browser_runs_no_inline_script_but_the_pages_own(run_dir, tmp_path):
    """Text that got into the page as a script (the policy once allowed any
    inline script) does not run; the page's own sorting script does."""
    injected = "document.body.setAttribute('data-injected', 'ran');"
    probe = "document.querySelectorAll('#trials th')[4].click(); document.body.setAttribute('data-probe', 'ran');"
    page = tmp_path / "report.html"
    page.write_text(with_script(with_script((run_dir / "report.html").read_text(), injected, allowed=False),
                                probe, allowed=True))
    dumped = run_chromium(page, "--dump-dom")
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    body = next(a for t, a in parse(dumped.stdout).elements if t == "body")
    assert body.get("data-probe") == "ran" and "data-injected" not in body
    sorted_header = [a for t, a in parse(dumped.stdout).elements if t == "th" and "aria-sort" in a]
    assert len(sorted_header) == 1 and sorted_header[0]["aria-sort"] == "ascending"
    messages = console_messages(dumped.stderr)
    assert len(messages) == 1 and "Content Security Policy" in messages[0]


def _completed_trials(run_dir: Path) -> int:
    from pipeline.study_access import open_store

    class Args:
        output, metadata, study = str(run_dir), None, None

    return sum(t.completed for t in open_store(Args()).trials())
