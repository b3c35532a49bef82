"""Static checks of the deployment files. No Docker engine or Kubernetes cluster runs where this
project is built, so the files are validated against the rules of what would run them, not run:

- the flink image's entrypoint (FLINK_PROPERTIES: it deletes every whitespace character inside a
  line, keeps comment lines as keys and quotes as part of the value, and re-nests dotted keys);
- the Flink Kubernetes Operator's validator (savepoint and checkpoint directories for the
  savepoint and last-state upgrade modes, Kubernetes HA for last-state);
- storage every Flink process can reach (a checkpoint written by a TaskManager must be readable
  by the JobManager and by any TaskManager after a restart);
- Kafka listeners reachable from where docker/README.md tells clients to connect;
- Prometheus discovering every TaskManager of a scaled service;
- every repository path the docs and files mention exists;
- Grafana's provisioning, the dashboard JSON and the Prometheus alert rules, every query's metric
  names against the names the operator's tests assert (observability.py).

Run with Debian's python3 (python3-yaml):

    /usr/bin/python3 docker/validate.py                 # the files next to this script
    /usr/bin/python3 docker/validate.py --dir DIR       # another copy (same layout as docker/)

Exit status 1 and one "FAIL ..." line per problem when something is wrong.
"""

import argparse
import glob
import os
import re
import sys

import yaml

import observability

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

JVM_FLAG = re.compile(r"--add-modules[= ]jdk\.incubator\.vector")
CHECKPOINT_DIR_KEYS = ("execution.checkpointing.dir", "state.checkpoints.dir")
SAVEPOINT_DIR_KEYS = ("execution.checkpointing.savepoint-dir", "state.savepoints.dir")
HA_DIR_KEYS = ("high-availability.storageDir", "high-availability.storage-path")
FLINK_DATA_USER = "flink"
# Directories a build or a run creates: mentioned in the docs, absent from a fresh clone.
GENERATED = ("jobs/target/", "tests/target/", "docker/local/work", "/target/")
REPO_PATH = re.compile(
    r"(?:(?<=\$PWD/)|(?<![\w/.$~-]))"
    r"((?:\.ci|bin|docker|jobs|models|model-runtime|operator|tests|cli|bench|backend-nd4j|training|docs)"
    r"/[\w./-]*[\w/])")


class Report:
    def __init__(self):
        self.errors = []

    def check(self, ok, message):
        if not ok:
            self.errors.append(message)
        return ok


# ---------------------------------------------------------------------------------------------
# FLINK_PROPERTIES as the flink:2.x image's docker-entrypoint.sh reads it (process_flink_properties):
#   for each line: prop=$(echo $prop | tr -d '[:space:]'); IFS=':' read -r key value <<< "$prop"
# then every key/value pair goes to config.yaml through Flink's config parser, which re-nests
# dotted keys (a key that is a prefix of another key collides with it).

def entrypoint_view(line):
    """(key, value) as the image's entrypoint passes them to Flink."""
    prop = re.sub(r"\s", "", line)
    key, _, value = prop.partition(":")
    return key, value


def flink_properties(r, where, text):
    """Checks one FLINK_PROPERTIES value; returns the configuration Flink would get."""
    conf = {}
    for raw in str(text).splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            r.check(False, f"{where}: FLINK_PROPERTIES line '{line}' is a comment: the image's entrypoint "
                           f"does not skip comments and would pass it to Flink as a key")
            continue
        if ":" not in line:
            r.check(False, f"{where}: FLINK_PROPERTIES line '{line}' is not 'key: value'")
            continue
        key, _, intended = line.partition(":")
        key, intended = key.strip(), intended.strip()
        seen_key, seen_value = entrypoint_view(line)
        r.check(not re.search(r"\s", key), f"{where}: FLINK_PROPERTIES key '{key}' contains whitespace")
        r.check(seen_value == intended,
                f"{where}: FLINK_PROPERTIES value of {key} contains whitespace ('{intended}'): the flink image's "
                f"entrypoint deletes all whitespace inside each line, so Flink gets '{seen_value}'"
                + (" and the JVMs do not start" if key.startswith("env.java.opts") else ""))
        r.check(not (len(intended) >= 2 and intended[0] == intended[-1] and intended[0] in "'\""),
                f"{where}: FLINK_PROPERTIES value of {key} is quoted ({intended}): the quotes become part of the value")
        r.check(seen_key not in conf, f"{where}: FLINK_PROPERTIES sets {seen_key} twice")
        conf[seen_key] = seen_value
    keys = sorted(conf)
    for a in keys:
        for b in keys:
            r.check(not b.startswith(a + "."),
                    f"{where}: FLINK_PROPERTIES keys {a} and {b} collide: the entrypoint's config parser nests "
                    f"{b} under {a}, which already has a value")
    return conf


def first(conf, keys):
    for k in keys:
        if conf.get(k) not in (None, ""):
            return k, str(conf[k])
    return None, None


def scheme(uri):
    m = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", uri)
    return m.group(1).lower() if m else "file"


def local_path(uri):
    return re.sub(r"^file://", "", uri) if scheme(uri) == "file" else None


def under(path, mount):
    path, mount = path.rstrip("/") + "/", mount.rstrip("/") + "/"
    return path.startswith(mount)


# ---------------------------------------------------------------------------------------------
# Dockerfile

def dockerfile(r, text):
    """Returns the image's paths (COPY destinations and directories made for the flink user)."""
    r.check(re.search(r"^FROM flink:2\.2-java17\b", text, re.M), "Dockerfile: must build FROM flink:2.2-java17")
    image = {"copies": [], "owned": []}
    for src, dst in re.findall(r"^COPY\s+(\S+)\s+(\S+)", text, re.M):
        image["copies"].append(dst)
        if src.startswith("jobs/target/"):
            continue  # built by mvn package
        r.check(os.path.exists(os.path.join(ROOT, src)), f"Dockerfile: COPY source {src} does not exist")
    for run in re.findall(r"^RUN\s+(.*)$", text, re.M):
        if re.search(rf"chown\s+(-R\s+)?{FLINK_DATA_USER}", run):
            image["owned"] += re.findall(r"(/[\w/.-]+)", run.split("chown", 1)[1])
    envs = re.findall(r'^ENV\s+FLINK_PROPERTIES="((?:[^"\\]|\\.)*)"', text, re.M)
    r.check(envs, "Dockerfile: no ENV FLINK_PROPERTIES with the JVM flag")
    for value in envs:
        conf = flink_properties(r, "Dockerfile", value.replace("\\n", "\n"))
        r.check(JVM_FLAG.search(conf.get("env.java.opts.all", "")),
                "Dockerfile: env.java.opts.all does not reach Flink as --add-modules=jdk.incubator.vector")
    return image


# ---------------------------------------------------------------------------------------------
# docker-compose.yml (+ prometheus.yml, + docker/README.md's compose section)

def parse_listeners(value):
    out = {}
    for item in str(value or "").split(","):
        item = item.strip()
        m = re.match(r"^([A-Za-z0-9_]+)://([^:]*):(\d+)$", item)
        if m:
            out[m.group(1)] = (m.group(2), int(m.group(3)))
    return out


def published_ports(service):
    out = {}
    for p in service.get("ports") or []:
        if isinstance(p, dict):
            out[int(p["published"])] = int(p["target"])
            continue
        parts = str(p).split("/")[0].split(":")
        if len(parts) >= 2:
            out[int(parts[-2])] = int(parts[-1])
        else:
            out[int(parts[0])] = int(parts[0])
    return out


def volume_mounts(service):
    out = {}
    for v in service.get("volumes") or []:
        if isinstance(v, dict):
            out[v.get("target")] = v.get("source")
        else:
            parts = str(v).split(":")
            if len(parts) >= 2:
                out[parts[1]] = parts[0]
    return out


def section(markdown, title_regex):
    m = re.search(rf"^##\s+{title_regex}.*?$(.*?)(?=^##\s|\Z)", markdown, re.M | re.S)
    return m.group(1) if m else ""


def compose(r, c, prom, readme, image):
    services = c.get("services", {})
    for required in ("kafka", "jobmanager", "taskmanager", "submit", "prometheus"):
        r.check(required in services, f"compose: service {required} missing")
    if not all(s in services for s in ("kafka", "jobmanager", "taskmanager", "submit", "prometheus")):
        return
    for name, s in services.items():
        r.check("image" in s or "build" in s, f"compose: service {name} has neither image nor build")
        for dep in (s.get("depends_on") or {}):
            r.check(dep in services, f"compose: {name} depends on unknown service {dep}")

    confs = {}
    for name in ("jobmanager", "taskmanager"):
        props = (services[name].get("environment") or {}).get("FLINK_PROPERTIES", "")
        conf = confs[name] = flink_properties(r, f"compose {name}", props)
        r.check(JVM_FLAG.search(conf.get("env.java.opts.all", "")),
                f"compose: {name}'s env.java.opts.all does not reach Flink as --add-modules=jdk.incubator.vector")
        r.check("PrometheusReporterFactory" in conf.get("metrics.reporter.prom.factory.class", ""),
                f"compose: {name} has no Prometheus reporter")
    jm, tm = confs["jobmanager"], confs["taskmanager"]
    r.check(jm.get("restart-strategy.type") == "exponential-delay",
            "compose: restart-strategy.type must be exponential-delay, set explicitly: the job sets none unless "
            "--restart-attempts is given, and a fixed number of attempts ends the job after enough failures")
    managed = tm.get("taskmanager.memory.managed.fraction")
    r.check(managed is not None and float(managed) == 0.0 or tm.get("taskmanager.memory.managed.size") in ("0", "0m", "0b"),
            "compose: taskmanager.memory.managed.fraction must be 0.0: state is on the heap and the model is "
            "memory-mapped outside Flink's memory, so managed memory would only be wasted")

    # Checkpoints and savepoints: the same place for the JobManager and every TaskManager.
    jm_mounts, tm_mounts = volume_mounts(services["jobmanager"]), volume_mounts(services["taskmanager"])
    named_volumes = set((c.get("volumes") or {}).keys())
    for what, keys in (("checkpoint", CHECKPOINT_DIR_KEYS), ("savepoint", SAVEPOINT_DIR_KEYS)):
        key, uri = first(tm, keys)
        jkey, juri = first(jm, keys)
        if not r.check(uri is not None and juri is not None,
                       f"compose: no {what} directory ({keys[0]}) for the JobManager and the TaskManagers"):
            continue
        r.check(uri == juri, f"compose: {what} directory differs between jobmanager ({juri}) and taskmanager ({uri})")
        path = local_path(uri)
        if path is None:
            continue  # an object store or a distributed file system: reachable by every process
        shared = [m for m in tm_mounts if under(path, m) and jm_mounts.get(m) == tm_mounts[m]]
        if r.check(shared, f"compose: {what} directory {uri} is on no volume mounted by both jobmanager and "
                           f"taskmanager: each container has its own {path}, so a restore cannot find what "
                           f"another container wrote"):
            mount = shared[0]
            if tm_mounts[mount] in named_volumes:
                r.check(any(under(mount, o) or under(o, mount) for o in image["owned"]),
                        f"compose: named volume {tm_mounts[mount]} at {mount}: the Dockerfile must create {mount} "
                        f"owned by {FLINK_DATA_USER} (the processes run as {FLINK_DATA_USER}; an empty named volume "
                        f"takes the image directory's owner)")

    # The submit client builds the job graph: it must see the cluster's configuration too.
    submit = services["submit"]
    cmd = submit.get("command")
    cmd = " ".join(cmd) if isinstance(cmd, list) else str(cmd or "")
    r.check("flink run" in cmd and "qsparse-enrichment-job.jar" in cmd, "compose: submit does not run the job jar")
    r.check(not re.search(r"(^|\s)(--parallelism|-p)\s", cmd),
            "compose: submit passes a parallelism on the command line; parallelism.default is the one source")

    # Kafka listeners: each client must get back an address it can reach.
    kafka = services["kafka"]
    r.check(str(kafka.get("image", "")).startswith("apache/kafka:"), "compose: kafka must use the official apache/kafka image")
    env = kafka.get("environment") or {}
    r.check("broker,controller" in str(env.get("KAFKA_PROCESS_ROLES")), "compose: kafka is not KRaft combined mode")
    listeners = parse_listeners(env.get("KAFKA_LISTENERS"))
    advertised = parse_listeners(env.get("KAFKA_ADVERTISED_LISTENERS"))
    protocols = dict(kv.split(":") for kv in str(env.get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "")).split(",") if ":" in kv)
    controllers = set(str(env.get("KAFKA_CONTROLLER_LISTENER_NAMES", "")).split(","))
    for name in listeners:
        r.check(name in protocols, f"compose: kafka listener {name} has no security protocol in KAFKA_LISTENER_SECURITY_PROTOCOL_MAP")
    for name in advertised:
        r.check(name in listeners, f"compose: kafka advertises {name}, which is not in KAFKA_LISTENERS")
        r.check(name not in controllers, f"compose: kafka advertises its controller listener {name}")
    inter = env.get("KAFKA_INTER_BROKER_LISTENER_NAME", "PLAINTEXT")
    r.check(inter in advertised, f"compose: kafka's inter-broker listener {inter} is not advertised "
                                 f"(set KAFKA_INTER_BROKER_LISTENER_NAME to one of {sorted(advertised)})")
    ports = published_ports(kafka)
    reachable = {}  # address -> who can use it
    for name, (host, port) in advertised.items():
        if host in services:
            reachable[f"{host}:{port}"] = "containers"
        elif host in ("localhost", "127.0.0.1"):
            bind = listeners.get(name, (None, None))[1]
            if r.check(bind in ports.values() and ports.get(port) == bind,
                       f"compose: kafka advertises {host}:{port} for host clients, but host port {port} is not "
                       f"published to its listener port {bind}"):
                reachable[f"{host}:{port}"] = "host"
    # (The healthcheck runs inside the kafka container itself, where any bound port works.)
    for addr in re.findall(r"--bootstrap-servers?[ =]([\w.-]+:\d+)", cmd):
        r.check(reachable.get(addr) == "containers",
                f"compose: containers connect to Kafka at {addr}, which kafka does not advertise to containers "
                f"(advertised: {env.get('KAFKA_ADVERTISED_LISTENERS')})")
    # docker/README.md's compose section names the host addresses: each must work from the host.
    text = section(readme, r"Docker Compose")
    r.check(text, "docker/README.md: no '## Docker Compose' section")
    kafka_ports = set(ports)
    mentioned = sorted(set(re.findall(r"localhost:(\d+)", text)), key=int)
    for p in mentioned:
        port = int(p)
        publishers = [n for n, s in services.items() if port in published_ports(s)]
        r.check(publishers, f"docker/README.md: localhost:{port} is published by no compose service")
        if port in kafka_ports:
            r.check(reachable.get(f"localhost:{port}") == "host",
                    f"docker/README.md tells host clients to use Kafka at localhost:{port}, but kafka advertises "
                    f"{env.get('KAFKA_ADVERTISED_LISTENERS')}: a host client gets that address back and cannot connect")
    for addr, who in reachable.items():
        if who == "host":
            r.check(addr in text, f"docker/README.md's compose section does not say that host clients use Kafka at {addr}")

    # Prometheus: every TaskManager of a scaled service.
    port = str(tm.get("metrics.reporter.prom.port", "9249"))
    scrape = prom.get("scrape_configs") or []
    static = [t for sc in scrape for st in (sc.get("static_configs") or []) for t in st.get("targets", [])]
    dns = [(n, str(d.get("port")), d.get("type", "SRV")) for sc in scrape for d in (sc.get("dns_sd_configs") or [])
           for n in d.get("names", [])]
    r.check(("taskmanager", port, "A") in dns,
            f"prometheus: TaskManagers are not discovered (need dns_sd_configs names [taskmanager], type A, "
            f"port {port}); a static target 'taskmanager:{port}' scrapes one replica of a scaled service")
    r.check(f"taskmanager:{port}" not in static,
            f"prometheus: static target taskmanager:{port} scrapes one replica of the scaled taskmanager service")
    r.check(f"jobmanager:{port}" in static or ("jobmanager", port, "A") in dns, "prometheus: the JobManager is not scraped")


# ---------------------------------------------------------------------------------------------
# k8s/flinkdeployment.yaml, by the Flink Kubernetes Operator's documented validation rules
# (DefaultValidator) plus where each process can read and write.

def pod_volumes(template):
    """mountPath -> volume of the Flink main container in a pod template."""
    spec = (template or {}).get("spec") or {}
    volumes = {v.get("name"): v for v in spec.get("volumes") or []}
    out = {}
    for c in spec.get("containers") or []:
        if c.get("name") != "flink-main-container":
            continue
        for m in c.get("volumeMounts") or []:
            out[m.get("mountPath")] = volumes.get(m.get("name"), {"name": m.get("name")})
    return out


def flink_deployment(r, docs, image):
    docs = [d for d in docs if d]
    deps = [d for d in docs if d.get("kind") == "FlinkDeployment"]
    if not r.check(len(deps) == 1, "k8s: expected exactly one FlinkDeployment"):
        return
    d = deps[0]
    claims = {c["metadata"]["name"]: c for c in docs if c.get("kind") == "PersistentVolumeClaim"}
    r.check(d.get("apiVersion") == "flink.apache.org/v1beta1", "k8s: apiVersion")
    spec = d.get("spec", {})
    r.check(spec.get("flinkVersion") == "v2_2", "k8s: flinkVersion must be v2_2")
    conf = {k: str(v) for k, v in (spec.get("flinkConfiguration") or {}).items()}
    r.check(JVM_FLAG.search(conf.get("env.java.opts.all", "")), "k8s: env.java.opts.all lacks --add-modules=jdk.incubator.vector")
    r.check(conf.get("restart-strategy.type") == "exponential-delay",
            "k8s: restart-strategy.type must be exponential-delay, set explicitly in flinkConfiguration")
    for part in ("jobManager", "taskManager"):
        res = (spec.get(part) or {}).get("resource", {})
        r.check("memory" in res and "cpu" in res, f"k8s: {part} resources")
    job = spec.get("job", {})
    r.check(job.get("jarURI", "").endswith("qsparse-enrichment-job.jar"), "k8s: jarURI")
    r.check(job.get("entryClass") == "dev.qsparse.jobs.EnrichmentJob", "k8s: entryClass")
    mode = job.get("upgradeMode", "stateless")
    r.check(mode in ("stateless", "savepoint", "last-state"), "k8s: upgradeMode")

    # The operator's rules.
    ck_key, ck = first(conf, CHECKPOINT_DIR_KEYS)
    sp_key, sp = first(conf, SAVEPOINT_DIR_KEYS)
    if mode in ("savepoint", "last-state"):
        r.check(ck, f"k8s: Checkpoint directory[{CHECKPOINT_DIR_KEYS[0]}] must be defined for last-state and "
                    f"savepoint upgrade modes (Flink Kubernetes Operator)")
    if mode == "savepoint":
        r.check(sp, f"k8s: Job could not be upgraded with savepoint while config key[{SAVEPOINT_DIR_KEYS[0]}] is not "
                    f"set (Flink Kubernetes Operator)")
    ha = conf.get("high-availability.type", conf.get("high-availability", "none")).lower()
    if mode == "last-state":
        r.check(ha == "kubernetes", "k8s: Job could not be upgraded with last-state while Kubernetes HA disabled")
    # A JobManager that dies without HA loses its job's checkpoint pointers: the restarted job starts empty.
    ha_key, ha_dir = first(conf, HA_DIR_KEYS)
    r.check(ha == "kubernetes" and ha_dir,
            "k8s: high-availability.type: kubernetes and high-availability.storageDir are required, or a "
            "JobManager restart loses the latest checkpoint")

    # Where the JobManager and the TaskManagers write and read.
    common = pod_volumes(spec.get("podTemplate"))
    jm = {**common, **pod_volumes((spec.get("jobManager") or {}).get("podTemplate"))}
    tm = {**common, **pod_volumes((spec.get("taskManager") or {}).get("podTemplate"))}
    for key, uri in ((ck_key, ck), (sp_key, sp), (ha_key, ha_dir)):
        if not uri:
            continue
        path = local_path(uri)
        if path is None:
            continue
        mounts = [m for m in tm if under(path, m) and m in jm and jm[m].get("name") == tm[m].get("name")]
        if not r.check(mounts, f"k8s: {key} = {uri} is on no volume mounted by both the JobManager and the "
                               f"TaskManagers: every pod has its own {path}, so a restore cannot find its checkpoint"):
            continue
        vol = tm[mounts[0]]
        claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
        if not r.check(claim, f"k8s: {key} = {uri} is on volume {vol.get('name')}, which is not a PersistentVolumeClaim "
                              f"(emptyDir and hostPath are per pod or per node)"):
            continue
        modes = ((claims.get(claim) or {}).get("spec") or {}).get("accessModes") or []
        r.check("ReadWriteMany" in modes,
                f"k8s: {key} = {uri} is on claim {claim}, which this file must define with accessModes "
                f"[ReadWriteMany]: pods on different nodes all write there")

    # The model directory: in the image, or on a volume every TaskManager mounts.
    args = [str(a) for a in job.get("args") or []]
    model = conf.get("qsparse.model.path")
    if "--model" in args and args.index("--model") + 1 < len(args):
        model = args[args.index("--model") + 1]
    if r.check(model, "k8s: no model (--model or qsparse.model.path)"):
        r.check(any(under(model, p) for p in image["copies"]) or any(under(model, m) for m in tm),
                f"k8s: model {model} is neither in the image (Dockerfile COPY) nor on a volume of the TaskManagers")
    model_claims = [(v.get("persistentVolumeClaim") or {}).get("claimName") for m, v in tm.items()
                    if not any(under(local_path(u), m) for u in (ck, sp, ha_dir) if u and local_path(u))]
    model_claims = [c for c in model_claims if c]
    r.check(model_claims, "k8s: no volume for model directories in the pod template (see docker/README.md: how a model reaches the nodes)")
    for claim in model_claims:
        modes = ((claims.get(claim) or {}).get("spec") or {}).get("accessModes") or []
        r.check("ReadWriteMany" in modes or "ReadOnlyMany" in modes,
                f"k8s: model claim {claim} must be defined here as ReadOnlyMany or ReadWriteMany: every TaskManager reads it")

    # job.parallelism is the one source of parallelism (the operator sizes the TaskManagers from it).
    r.check(isinstance(job.get("parallelism"), int) and job.get("parallelism") > 0, "k8s: job.parallelism must be set")
    r.check(not any(a in ("--parallelism", "-p") or a.startswith("--parallelism=") for a in args),
            "k8s: job.args pass --parallelism, which overrides job.parallelism: scaling through spec.job.parallelism "
            "would not change the job")
    r.check("parallelism.default" not in conf, "k8s: parallelism.default in flinkConfiguration competes with job.parallelism")


# ---------------------------------------------------------------------------------------------
# Repository paths named in the docs and files.

def repo_paths(r, files):
    for name, text in files.items():
        for path in sorted(set(REPO_PATH.findall(text))):
            if any(g in path or path.startswith(g) for g in GENERATED):
                continue
            if "..." in path:
                pattern = os.path.join(ROOT, path.replace("...", "**"))
                found = glob.glob(pattern, recursive=True) or glob.glob(pattern + ".*", recursive=True)
            else:
                found = os.path.exists(os.path.join(ROOT, path))
            r.check(found, f"{name}: names {path}, which does not exist in the repository")


def validate(directory):
    r = Report()

    def read(name):
        with open(os.path.join(directory, name)) as f:
            return f.read()

    docker_text = read("Dockerfile")
    compose_text = read("docker-compose.yml")
    prom_text = read("prometheus.yml")
    k8s_text = read(os.path.join("k8s", "flinkdeployment.yaml"))
    readme = read("README.md")
    image = dockerfile(r, docker_text)
    compose_doc, prom_doc = yaml.safe_load(compose_text), yaml.safe_load(prom_text)
    compose(r, compose_doc, prom_doc, readme, image)
    observability.check(r, directory, compose_doc, prom_doc, readme)
    flink_deployment(r, list(yaml.safe_load_all(k8s_text)), image)
    repo_paths(r, {"docker/README.md": readme, "Dockerfile": docker_text, "docker-compose.yml": compose_text,
                   "k8s/flinkdeployment.yaml": k8s_text})
    return r.errors


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=HERE, help="directory laid out like docker/ (default: this script's)")
    args = parser.parse_args(argv)
    errors = validate(args.dir)
    for e in errors:
        print("FAIL", e)
    if errors:
        print(f"{len(errors)} problem(s) in {args.dir}")
        return 1
    print("docker/: compose, Dockerfile and FlinkDeployment pass the static checks (validated, not run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
