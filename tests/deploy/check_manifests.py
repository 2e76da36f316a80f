#!/usr/bin/python3
"""Checks that rendered Kubernetes manifests agree with the squatstreamd they deploy, and with the operating
rules this project keeps (issue 20). Fails, naming the object and the fault, if:

Flags and ports
- a SQUATSTREAM_* variable in the ConfigMap or an argument of the container is not a squatstreamd flag (from
  `squatstreamd --helpfull`), or a flag is set twice (in args and the ConfigMap, or twice in args);
- the gRPC and metrics ports (from the flags, or their defaults) are not the container ports named grpc and
  metrics, a Service/ServiceMonitor port names no known port, or the Dockerfile exposes other ports (or takes a
  base by a floating tag, or ships unstripped binaries);
- the gRPC probes ask another port than the health listener's (--health_address, the container port named
  health) or, without one, the gRPC port's; or the gRPC port has TLS (--tls_cert_file) and no --health_address
  is set (the kubelet's grpc: probes speak plaintext only: they would never see the pod ready);
Drain
- the preStop is a `sleep` command rather than the kubelet's `lifecycle.preStop.sleep`;
- terminationGracePeriodSeconds does not exceed the preStop pause + --shutdown_grace + 1 s (the exit);
- --max_connection_age is on and --max_connection_age_grace is shorter than --shutdown_grace (a stream on an
  aged connection would be cut sooner than a drain would cut it);
Scaling
- a HorizontalPodAutoscaler scales the Deployment and the Deployment sets `replicas` (each apply would reset
  what the HPA chose);
- an HPA's squatstream_active_streams target is not below --max_concurrent_streams (never reached: pods refuse
  streams at the limit before the average gets there), or it scales on CPU utilization without a CPU request;
Network
- a NetworkPolicy ingress rule has no `from` (or an egress rule no `to`), or a peer that admits everything (an
  empty peer, or an empty namespaceSelector with no podSelector);
Memory
- the container's memory limit is below what the budget needs: --memory_budget_mb + 192 MiB + 2 MiB per
  --max_concurrent_streams, + 144 MiB for the geo databases when the geo stage is real (docs/DEPLOY.md, "Sizing the
  pod"), or the budget cannot hold --max_concurrent_streams
  typical streams (the server would refuse to start; constants read from service/memory_budget.h);
Placement and access
- the pod mounts a service-account token, the PDB lacks unhealthyPodEvictionPolicy: AlwaysAllow, or the pod
  is not spread over zones and nodes;
Store (docs/DEPLOY.md, "Picking a store")
- SQLite (--store=sqlite:PATH, or the default): PATH's folder is not on a writable volume mounted in the
  container (the root filesystem is read-only, and a container's own layer dies with it), the Deployment may
  run more than one replica (the HPA's maxReplicas, or replicas), or the volume is a PersistentVolumeClaim and
  the strategy is not Recreate (a rolling update starts a second writer, or hangs on a ReadWriteOnce volume);
- PostgreSQL: a DSN with a password in the args or the ConfigMap; --store_file not on a volume mounted from a
  Secret read-only, naming no key the Secret provides, or readable by every user (its mode);
- a volume mounted over a folder above the geo databases (it would hide the image's files) while geo is real;
Global limits on Redis (docs/DEPLOY.md, "Global limits on Redis")
- --redis_address set: --redis_password_file not on a read-only Secret volume naming a key it provides, or readable
  by every user; --redis_fallback_replicas below the HPA's maxReplicas (a pod started while Redis is down would
  take more than its share: the pods together above the limit);
- the Redis of deploy/k8s/components/redis (a Deployment whose container is named redis) with persistence on
  (it must run `--save '' --appendonly no`), more than one replica or a rolling update (two sets of counters),
  a password not from the Secret squatstreamd reads, no memory limit, or no NetworkPolicy admitting only
  squatstream's pods; --redis_address naming no Service of the manifests (host) or another port;
- squatstreamd does not start with the rendered args and ConfigMap (run on loopback, every stage simulated, then
  stopped). The files the args name under the pod's volumes are on this machine in a temporary folder instead:
  each volume's mount path is mapped to a folder of its own, and a Secret's file holding a DSN gets a stand-in
  DSN of a PostgreSQL that is not there (the real one is the operator's, never in the repository). With
  SQLite, squatstreamd must create the database in the volume's stand-in folder; with PostgreSQL, it must say it
  cannot reach the stand-in's server yet and serve meanwhile (the watch side NOT_SERVING) — but with
  --auth=api_key, whose keys' store must answer at start, the DSN is a real PostgreSQL on loopback
  (tests/peers/postgres.py) and squatstreamd must simply start. --redis_address is
  replaced by a loopback port where nothing listens (no name is resolved): the server must start in fallback.
  A TLS Secret's files (tls.crt, tls.key, ca.crt) are a stand-in self-signed pair made with openssl. With
  --health_address, the health listener must start too (on a free loopback port).

The rendered manifests may hold other workloads beside squatstreamd (the Redis of deploy/k8s/components/redis):
squatstreamd's Deployment is the one named squatstream, its Services the ones selecting its pods.

usage: check_manifests.py SQUATSTREAMD rendered.yaml [...]
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MIB = 1 << 20
# What the process holds beyond the budget (docs/DEPLOY.md, "Sizing the pod"): a fixed part (the idle process after
# load, the ClassifyDomain cache at its default 32 targets, the DNS cache) and a part per stream the server may
# admit (what a stream's generation holds beyond its charge, and its batch being written).
OVERHEAD_FIXED_MIB = 192
OVERHEAD_PER_STREAM_MIB = 2
# With the geo stage real (not in --stub_enrichers), its MaxMind databases are mapped into the process: the
# image's DB-IP City Lite and ASN files are 140 MB (134 MiB), and the pages lookups touch count in the working
# set the OOM killer and SquatstreamMemoryNearLimit see.
GEO_DB_MIB = 144


def fail(msg):
    sys.exit(f"check_manifests: {msg}")


def seconds(duration):
    """An absl duration ("60s", "2m", "1m30s", "250ms", "0") in seconds."""
    if duration in ("0", "inf"):
        return 0 if duration == "0" else float("inf")
    units = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|us|ns|m|s)", duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        fail(f"cannot read duration {duration!r}")
    return sum(float(n) * units[u] for n, u in parts)


def quantity_bytes(q):
    """A Kubernetes memory quantity ("1Gi", "384Mi", "512M", "1073741824") in bytes."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?", str(q))
    if not m:
        fail(f"cannot read memory quantity {q!r}")
    factor = {None: 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40,
              "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}[m.group(2)]
    return float(m.group(1)) * factor


def flags_and_defaults(binary):
    out = subprocess.run([binary, "--helpfull"], capture_output=True, text=True).stdout
    defaults = {}
    # One block per flag: "    --name (help, possibly over several lines); default: value;"
    for block in re.split(r"\n(?=    --)", out):
        m = re.match(r"\s*--(\w+) \(", block)
        d = re.search(r";\s+default: (.*?);", block.replace("\n", " "))
        if m and d:
            defaults[m.group(1)] = d.group(1).strip('"')
    if "grpc_address" not in defaults:
        fail("could not read squatstreamd's flags from --helpfull")
    return defaults


def budget_constants():
    """MemoryBudget's per-slot constants, from the header the server is built from."""
    text = open(os.path.join(ROOT, "service/memory_budget.h")).read()
    consts = {}
    for name in ("kBytesPerSlot", "kMinGrant", "kBytesPerDomain", "kGeneratedAheadBytes"):
        m = re.search(rf"{name} = (?:std::size_t\{{)?(\d+)\}}?(?: (\*|<<) (\d+))?;", text)
        if not m:
            fail(f"service/memory_budget.h: no {name}")
        value, op, operand = int(m.group(1)), m.group(2), int(m.group(3) or 0)
        consts[name] = value << operand if op == "<<" else value * (operand if op else 1)
    generator = open(os.path.join(ROOT, "permute/generator.h")).read()
    m = re.search(r"kDefaultMaxHeldBytes = std::size_t\{(\d+)\} << (\d+);", generator)
    if not m:
        fail("permute/generator.h: no kDefaultMaxHeldBytes")
    consts["kDefaultMaxHeldBytes"] = int(m.group(1)) << int(m.group(2))
    return consts


def typical_stream_bytes(default_max_candidates):
    """MemoryBudget::TypicalNeed, in bytes: what the server keeps for each stream it may admit."""
    c = budget_constants()

    def slots(n):
        return (n + c["kBytesPerSlot"] - 1) // c["kBytesPerSlot"]

    generation = slots(c["kDefaultMaxHeldBytes"]) + slots(c["kBytesPerDomain"] + c["kGeneratedAheadBytes"])
    return (min(default_max_candidates, c["kMinGrant"]) + generation) * c["kBytesPerSlot"]


def effective_flags(path, container, env, defaults):
    """Each flag's value as squatstreamd will see it: its argument, else its SQUATSTREAM_ variable, else its
    default. Fails on unknown or doubly set flags."""
    values = dict(defaults)
    from_env = {}
    for key, value in env.items():
        flag = key.removeprefix("SQUATSTREAM_").lower()
        if not key.startswith("SQUATSTREAM_") or flag not in defaults:
            fail(f"{path}: ConfigMap key {key} is not a squatstreamd flag")
        from_env[flag] = str(value)
    from_args = {}
    for arg in container.get("args", []):
        m = re.fullmatch(r"--(no)?(\w+)(?:=(.*))?", arg)
        if not m or m.group(2) not in defaults:
            fail(f"{path}: container argument {arg!r} is not a squatstreamd flag (--name=value)")
        flag = m.group(2)
        value = m.group(3) if m.group(3) is not None else ("false" if m.group(1) else "true")
        if flag in from_args:
            fail(f"{path}: --{flag} is given twice in the container's args")
        from_args[flag] = value
    for flag in from_args.keys() & from_env.keys():
        fail(f"{path}: --{flag} is set both as an argument and as SQUATSTREAM_{flag.upper()} in the ConfigMap")
    values.update(from_env)
    values.update(from_args)
    return values


def check_network_policies(path, policies):
    for np in policies:
        name = np["metadata"]["name"]
        for direction, peers_key in (("ingress", "from"), ("egress", "to")):
            for i, rule in enumerate(np["spec"].get(direction) or []):
                peers = rule.get(peers_key) or []
                if not peers:
                    fail(f"{path}: NetworkPolicy {name}: {direction} rule {i} has no `{peers_key}`: it admits every source")
                for peer in peers:
                    ns, pods = peer.get("namespaceSelector"), peer.get("podSelector")
                    if not peer or (ns is not None and not ns and pods is None):
                        fail(f"{path}: NetworkPolicy {name}: {direction} rule {i} has a peer that admits every "
                             f"namespace: {peer}")


def sandbox_mounts(container, pod, tmp, dsn=None):
    """{mountPath: a folder under tmp standing in for it}, for each volume the container mounts. A Secret's `dsn`
    file holds `dsn` when given (a PostgreSQL the check started), else a PostgreSQL that is not there."""
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    out = {}
    for m in container.get("volumeMounts", []):
        folder = os.path.join(tmp, "volumes", m["name"])
        os.makedirs(folder, exist_ok=True)
        out[m["mountPath"].rstrip("/")] = folder
        secret = volumes.get(m["name"], {}).get("secret")
        if secret is not None:
            # The Secret's files the pod would see: a stand-in DSN of a PostgreSQL that is not there (a port just
            # freed on loopback: the connection is refused at once).
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            for item in secret.get("items") or [{"key": "dsn", "path": "dsn"}]:
                with open(os.path.join(folder, item["path"]), "w") as f:
                    if item.get("key", item["path"]) == "dsn":
                        f.write((dsn or f"postgresql://squatstream@127.0.0.1:{port}/squatstream?connect_timeout=2")
                                + "\n")
                    elif item.get("key", item["path"]) in ("tls.crt", "tls.key", "ca.crt"):
                        # A TLS Secret's files (deploy/k8s/components/tls): a stand-in self-signed pair, which
                        # squatstreamd checks at start (PEM, the key matching), also standing in for the client CA.
                        f.write(tls_stand_in(tmp)[item.get("key", item["path"])])
                    else:  # another Secret's file (the Redis password): a stand-in
                        f.write("stand-in-secret\n")
    return out


def tls_stand_in(tmp):
    """{"tls.crt", "tls.key", "ca.crt": PEM text} of a self-signed certificate made with openssl in tmp."""
    key, crt = os.path.join(tmp, "stand-in.key"), os.path.join(tmp, "stand-in.crt")
    if not os.path.exists(crt):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-subj", "/CN=squatstream stand-in", "-days", "1", "-keyout", key, "-out", crt],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pem = {"tls.key": open(key).read(), "tls.crt": open(crt).read()}
    pem["ca.crt"] = pem["tls.crt"]
    return pem


def in_sandbox(value, mounts):
    """value with a mount path it names (as a path, or inside a flag's value) replaced by its stand-in folder."""
    for mount, folder in sorted(mounts.items(), key=lambda kv: -len(kv[0])):
        value = re.sub(rf"(^|[=:,]){re.escape(mount)}(?=/|$|,)", lambda m: m.group(1) + folder, value)
    return value


def start_server(binary, path, container, pod, env, store, health):
    """squatstreamd accepts the rendered arguments and environment: it starts (on free loopback ports, every
    stage simulated, the pod's volumes in a temporary folder) and stops on SIGTERM; its store is where the
    manifests put it (see the docstring)."""
    tmp = tempfile.mkdtemp(prefix="check-manifests-")
    # With API keys the keys' store must answer at start (squatstreamd refuses to start without it, unlike the
    # watch side): the stand-in DSN is then a real PostgreSQL on loopback (tests/peers/postgres.py), stopped after.
    auth = next((a.split("=", 1)[1] for a in container.get("args", []) if a.startswith("--auth=")),
                str(env.get("SQUATSTREAM_AUTH", "none")))
    postgres = None
    if auth == "api_key" and store["engine"] == "postgresql":
        postgres = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/peers/postgres.py")],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        dsn = postgres.stdout.readline().strip()
        if not dsn:
            postgres.wait(timeout=30)
            fail(f"{path}: tests/peers/postgres.py did not start a PostgreSQL for the keys' store")
    try:
        mounts = sandbox_mounts(container, pod, tmp, dsn if postgres else None)
        run_env = {k: v for k, v in os.environ.items() if not k.startswith("SQUATSTREAM_")}
        run_env.update({k: in_sandbox(str(v), mounts) for k, v in env.items()})
        args = [in_sandbox(a, mounts) for a in container.get("args", [])]
        # Redis: a port just freed on loopback (refused at once; the in-cluster name is never resolved here).
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            redis_stand_in = f"127.0.0.1:{s.getsockname()[1]}"
        args = [f"--redis_address={redis_stand_in}" if a.startswith("--redis_address=") and a != "--redis_address="
                else a for a in args]
        if run_env.get("SQUATSTREAM_REDIS_ADDRESS"):
            run_env["SQUATSTREAM_REDIS_ADDRESS"] = redis_stand_in
        cmd = [binary, *args, "--grpc_address=127.0.0.1:0", "--metrics_address=127.0.0.1:0", "--stub_enrichers=all"]
        if health:
            cmd.append("--health_address=127.0.0.1:0")
        server = subprocess.Popen(cmd, env=run_env, stderr=subprocess.PIPE, text=True)
        try:
            said = []
            while not said or "serving gRPC on port" not in said[-1]:
                line = server.stderr.readline()
                if not line:
                    server.wait(timeout=10)
                    fail(f"{path}: squatstreamd does not start with the rendered args and ConfigMap: {''.join(said).strip()}")
                said.append(line)
            if health and "health checks (plaintext) on port" not in said[-1]:
                fail(f"{path}: squatstreamd started no health listener with --health_address: {said[-1].strip()}")
            if store["engine"] == "sqlite":
                database = in_sandbox(store["path"], mounts)
                deadline = time.monotonic() + 10
                while not os.path.exists(database):
                    if time.monotonic() > deadline or not database.startswith(tmp):
                        fail(f"{path}: squatstreamd did not create its SQLite store {store['path']} on the pod's volume")
                    time.sleep(0.1)
            elif store["engine"] == "postgresql" and postgres is None and not any(
                    "the store cannot be opened yet (postgresql" in l for l in said):
                fail(f"{path}: squatstreamd did not try the PostgreSQL DSN of {store['file']}: {''.join(said).strip()}")
        finally:
            if server.poll() is None:
                server.terminate()
                try:
                    server.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    server.kill()
                    fail(f"{path}: squatstreamd did not exit within 10 s of SIGTERM while idle")
    finally:
        if postgres is not None:
            postgres.stdin.close()  # postgres.py stops its cluster and removes its folder
            postgres.wait(timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


def mount_of(container, pod, file_path):
    """(volumeMount, volume) of the deepest mount holding file_path, or (None, None)."""
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    best = None
    for m in container.get("volumeMounts", []):
        mount = m["mountPath"].rstrip("/")
        if file_path.startswith(mount + "/") and (best is None or len(mount) > len(best["mountPath"].rstrip("/"))):
            best = m
    return (best, volumes.get(best["name"]) or {}) if best else (None, None)


def check_secret_file(path, container, pod, flag, file_path, what):
    """--flag=file_path is a file of a Secret mounted read-only, which provides it, not readable by every user;
    returns (the Secret's name, its key)."""
    mount, volume = mount_of(container, pod, file_path)
    if mount is None:
        fail(f"{path}: --{flag}={file_path} is on no volume of the pod: mount {what}'s Secret there")
    if "secret" not in volume:
        fail(f"{path}: --{flag}={file_path} is on volume {mount['name']}, which is not a Secret ({what} holds a password)")
    if not mount.get("readOnly"):
        fail(f"{path}: {what}'s Secret volume {mount['name']} is not mounted readOnly")
    secret = volume["secret"]
    name = file_path[len(mount["mountPath"].rstrip("/")) + 1:]
    items = secret.get("items")
    if items is not None and name not in [i["path"] for i in items]:
        fail(f"{path}: --{flag}={file_path} names {name!r}, which Secret {secret['secretName']}'s items do not provide")
    mode = next((i.get("mode") for i in items or [] if i["path"] == name), None)
    mode = mode if mode is not None else secret.get("defaultMode", 0o644)
    if mode & 0o007:
        fail(f"{path}: {what}'s Secret volume {mount['name']} has mode {mode:o}: readable by every user")
    key = next((i["key"] for i in items or [] if i["path"] == name), name)
    return secret["secretName"], key


def check_redis(path, by_kind, deployment, pod, container, flags, hpas):
    """The Redis rules of the docstring."""
    address = flags.get("redis_address", "")
    secret = None
    if address:
        if flags.get("redis_password_file"):
            secret = check_secret_file(path, container, pod, "redis_password_file", flags["redis_password_file"],
                                       "the Redis password")
        max_replicas = max([h["spec"]["maxReplicas"] for h in hpas
                            if h["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]] or [1])
        fallback = int(flags.get("redis_fallback_replicas", "0"))
        if max_replicas > 1 and fallback < max_replicas:
            fail(f"{path}: --redis_fallback_replicas={fallback} with up to {max_replicas} replicas (HPA maxReplicas): a "
                 "pod started while Redis is down takes more than its share, the pods together more than each limit; "
                 f"set --redis_fallback_replicas={max_replicas}")
    redis = [d for d in by_kind.get("Deployment", [])
             if any(c["name"] == "redis" for c in d["spec"]["template"]["spec"]["containers"])]
    for d in redis:
        name = d["metadata"]["name"]
        rpod = d["spec"]["template"]["spec"]
        ctr = next(c for c in rpod["containers"] if c["name"] == "redis")
        line = " ".join(ctr.get("command", []) + ctr.get("args", []))
        if not re.search(r"--save (''|\"\")", line) or "--appendonly no" not in line:
            fail(f"{path}: Redis {name} persists its data (run it with --save '' --appendonly no: counters and a cache)")
        if d["spec"].get("replicas", 1) != 1 or d["spec"].get("strategy", {}).get("type") != "Recreate":
            fail(f"{path}: Redis {name} may run two at once (replicas 1 and strategy Recreate): two sets of counters")
        if "memory" not in ctr.get("resources", {}).get("limits", {}):
            fail(f"{path}: Redis {name} has no memory limit")
        secrets = {v["secret"]["secretName"] for v in rpod.get("volumes", []) if "secret" in v}
        if secret is not None and secret[0] not in secrets:
            fail(f"{path}: Redis {name} reads its password from {sorted(secrets)}, squatstreamd from Secret {secret[0]}")
        psc = rpod.get("securityContext", {})
        if not psc.get("runAsNonRoot") or ctr.get("securityContext", {}).get("readOnlyRootFilesystem") is not True:
            fail(f"{path}: Redis {name} runs as root or on a writable root filesystem")
        rlabels = d["spec"]["template"]["metadata"]["labels"]
        policies = [np for np in by_kind.get("NetworkPolicy", [])
                    if np["spec"]["podSelector"].get("matchLabels", {}).items() <= rlabels.items()
                    and np["spec"]["podSelector"].get("matchLabels")]
        app_labels = deployment["spec"]["template"]["metadata"]["labels"]
        if not policies or any(peer.get("namespaceSelector") is not None or not peer.get("podSelector", {}).get("matchLabels")
                               or not peer["podSelector"]["matchLabels"].items() <= app_labels.items()
                               for np in policies for rule in np["spec"].get("ingress") or []
                               for peer in rule.get("from") or []):
            fail(f"{path}: Redis {name}: no NetworkPolicy admitting squatstream's pods only")
    if address and redis:
        host, _, port = address.rpartition(":")
        services = {svc["metadata"]["name"]: svc for svc in by_kind.get("Service", [])}
        svc = services.get(host.split(".")[0])
        if svc is None or int(port) not in [p["port"] for p in svc["spec"]["ports"]]:
            fail(f"{path}: --redis_address={address} names no Service port of the manifests (Redis: "
                 f"{[d['metadata']['name'] for d in redis]})")


def check_store(path, deployment, pod, container, env, flags, hpas):
    """The store rules of the docstring; returns {engine, path | file} for start_server."""
    explicit = {re.match(r"--(\w+)", a).group(1) for a in container.get("args", [])}
    explicit |= {k.removeprefix("SQUATSTREAM_").lower() for k in env}
    sources = [a for a in container.get("args", []) if a.startswith("--store=")]
    sources += [str(v) for k, v in env.items() if k == "SQUATSTREAM_STORE"]
    for dsn in sources:
        value = dsn.removeprefix("--store=")
        if re.match(r"postgres(ql)?://[^/@]*:[^/@]*@", value) or re.search(r"(^|\s)password\s*=", value):
            fail(f"{path}: the store's DSN with its password is in the manifest ({value.split('@')[0]}@…): put it in a "
                 "Secret and name the mounted file with --store_file")
    geo_real = not {e.strip() for e in flags["stub_enrichers"].split(",")} & {"geo", "all"}
    if geo_real:
        geo_files = [f for flag in ("geo_city_db", "geo_asn_db") for f in flags.get(flag, "").split(",") if f]
        for m in container.get("volumeMounts", []):
            mount = m["mountPath"].rstrip("/")
            for f in geo_files:
                if f.startswith(mount + "/") and os.path.dirname(f) != mount:
                    fail(f"{path}: volume {m['name']} mounted on {m['mountPath']} hides the geo database {f} of the image "
                         "(mount the store's volume on a folder of its own)")
    if "store_file" in explicit and flags["store_file"]:
        if "store" in explicit:
            fail(f"{path}: both --store and --store_file are set (--store_file wins): keep one")
        check_secret_file(path, container, pod, "store_file", flags["store_file"], "the DSN")
        return {"engine": "postgresql", "file": flags["store_file"]}
    spec = flags["store"]
    if spec == "none":
        return {"engine": "none"}
    if not spec.startswith("sqlite:"):
        return {"engine": "postgresql", "file": "--store"}
    database = spec.removeprefix("sqlite:")
    mount, volume = mount_of(container, pod, database)
    if mount is None or mount.get("readOnly") or not ({"emptyDir", "persistentVolumeClaim", "ephemeral"} & volume.keys()):
        fail(f"{path}: the SQLite store {database} is not on a writable volume of the pod (an emptyDir or a "
             "PersistentVolumeClaim mounted on its folder): the root filesystem is read-only, and a container's own "
             "files die with it")
    replicas = [h["spec"]["maxReplicas"] for h in hpas if h["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]]
    replicas = replicas or [deployment["spec"].get("replicas", 1)]
    if max(replicas) > 1:
        fail(f"{path}: the SQLite store has one writer, and the Deployment may run {max(replicas)} replicas: one "
             "(HPA maxReplicas: 1), or PostgreSQL for more")
    strategy = deployment["spec"].get("strategy", {}).get("type", "RollingUpdate")
    if "persistentVolumeClaim" in volume and strategy != "Recreate":
        fail(f"{path}: the SQLite store is on a PersistentVolumeClaim and the Deployment's strategy is {strategy}: "
             "a rolling update starts a second writer before the first stops (or cannot attach a ReadWriteOnce "
             "volume elsewhere): use Recreate")
    return {"engine": "sqlite", "path": database}


def check(binary, path):
    defaults = flags_and_defaults(binary)
    objs = [o for o in yaml.safe_load_all(open(path)) if o]
    by_kind = {}
    for o in objs:
        by_kind.setdefault(o["kind"], []).append(o)
    env = by_kind["ConfigMap"][0]["data"]
    apps = [d for d in by_kind["Deployment"] if d["metadata"]["name"] == "squatstream"]
    if len(apps) != 1:
        fail(f"{path}: {len(apps)} Deployments named squatstream (squatstreamd's), want one")
    deployment = apps[0]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    flags = effective_flags(path, container, env, defaults)

    # Ports.
    def port_of(flag):
        return int(flags[flag].rsplit(":", 1)[1])
    grpc_port, metrics_port = port_of("grpc_address"), port_of("metrics_address")
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    if ports.get("grpc") != grpc_port or ports.get("metrics") != metrics_port:
        fail(f"{path}: container ports {ports} != server's grpc {grpc_port} / metrics {metrics_port}")
    health_port = port_of("health_address") if flags.get("health_address") else None
    tls = bool(flags.get("tls_cert_file"))
    if tls and health_port is None:
        fail(f"{path}: the gRPC port has TLS (--tls_cert_file) and no --health_address is set: the kubelet's grpc: "
             "probes speak plaintext only and would never see the pod ready (set --health_address and probe its port)")
    if health_port is not None and ports.get("health") != health_port:
        fail(f"{path}: container ports {ports} lack the health listener's port {health_port}, named health")
    probed = health_port if health_port is not None else grpc_port
    for probe in ("readinessProbe", "livenessProbe"):
        if container[probe]["grpc"]["port"] != probed:
            which = "the health listener (--health_address) serves" if health_port is not None else "the server serves"
            fail(f"{path}: {probe} checks port {container[probe]['grpc']['port']}, {which} {probed}")
    pod_labels = deployment["spec"]["template"]["metadata"].get("labels", {})
    app_services = [svc for svc in by_kind["Service"]
                    if svc["spec"].get("selector") and svc["spec"]["selector"].items() <= pod_labels.items()]
    for svc in app_services:
        for p in svc["spec"]["ports"]:
            if p["targetPort"] not in ports:
                fail(f"{path}: Service {svc['metadata']['name']} targets unknown port {p['targetPort']}")
    service_ports = {p["name"] for svc in app_services for p in svc["spec"]["ports"]}
    for sm in by_kind.get("ServiceMonitor", []):
        for ep in sm["spec"]["endpoints"]:
            if ep["port"] not in service_ports:
                fail(f"{path}: ServiceMonitor scrapes unknown port {ep['port']}")
    dockerfile = open(os.path.join(ROOT, "deploy/docker/Dockerfile")).read()
    exposed = {int(p) for p in re.search(r"^EXPOSE (.*)$", dockerfile, re.M).group(1).split()}
    if exposed != {grpc_port, metrics_port}:
        fail(f"Dockerfile exposes {sorted(exposed)}, the server serves {grpc_port} and {metrics_port}")
    for base in re.findall(r"^FROM (\S+)", dockerfile, re.M):
        # A point-release tag and a digest slot (a build argument: none is committed, see the Dockerfile).
        if not re.fullmatch(r"[\w./-]+:[\w.-]*\d+\.\d+[\w.-]*\$\{(\w+_DIGEST):\+@\$\{\1\}\}", base):
            fail(f"Dockerfile: base {base} is not pinned (a point-release tag and a ${{…_DIGEST}} digest slot)")
    if not re.search(r"^\s*(&&\s*)?strip\b|--strip", dockerfile, re.M):
        fail("Dockerfile: the shipped binaries are not stripped")

    # Drain.
    grace = seconds(flags["shutdown_grace"])
    pre_stop = container.get("lifecycle", {}).get("preStop", {})
    if "exec" in pre_stop and pre_stop["exec"]["command"][:1] == ["sleep"]:
        fail(f"{path}: preStop runs a sleep command; use lifecycle.preStop.sleep (Kubernetes >= 1.30)")
    pause = pre_stop.get("sleep", {}).get("seconds", 0)
    tgps = pod["terminationGracePeriodSeconds"]
    if tgps <= grace + pause + 1:
        fail(f"{path}: terminationGracePeriodSeconds {tgps} <= preStop {pause} + drain {grace} + 1 s to exit")
    age, age_grace = seconds(flags["max_connection_age"]), seconds(flags["max_connection_age_grace"])
    if age > 0 and age_grace < grace:
        fail(f"{path}: --max_connection_age_grace {flags['max_connection_age_grace']} is shorter than the drain "
             f"--shutdown_grace {flags['shutdown_grace']}: streams on aged connections are cut sooner than a drain cuts them")

    # Scaling.
    max_streams = int(flags["max_concurrent_streams"])
    for hpa in by_kind.get("HorizontalPodAutoscaler", []):
        ref = hpa["spec"]["scaleTargetRef"]
        if ref["kind"] != "Deployment" or ref["name"] != deployment["metadata"]["name"]:
            continue
        if "replicas" in deployment["spec"]:
            fail(f"{path}: HorizontalPodAutoscaler {hpa['metadata']['name']} scales Deployment {ref['name']}, "
                 f"which sets replicas: {deployment['spec']['replicas']} (every apply resets the HPA's choice)")
        if hpa["spec"].get("minReplicas", 1) > hpa["spec"]["maxReplicas"]:
            fail(f"{path}: HPA minReplicas > maxReplicas")
        for metric in hpa["spec"].get("metrics", []):
            if metric["type"] == "Pods" and metric["pods"]["metric"]["name"] == "squatstream_active_streams":
                target = float(metric["pods"]["target"]["averageValue"])
                if target >= max_streams:
                    fail(f"{path}: HPA target of {metric['pods']['target']['averageValue']} active streams per pod is "
                         f"not below --max_concurrent_streams={max_streams}: it can never be reached")
            if metric["type"] == "Resource" and metric["resource"]["target"]["type"] == "Utilization":
                name = metric["resource"]["name"]
                if name not in container.get("resources", {}).get("requests", {}):
                    fail(f"{path}: HPA scales on {name} utilization but the container requests no {name}")

    # Network.
    check_network_policies(path, by_kind.get("NetworkPolicy", []))

    # Memory.
    budget_mib = int(flags["memory_budget_mb"])
    stubbed = {e.strip() for e in flags["stub_enrichers"].split(",")}
    geo_mib = 0 if stubbed & {"geo", "all"} else GEO_DB_MIB
    need_mib = budget_mib + OVERHEAD_FIXED_MIB + OVERHEAD_PER_STREAM_MIB * max_streams + geo_mib
    limit = container.get("resources", {}).get("limits", {}).get("memory")
    if limit is None:
        fail(f"{path}: the container has no memory limit")
    if quantity_bytes(limit) < need_mib * MIB:
        geo = f" + {geo_mib} (geo databases)" if geo_mib else ""
        fail(f"{path}: memory limit {limit} is below what --memory_budget_mb={budget_mib} with "
             f"--max_concurrent_streams={max_streams} needs: {budget_mib} + {OVERHEAD_FIXED_MIB} + "
             f"{OVERHEAD_PER_STREAM_MIB} x {max_streams}{geo} = {need_mib} MiB (docs/DEPLOY.md, \"Sizing the pod\")")
    typical = typical_stream_bytes(int(flags["default_max_candidates"]))
    if budget_mib * MIB < max_streams * typical:
        fail(f"{path}: --memory_budget_mb={budget_mib} cannot hold --max_concurrent_streams={max_streams} typical "
             f"streams ({typical / MIB:.1f} MiB each): squatstreamd would refuse to start")

    # Placement and access.
    if pod.get("automountServiceAccountToken") is not False:
        fail(f"{path}: the pod mounts a service-account token (automountServiceAccountToken is not false)")
    for pdb in by_kind.get("PodDisruptionBudget", []):
        if pdb["spec"].get("unhealthyPodEvictionPolicy") != "AlwaysAllow":
            fail(f"{path}: PodDisruptionBudget {pdb['metadata']['name']} lacks unhealthyPodEvictionPolicy: AlwaysAllow")
    keys = {c["topologyKey"] for c in pod.get("topologySpreadConstraints", [])}
    if not {"topology.kubernetes.io/zone", "kubernetes.io/hostname"} <= keys:
        fail(f"{path}: the pod is not spread over zones and nodes (topologySpreadConstraints on {sorted(keys)})")

    store = check_store(path, deployment, pod, container, env, flags, by_kind.get("HorizontalPodAutoscaler", []))

    check_redis(path, by_kind, deployment, pod, container, flags, by_kind.get("HorizontalPodAutoscaler", []))

    start_server(binary, path, container, pod, env, store, health_port is not None)

    ports_said = f"{grpc_port}{' with TLS' if tls else ''}, {metrics_port}" + (
        f", health {health_port}" if health_port is not None else "")
    print(f"check_manifests: {path}: flags, ports ({ports_said}), probes, grace ({tgps} s > "
          f"{pause} + {grace} + 1), connection age grace {age_grace:g} s >= drain, HPA, NetworkPolicy sources, "
          f"memory ({limit} >= {need_mib} MiB for a {budget_mib} MiB budget and {max_streams} streams), store "
          f"({store['engine']}: {store.get('path') or store.get('file') or 'no watches'}) agree")


if __name__ == "__main__":
    for p in sys.argv[2:]:
        check(sys.argv[1], p)
