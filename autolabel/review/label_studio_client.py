"""A small REST client for Label Studio (checked against LS 1.23.2), for scripted labeling rounds.

Authentication uses a legacy API token (``Authorization: Token ...``); LS accepts those only when started
with ``LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true`` (``scripts/label_studio.sh start`` does). Every failure
is raised as ``LabelStudioError`` with a message that says what to do.

Local images: a task refers to ``/data/local-files/?d=<path relative to LOCAL_FILES_DOCUMENT_ROOT>``
(``autolabel.formats.label_studio.local_files_url``); LS serves it (and answers 404 before) only once a
local-files storage covers its folder (``add_local_storage``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any
from urllib.parse import urlsplit

import requests

URL_ENV = "LABEL_STUDIO_URL"
KEY_ENV = "LABEL_STUDIO_API_KEY"
ROOT_ENV = "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT"
UNCERTAINTY_SAMPLING = "Uncertainty sampling"  # LS's Project.UNCERTAINTY; also "Sequential sampling", ...
_PAGE = 100


class LabelStudioError(RuntimeError):
    """Label Studio is unreachable, refused the token, or answered a request with an error."""


def check_server_url(url: str, *, name: str = URL_ENV) -> str:
    """``url`` without a trailing slash, if it is ``http(s)://host[:port][/path]``; else a LabelStudioError
    naming the variable ``name`` and the expected form (one line)."""
    expected = f"set {name} to http://host:port, e.g. http://127.0.0.1:8089 (scripts/label_studio.sh env)"
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port  # ValueError for a port that is not a number in 0..65535
    except ValueError as exc:
        raise LabelStudioError(f"{name}={url!r} is not a URL ({exc}); {expected}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LabelStudioError(f"{name}={url!r} is not an http(s) URL with a host; {expected}")
    if parts.query or parts.fragment or port == 0:
        raise LabelStudioError(f"{name}={url!r}: only scheme, host, port and path belong there; {expected}")
    return text.rstrip("/")


def check_token(token: str, *, name: str = KEY_ENV) -> str:
    """``token`` if it can travel in an HTTP header (printable, no spaces); else a LabelStudioError."""
    if not token.isprintable() or any(c.isspace() for c in token) or not token.isascii():
        raise LabelStudioError(
            f"{name} holds spaces, a line break or other characters no token has ({len(token)} characters); "
            "set it to the token alone (Account & Settings > Access Token, or scripts/label_studio.sh env)"
        )
    return token


class LabelStudio:
    """One Label Studio server and API token."""

    def __init__(self, url: str, token: str, *, timeout: float = 30) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Token {token}"

    @classmethod
    def from_env(cls, *, timeout: float = 30) -> LabelStudio:
        """A client for $LABEL_STUDIO_URL with the token $LABEL_STUDIO_API_KEY."""
        url, token = os.environ.get(URL_ENV, ""), os.environ.get(KEY_ENV, "")
        if not url or not token:
            missing = " and ".join(n for n, v in ((URL_ENV, url), (KEY_ENV, token)) if not v)
            raise LabelStudioError(
                f"{missing} not set: start Label Studio (scripts/label_studio.sh start) and "
                f"set {URL_ENV} and {KEY_ENV} (e.g. `set -a; . .label-studio/env; set +a`)"
            )
        return cls(check_server_url(url), check_token(token), timeout=timeout)

    # -- transport -----------------------------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send one request; unreachable server and refused token become LabelStudioError."""
        url = self.url + path
        try:
            r = self._session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.ConnectionError as e:
            raise LabelStudioError(
                f"cannot reach Label Studio at {self.url}: is it running? Start it (scripts/label_studio.sh "
                f"start) or set {URL_ENV} to the right address ({e.__class__.__name__})"
            ) from e
        except requests.Timeout as e:
            raise LabelStudioError(
                f"Label Studio at {self.url} did not answer {method} {path} within {self.timeout:g} s"
            ) from e
        except requests.RequestException as e:  # a URL or header requests cannot send
            raise LabelStudioError(
                f"cannot send {method} {path} to Label Studio at {self.url} ({e.__class__.__name__}: {e}); "
                f"check {URL_ENV} (http://host:port) and {KEY_ENV}"
            ) from e
        if r.status_code in (401, 403):
            raise LabelStudioError(
                f"Label Studio at {self.url} refused the API token (HTTP {r.status_code} on {method} "
                f"{path}): set {KEY_ENV} to a valid token (Account & Settings > Access Token); legacy "
                "tokens also need LS started with LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true"
            )
        return r

    def _request(self, method: str, path: str, *, raw: bool = False, **kwargs: Any) -> Any:
        """The decoded JSON answer (or bytes if ``raw``); HTTP errors become LabelStudioError."""
        r = self._send(method, path, **kwargs)
        if r.status_code >= 400:
            raise LabelStudioError(f"{method} {path} failed with HTTP {r.status_code}: {_server_message(r)}")
        if raw:
            return r.content
        return r.json() if r.content else None

    # -- server and projects -------------------------------------------------------------------------------

    def check(self) -> dict:
        """Who the token belongs to and the LS version: ``{"user": {...}, "version": "1.23.2"}``."""
        user = self._request("GET", "/api/current-user/whoami")
        version = self._request("GET", "/api/version")
        return {"user": user, "version": version.get("release")}

    def find_project(self, title: str) -> int | None:
        """The id of the project titled exactly ``title`` (LS filters by substring), or None."""
        ids: list[int] = []
        for number in range(1, 1_000_000):
            params = {"title": title, "page": number, "page_size": _PAGE}
            page = self._request("GET", "/api/projects", params=params)
            ids += [p["id"] for p in page["results"] if p["title"] == title]
            if not page.get("next"):
                break
        return min(ids) if ids else None

    def create_project(self, title: str, label_config: str, *, description: str = "") -> int:
        """Create a project; its id."""
        body = {"title": title, "label_config": label_config, "description": description}
        return self._request("POST", "/api/projects", json=body)["id"]

    def update_project(self, pid: int, **fields: Any) -> dict:
        """PATCH project fields (e.g. ``sampling``, ``model_version``, ``show_collab_predictions``)."""
        return self._request("PATCH", f"/api/projects/{pid}", json=fields)

    def project(self, pid: int) -> dict:
        """The project's settings and counters."""
        return self._request("GET", f"/api/projects/{pid}")

    def delete_project(self, pid: int) -> None:
        """Delete the project with its tasks, annotations, predictions and storages."""
        self._request("DELETE", f"/api/projects/{pid}")

    def add_local_storage(self, pid: int, path: str, *, title: str) -> int:
        """A local-files import storage over folder ``path`` (reused if one has that path); its id.

        Only makes LS serve the folder's files to tasks that name them; it does not sync (create tasks).
        """
        path = str(path).rstrip("/") or "/"
        for storage in self._request("GET", "/api/storages/localfiles", params={"project": pid}):
            if storage["path"].rstrip("/") == path:
                return storage["id"]
        body = {"project": pid, "path": path, "title": title, "use_blob_urls": True}
        return self._request("POST", "/api/storages/localfiles", json=body)["id"]

    # -- tasks and predictions -----------------------------------------------------------------------------

    def import_tasks(self, pid: int, tasks: list[dict]) -> list[int]:
        """Import tasks (``{"data": ..., "predictions": [...]}``); their ids, in order.

        LS sets the project's model_version to the last imported prediction's if the project had none.
        """
        if not tasks:
            return []
        r = self._request(
            "POST", f"/api/projects/{pid}/import", params={"return_task_ids": "true"}, json=tasks
        )
        return list(r["task_ids"])

    def tasks(self, pid: int) -> list[dict]:
        """All the project's tasks with their annotations and predictions (every model version)."""
        out: list[dict] = []
        for number in range(1, 1_000_000):
            params = {"project": pid, "page": number, "page_size": _PAGE, "fields": "all"}
            page = self._request("GET", "/api/tasks", params=params)
            out += page["tasks"]
            if not page["tasks"] or len(out) >= page["total"]:
                break
        return out

    def add_predictions(self, pid: int, predictions: list[dict]) -> int:
        """Add predictions ``{"task", "model_version", "score", "result"}`` to existing tasks; how many."""
        if not predictions:
            return 0
        return self._request("POST", f"/api/projects/{pid}/import/predictions", json=predictions)["created"]

    def set_model_version(self, pid: int, model_version: str) -> None:
        """Serve annotators (and uncertainty sampling) this version's predictions.

        LS rejects a version that no prediction (nor ML backend title) of the project has.
        """
        self.update_project(pid, model_version=model_version, show_collab_predictions=True)

    def set_sampling(self, pid: int, sampling: str = UNCERTAINTY_SAMPLING) -> None:
        """Set the label stream's order; "Uncertainty sampling" serves the lowest-scored prediction first."""
        self.update_project(pid, sampling=sampling)

    def next_task(self, pid: int) -> dict | None:
        """The task LS would serve the token's user next, or None when none is left.

        LS locks the task for the user (24 h): until it gets an annotation, /next serves it again first
        (``queue: "Task lock"``), whatever the sampling or model_version. ``queue`` names the rule used.
        """
        path = f"/api/projects/{pid}/next"
        r = self._send("GET", path)
        if r.status_code == 404 and "There are no tasks" in _server_message(r):
            return None
        if r.status_code >= 400:
            raise LabelStudioError(f"GET {path} failed with HTTP {r.status_code}: {_server_message(r)}")
        return r.json()

    # -- annotations and export ----------------------------------------------------------------------------

    def submit_annotation(
        self,
        task_id: int,
        result: list[dict],
        *,
        lead_time: float,
        prediction: dict | None = None,
        draft_id: int | None = None,
    ) -> int:
        """Submit an annotation as the LS frontend does after the reviewer saw ``prediction``; its id.

        The frontend posts ``lead_time`` (s), ``result``, ``draft_id``, ``parent_prediction`` (id of the
        prediction it started from), ``parent_annotation`` and ``started_at``. The server itself stores
        the snapshot ``annotation["prediction"]``: the task's prediction of the project's current
        model_version (so set_model_version before the reviewer is served).
        """
        started = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=lead_time)
        body: dict[str, Any] = {
            "result": result,
            "lead_time": lead_time,
            "draft_id": draft_id,
            "parent_prediction": prediction["id"] if prediction else None,
            "parent_annotation": None,
            "started_at": started.isoformat().replace("+00:00", "Z"),
        }
        return self._request("POST", f"/api/tasks/{task_id}/annotations/", json=body)["id"]

    def export(
        self, pid: int, *, export_type: str = "JSON", download_all_tasks: bool = False
    ) -> bytes | list:
        """Export the project: a list of tasks for JSON, else the file's bytes (YOLO: a zip).

        Without ``download_all_tasks`` only tasks with an annotation are exported. Images are not put in
        the zip (download_resources=false).
        """
        params = {
            "exportType": export_type,
            "download_all_tasks": str(download_all_tasks).lower(),
            "download_resources": "false",
        }
        content = self._request("GET", f"/api/projects/{pid}/export", params=params, raw=True)
        return json.loads(content) if export_type == "JSON" else content


def _server_message(r: requests.Response) -> str:
    """LS's error text: ``detail`` plus ``validation_errors`` when present, else the body's start."""
    try:
        body = r.json()
    except ValueError:
        return r.text[:500].strip() or r.reason
    if not isinstance(body, dict):
        return str(body)[:500]
    parts = [str(body[k]) for k in ("detail", "validation_errors") if body.get(k)]
    return "; ".join(parts) or json.dumps(body)[:500]
