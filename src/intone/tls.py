"""A self-signed TLS setup for `intone serve`: a local CA plus a server certificate.

The ElevenLabs SDK's realtime helper always dials `wss://` on the API's own host and port, so plain HTTP
is not enough: on loopback `intone serve` accepts TLS on its port with these files by default, and
`--tls-self-signed` serves only TLS with them, on any address. Clients are told to trust the CA
(`SSL_CERT_FILE=ca.pem`); the CA is therefore created once and kept, while the server certificate is
reissued from it whenever it no longer fits.
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import socket
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from intone import private

CA_LIFETIME = timedelta(days=3650)
# Below the 398-day ceiling that browsers and Apple platforms enforce for server certificates.
LEAF_LIFETIME = timedelta(days=365)
RENEW_BEFORE = timedelta(days=30)
# Tolerates clocks of client machines that run slightly behind this one.
BACKDATE = timedelta(hours=1)
ALWAYS_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARD_ADDRESSES = (ipaddress.ip_address("0.0.0.0"), ipaddress.ip_address("::"))


@dataclass(frozen=True)
class TlsFiles:
    """PEM paths: the CA certificate clients trust, and the server's certificate and private key."""

    ca_cert: Path
    cert: Path
    key: Path


def ensure_self_signed(directory: Path, hosts: Sequence[str], *, now: datetime | None = None) -> TlsFiles:
    """Make sure `directory` holds a local CA and a current server certificate for `hosts`.

    The CA is reused whenever it exists (unless it is about to expire); the server certificate is
    reused when it comes from that CA, names every host and has more than RENEW_BEFORE left. `now`
    lets tests issue certificates in the past.
    """
    now = now or datetime.now(UTC)
    private.directory(directory)
    files = TlsFiles(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    ca_key_path = directory / "ca-key.pem"

    ca = _load_ca(files.ca_cert, ca_key_path)
    if ca is None or ca[0].not_valid_after_utc - now <= RENEW_BEFORE:
        ca = _issue_ca(now)
        # Key before certificate: a crash in between leaves no ca.pem, so the next run starts over.
        _write_atomic(ca_key_path, _key_pem(ca[1]), 0o600)
        _write_atomic(files.ca_cert, ca[0].public_bytes(serialization.Encoding.PEM), 0o644)
    ca_cert, ca_key = ca

    names = _subject_alt_names(hosts)
    if not _leaf_usable(files, ca_cert, names, now):
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        leaf = _issue_leaf(leaf_key, ca_cert, ca_key, names, now)
        # A crash between the two writes leaves a key/cert mismatch, which _leaf_usable rejects.
        _write_atomic(files.key, _key_pem(leaf_key), 0o600)
        _write_atomic(files.cert, leaf.public_bytes(serialization.Encoding.PEM), 0o644)
    return files


def trust_hint(files: TlsFiles) -> str:
    """How to make clients trust the local CA, for printing at server start."""
    ca = shlex.quote(str(files.ca_cert))
    return "\n".join(
        [
            f"TLS with a self-signed certificate; clients must trust the local CA {ca}:",
            f"  Python (httpx, websockets, elevenlabs SDK): export SSL_CERT_FILE={ca}",
            "    (replaces the system CA bundle for that process)",
            f"  Node: export NODE_EXTRA_CA_CERTS={ca}",
            f"  curl: curl --cacert {ca} https://...",
        ]
    )


def shared_port_hint(files: TlsFiles) -> str:
    """The one line a loopback server prints about the TLS it accepts beside plain HTTP."""
    ca = shlex.quote(str(files.ca_cert))
    return (
        "intone: TLS (https://, wss://) is accepted on the same port with the local CA; the SDK's "
        f"realtime helper (convert_realtime) needs it trusted: export SSL_CERT_FILE={ca} "
        f"(Node: NODE_EXTRA_CA_CERTS={ca})"
    )


def server_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    """The server side of TLS with this certificate and key (HTTP/1.1, which is all the server speaks)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile, keyfile)
    context.set_alpn_protocols(["http/1.1"])
    return context


def _load_ca(cert_path: Path, key_path: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    """The existing CA, None when there is none; an unusable one is an error, never silently replaced,
    since clients may already trust it."""
    if not cert_path.exists():
        return None
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError) as e:
        raise ValueError(
            f"unreadable local CA in {cert_path.parent} ({e}); delete ca*.pem to recreate it"
        ) from e
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        raise ValueError(f"{key_path} is not the EC key of {cert_path}; delete ca*.pem to recreate them")
    return cert, key


def _leaf_usable(
    files: TlsFiles, ca_cert: x509.Certificate, names: list[x509.GeneralName], now: datetime
) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
        key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
        cert.verify_directly_issued_by(ca_cert)
        covered = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    return (
        key.public_key() == cert.public_key()
        and all(name in covered for name in names)
        and cert.not_valid_before_utc <= now
        and cert.not_valid_after_utc - now > RENEW_BEFORE
    )


def _subject_alt_names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    names: dict[x509.GeneralName, None] = {}  # ordered set
    for host in [*hosts, *ALWAYS_NAMES]:
        host = host.strip().strip("[]").rstrip(".").lower()  # "[::1]" as in URLs, "example.com." as in DNS
        if not host:
            continue
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            names[x509.DNSName(host)] = None
            continue
        names[x509.IPAddress(address)] = None
        if address in WILDCARD_ADDRESSES:
            # Listening on every address: clients on other machines will use this machine's name.
            names[x509.DNSName(socket.gethostname().lower())] = None
    return list(names)


def _issue_ca(now: datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    # The hostname tells CAs of several machines apart in a trust store; a CN may hold 64 characters.
    cn = f"Intone local CA ({socket.gethostname()[:40]})"
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    cert = (
        _builder(name, name, key.public_key(), now, now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _issue_leaf(
    key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    names: list[x509.GeneralName],
    now: datetime,
) -> x509.Certificate:
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Intone server")])
    # Never outlive the CA: a chain with an expired CA fails even while the leaf is current.
    not_after = min(now + LEAF_LIFETIME, ca_cert.not_valid_after_utc)
    return (
        _builder(subject, ca_cert.subject, key.public_key(), now, not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime,
    not_after: datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _key_usage(
    *, digital_signature: bool = False, key_cert_sign: bool = False, crl_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    # mkstemp creates the file 0600, so a key is never readable by others, not even half-written.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
