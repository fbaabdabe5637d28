"""Cloud Storage on this machine, for the code paths that run against `gs://`.

TensorFlow 2.16's built-in GCS file system (behind `tf.io.gfile` and TFX's
`fileio`) has no endpoint setting: it speaks HTTPS to `www.googleapis.com`
and `storage.googleapis.com`. So the emulator serves the JSON API on port 443
of a random loopback address (127.x.y.z) with a throwaway certificate for
both names, and every process that should see it runs in a private mount
namespace whose `/etc/hosts` maps both names there (`unshare --mount`, then
`mount --bind` over `/etc/hosts`: the machine's own file stays untouched).
Such a process trusts the certificate through `CURL_CA_BUNDLE` (TensorFlow)
and `REQUESTS_CA_BUNDLE` (Python clients). Beam's `gcsio` uses the
google-cloud-storage client, which takes the same server from
`STORAGE_EMULATOR_HOST`. Credentials come as on a cluster, from a metadata
server (`GCE_METADATA_HOST`), which the emulator also plays: Beam then finds
them at once instead of retrying for half a minute.

The storage server is `gcp-storage-emulator` (in memory), with four
adaptations TensorFlow's client needs: HTTP/1.1 (TF sends `Expect:
100-continue`), a chunked body read as chunked although TF also sends
`Content-Length`, empty uploads (directory markers) and `https` in the
resumable-upload URLs it hands out; and a fifth the study record needs: the
emulator ignores upload preconditions, so an upload with `ifGenerationMatch=0`
(create only if absent, components/write_once.py) is refused with 412 when the
object exists, as Cloud Storage does.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import logging
import os
import random
import shutil
import ssl
import subprocess
import tempfile
import threading
from functools import partial
from http import server
from typing import Optional, Sequence

STORAGE_HOSTS = ("www.googleapis.com", "storage.googleapis.com")
METADATA_PORT = 8089
ACCOUNT = "pipeline@emulated-project.iam.gserviceaccount.com"


def sandbox_problem() -> Optional[str]:
    """Why processes cannot get a private /etc/hosts here, or None."""
    if os.geteuid() != 0:
        return "needs root (unshare --mount, mount --bind, port 443)"
    for tool in ("unshare", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (util-linux)"
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"unshare --mount failed: {probe.stderr.strip()}"
    return None


def _patch_emulator() -> None:
    """The adaptations TensorFlow's GCS client needs (see the module docstring)."""
    from gcp_storage_emulator import server as emulator_server
    from gcp_storage_emulator.handlers import objects as emulator_objects

    if getattr(emulator_server, "_patched_for_tensorflow", False):
        return

    def read_raw_data(handler):
        # RFC 9112: Transfer-Encoding wins over Content-Length, and TF sends both.
        if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(handler.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    handler.rfile.readline()
                    return data
                data += handler.rfile.read(size)
                handler.rfile.readline()
        length = handler.headers.get("Content-Length")
        return handler.rfile.read(int(length)) if length else None

    original_read_data = emulator_server._read_data

    def read_data(handler, query):
        data = original_read_data(handler, query)
        return b"" if data is None and "uploadType" in query else data

    class HttpsRequest(emulator_server.Request):
        def __init__(self, handler, method):
            super().__init__(handler, method)
            self._base_url = self._base_url.replace("http://", "https://", 1)
            self._full_url = self._full_url.replace("http://", "https://", 1)

    emulator_server._read_raw_data = read_raw_data
    emulator_server._read_data = read_data
    emulator_server.Request = HttpsRequest
    for name in ("_media_upload", "_multipart_upload"):
        setattr(emulator_objects, name, _if_generation_match_zero(getattr(emulator_objects, name)))
    emulator_server._patched_for_tensorflow = True


_create_lock = threading.Lock()


def _if_generation_match_zero(upload):
    """`upload` (a one-request upload handler) that honours `ifGenerationMatch=0`:
    412 if the object exists. Other generations are not emulated (nothing sends them)."""
    from http import HTTPStatus

    from gcp_storage_emulator.exceptions import NotFound

    def guarded(request, response, storage):
        if request.query.get("ifGenerationMatch", [None])[0] != "0":
            return upload(request, response, storage)
        name = request.query["name"][0] if "name" in request.query else request.data["meta"].get("name")
        with _create_lock:  # the check and the create as one step, as on Cloud Storage
            try:
                storage.get_file_obj(request.params["bucket_name"], name)
            except NotFound:
                return upload(request, response, storage)
            message = "At least one of the pre-conditions you specified did not hold."
            response.status = HTTPStatus.PRECONDITION_FAILED
            response.json({"error": {"code": 412, "message": message,
                                     "errors": [{"reason": "conditionNotMet", "message": message}]}})

    return guarded


class _Metadata(server.BaseHTTPRequestHandler):
    """The GCE metadata server's answers that google-auth and TF ask for."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self):  # noqa: N802 - http.server's naming
        path = self.path.split("?")[0]
        if path.endswith("/token"):
            body, kind = json.dumps({"access_token": "emulated", "expires_in": 3600, "token_type": "Bearer"}), "json"
        elif path.endswith("/project-id"):
            body, kind = "emulated-project", "text"
        elif path.endswith("/email"):
            body, kind = ACCOUNT, "text"
        elif "/service-accounts/default" in path:
            body, kind = json.dumps({"email": ACCOUNT, "aliases": ["default"],
                                     "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}), "json"
        else:
            body, kind = "", "text"
        payload = body.encode()
        self.send_response(200)
        self.send_header("Metadata-Flavor", "Google")
        self.send_header("Content-Type", "application/json" if kind == "json" else "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


class _Server(server.ThreadingHTTPServer):
    daemon_threads = True


class GcsEmulator:
    """Start with `start()`, stop with `stop()`; `command(argv)` runs a program
    that sees the emulator as Cloud Storage; `read`/`write`/`list` inspect it."""

    def __init__(self, buckets: Sequence[str] = ("model-search-test",), seed: Optional[int] = None):
        rng = random.Random(seed)
        self.address = f"127.{rng.randint(1, 254)}.{rng.randint(1, 254)}.{rng.randint(2, 254)}"
        self.buckets = tuple(buckets)
        self.directory = tempfile.mkdtemp(prefix="gcs-emulator-")
        self.certificate = os.path.join(self.directory, "cert.pem")
        self.hosts = os.path.join(self.directory, "hosts")
        self._servers: list[server.HTTPServer] = []
        self._client = None

    # ---------------------------------------------------------------- life

    def start(self) -> "GcsEmulator":
        _patch_emulator()
        from gcp_storage_emulator.handlers import buckets
        from gcp_storage_emulator.server import RequestHandler
        from gcp_storage_emulator.storage import Storage

        # It warns on every response it sends as text.
        logging.getLogger("gcp_storage_emulator").setLevel(logging.ERROR)
        key = self._write_certificate()
        with open(self.hosts, "w") as handle:
            handle.write(f"127.0.0.1 localhost\n{self.address} {' '.join(STORAGE_HOSTS)}\n")
        storage = Storage(use_memory_fs=True)
        for bucket in self.buckets:
            buckets.create_bucket(bucket, storage)

        class Handler(RequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: with Nagle's algorithm the
            # second waits for the client's delayed ACK, 40 ms a request.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

        api = _Server((self.address, 443), partial(Handler, storage))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certificate, key)
        api.socket = context.wrap_socket(api.socket, server_side=True)
        metadata = _Server((self.address, METADATA_PORT), _Metadata)
        for httpd in (api, metadata):
            threading.Thread(target=httpd.serve_forever, daemon=True).start()
            self._servers.append(httpd)
        return self

    def stop(self) -> None:
        for httpd in self._servers:
            httpd.shutdown()
            httpd.server_close()
        self._servers.clear()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _write_certificate(self) -> str:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, STORAGE_HOSTS[0])])
        now = datetime.datetime.now(datetime.timezone.utc)
        alternative = [x509.DNSName(host) for host in STORAGE_HOSTS]
        alternative.append(x509.IPAddress(ipaddress.ip_address(self.address)))
        certificate = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        key_path = os.path.join(self.directory, "key.pem")
        with open(key_path, "wb") as handle:
            handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        with open(self.certificate, "wb") as handle:
            handle.write(certificate.public_bytes(serialization.Encoding.PEM))
        return key_path

    # ------------------------------------------------------------ programs

    def env(self, base: Optional[dict] = None) -> dict:
        """The environment of a program that should use the emulator."""
        env = dict(os.environ if base is None else base)
        env.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
        env.update({
            "CURL_CA_BUNDLE": self.certificate,
            "REQUESTS_CA_BUNDLE": self.certificate,
            "STORAGE_EMULATOR_HOST": f"https://{STORAGE_HOSTS[1]}",
            "GCE_METADATA_HOST": f"{self.address}:{METADATA_PORT}",
            "GCE_METADATA_IP": f"{self.address}:{METADATA_PORT}",
            "GOOGLE_CLOUD_PROJECT": "emulated-project",
        })
        return env

    def command(self, argv: Sequence[str]) -> list[str]:
        """`argv` run in a private mount namespace whose /etc/hosts points the
        Google storage hosts at the emulator."""
        return ["unshare", "--mount", "--", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', self.hosts,
                *argv]

    def run(self, argv: Sequence[str], env: Optional[dict] = None, timeout: float = 600, **kwargs):
        return subprocess.run(self.command(argv), env=self.env(env), timeout=timeout, capture_output=True,
                              text=True, **kwargs)

    # -------------------------------------------------------- inspection

    @property
    def client(self):
        """A google-cloud-storage client of this emulator, for this process."""
        if self._client is None:
            import requests
            from google.auth.credentials import AnonymousCredentials
            from google.cloud import storage

            session = requests.Session()
            session.trust_env = False  # REQUESTS_CA_BUNDLE of this machine would win over `verify`
            session.verify = self.certificate
            self._client = storage.Client(project="emulated-project", credentials=AnonymousCredentials(),
                                          client_options={"api_endpoint": f"https://{self.address}"}, _http=session)
        return self._client

    @staticmethod
    def _split(uri: str) -> tuple[str, str]:
        if not uri.startswith("gs://"):
            raise ValueError(f"not a gs:// URI: {uri}")
        bucket, _, name = uri[len("gs://"):].partition("/")
        return bucket, name

    def write(self, uri: str, data: bytes | str) -> None:
        bucket, name = self._split(uri)
        self.client.bucket(bucket).blob(name).upload_from_string(data)

    def read(self, uri: str) -> bytes:
        bucket, name = self._split(uri)
        return self.client.bucket(bucket).blob(name).download_as_bytes()

    def exists(self, uri: str) -> bool:
        bucket, name = self._split(uri)
        return self.client.bucket(bucket).blob(name).exists()

    def list(self, prefix_uri: str) -> list[str]:
        """Every object under the prefix, as gs:// URIs."""
        bucket, prefix = self._split(prefix_uri)
        return sorted(f"gs://{bucket}/{blob.name}" for blob in self.client.list_blobs(bucket, prefix=prefix))
