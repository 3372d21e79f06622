"""The self-signed TLS files: creation, reuse and reissue, and real handshakes against them."""

from __future__ import annotations

import socket
import ssl
import stat
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from intone.tls import TlsFiles, ensure_self_signed, trust_hint


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def _leaf(files: TlsFiles) -> x509.Certificate:
    return x509.load_pem_x509_certificate(files.cert.read_bytes())


def _alt_names(files: TlsFiles) -> list[str]:
    san = _leaf(files).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [str(name.value) for name in san]


def test_creates_files_with_private_modes(tmp_path: Path) -> None:
    directory = tmp_path / "state" / "tls"
    files = ensure_self_signed(directory, ["127.0.0.1"])

    assert _mode(directory) == 0o700
    assert sorted(p.name for p in directory.iterdir()) == ["ca-key.pem", "ca.pem", "cert.pem", "key.pem"]
    assert _mode(directory / "ca-key.pem") == _mode(files.key) == 0o600
    assert _mode(files.ca_cert) == _mode(files.cert) == 0o644

    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.subject.rfc4514_string().startswith("CN=Intone local CA (")
    leaf = _leaf(files)
    leaf.verify_directly_issued_by(ca)
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc <= timedelta(days=397)
    assert _alt_names(files) == ["127.0.0.1", "localhost", "::1"]


def test_reuse_keeps_every_byte(tmp_path: Path) -> None:
    ensure_self_signed(tmp_path, ["localhost"])
    before = _snapshot(tmp_path)

    ensure_self_signed(tmp_path, ["127.0.0.1", "localhost"])

    assert _snapshot(tmp_path) == before


def test_new_host_reissues_the_leaf_from_the_same_ca(tmp_path: Path) -> None:
    ensure_self_signed(tmp_path, ["localhost"])
    before = _snapshot(tmp_path)

    files = ensure_self_signed(tmp_path, ["speech.example", "[fd00::5]"])

    after = _snapshot(tmp_path)
    assert after["ca.pem"] == before["ca.pem"] and after["ca-key.pem"] == before["ca-key.pem"]
    assert after["cert.pem"] != before["cert.pem"] and after["key.pem"] != before["key.pem"]
    assert _alt_names(files) == ["speech.example", "fd00::5", "localhost", "127.0.0.1", "::1"]


def test_leaf_close_to_expiry_is_reissued(tmp_path: Path) -> None:
    ensure_self_signed(tmp_path, ["localhost"], now=datetime.now(UTC) - timedelta(days=340))
    before = _snapshot(tmp_path)

    files = ensure_self_signed(tmp_path, ["localhost"])

    after = _snapshot(tmp_path)
    assert after["ca.pem"] == before["ca.pem"]
    assert after["cert.pem"] != before["cert.pem"]
    assert _leaf(files).not_valid_after_utc > datetime.now(UTC) + timedelta(days=360)


def test_wildcard_address_adds_the_machine_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: "Speechbox")

    files = ensure_self_signed(tmp_path, ["0.0.0.0"])

    assert _alt_names(files) == ["0.0.0.0", "speechbox", "localhost", "127.0.0.1", "::1"]


def test_leaf_without_its_key_is_reissued(tmp_path: Path) -> None:
    files = ensure_self_signed(tmp_path, ["localhost"])
    old_cert = files.cert.read_bytes()
    files.key.unlink()

    ensure_self_signed(tmp_path, ["localhost"])

    key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
    assert files.cert.read_bytes() != old_cert
    assert key.public_key() == _leaf(files).public_key()


def test_broken_ca_is_an_error_not_replaced(tmp_path: Path) -> None:
    files = ensure_self_signed(tmp_path, ["localhost"])
    ca_bytes = files.ca_cert.read_bytes()
    (tmp_path / "ca-key.pem").unlink()

    with pytest.raises(ValueError, match="local CA"):
        ensure_self_signed(tmp_path, ["localhost"])
    assert files.ca_cert.read_bytes() == ca_bytes


def test_trust_hint_names_the_ca(tmp_path: Path) -> None:
    files = ensure_self_signed(tmp_path, ["localhost"])

    hint = trust_hint(files)

    assert f"SSL_CERT_FILE={files.ca_cert}" in hint
    assert f"NODE_EXTRA_CA_CERTS={files.ca_cert}" in hint
    assert f"--cacert {files.ca_cert}" in hint


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[TlsFiles, int]]:
    """A TLS server on 127.0.0.1 that completes handshakes, one connection after another."""
    files = ensure_self_signed(tmp_path, ["127.0.0.1"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files.cert, files.key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # listener closed
            with conn:
                try:
                    with context.wrap_socket(conn, server_side=True) as tls:
                        tls.sendall(b"ok")
                except OSError:
                    pass  # the client rejected our certificate

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield files, listener.getsockname()[1]
    listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone would not
    listener.close()
    thread.join(5)


def _strict(context: ssl.SSLContext) -> ssl.SSLContext:
    # Python 3.13 turns this on by default; it is what requires the key identifier extensions.
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    return context


def _handshake(context: ssl.SSLContext, port: int, server_hostname: str) -> bytes:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as sock,
        context.wrap_socket(sock, server_hostname=server_hostname) as tls,
    ):
        return tls.recv(2)


@pytest.mark.parametrize("server_hostname", ["localhost", "127.0.0.1"])
def test_handshake_verifies_with_the_ca(tls_server: tuple[TlsFiles, int], server_hostname: str) -> None:
    files, port = tls_server
    context = _strict(ssl.create_default_context(cafile=files.ca_cert))

    assert _handshake(context, port, server_hostname) == b"ok"


def test_ssl_cert_file_is_honoured_by_default_contexts(
    tls_server: tuple[TlsFiles, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    files, port = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(files.ca_cert))

    # What websockets does: a default context with no cafile, so OpenSSL reads SSL_CERT_FILE.
    assert _handshake(_strict(ssl.create_default_context()), port, "localhost") == b"ok"


def test_handshake_fails_without_the_ca(tls_server: tuple[TlsFiles, int]) -> None:
    _, port = tls_server
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # no trusted CAs at all, whatever the machine has

    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(context, port, "localhost")


def test_handshake_fails_for_a_name_not_in_the_certificate(tls_server: tuple[TlsFiles, int]) -> None:
    files, port = tls_server
    context = ssl.create_default_context(cafile=files.ca_cert)

    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        _handshake(context, port, "speech.example")
