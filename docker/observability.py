"""Static checks of the observability files: the Grafana service, its provisioning (data source,
dashboard provider), the dashboard JSON and the Prometheus alert rules. Grafana cannot run where
this project is built, so the files are checked against what Grafana and Prometheus would do with
them, and every metric name a query uses against the names a real job reports:

    operator/src/test/resources/prometheus-metrics.txt

QSparseMiniClusterTest asserts that a job on a Flink mini cluster reports exactly the qsparse
metrics listed there, with the names Flink's Prometheus reporter gives them (and the listed Flink
metrics); this module asserts that every query names only listed metrics, with labels they have.
Rename a metric in Java and the test fails until the list follows; then this check fails until
the dashboard and the rules follow.

Called by validate.py (one Report for all checks).
"""

import json
import os
import re

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
METRIC_LIST = os.path.join(ROOT, "operator", "src", "test", "resources", "prometheus-metrics.txt")

GRAFANA_PROVISIONING = "/etc/grafana/provisioning"
PANEL_TYPES = {"timeseries", "stat", "gauge", "bargauge", "table", "text", "barchart", "heatmap"}
GRID_COLUMNS = 24
# Labels Flink's Prometheus reporter puts on every metric of a scope (the scope's variables).
FLINK_LABELS = {
    "flink_taskmanager_job_task_operator_": {"host", "tm_id", "job_id", "job_name", "task_id", "task_name",
                                             "task_attempt_id", "task_attempt_num", "subtask_index",
                                             "operator_id", "operator_name"},
    "flink_jobmanager_job_": {"host", "job_id", "job_name"},
}
# Labels Prometheus adds to every scraped series.
SCRAPE_LABELS = {"job", "instance"}
# What the dashboard must show (issue 29), as the metric each needs.
REQUIRED_PANELS = {
    "throughput": ("flink_taskmanager_job_task_operator_qsparse_eventsEnriched",
                   "flink_taskmanager_job_task_operator_qsparse_eventsPerSecond"),
    "latency": ("flink_taskmanager_job_task_operator_qsparse_eventLatencyMs",),
    "batch size": ("flink_taskmanager_job_task_operator_qsparse_batchSize",),
    "sparsity": ("flink_taskmanager_job_task_operator_qsparse_activationSparsity",),
    "dead letters by stage": ("flink_taskmanager_job_task_operator_qsparse_stage_deadLetters",),
    "restarts": ("flink_jobmanager_job_numRestarts",),
}
# The quantiles Flink's Prometheus reporter exports for a histogram (HistogramSummaryProxy, Flink 2.2).
QUANTILES = {"0.5", "0.75", "0.95", "0.98", "0.99", "0.999"}
METRIC = re.compile(r"\bflink_[A-Za-z0-9_:]+")
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or",
                "unless"}
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")


def load_metric_list(path=None):
    """name -> (kind, set of our labels), from the list the Java test asserts."""
    metrics = {}
    with open(path or METRIC_LIST) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split()
            metrics[fields[0]] = (fields[1], set(fields[2:]))
    return metrics


def labels_of(name, metrics):
    """Every label a series of this listed metric can carry."""
    kind, ours = metrics[name]
    labels = set(ours) | SCRAPE_LABELS
    for prefix, flink in FLINK_LABELS.items():
        if name.startswith(prefix):
            labels |= flink
    if kind == "histogram":
        labels.add("quantile")
    return labels


def resolve(name, metrics):
    """(listed name, is it a histogram's _count series) or (None, False)."""
    if name in metrics:
        return name, False
    if name.endswith("_count") and metrics.get(name[:-len("_count")], ("",))[0] == "histogram":
        return name[:-len("_count")], True
    return None, False


def check_expr(r, where, expr, metrics):
    """Checks one PromQL expression; returns the listed metric names it uses."""
    used = set()
    names = METRIC.findall(expr)
    r.check(names, f"{where}: query names no flink_ metric: {expr}")
    for name in names:
        base, count = resolve(name, metrics)
        if not r.check(base, f"{where}: metric {name} is not one a job reports (not in "
                             f"{os.path.relpath(METRIC_LIST, ROOT)}, which QSparseMiniClusterTest asserts)"):
            continue
        used.add(base)
        if metrics[base][0] == "histogram" and not count:
            # A summary's series differ only by quantile: without one, an aggregate mixes p50 with p99.
            selector = re.search(re.escape(name) + r"\s*\{([^}]*)\}", expr)
            r.check(selector and re.search(r"\bquantile\s*=", selector.group(1)),
                    f"{where}: {name} is a histogram (a summary in Prometheus): select one quantile "
                    f"({name}{{quantile=\"0.99\"}}) or use {name}_count")
            for q in re.findall(r"\bquantile\s*=\s*\"([^\"]*)\"", selector.group(1) if selector else ""):
                r.check(q in QUANTILES, f"{where}: {name}{{quantile=\"{q}\"}} is never exported (Flink's reporter "
                                        f"exports the quantiles {', '.join(sorted(QUANTILES, key=float))})")
    if not used:
        return used
    known = set().union(*(labels_of(n, metrics) for n in used))
    # Labels in selectors, in by/without/on/ignoring clauses and in legends must exist on these series.
    mentioned = set()
    for selector in re.findall(r"\{([^}]*)\}", expr):
        mentioned |= set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", selector))
    for clause in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr):
        mentioned |= {w.strip() for w in clause.split(",") if w.strip()}
    for label in sorted(mentioned - PROMQL_WORDS):
        r.check(label in known, f"{where}: label {label} is not on {', '.join(sorted(used))} "
                                f"(its labels: {', '.join(sorted(known))})")
    return used


def dashboard(r, where, d, metrics, datasource_uid):
    """Structure Grafana needs to show the panels, and every query's metric names."""
    if not r.check(isinstance(d, dict), f"{where}: not a JSON object"):
        return
    for key, kind in (("uid", str), ("title", str), ("panels", list), ("schemaVersion", int)):
        r.check(isinstance(d.get(key), kind), f"{where}: '{key}' missing or not a {kind.__name__}")
    uid = d.get("uid")
    if isinstance(uid, str):
        r.check(re.match(r"^[A-Za-z0-9_-]{1,40}$", uid), f"{where}: uid '{uid}' (at most 40 of [A-Za-z0-9_-])")
    ids, used = set(), {}
    occupied = {}
    for i, p in enumerate(d.get("panels") or []):
        pw = f"{where} panel {i} ({p.get('title', '?')})"
        pid = p.get("id")
        r.check(isinstance(pid, int) and pid not in ids, f"{pw}: id missing or not unique")
        ids.add(pid)
        r.check(p.get("type") in PANEL_TYPES, f"{pw}: type {p.get('type')} is not a panel Grafana ships")
        r.check(isinstance(p.get("title"), str) and p.get("title"), f"{pw}: no title")
        g = p.get("gridPos") or {}
        if r.check(all(isinstance(g.get(k), int) for k in ("x", "y", "w", "h")), f"{pw}: gridPos needs integer x, y, w, h"):
            r.check(0 <= g["x"] and g["w"] > 0 and g["h"] > 0 and g["x"] + g["w"] <= GRID_COLUMNS,
                    f"{pw}: gridPos {g} does not fit the {GRID_COLUMNS}-column grid")
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    other = occupied.get((x, y))
                    if not r.check(other is None, f"{pw}: overlaps panel {other}"):
                        break
                    occupied[(x, y)] = pid
                else:
                    continue
                break
        if p.get("type") == "text":
            continue
        ds = p.get("datasource") or {}
        r.check(isinstance(ds, dict) and ds.get("uid") == datasource_uid and ds.get("type") == "prometheus",
                f"{pw}: datasource must be the provisioned Prometheus (uid {datasource_uid}), got {ds}")
        targets = p.get("targets") or []
        r.check(targets, f"{pw}: no queries")
        refs = set()
        for t in targets:
            ref = t.get("refId")
            r.check(isinstance(ref, str) and ref and ref not in refs, f"{pw}: refId missing or repeated")
            refs.add(ref)
            tds = t.get("datasource")
            r.check(tds is None or (isinstance(tds, dict) and tds.get("uid") == datasource_uid),
                    f"{pw}: query {ref} has another datasource ({tds})")
            expr = t.get("expr")
            if r.check(isinstance(expr, str) and expr.strip(), f"{pw}: query {ref} has no expr"):
                for name in check_expr(r, f"{pw} query {ref}", expr, metrics):
                    used.setdefault(name, []).append(expr)
    for what, needed in REQUIRED_PANELS.items():
        r.check(any(n in used for n in needed), f"{where}: no panel shows {what} ({' or '.join(needed)})")
    stage = used.get("flink_taskmanager_job_task_operator_qsparse_stage_deadLetters", [])
    r.check(not stage or any(re.search(r"\bby\s*\([^)]*\bstage\b", e) for e in stage),
            f"{where}: dead letters are not shown by stage (sum by (stage) ...)")


def alert_rules(r, where, doc, metrics):
    if not r.check(isinstance(doc, dict) and isinstance(doc.get("groups"), list) and doc["groups"],
                   f"{where}: no rule groups"):
        return
    names = set()
    for g in doc["groups"]:
        gw = f"{where} group {g.get('name')}"
        r.check(isinstance(g.get("name"), str) and g.get("name"), f"{where}: a group without a name")
        rules = g.get("rules") or []
        r.check(rules, f"{gw}: no rules")
        for rule in rules:
            name = rule.get("alert") or rule.get("record")
            rw = f"{gw} rule {name}"
            if not r.check(isinstance(name, str) and name, f"{gw}: a rule without alert or record name"):
                continue
            r.check(name not in names, f"{rw}: defined twice")
            names.add(name)
            expr = rule.get("expr")
            if r.check(isinstance(expr, str) and expr.strip(), f"{rw}: no expr"):
                check_expr(r, rw, expr, metrics)
            if "for" in rule:
                r.check(DURATION.match(str(rule["for"])), f"{rw}: 'for: {rule['for']}' is not a Prometheus duration")
            if "alert" in rule:
                r.check((rule.get("labels") or {}).get("severity") in ("info", "warning", "critical"),
                        f"{rw}: labels.severity must be info, warning or critical")
                r.check((rule.get("annotations") or {}).get("summary"), f"{rw}: no annotations.summary")
    return names


def mount_source(service, target, directory):
    """The file or directory (under `directory`) a compose service mounts at `target`, or None."""
    for v in service.get("volumes") or []:
        parts = str(v).split(":") if not isinstance(v, dict) else [v.get("source"), v.get("target")]
        if len(parts) >= 2 and parts[1].rstrip("/") == target.rstrip("/") and str(parts[0]).startswith("./"):
            return os.path.normpath(os.path.join(directory, parts[0]))
    return None


def check(r, directory, c, prom, readme):
    """All observability checks on a directory laid out like docker/."""
    metrics = load_metric_list()
    services = (c or {}).get("services") or {}

    # Prometheus loads the alert rules, and compose mounts the file it names.
    rule_files = (prom or {}).get("rule_files") or []
    r.check(rule_files, "prometheus: no rule_files (the operator's alert rules are not loaded)")
    prometheus = services.get("prometheus") or {}
    for rf in rule_files:
        src = mount_source(prometheus, rf, directory)
        if r.check(src and os.path.isfile(src), f"prometheus: rule file {rf} is not mounted from a file of docker/ "
                                                f"by the prometheus service"):
            with open(src) as f:
                alert_rules(r, f"alerts {os.path.relpath(src, directory)}", yaml.safe_load(f), metrics)

    # Grafana: a pinned image, its provisioning and dashboards mounted, reachable from the host.
    grafana = services.get("grafana")
    if not r.check(grafana, "compose: service grafana missing (dashboard for the operator's metrics)"):
        return
    image = str(grafana.get("image", ""))
    r.check(re.match(r"^grafana/grafana(-oss)?:\d+\.\d+\.\d+$", image),
            f"compose: grafana image must be pinned to a release (grafana/grafana:X.Y.Z), got '{image}'")
    ports = [str(p) for p in grafana.get("ports") or []]
    r.check(any(p.split(":")[-1].strip('"') == "3000" for p in ports), "compose: grafana's port 3000 is not published")
    r.check("prometheus" in (grafana.get("depends_on") or []), "compose: grafana does not depend on prometheus")
    r.check("localhost:3000" in readme, "docker/README.md does not say where Grafana is (localhost:3000)")
    prov = mount_source(grafana, GRAFANA_PROVISIONING, directory)
    if not r.check(prov and os.path.isdir(prov), f"compose: grafana does not mount a provisioning directory of "
                                                 f"docker/ at {GRAFANA_PROVISIONING}"):
        return

    # Data source: the compose file's Prometheus, by uid.
    sources = []
    for path in sorted(_yaml_files(os.path.join(prov, "datasources"))):
        with open(path) as f:
            doc = yaml.safe_load(f) or {}
        r.check(doc.get("apiVersion") == 1, f"grafana {os.path.relpath(path, directory)}: apiVersion must be 1")
        sources += doc.get("datasources") or []
    proms = [s for s in sources if s.get("type") == "prometheus"]
    if not r.check(len(proms) == 1, "grafana: provisioning must define exactly one Prometheus data source"):
        return
    ds = proms[0]
    prom_ports = {p.split(":")[-1].strip('"') for p in (str(x) for x in prometheus.get("ports") or [])} or {"9090"}
    m = re.match(r"^http://([\w.-]+):(\d+)/?$", str(ds.get("url", "")))
    r.check(m and m.group(1) in services and m.group(1) == "prometheus" and m.group(2) in prom_ports,
            f"grafana: data source url {ds.get('url')} is not the compose prometheus service "
            f"(http://prometheus:{'|'.join(sorted(prom_ports))})")
    uid = ds.get("uid")
    r.check(isinstance(uid, str) and uid, "grafana: the data source needs a uid (the dashboard refers to it)")

    # Dashboards: every provider's path is a mounted directory of docker/; each JSON in it passes.
    providers = []
    for path in sorted(_yaml_files(os.path.join(prov, "dashboards"))):
        with open(path) as f:
            doc = yaml.safe_load(f) or {}
        r.check(doc.get("apiVersion") == 1, f"grafana {os.path.relpath(path, directory)}: apiVersion must be 1")
        providers += doc.get("providers") or []
    if not r.check(providers, "grafana: no dashboard provider"):
        return
    found = 0
    uids = set()
    for p in providers:
        target = ((p.get("options") or {}).get("path")) or ""
        r.check(p.get("type", "file") == "file", f"grafana: provider {p.get('name')} is not of type file")
        src = mount_source(grafana, target, directory)
        if not r.check(src and os.path.isdir(src), f"grafana: provider {p.get('name')} reads {target}, which "
                                                   f"compose does not mount from a directory of docker/"):
            continue
        for name in sorted(os.listdir(src)):
            if not name.endswith(".json"):
                continue
            found += 1
            where = f"dashboard {os.path.relpath(os.path.join(src, name), directory)}"
            try:
                with open(os.path.join(src, name)) as f:
                    d = json.load(f)
            except ValueError as e:
                r.check(False, f"{where}: not valid JSON ({e})")
                continue
            r.check(d.get("uid") not in uids, f"{where}: uid {d.get('uid')} used by another dashboard")
            uids.add(d.get("uid"))
            dashboard(r, where, d, metrics, uid)
    r.check(found, "grafana: no dashboard JSON in the provisioned directories")
    home = (grafana.get("environment") or {}).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        targets = [((p.get("options") or {}).get("path") or "").rstrip("/") for p in providers]
        src = next((mount_source(grafana, t, directory) for t in targets if home.startswith(t + "/")), None)
        r.check(src and os.path.isfile(os.path.join(src, home.rsplit("/", 1)[1])),
                f"compose: grafana's home dashboard {home} is not a provisioned dashboard file")


def _yaml_files(directory):
    if not os.path.isdir(directory):
        return []
    return [os.path.join(directory, n) for n in os.listdir(directory) if n.endswith((".yml", ".yaml"))]
