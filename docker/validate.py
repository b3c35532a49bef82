"""Static checks of the deployment files: no Docker engine or Kubernetes cluster runs where this
project is built, so they are validated, not run. Run with Debian's python3 (python3-yaml):

    /usr/bin/python3 docker/validate.py
"""

import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
JVM_FLAG = "--add-modules jdk.incubator.vector"
errors = []


def check(ok, message):
    if not ok:
        errors.append(message)


def load(name):
    with open(os.path.join(HERE, name)) as f:
        return yaml.safe_load(f)


def compose():
    c = load("docker-compose.yml")
    services = c.get("services", {})
    for required in ("kafka", "jobmanager", "taskmanager", "submit", "prometheus"):
        check(required in services, f"compose: service {required} missing")
    for name, s in services.items():
        check("image" in s or "build" in s, f"compose: service {name} has neither image nor build")
        for dep in (s.get("depends_on") or {}):
            check(dep in services, f"compose: {name} depends on unknown service {dep}")
    for name in ("jobmanager", "taskmanager"):
        props = services[name]["environment"]["FLINK_PROPERTIES"]
        check(JVM_FLAG in props, f"compose: {name} lacks {JVM_FLAG}")
        check("PrometheusReporterFactory" in props, f"compose: {name} has no Prometheus reporter")
    check(services["kafka"]["image"].startswith("apache/kafka:"), "compose: kafka must use the official apache/kafka image")
    env = services["kafka"]["environment"]
    check("broker,controller" in str(env.get("KAFKA_PROCESS_ROLES")), "compose: kafka is not KRaft combined mode")
    submit = " ".join(services["submit"]["command"])
    check("flink run" in submit and "qsparse-enrichment-job.jar" in submit, "compose: submit does not run the job jar")
    check(os.path.isfile(os.path.join(HERE, "prometheus.yml")), "compose: prometheus.yml missing")
    prom = load("prometheus.yml")
    targets = [t for sc in prom["scrape_configs"] for st in sc["static_configs"] for t in st["targets"]]
    check(any(t.startswith("taskmanager:") for t in targets), "prometheus: taskmanagers not scraped")


def dockerfile():
    with open(os.path.join(HERE, "Dockerfile")) as f:
        text = f.read()
    check(re.search(r"^FROM flink:2\.2-java17\b", text, re.M), "Dockerfile: must build FROM flink:2.2-java17")
    check(JVM_FLAG in text, f"Dockerfile: lacks {JVM_FLAG}")
    for src in re.findall(r"^COPY\s+(\S+)\s+\S+", text, re.M):
        if src.startswith("jobs/target/"):
            continue  # built by mvn package
        check(os.path.exists(os.path.join(ROOT, src)), f"Dockerfile: COPY source {src} does not exist")


def flink_deployment():
    d = load("k8s/flinkdeployment.yaml")
    check(d.get("apiVersion") == "flink.apache.org/v1beta1", "k8s: apiVersion")
    check(d.get("kind") == "FlinkDeployment", "k8s: kind")
    spec = d.get("spec", {})
    check(spec.get("flinkVersion") == "v2_2", "k8s: flinkVersion must be v2_2")
    check(JVM_FLAG in spec.get("flinkConfiguration", {}).get("env.java.opts.all", ""), f"k8s: lacks {JVM_FLAG}")
    for part in ("jobManager", "taskManager"):
        res = spec.get(part, {}).get("resource", {})
        check("memory" in res and "cpu" in res, f"k8s: {part} resources")
    job = spec.get("job", {})
    check(job.get("jarURI", "").endswith("qsparse-enrichment-job.jar"), "k8s: jarURI")
    check(job.get("entryClass") == "dev.qsparse.jobs.EnrichmentJob", "k8s: entryClass")
    check(job.get("upgradeMode") in ("stateless", "savepoint", "last-state"), "k8s: upgradeMode")


compose()
dockerfile()
flink_deployment()
if errors:
    for e in errors:
        print("FAIL", e)
    sys.exit(1)
print("docker/: compose, Dockerfile and FlinkDeployment are consistent (validated statically, not run)")
