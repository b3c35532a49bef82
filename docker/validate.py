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
- the multi-stage Dockerfile: a build stage with JDK 17, Maven and gcc, a runtime stage pinned to
  flink:2.2.1-java17, and every COPY --from source produced by the build stage's `mvn ... package`
  (read from the modules' poms: jar names, shade finalName, dependency-plugin destFileName);
- SQL: the compose sql-client and the Kubernetes SQL gateway run scripts that are in the image,
  whose ADD JARs name jars in the image, whose Kafka the containers reach and whose model is there;
  the gateway points at the session cluster's REST service and the client at the gateway's Service;
- Kafka's log directory on a named volume (topics survive `docker compose down`);
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
    r"((?:\.ci|bin|docker|jobs|models|model-runtime|operator|tests|cli|bench|backend-nd4j|training|docs|sql)"
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
# Dockerfile: a build stage that compiles the artifacts from the source tree (JDK 17, Maven, gcc)
# and a runtime stage on the pinned Flink image that copies only what the build stage produced.

RUNTIME_BASE = "flink:2.2.1-java17"
# Maven phases at or after `package`: the jars exist once one of them has run.
PACKAGE_PHASES = ("package", "verify", "install", "deploy")


def instructions(text):
    """(KEYWORD, arguments) per logical line: comments dropped, continuation lines joined."""
    out, pending = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment between continuation lines
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        out.append((keyword.upper(), args.strip()))
    return out


def stages(text):
    """The stages in order: {base, name, workdir, steps: [(KEYWORD, args)]}."""
    out = []
    for keyword, args in instructions(text):
        if keyword == "FROM":
            m = re.match(r"^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", args, re.I)
            out.append({"base": m.group(1), "name": (m.group(2) or str(len(out))).lower(), "workdir": "/", "steps": []})
        elif out:
            out[-1]["steps"].append((keyword, args))
            if keyword == "WORKDIR":
                out[-1]["workdir"] = os.path.join(out[-1]["workdir"], args)
    return out


def copy_args(args):
    """(options, sources, destination) of a COPY instruction."""
    words = args.split()
    options = {}
    while words and words[0].startswith("--"):
        key, _, value = words.pop(0)[2:].partition("=")
        options[key] = value
    return options, words[:-1], words[-1] if words else ""


def pom_products(module_dir):
    """Files a module's `mvn package` writes under its target/: the jar, shaded jars (finalName) and
    artifacts the dependency plugin copies there (destFileName)."""
    path = os.path.join(module_dir, "pom.xml")
    if not os.path.exists(path):
        return set(), set()
    with open(path) as f:
        pom = f.read()
    own = re.sub(r"<parent>.*?</parent>", "", pom, flags=re.S)
    artifact = re.search(r"<artifactId>([^<]+)</artifactId>", own).group(1)
    version = re.search(r"<version>([^<]+)</version>", pom).group(1)  # the parent's, inherited
    out = {f"target/{artifact}-{version}.jar"}
    out |= {f"target/{n}.jar" for n in re.findall(r"<finalName>([^<$]+)</finalName>", pom)}
    for item in re.findall(r"<artifactItem>(.*?)</artifactItem>", pom, re.S):
        m = re.search(r"<destFileName>([^<]+)</destFileName>", item)
        if m:
            out.add(f"target/{m.group(1)}")
    # Sibling modules this one depends on (what -am also builds).
    deps = set(re.findall(r"<groupId>dev\.qsparse</groupId>\s*<artifactId>([^<]+)</artifactId>", own))
    return out, deps


def maven_products(run, workdir):
    """Paths (in the build container) that `mvn ... package` in RUN produces, from the poms."""
    m = re.search(r"\bmvn\b(.*)", run)
    if not m or not any(re.search(rf"(^|\s){p}(\s|$)", m.group(1)) for p in PACKAGE_PHASES):
        return set()
    words = m.group(1).split()
    modules = set()
    for i, w in enumerate(words):
        if w in ("-pl", "--projects") and i + 1 < len(words):
            modules |= set(words[i + 1].split(","))
    if not modules:  # the whole reactor
        with open(os.path.join(ROOT, "pom.xml")) as f:
            modules = set(re.findall(r"<module>([^<]+)</module>", f.read()))
    if "-am" in words or "--also-make" in words:
        todo = list(modules)
        while todo:
            for dep in pom_products(os.path.join(ROOT, todo.pop()))[1]:
                if dep not in modules:
                    modules.add(dep)
                    todo.append(dep)
    out = set()
    for module in modules:
        for product in pom_products(os.path.join(ROOT, module))[0]:
            out.add(os.path.normpath(os.path.join(workdir, module, product)))
    return out


def dockerfile(r, text):
    """Returns the image's paths: COPY destinations of the runtime stage (copies), their sources in
    the repository (sources: destination -> repository path) and directories made for the flink user."""
    image = {"copies": [], "owned": [], "sources": {}}
    all_stages = stages(text)
    if not r.check(all_stages, "Dockerfile: no FROM"):
        return image
    runtime = all_stages[-1]
    r.check(runtime["base"] == RUNTIME_BASE,
            f"Dockerfile: the runtime stage must be FROM {RUNTIME_BASE} (pinned to the Flink release), not "
            f"{runtime['base']}")
    builds = all_stages[:-1]
    r.check(builds, f"Dockerfile: single stage: the image needs the jars built on the host first; add a build stage "
                    f"(JDK 17, Maven, gcc) that builds them from the source tree")
    produced = {}
    for st in builds:
        runs = " && ".join(a for k, a in st["steps"] if k == "RUN")
        r.check(re.search(r"\bmaven:[^\s]*17", st["base"]) or (re.search(r"(jdk|temurin)[^\s]*17", st["base"])
                                                                 and re.search(r"install[^;&|]*\bmaven\b", runs)),
                f"Dockerfile: build stage {st['name']} ({st['base']}) has no JDK 17 with Maven "
                f"(e.g. FROM maven:3.9-eclipse-temurin-17)")
        r.check(re.search(r"(apt-get|apt|apk|dnf|yum|microdnf)\s+(-\S+\s+)*(install|add)[^;&|]*\bgcc\b", runs),
                f"Dockerfile: build stage {st['name']} does not install gcc, which backend-native's build runs")
        products = set()
        for keyword, args in st["steps"]:
            if keyword == "RUN":
                products |= maven_products(args, st["workdir"])
        r.check(products, f"Dockerfile: build stage {st['name']} runs no `mvn ... package`")
        produced[st["name"]] = products
    for keyword, args in runtime["steps"]:
        r.check(not (keyword == "RUN" and re.search(r"\b(mvn|gcc|javac)\b", args)),
                f"Dockerfile: the runtime stage runs a build tool ({args[:60]}): build in the build stage and COPY --from it")
    for st in all_stages:
        for keyword, args in st["steps"]:
            if keyword not in ("COPY", "ADD"):
                continue
            options, sources, dst = copy_args(args)
            if "from" in options:
                stage = options["from"].lower()
                if not r.check(stage in produced, f"Dockerfile: COPY --from={options['from']}: no such build stage"):
                    continue
                for src in sources:
                    r.check(os.path.normpath(src) in produced[stage],
                            f"Dockerfile: COPY --from={options['from']} {src}: nothing in stage {stage} produces it "
                            f"(its mvn package writes {', '.join(sorted(produced[stage])) or 'nothing'})")
            else:
                for src in sources:
                    if src != ".":
                        r.check(os.path.exists(os.path.join(ROOT, src)), f"Dockerfile: COPY source {src} does not exist")
                    if st is runtime:
                        image["sources"][dst] = src
            if st is runtime:
                image["copies"].append(dst)
    if builds:
        ignore = os.path.join(ROOT, ".dockerignore")
        patterns = []
        if os.path.exists(ignore):
            with open(ignore) as f:
                patterns = f.read().split()
        r.check("**/target" in patterns or "**/target/" in patterns,
                "Dockerfile: .dockerignore at the repository root must exclude **/target, or jars built on the host "
                "enter the build context and may be copied instead of the build stage's")
    for keyword, args in runtime["steps"]:
        if keyword == "RUN" and re.search(rf"chown\s+(-R\s+)?{FLINK_DATA_USER}", args):
            image["owned"] += re.findall(r"(/[\w/.-]+)", args.split("chown", 1)[1])
    envs = [m.group(1) for k, a in runtime["steps"] if k == "ENV"
            for m in [re.match(r'^FLINK_PROPERTIES="((?:[^"\\]|\\.)*)"', a)] if m]
    r.check(envs, "Dockerfile: no ENV FLINK_PROPERTIES with the JVM flag")
    for value in envs:
        conf = flink_properties(r, "Dockerfile", value.replace("\\n", "\n"))
        r.check(JVM_FLAG.search(conf.get("env.java.opts.all", "")),
                "Dockerfile: env.java.opts.all does not reach Flink as --add-modules=jdk.incubator.vector")
    return image


def in_image(image, path):
    return any(under(path, p) for p in image["copies"])


def image_file(image, path, directory):
    """The text of the repository file the image has at `path`, or None. Files under docker/ are read
    from `directory` (the copy being validated) when it has them."""
    for dst, src in image["sources"].items():
        if under(path, dst):
            rel = os.path.normpath(os.path.join(src, os.path.relpath(path, dst)) if path.rstrip("/") != dst.rstrip("/") else src)
            candidates = [os.path.join(ROOT, rel)]
            if rel.startswith("docker" + os.sep):
                candidates.insert(0, os.path.join(directory, rel[len("docker" + os.sep):]))
            for c in candidates:
                if os.path.isfile(c):
                    with open(c) as f:
                        return f.read()
    return None


def sql_statements(text):
    text = "\n".join(line.split("--", 1)[0] for line in text.splitlines())
    return [s.strip() for s in text.split(";") if s.strip()]


def sql_session(r, where, image, directory, files, containers_reach):
    """Checks the files a SQL client runs in the image (-i init, -f script): they are in the image, the
    jars the init file ADD JARs are in the image, the script's Kafka is reachable and its model is in
    the image."""
    if not r.check(files, f"{where}: runs no SQL script (-f)"):
        return
    for path in files:
        if not r.check(in_image(image, path), f"{where}: {path} is not in the image (no Dockerfile COPY puts it there)"):
            continue
        text = image_file(image, path, directory)
        if not r.check(text is not None, f"{where}: cannot find the repository file behind {path}"):
            continue
        for st in sql_statements(text):
            m = re.match(r"ADD\s+JAR\s+'([^']+)'", st, re.I)
            if m:
                r.check(in_image(image, m.group(1)), f"{where}: {path} ADD JARs {m.group(1)}, which is not in the image")
            for server in re.findall(r"'properties\.bootstrap\.servers'\s*=\s*'([^']+)'", st):
                for addr in server.split(","):
                    r.check(containers_reach(addr), f"{where}: {path} reads Kafka at {addr}, which the containers cannot reach")
            for model in re.findall(r"'model-path'\s*=\s*'([^']+)'", st):
                r.check(in_image(image, model), f"{where}: {path} loads model {model}, which is not in the image")
    jars = [st for p in files for st in sql_statements(image_file(image, p, directory) or "") if re.match(r"ADD\s+JAR", st, re.I)]
    r.check(any("qsparse-sql" in j for j in jars) and any("flink-sql-connector-kafka" in j for j in jars),
            f"{where}: the session ADD JARs neither qsparse-sql.jar nor the Kafka SQL connector (both needed, in its -i file)")


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


def compose(r, c, prom, readme, image, directory):
    services = c.get("services", {})
    for required in ("kafka", "jobmanager", "taskmanager", "submit", "sql-client", "prometheus"):
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

    # Kafka's data on a named volume, so that topics survive `docker compose down` as checkpoints do.
    logs = env.get("KAFKA_LOG_DIRS") or env.get("KAFKA_LOG_DIR")
    kafka_mounts = volume_mounts(kafka)
    if r.check(logs, "compose: kafka sets no KAFKA_LOG_DIRS: its data goes to a directory inside the container, "
                     "and `docker compose down` loses every topic"):
        for d in str(logs).split(","):
            on = [m for m in kafka_mounts if under(d, m)]
            r.check(on and kafka_mounts[on[0]] in named_volumes,
                    f"compose: kafka's log directory {d} is on no named volume: `docker compose down` loses every topic")
    if "broker,controller" in str(env.get("KAFKA_PROCESS_ROLES")):
        r.check(env.get("CLUSTER_ID"), "compose: kafka needs a fixed CLUSTER_ID (the image formats its storage with it, "
                                       "and a kept volume must be started with the same id)")

    # The SQL client: the same image and configuration, the script and the jars from the image.
    sql = services.get("sql-client")
    if sql is not None:
        r.check(sql.get("image") == services["jobmanager"].get("image"),
                "compose: sql-client must run the jobmanager's image (it has the SQL jars and scripts)")
        sql_conf = flink_properties(r, "compose sql-client", (sql.get("environment") or {}).get("FLINK_PROPERTIES", ""))
        r.check(sql_conf.get("rest.address") == "jobmanager" or sql_conf.get("jobmanager.rpc.address") == "jobmanager",
                "compose: sql-client's FLINK_PROPERTIES do not point rest.address at the jobmanager service")
        r.check(sql.get("restart") in ("no", None) or sql.get("restart") is False,
                "compose: sql-client is one shot (restart: \"no\"): a restart would submit the SQL job again")
        words = sql.get("command") or []
        words = words if isinstance(words, list) else str(words).split()
        r.check(any(str(w).endswith("sql-client.sh") for w in words), "compose: sql-client does not run sql-client.sh")
        files = [str(words[i + 1]) for i, w in enumerate(words[:-1]) if w in ("-i", "--init", "-f", "--file")]
        sql_session(r, "compose sql-client", image, directory, files,
                    lambda addr: reachable.get(addr) == "containers")
        r.check("kafka" in (sql.get("depends_on") or {}), "compose: sql-client must depend on kafka")
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
# k8s/sql-session.yaml: a session FlinkDeployment, Flink's SQL gateway in front of it, and a Job that
# runs the shipped script through the gateway.

def sql_on_kubernetes(r, docs, claims, image, directory):
    docs = [d for d in docs if d]
    kinds = {}
    for d in docs:
        kinds.setdefault(d.get("kind"), []).append(d)
    sessions = kinds.get("FlinkDeployment", [])
    if not r.check(len(sessions) == 1, "k8s sql: expected exactly one FlinkDeployment (the session cluster)"):
        return
    session = sessions[0]
    name = session["metadata"]["name"]
    spec = session.get("spec") or {}
    r.check("job" not in spec, f"k8s sql: FlinkDeployment {name} has a job: the SQL gateway needs a session cluster (no job)")
    r.check(spec.get("flinkVersion") == "v2_2", "k8s sql: flinkVersion must be v2_2")
    conf = {k: str(v) for k, v in (spec.get("flinkConfiguration") or {}).items()}
    r.check(JVM_FLAG.search(conf.get("env.java.opts.all", "")),
            "k8s sql: env.java.opts.all lacks --add-modules=jdk.incubator.vector")
    r.check(conf.get("restart-strategy.type") == "exponential-delay",
            "k8s sql: restart-strategy.type must be exponential-delay, set explicitly in flinkConfiguration")
    ha_key, ha_dir = first(conf, HA_DIR_KEYS)
    ck_key, ck = first(conf, CHECKPOINT_DIR_KEYS)
    r.check(ck, "k8s sql: no checkpoint directory: the SQL job's exactly-once sink commits on checkpoints")
    tm = pod_volumes(spec.get("podTemplate"))
    for key, uri in ((ck_key, ck), (ha_key, ha_dir)):
        path = local_path(uri) if uri else None
        if not path:
            continue
        mounts = [m for m in tm if under(path, m)]
        claim = (tm[mounts[0]].get("persistentVolumeClaim") or {}).get("claimName") if mounts else None
        modes = ((claims.get(claim) or {}).get("spec") or {}).get("accessModes") or []
        r.check(claim and "ReadWriteMany" in modes,
                f"k8s sql: {key} = {uri} must be on a ReadWriteMany claim that the pods mount "
                f"(defined in k8s/flinkdeployment.yaml or here)")

    # The gateway: its configuration as the image's entrypoint passes it, pointing at the session.
    gateways = [d for d in kinds.get("Deployment", []) if any(
        "sql-gateway" in " ".join(map(str, (c.get("command") or []) + (c.get("args") or [])))
        for c in d["spec"]["template"]["spec"].get("containers", []))]
    if not r.check(len(gateways) == 1, "k8s sql: no Deployment runs sql-gateway.sh"):
        return
    gateway = gateways[0]
    container = gateway["spec"]["template"]["spec"]["containers"][0]
    words = " ".join(map(str, (container.get("command") or []) + (container.get("args") or [])))
    r.check("start-foreground" in words, "k8s sql: sql-gateway.sh must run start-foreground (a pod's main process)")
    env = {e.get("name"): e.get("value") for e in container.get("env") or []}
    gconf = flink_properties(r, "k8s sql gateway", env.get("FLINK_PROPERTIES", ""))
    r.check(gconf.get("rest.address") == f"{name}-rest",
            f"k8s sql: the gateway's rest.address must be {name}-rest (the operator's REST service of "
            f"FlinkDeployment {name}), not {gconf.get('rest.address')}")
    port = int(gconf.get("sql-gateway.endpoint.rest.port", "8083"))
    r.check(gconf.get("sql-gateway.endpoint.rest.bind-address", gconf.get("sql-gateway.endpoint.rest.address")) == "0.0.0.0",
            "k8s sql: the gateway must bind 0.0.0.0 (sql-gateway.endpoint.rest.bind-address) to be reachable through its Service")
    labels = gateway["spec"]["template"]["metadata"].get("labels") or {}
    services = [sv for sv in kinds.get("Service", []) if sv["spec"].get("selector")
                and all(labels.get(k) == v for k, v in sv["spec"]["selector"].items())]
    if not r.check(services, "k8s sql: no Service selects the gateway's pods"):
        return
    service = services[0]
    targets = {int(p.get("targetPort", p.get("port"))): int(p["port"]) for p in service["spec"].get("ports") or []}
    r.check(port in targets, f"k8s sql: Service {service['metadata']['name']} does not forward to the gateway's port {port}")
    endpoint = f"{service['metadata']['name']}:{targets.get(port)}"

    # The Job: sql-client.sh in gateway mode against that Service, with the image's files.
    jobs = kinds.get("Job", [])
    if not r.check(jobs, "k8s sql: no Job runs the SQL script"):
        return
    c = jobs[0]["spec"]["template"]["spec"]["containers"][0]
    args = [str(a) for a in (c.get("command") or []) + (c.get("args") or [])]
    r.check(any(a.endswith("sql-client.sh") for a in args) and "gateway" in args,
            "k8s sql: the Job must run sql-client.sh in gateway mode")
    given = [args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-e", "--endpoint")]
    r.check(given and re.sub(r"^https?://", "", given[0]).rstrip("/") == endpoint,
            f"k8s sql: the Job's --endpoint must be the gateway's Service {endpoint}, not {given[0] if given else 'missing'}")
    files = [args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-i", "--init", "-f", "--file")]
    sql_session(r, "k8s sql Job", image, directory, files, lambda addr: addr.startswith("kafka:"))


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
    sql_path = os.path.join(directory, "k8s", "sql-session.yaml")
    sql_text = read(os.path.join("k8s", "sql-session.yaml")) if os.path.exists(sql_path) else ""
    readme = read("README.md")
    image = dockerfile(r, docker_text)
    compose_doc, prom_doc = yaml.safe_load(compose_text), yaml.safe_load(prom_text)
    compose(r, compose_doc, prom_doc, readme, image, directory)
    observability.check(r, directory, compose_doc, prom_doc, readme)
    k8s_docs = list(yaml.safe_load_all(k8s_text))
    flink_deployment(r, k8s_docs, image)
    if r.check(sql_text, "k8s: no SQL example (k8s/sql-session.yaml: a session cluster with Flink's SQL gateway)"):
        sql_docs = list(yaml.safe_load_all(sql_text))
        claims = {d["metadata"]["name"]: d for d in k8s_docs + sql_docs if d and d.get("kind") == "PersistentVolumeClaim"}
        sql_on_kubernetes(r, sql_docs, claims, image, directory)
    # (The `# syntax=docker/dockerfile:1` directive names BuildKit's frontend image, not a file.)
    docker_paths = re.sub(r"^#\s*syntax=.*$", "", docker_text, flags=re.M)
    repo_paths(r, {"docker/README.md": readme, "Dockerfile": docker_paths, "docker-compose.yml": compose_text,
                   "k8s/flinkdeployment.yaml": k8s_text, "k8s/sql-session.yaml": sql_text})
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
    print("docker/: compose, Dockerfile, FlinkDeployment and the SQL session pass the static checks (validated, not run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
