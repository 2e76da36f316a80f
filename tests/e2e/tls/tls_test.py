"""TLS and mutual TLS on squatstreamd's gRPC listener (issue 29), end to end on loopback against the built
squatstreamd, grpcurl and the squatstream CLI. The certificates are made here (python3-cryptography): a CA, a
server certificate for 127.0.0.1/localhost, a client certificate, an expired client certificate (explicit past
dates, no waiting) and a client certificate from another CA.

  tls        grpcurl -cacert: list, a short EnrichDomain (max_candidates 3); plaintext grpcurl refused
  mtls       with -cert/-key: works; without a client certificate, expired, or from another CA: refused
  reload     the certificate and key replaced on disk (written aside, renamed over) with a new one (another
             serial and subject): new connections present it, same server process, no restart
  cli        squatstream --tls_ca_file (+ --tls_cert_file/--tls_key_file) streams a scan; a refused handshake
             reads as one line naming TLS, exit 4
  startup    a certificate without its key, an unreadable file, a key that does not match: exit non-zero, the
             message naming the flag

Usage: tls_test.py SQUATSTREAMD SQUATSTREAM GRPCURL
"""
import datetime
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from squatstreamd import Checks, Server, require_tool, wait_for  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

NOW = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
DAY = datetime.timedelta(days=1)


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(cn)).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(NOW - DAY).not_valid_after(NOW + 30 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def make_leaf(ca, cn, server, not_before=None, not_after=None):
    ca_key, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(ca_cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before or NOW - DAY).not_valid_after(not_after or NOW + 30 * DAY)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                                     else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def write(path, data):
    """Writes `data` to a temporary file beside `path`, then renames it over `path` (what a secret mount or
    cert-manager does: a reader sees the old file or the new one, never half of one)."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def presented_serial(port, ca_file):
    """The serial number of the certificate the server presents to a new TLS connection now, or None when the
    handshake fails."""
    context = ssl.create_default_context(cafile=ca_file)
    context.set_alpn_protocols(["h2"])
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True)).serial_number
    except (OSError, ssl.SSLError):
        return None


def main():
    squatstreamd, squatstream, grpcurl = sys.argv[1:4]
    require_tool(grpcurl, "grpcurl")
    c = Checks()
    d = tempfile.mkdtemp(prefix="squatstream-tls-")
    path = lambda f: os.path.join(d, f)  # noqa: E731

    ca = make_ca("squatstream test CA")
    other_ca = make_ca("another CA")
    server_key, server_cert = make_leaf(ca, "squatstream-server-1", server=True)
    client_key, client_cert = make_leaf(ca, "client-1", server=False)
    expired_key, expired_cert = make_leaf(ca, "client-expired", server=False,
                                          not_before=datetime.datetime(2020, 1, 1), not_after=datetime.datetime(2021, 1, 1))
    stranger_key, stranger_cert = make_leaf(other_ca, "client-other-ca", server=False)
    write(path("ca.pem"), cert_pem(ca[1]))
    write(path("server.pem"), cert_pem(server_cert))
    write(path("server.key"), key_pem(server_key))
    for stem, (k, crt) in {"client": (client_key, client_cert), "expired": (expired_key, expired_cert),
                           "stranger": (stranger_key, stranger_cert)}.items():
        write(path(stem + ".pem"), cert_pem(crt))
        write(path(stem + ".key"), key_pem(k))

    def grpcurl_call(*args, timeout=30):
        return subprocess.run([grpcurl, "-max-time", "20", *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=timeout)

    enrich = ["-d", '{"domain":"example.com","max_candidates":3}']
    method = "squatstream.v1.EnrichmentService/EnrichDomain"
    tls_flags = [f"--tls_cert_file={path('server.pem')}", f"--tls_key_file={path('server.key')}",
                 "--tls_reload_interval=1s"]

    # --- TLS, then the reload on the same process
    with Server(squatstreamd, tls_flags) as server:
        port = int(server.address.rsplit(":", 1)[1])
        r = grpcurl_call("-cacert", path("ca.pem"), server.address, "list")
        c.expect(r.returncode == 0 and "squatstream.v1.EnrichmentService" in r.stdout,
                 f"tls: grpcurl -cacert list ({r.returncode}: {r.stderr.strip()[:200]})")
        r = grpcurl_call("-cacert", path("ca.pem"), *enrich, server.address, method)
        c.expect(r.returncode == 0 and '"records"' in r.stdout,
                 f"tls: grpcurl -cacert EnrichDomain max_candidates 3 ({r.returncode}: {r.stderr.strip()[:200]})")
        r = grpcurl_call("-plaintext", server.address, "list")
        c.expect(r.returncode != 0, f"tls: plaintext grpcurl refused ({r.returncode}: {r.stderr.strip()[:160]})")
        r = grpcurl_call(server.address, "list")  # TLS, but the test CA is not among the system's roots
        c.expect(r.returncode != 0, "tls: grpcurl without -cacert refused (the test CA is not trusted)")

        # The CLI: a scan over TLS; plaintext against it reads as unreachable (exit 4).
        r = subprocess.run([squatstream, f"--server={server.address}", f"--tls_ca_file={path('ca.pem')}",
                            "--max_candidates=5", "--format=csv", "example.com"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        c.expect(r.returncode == 0 and len(r.stdout.strip().splitlines()) >= 2,
                 f"cli: squatstream --tls_ca_file streams a scan (exit {r.returncode}: {r.stderr.strip()[-200:]})")
        r = subprocess.run([squatstream, f"--server={server.address}", "--max_candidates=5", "example.com"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=60)
        c.expect(r.returncode == 4 and "TLS" in r.stderr,
                 f"cli: plaintext against TLS: exit 4, a line naming TLS (exit {r.returncode}: {r.stderr.strip()})")

        first = presented_serial(port, path("ca.pem"))
        c.expect(first == server_cert.serial_number, "reload: the first certificate is presented")
        pid = server.proc.pid
        new_key, new_cert = make_leaf(ca, "squatstream-server-2", server=True)
        # Key first, then the certificate: the provider keeps the last good pair while they do not match.
        write(path("server.key"), key_pem(new_key))
        write(path("server.pem"), cert_pem(new_cert))
        started = time.monotonic()
        wait_for(lambda: presented_serial(port, path("ca.pem")) == new_cert.serial_number, 30,
                 "new connections to present the replaced certificate")
        c.expect(True, f"reload: new connections present the new certificate after {time.monotonic() - started:.1f} s")
        c.expect(server.proc.pid == pid and server.proc.poll() is None, "reload: the same server process (no restart)")
        r = grpcurl_call("-cacert", path("ca.pem"), *enrich, server.address, method)
        c.expect(r.returncode == 0, "reload: a call over the new certificate works")

    # --- mutual TLS
    with Server(squatstreamd, tls_flags + [f"--tls_client_ca_file={path('ca.pem')}"]) as server:
        mtls = ["-cacert", path("ca.pem"), "-cert", path("client.pem"), "-key", path("client.key")]
        r = grpcurl_call(*mtls, server.address, "list")
        c.expect(r.returncode == 0 and "squatstream.v1.EnrichmentService" in r.stdout,
                 f"mtls: grpcurl -cert/-key list ({r.returncode}: {r.stderr.strip()[:200]})")
        r = grpcurl_call(*mtls, *enrich, server.address, method)
        c.expect(r.returncode == 0 and '"records"' in r.stdout, "mtls: grpcurl -cert/-key EnrichDomain")
        r = grpcurl_call("-cacert", path("ca.pem"), server.address, "list")
        c.expect(r.returncode != 0, f"mtls: no client certificate: refused ({r.stderr.strip()[:160]})")
        for stem, what in (("expired", "an expired client certificate"), ("stranger", "another CA's certificate")):
            r = grpcurl_call("-cacert", path("ca.pem"), "-cert", path(stem + ".pem"), "-key", path(stem + ".key"),
                             server.address, "list")
            c.expect(r.returncode != 0, f"mtls: {what}: refused ({r.stderr.strip()[:160]})")

        cli = [squatstream, f"--server={server.address}", f"--tls_ca_file={path('ca.pem')}", "--max_candidates=5",
               "--format=csv"]
        r = subprocess.run(cli + [f"--tls_cert_file={path('client.pem')}", f"--tls_key_file={path('client.key')}",
                                  "example.com"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        c.expect(r.returncode == 0 and len(r.stdout.strip().splitlines()) >= 2,
                 f"cli: mTLS scan with --tls_cert_file/--tls_key_file (exit {r.returncode}: {r.stderr.strip()[-200:]})")
        r = subprocess.run(cli + ["example.com"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        lines = r.stderr.strip().splitlines()
        c.expect(r.returncode == 4 and any("TLS" in line for line in lines),
                 f"cli: without the client certificate: exit 4, a line naming TLS (exit {r.returncode}: {lines})")

    # --- start-up refusals
    base = [squatstreamd, "--grpc_address=127.0.0.1:0", "--metrics_address=127.0.0.1:0", "--stub_enrichers=all",
            "--store=none"]
    cases = [
        ([f"--tls_cert_file={path('server.pem')}"], "--tls_cert_file", "a certificate without its key"),
        ([f"--tls_key_file={path('server.key')}"], "--tls_key_file", "a key without its certificate"),
        ([f"--tls_cert_file={path('missing.pem')}", f"--tls_key_file={path('server.key')}"], "--tls_cert_file",
         "an unreadable certificate file"),
        ([f"--tls_cert_file={path('server.pem')}", f"--tls_key_file={path('client.key')}"], "--tls_key_file",
         "a key that does not match the certificate"),
        ([f"--tls_cert_file={path('server.key')}", f"--tls_key_file={path('server.key')}"], "--tls_cert_file",
         "a certificate file that holds no certificate"),
        (tls_flags + [f"--tls_client_ca_file={path('nowhere.pem')}"], "--tls_client_ca_file",
         "an unreadable client CA file"),
    ]
    secret = key_pem(client_key).decode().splitlines()[1]
    for flags, flag, what in cases:
        r = subprocess.run(base + flags, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=30)
        c.expect(r.returncode != 0 and flag in r.stderr and secret not in r.stderr,
                 f"startup: {what}: exit {r.returncode}, names {flag} ({r.stderr.strip()[:200]})")

    if c.failures:
        sys.exit(f"{len(c.failures)} check(s) failed")
    print("all checks passed")


if __name__ == "__main__":
    main()
