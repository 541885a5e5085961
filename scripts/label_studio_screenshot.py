"""Screenshot Label Studio's data manager of a project, sorted by ``uncertainty`` (most uncertain first).

    .label-studio/venv/bin/python scripts/label_studio_screenshot.py --project "autolabel demo"

Needs a Python with ``playwright`` (the LS venv: ``scripts/label_studio_screenshot.sh`` installs it) and
Debian's chromium at /usr/bin/chromium (no browser download). Logs in through the UI's login form, saves
a data manager tab ("By uncertainty": ordering ``-tasks:data.uncertainty``, the columns uncertainty,
band, p_needs_correction and failed shown, numeric) through LS's own ``/api/dm/views`` with the browser's
session, opens it, waits for the rows and their thumbnails, and writes a PNG (default
docs/images/label_studio_uncertainty.png).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import NoReturn

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TAB = "By uncertainty"
SHOWN = ["uncertainty", "band", "p_needs_correction", "failed"]  # must be visible
# Hidden to fit the width: the long image path, sizes, and LS's bookkeeping columns.
HIDDEN = ["data.autolabel_image", "data.width", "data.height", "data.reason", "inner_id", "completed_at"]
HIDDEN += ["cancelled_annotations", "annotators", "annotations_results", "annotations_ids"]
HIDDEN += ["predictions_score", "predictions_model_versions", "predictions_results", "file_upload"]
HIDDEN += ["storage_filename", "created_at", "updated_at", "updated_by", "avg_lead_time", "draft_exists"]

# Column widths (px) so that every shown column fits a 1400 px wide window.
WIDTHS = {"id": 80, "total_annotations": 70, "total_predictions": 70, "data.image": 150}
WIDTHS |= {"data.uncertainty": 140, "data.band": 120, "data.failed": 110, "data.p_needs_correction": 200}
WIDTHS |= {"data.n_boxes": 120, "data.rank": 100}


def fail(msg: str) -> NoReturn:
    sys.exit(f"label_studio_screenshot: {msg}")


def check_server(url: str) -> None:
    """Exit with a clear message when nothing answers at ``url``."""
    try:
        urllib.request.urlopen(f"{url}/health", timeout=10).read()
    except (urllib.error.URLError, OSError) as exc:
        fail(f"no Label Studio at {url} ({exc}); start it with scripts/label_studio.sh start")


def view_data(hidden: list[str]) -> dict:
    """A data manager tab's ``data``: sorted by uncertainty, descending, with our columns numeric."""
    numeric = {f"tasks:data.{c}": "Number" for c in ("uncertainty", "p_needs_correction")}
    return {
        "title": TAB,
        "type": "list",
        "target": "tasks",
        # "-": descending; numeric per columnsDisplayType (else LS may compare text, e.g. on PostgreSQL)
        "ordering": ["-tasks:data.uncertainty"],
        "filters": {"conjunction": "and", "items": []},
        "hiddenColumns": {"explore": hidden, "labeling": hidden},
        "columnsDisplayType": numeric,
        "columnsWidth": {f"tasks:{c}": w for c, w in WIDTHS.items()},
    }


def main() -> None:
    token = os.environ.get("LABEL_STUDIO_API_KEY", "")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=os.environ.get("LABEL_STUDIO_URL", "http://127.0.0.1:8089"))
    ap.add_argument("--project", default="autolabel demo", help="the project's title")
    ap.add_argument("--username", default=os.environ.get("LS_USERNAME", "ci@example.com"))
    ap.add_argument("--password", default=os.environ.get("LS_PASSWORD", token))
    ap.add_argument("--out", type=Path, default=Path("docs/images/label_studio_uncertainty.png"))
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=800)
    args = ap.parse_args()
    url = args.url.rstrip("/")
    if not args.password:
        fail("no password: pass --password or set LS_PASSWORD (or LABEL_STUDIO_API_KEY)")
    check_server(url)
    if not Path(CHROMIUM).exists():
        fail(f"{CHROMIUM} is missing: apt-get install -y chromium")

    with sync_playwright() as pw, tempfile.TemporaryDirectory(prefix="ls-chromium-") as profile:
        # A fresh profile each run: no cookies or cached views from an earlier one.
        ctx = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=FLAGS,
            headless=True,
            viewport={"width": args.width, "height": args.height},
        )
        page = ctx.new_page()
        page.set_default_timeout(60_000)

        # 1. Log in through the form, as a person would.
        page.goto(f"{url}/user/login/")
        page.fill("input#email", args.username)
        page.fill("input#password", args.password)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        if "/user/login" in page.url:
            err = page.locator("p.error").all_inner_texts()
            fail(f"login as {args.username} failed: {' '.join(err).strip() or 'still on the login page'}")

        # 2. Find the project; save the tab through the API with the session (and Django's CSRF token).
        csrf = next((c["value"] for c in ctx.cookies() if c["name"] == "csrftoken"), "")
        api = ctx.request
        headers = {"X-CSRFToken": csrf, "Referer": url}
        projects = api.get(f"{url}/api/projects", params={"page_size": 1000, "title": args.project}).json()[
            "results"
        ]
        match = [p for p in projects if p["title"] == args.project]
        if not match:
            fail(
                f"no project {args.project!r} at {url} (scripts/label_studio_screenshot.sh --demo makes one)"
            )
        pid = match[0]["id"]
        columns = api.get(f"{url}/api/dm/columns?project={pid}").json()["columns"]
        ids = {c["id"] for c in columns if c.get("parent") == "data"}
        missing = [c for c in SHOWN if c not in ids]
        if missing:
            fail(f"project {args.project!r} lacks the task data {missing}: push a batch with autolabel.sync")
        hidden = [f"tasks:{c}" for c in HIDDEN]
        body = {"project": pid, "data": view_data(hidden)}
        views = api.get(f"{url}/api/dm/views?project={pid}").json()
        old = [v for v in views if v["data"].get("title") == TAB]
        if old:
            resp = api.put(f"{url}/api/dm/views/{old[0]['id']}", data=body, headers=headers)
        else:
            resp = api.post(f"{url}/api/dm/views", data=body, headers=headers)
        if not resp.ok:
            fail(f"saving the data manager tab: HTTP {resp.status} {resp.text()[:300]}")
        tab = resp.json()["id"]
        # The server orders the tab's tasks as the table will show them: most uncertain first, None last.
        tasks = api.get(f"{url}/api/tasks?view={tab}&page_size=100").json()["tasks"]
        scores = [t["data"].get("uncertainty") for t in tasks]
        known = [s for s in scores if s is not None]
        if known != sorted(known, reverse=True) or scores[: len(known)] != known:
            fail(f"tab {tab} is not sorted by uncertainty, descending: {scores}")

        # 3. Open the tab; wait for the rows and the image thumbnails.
        page.goto(f"{url}/projects/{pid}/data?tab={tab}")
        page.wait_for_selector("[data-testid=table-row]")
        page.wait_for_load_state("networkidle")
        page.wait_for_function(
            "() => [...document.images].filter(i => i.src.includes('local-files')).every(i => i.complete)"
        )
        page.wait_for_timeout(1000)  # let the table settle (column widths, fonts)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out))
        ctx.close()
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB): project {args.project!r}, tab {tab}")


if __name__ == "__main__":
    try:
        main()
    except PlaywrightError as exc:  # a timeout or a browser that would not start: say so in one line
        fail(f"browser: {str(exc).splitlines()[0]}")
