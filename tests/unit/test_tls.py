"""TLS verification is on by default; --insecure turns it off with a warning. A real TLS server on loopback."""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mspctl.cli import main


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class _RejectingNetBox(http.server.BaseHTTPRequestHandler):
    """Answers like a NetBox that refuses the token."""

    def do_GET(self) -> None:
        body = json.dumps({"detail": "Invalid v2 token"}).encode()
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[str]:
    cert, key = _self_signed(tmp_path)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RejectingNetBox)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_untrusted_certificate_is_refused(tls_server: str, tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["--netbox-url", tls_server, "--refresh", "clients"],
                             env={"NETBOX_TOKEN": "nbt_k.s", "MSPCTL_CACHE_PATH": str(tmp_path / "c")})
    assert res.exit_code == 12
    assert res.stderr.startswith(f"Error: MSP-NB-503: TLS verification failed for {tls_server}")
    assert "--insecure" in res.stderr


def test_insecure_connects_and_warns(tls_server: str, tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["--insecure", "--netbox-url", tls_server, "--refresh", "clients"],
                             env={"NETBOX_TOKEN": "nbt_k.s", "MSPCTL_CACHE_PATH": str(tmp_path / "c")})
    assert "TLS certificate verification is OFF" in res.stderr
    # TLS passed: the server itself answered (and refused the token)
    assert res.exit_code == 11
    assert "MSP-NB-401" in res.stderr
