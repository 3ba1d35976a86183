#!/usr/bin/env python3
"""A distribution-API stub serving one OCI layout (tag "test"), for the cases a real registry will not produce.

    stub_registry.py LAYOUT PORT_FILE MODE [LOG]

MODE: ok | wrong-digest (the first layer blob with one byte changed) | truncated (the first layer short, with an
honest Content-Length) | drop (full Content-Length, half the bytes, then the connection closes) | basic (401 with
a Basic challenge: no token endpoint) | bearer (401 with a Bearer challenge; /token hands out a token the blob and
manifest routes then require) | slow (ok, but blobs trickle, so concurrent pulls overlap) | stall (half the first
layer, then nothing: the client hangs mid-blob until it is killed).
The port it bound goes to PORT_FILE; each GET is appended to LOG as "METHOD PATH"."""
import http.server, json, os, re, sys, time

LAYOUT, PORT_FILE, MODE = sys.argv[1:4]
LOG = sys.argv[4] if len(sys.argv) > 4 else None
TOKEN = "stub-token-42"

with open(f"{LAYOUT}/index.json") as f:
    top = json.load(f)["manifests"][0]


def layer_digests():
    digests = []
    def walk(d):
        with open(f"{LAYOUT}/blobs/sha256/{d['digest'][7:]}") as f:
            doc = json.load(f)
        for m in doc.get("manifests", []):
            walk(m)
        digests.extend(l["digest"] for l in doc.get("layers", []))
    walk(top)
    return digests


FIRST_LAYER = layer_digests()[0]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if LOG:
            with open(LOG, "a") as f:
                f.write(f"GET {self.path}\n")
        if self.path.startswith("/token"):
            return self.send(200, json.dumps({"token": TOKEN}).encode(), [("Content-Type", "application/json")])
        if MODE == "basic":
            return self.send(401, b"{}", [("WWW-Authenticate", 'Basic realm="stub"')])
        if MODE == "bearer" and self.headers.get("Authorization") != f"Bearer {TOKEN}":
            port = self.server.server_address[1]
            return self.send(401, b"{}", [("WWW-Authenticate",
                                           f'Bearer realm="http://127.0.0.1:{port}/token",service="stub",scope="repository:x:pull"')])
        if self.path == "/v2/":
            return self.send(200, b"{}")
        m = re.fullmatch(r"/v2/(.+)/(manifests|blobs)/([^/]+)", self.path)
        if not m:
            return self.send(404)
        kind, ref = m.group(2), m.group(3)
        digest = top["digest"] if ref == "test" else ref
        path = f"{LAYOUT}/blobs/sha256/{digest[7:]}"
        if not os.path.exists(path):
            return self.send(404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}')
        with open(path, "rb") as f:
            data = f.read()
        if kind == "manifests":
            media = json.loads(data).get("mediaType", "application/vnd.oci.image.manifest.v1+json")
            return self.send(200, data, [("Content-Type", media), ("Docker-Content-Digest", digest)])
        if digest == FIRST_LAYER and MODE == "wrong-digest":
            data = bytes([data[0] ^ 1]) + data[1:]
        if digest == FIRST_LAYER and MODE == "truncated":
            data = data[: len(data) // 2]
        if digest == FIRST_LAYER and MODE == "stall":
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            time.sleep(600)
            return
        if digest == FIRST_LAYER and MODE == "drop":
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if MODE == "slow":
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            step = max(1, len(data) // 10)
            for i in range(0, len(data), step):
                self.wfile.write(data[i:i + step])
                self.wfile.flush()
                time.sleep(0.05)
            return
        self.send(200, data, [("Content-Type", "application/octet-stream")])


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that gives up on a faulty blob resets its connection: expected here, not worth a traceback


server = Server(("127.0.0.1", 0), Handler)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
