"""A loopback stand-in for the few Hub API endpoints that ``huggingface_hub`` 's ``create_repo`` and
``create_commit``/``upload_folder`` call (read from huggingface_hub 2.4's ``hf_api.py`` and ``_commit_api.py``):

* ``POST /api/repos/create`` -> ``{"url": ...}``
* ``POST /api/validate-yaml`` (README.md metadata check) -> ``{"errors": [], "warnings": []}``
* ``POST /api/models/<repo>/preupload/<revision>`` -> every file ``uploadMode: regular`` (so no LFS/Xet transfer:
  contents arrive base64-encoded in the commit)
* ``POST /api/models/<repo>/commit/<revision>`` (NDJSON: a header, then ``file`` lines)
  -> ``{"commitUrl", "commitOid"}``

Uploaded files are written under ``root/<namespace>/<name>/``; every request (method, path, headers with
lowercase names) is recorded.
Any other request gets a 404 and is recorded too, so a test sees an endpoint it does not serve.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class FakeHub:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.requests: list[dict] = []
        self.repos: dict[str, dict] = {}
        self.commits: list[dict] = []
        self.unserved: list[str] = []  # requests for endpoints this fake does not implement
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _record(self, method: str) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                hub.requests.append({"method": method, "path": self.path, "headers": headers})

            def _reply(self, status: int, payload: dict) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self._record("GET")
                hub.unserved.append(f"GET {self.path}")
                self._reply(404, {"error": f"not served: GET {self.path}"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                self._record("POST")
                path = self.path.split("?")[0]
                base = f"http://{self.headers['Host']}"
                if path == "/api/repos/create":
                    data = json.loads(body)
                    repo_id = f"{data['organization']}/{data['name']}" if data.get("organization") else data["name"]
                    hub.repos[repo_id] = data
                    return self._reply(200, {"url": f"{base}/{repo_id}"})
                if path == "/api/validate-yaml":
                    return self._reply(200, {"errors": [], "warnings": []})
                parts = path.split("/")  # ['', 'api', 'models', ns, name, action, revision]
                if len(parts) == 7 and parts[:3] == ["", "api", "models"] and parts[5] == "preupload":
                    files = json.loads(body)["files"]
                    return self._reply(200, {"files": [{"path": f["path"], "uploadMode": "regular",
                                                        "shouldIgnore": False} for f in files]})
                if len(parts) == 7 and parts[:3] == ["", "api", "models"] and parts[5] == "commit":
                    repo_id = f"{parts[3]}/{parts[4]}"
                    written, header = [], None
                    for line in body.decode().splitlines():
                        item = json.loads(line)
                        if item["key"] == "header":
                            header = item["value"]
                        elif item["key"] == "file":
                            value = item["value"]
                            target = hub.root / repo_id / value["path"]
                            target.parent.mkdir(parents=True, exist_ok=True)
                            target.write_bytes(base64.b64decode(value["content"]))
                            written.append(value["path"])
                        else:
                            return self._reply(400, {"error": f"fake hub serves regular files only: {item['key']}"})
                    oid = hashlib.sha1(body).hexdigest()
                    hub.commits.append({"repo_id": repo_id, "header": header, "files": written})
                    return self._reply(200, {"commitUrl": f"{base}/{repo_id}/commit/{oid}", "commitOid": oid})
                hub.unserved.append(f"POST {path}")
                return self._reply(404, {"error": f"not served: POST {path}"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "FakeHub":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
