"""The plaintext health-only listener (--health_address) beside a TLS gRPC port, as the Kubernetes manifests run
it: the kubelet's `grpc:` probes speak plaintext only, so they ask this port while clients use TLS on the other.

  health      grpcurl -plaintext Health/Check on the health port answers SERVING; the same call in plaintext to
              the TLS port fails; the WatchService's status reads the same on both ports (the main one over TLS)
  only health reflection is not served there (grpcurl list fails), nor is EnrichmentService (Unimplemented, with
              the .proto files given to grpcurl)
  drain       after SIGTERM, with a stream still running, the health port answers NOT_SERVING (waited for), and
              the process then exits 0
  taken port  a second squatstreamd whose --health_address is the first's health port: exit 1, the message naming
              the address and --health_address

The certificates are made here (python3-cryptography): a CA and a server certificate for 127.0.0.1.

Usage: health_port_test.py SQUATSTREAMD GRPCURL PROTO_DIR
"""
import datetime
import ipaddress
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from squatstreamd import Checks, Server, require_tool, wait_for  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

GRACE = 8  # the drain's grace: long enough that the stream below is still running when the health port is asked
HEALTH = "grpc.health.v1.Health/Check"
WATCH_SERVICE = '{"service":"squatstream.v1.WatchService"}'


def certificates(folder):
    """Writes ca.pem, server.pem and server.key (a certificate for 127.0.0.1 signed by the CA) into folder."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    day = datetime.timedelta(days=1)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("health test CA")).issuer_name(name("health test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - day).not_valid_after(now + day)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name("squatstream")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - day).not_valid_after(now + day)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    files = {"ca.pem": ca.public_bytes(serialization.Encoding.PEM),
             "server.pem": cert.public_bytes(serialization.Encoding.PEM),
             "server.key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption())}
    for file, data in files.items():
        with open(os.path.join(folder, file), "wb") as f:
            f.write(data)
    return {file: os.path.join(folder, file) for file in files}


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    squatstreamd, grpcurl, proto_dir = sys.argv[1:4]
    require_tool(grpcurl, "grpcurl")
    c = Checks()
    files = certificates(tempfile.mkdtemp(prefix="squatstream-health-"))

    def grpcurl_call(*args, timeout=30):
        return subprocess.run([grpcurl, "-max-time", "10", *args], stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout)

    # The health port has no reflection: grpcurl reads the services from the .proto files.
    health_proto = ["-import-path", proto_dir, "-proto", "grpc/health/v1/health.proto"]
    enrich_proto = ["-import-path", proto_dir, "-proto", "squatstream/v1/squatstream.proto"]

    flags = [f"--tls_cert_file={files['server.pem']}", f"--tls_key_file={files['server.key']}",
             "--health_address=127.0.0.1:0", "--stub_whois_latency=60s", "--stub_dns_registered_rate=1",
             f"--shutdown_grace={GRACE}s"]
    with Server(squatstreamd, flags, stop_timeout=GRACE + 20) as server:
        m = re.search(r"health checks \(plaintext\) on port (\d+)", server.log())
        c.expect(m is not None, "the start-up line names the health port")
        if m is None:
            sys.exit(server.log())
        health = f"127.0.0.1:{m.group(1)}"

        # --- health
        r = grpcurl_call("-plaintext", *health_proto, health, HEALTH)
        c.expect(r.returncode == 0 and '"SERVING"' in r.stdout,
                 f"health: plaintext Check on the health port: SERVING ({r.stdout.strip()} {r.stderr.strip()[:160]})")
        r = grpcurl_call("-connect-timeout", "3", "-plaintext", *health_proto, server.address, HEALTH)
        c.expect(r.returncode != 0, f"health: plaintext Check on the TLS port fails ({r.stderr.strip()[:160]})")
        r = grpcurl_call("-cacert", files["ca.pem"], server.address, HEALTH)
        c.expect(r.returncode == 0 and '"SERVING"' in r.stdout,
                 f"health: Check on the TLS port over TLS: SERVING ({r.stderr.strip()[:160]})")
        on_main = grpcurl_call("-cacert", files["ca.pem"], "-d", WATCH_SERVICE, server.address, HEALTH)
        on_health = grpcurl_call("-plaintext", *health_proto, "-d", WATCH_SERVICE, health, HEALTH)
        c.expect(on_main.returncode == 0 and on_main.stdout == on_health.stdout,
                 f"health: the WatchService's status is the same on both ports (main {on_main.stdout.strip()}, "
                 f"health {on_health.stdout.strip()} {on_health.stderr.strip()[:120]})")

        # --- only health
        r = grpcurl_call("-plaintext", health, "list")
        c.expect(r.returncode != 0, f"only health: no reflection on the health port ({r.stderr.strip()[:160]})")
        r = grpcurl_call("-plaintext", *enrich_proto, "-d", '{"domain":"example.com","max_candidates":3}', health,
                         "squatstream.v1.EnrichmentService/EnrichDomain")
        c.expect(r.returncode != 0 and "Unimplemented" in r.stderr,
                 f"only health: EnrichDomain on the health port: Unimplemented ({r.stderr.strip()[:160]})")
        r = grpcurl_call("-cacert", files["ca.pem"], server.address, "list")
        c.expect(r.returncode == 0 and "squatstream.v1.EnrichmentService" in r.stdout,
                 "only health: the TLS port still serves reflection and EnrichmentService")

        # --- taken port
        second = subprocess.run([squatstreamd, "--grpc_address=127.0.0.1:0", "--metrics_address=127.0.0.1:0",
                                 "--stub_enrichers=all", "--store=none", f"--health_address={health}"],
                                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        c.expect(second.returncode == 1 and f"cannot serve health checks on {health}" in second.stderr
                 and "--health_address" in second.stderr,
                 f"taken port: a second server on the health port exits 1 naming it ({second.returncode}: "
                 f"{second.stderr.strip()[-200:]})")

        # --- drain: a stream whose lookups outlast the grace keeps the drain going while the health port is asked
        stream = subprocess.Popen([grpcurl, "-cacert", files["ca.pem"], "-d",
                                   '{"domain":"example.com","max_candidates":20}', server.address,
                                   "squatstream.v1.EnrichmentService/EnrichDomain"],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: server.metric("squatstream_active_streams") >= 1, 20, "the stream to start")
            server.stopped = True
            server.proc.send_signal(signal.SIGTERM)
            sent = time.monotonic()

            def health_answer():
                r = grpcurl_call("-plaintext", *health_proto, health, HEALTH, timeout=15)
                return r.stdout if r.returncode == 0 or "NOT_SERVING" in r.stdout else ""

            answer = wait_for(lambda: "NOT_SERVING" in health_answer(), 10, "the health port to say NOT_SERVING")
            c.expect(answer and server.proc.poll() is None,
                     f"drain: the health port answers NOT_SERVING {time.monotonic() - sent:.1f} s after SIGTERM, "
                     "while the process drains")
            code = server.proc.wait(timeout=GRACE + 20)
            c.expect(code == 0, f"drain: squatstreamd exits 0 after the drain (exit {code})")
        finally:
            if stream.poll() is None:
                stream.kill()
            stream.wait()

    if c.failures:
        sys.exit(f"{len(c.failures)} check(s) failed")
    print("all checks passed")


if __name__ == "__main__":
    main()
