"""docker/observability.py catches a dashboard or an alert rule that drifts from the metrics a job
reports, and a Grafana setup that would not load: each mutation of a copy of the current files
fails with its own message.

    /usr/bin/python3 -m unittest discover -s docker -p 'test_*.py'
"""

import json
import os
import re
import shutil
import tempfile
import unittest

import observability
import validate

HERE = os.path.dirname(os.path.abspath(__file__))
DASHBOARD = os.path.join("grafana", "dashboards", "qsparse-operator.json")
DATASOURCE = os.path.join("grafana", "provisioning", "datasources", "prometheus.yml")


class TheListIsTheJavaTestsList(unittest.TestCase):
    """The names checked here are the ones the operator's mini-cluster test asserts."""

    def test_the_mini_cluster_test_reads_the_same_file(self):
        test = os.path.join(observability.ROOT, "operator", "src", "test", "java", "dev", "qsparse", "flink",
                            "QSparseMiniClusterTest.java")
        with open(test) as f:
            source = f.read()
        rel = os.path.relpath(observability.METRIC_LIST, os.path.join(observability.ROOT, "operator"))
        self.assertIn(f'Path.of("{rel}")', source)
        self.assertIn("assertExportedNamesAreTheListedOnes", source)

    def test_the_list_has_the_metrics_issue_29_asks_for(self):
        metrics = observability.load_metric_list()
        p = "flink_taskmanager_job_task_operator_qsparse_"
        self.assertEqual(("counter", {"stage"}), metrics[p + "stage_deadLetters"])
        for name in ("queuedEvents", "inFlightEvents", "modelLoadTimeMs"):
            self.assertEqual("gauge", metrics[p + name][0], name)
        self.assertEqual("counter", metrics[p + "inputTokens"][0])
        for name in metrics:
            self.assertFalse(re.search(r"Us$|Micros", name), f"{name}: latencies are in ms")


class Mutations(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="qsparse-observability-")
        shutil.copytree(HERE, self.dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns("testdata", "__pycache__"))
        self.list_copy = os.path.join(self.dir, "prometheus-metrics.txt")
        shutil.copy(observability.METRIC_LIST, self.list_copy)
        self.saved_list = observability.METRIC_LIST
        observability.METRIC_LIST = self.list_copy

    def tearDown(self):
        observability.METRIC_LIST = self.saved_list
        shutil.rmtree(self.dir)

    def edit(self, name, old, new, count=1):
        path = os.path.join(self.dir, name)
        with open(path) as f:
            text = f.read()
        self.assertIn(old, text)
        with open(path, "w") as f:
            f.write(text.replace(old, new, count))

    def edit_dashboard(self, change):
        path = os.path.join(self.dir, DASHBOARD)
        with open(path) as f:
            d = json.load(f)
        change(d)
        with open(path, "w") as f:
            json.dump(d, f)

    def assertFails(self, *fragments):
        errors = validate.validate(self.dir)
        hits = [e for e in errors if all(f in e for f in fragments)]
        self.assertTrue(hits, f"no error with {fragments} in:\n" + "\n".join(errors))

    def test_the_copy_passes(self):
        self.assertEqual([], validate.validate(self.dir))

    def test_a_metric_renamed_in_java_and_the_list_fails_the_dashboard_and_the_rules(self):
        # What follows a rename of eventLatencyMs in OperatorMetrics: the Java test forces the list to follow.
        self.edit(self.list_copy, "qsparse_eventLatencyMs ", "qsparse_eventLatencyMillis ")
        self.assertFails("dashboard grafana/dashboards/qsparse-operator.json", "eventLatencyMs is not one a job reports")
        self.assertFails("alerts prometheus-alerts.yml", "QSparseLatencyHigh", "eventLatencyMs is not one a job reports")
        self.assertFails("no panel shows latency")

    def test_a_dashboard_query_with_an_unknown_metric(self):
        self.edit(DASHBOARD, "qsparse_activationSparsity)", "qsparse_sparsity)")
        self.assertFails("Activation sparsity", "qsparse_sparsity is not one a job reports")
        self.assertFails("no panel shows sparsity")

    def test_the_old_microsecond_and_total_names_fail(self):
        self.edit(DASHBOARD, "qsparse_stage_deadLetters[1m]", "qsparse_deadLetters[1m]")
        self.assertFails("qsparse_deadLetters is not one a job reports")
        self.edit(DASHBOARD, 'eventLatencyMs{quantile=\\"0.5\\"}', 'eventLatencyUs{quantile=\\"0.5\\"}')
        self.assertFails("qsparse_eventLatencyUs is not one a job reports")

    def test_a_histogram_without_a_quantile(self):
        self.edit(DASHBOARD, 'batchSize{quantile=\\"0.5\\"}', "batchSize")
        self.assertFails("Batch size", "batchSize is a histogram", "select one quantile")

    def test_a_quantile_flink_does_not_export(self):
        self.edit(DASHBOARD, 'eventLatencyMs{quantile=\\"0.99\\"}', 'eventLatencyMs{quantile=\\"0.9\\"}')
        self.assertFails("Event latency", 'quantile="0.9"} is never exported')

    def test_a_label_the_metric_does_not_have(self):
        self.edit(DASHBOARD, "sum by (stage) (rate(", "sum by (reason) (rate(")
        self.assertFails("Dead letters by stage", "label reason is not on")
        self.assertFails("dead letters are not shown by stage")
        self.edit("prometheus-alerts.yml", '{stage="timeout"}', '{phase="timeout"}')
        self.assertFails("QSparseTimeouts", "label phase is not on")

    def test_panel_structure(self):
        def broken(d):
            d["panels"][1]["id"] = d["panels"][0]["id"]
            d["panels"][2]["gridPos"]["x"] = 20
            d["panels"][3]["type"] = "graph-ng"
            d["panels"][4]["datasource"] = {"type": "prometheus", "uid": "another"}
            del d["panels"][5]["targets"][0]["expr"]
        self.edit_dashboard(broken)
        self.assertFails("id missing or not unique")
        self.assertFails("does not fit the 24-column grid")
        self.assertFails("type graph-ng is not a panel Grafana ships")
        self.assertFails("datasource must be the provisioned Prometheus (uid qsparse-prometheus)")
        self.assertFails("query A has no expr")

    def test_overlapping_panels(self):
        self.edit_dashboard(lambda d: d["panels"][1]["gridPos"].update(x=6))
        self.assertFails("overlaps panel 1")

    def test_invalid_json(self):
        self.edit(DASHBOARD, '"panels": [', '"panels": [,')
        self.assertFails("not valid JSON")

    def test_restarts_panel_required(self):
        self.edit_dashboard(lambda d: d["panels"].pop(6))
        self.assertFails("no panel shows restarts")

    def test_grafana_image_and_mounts(self):
        self.edit("docker-compose.yml", "grafana/grafana:12.2.1", "grafana/grafana:latest")
        self.assertFails("grafana image must be pinned")
        self.edit("docker-compose.yml", "./grafana/dashboards:/etc/grafana/dashboards:ro", "./grafana/dashboards:/var/lib/dashboards:ro")
        self.assertFails("provider qsparse reads /etc/grafana/dashboards, which compose does not mount")

    def test_datasource_must_be_the_compose_prometheus(self):
        self.edit(DATASOURCE, "http://prometheus:9090", "http://localhost:9090")
        self.assertFails("data source url http://localhost:9090 is not the compose prometheus service")
        self.edit(DATASOURCE, "uid: qsparse-prometheus", "uid: other")
        self.assertFails("datasource must be the provisioned Prometheus (uid other)")

    def test_alert_rules_loaded_and_well_formed(self):
        self.edit("prometheus-alerts.yml", "for: 10m", "for: ten minutes")
        self.assertFails("QSparseDeadLetterRatioHigh", "is not a Prometheus duration")
        self.edit("prometheus-alerts.yml", "severity: critical", "severity: page")
        self.assertFails("labels.severity must be info, warning or critical")
        self.edit("docker-compose.yml", "      - ./prometheus-alerts.yml:/etc/prometheus/alerts.yml:ro\n", "")
        self.assertFails("rule file /etc/prometheus/alerts.yml is not mounted")
        self.edit("prometheus.yml", "rule_files:\n  - /etc/prometheus/alerts.yml\n", "")
        self.assertFails("prometheus: no rule_files")


if __name__ == "__main__":
    unittest.main()
