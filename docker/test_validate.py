"""Proof that docker/validate.py catches what issue 15 found: it fails on the deployment files as
they were before (docker/testdata/before-issue-15/, one message per problem), passes on the
current ones, and fails again when one fixed thing is broken in a copy of the current files.

    /usr/bin/python3 -m unittest discover -s docker -p 'test_*.py'
"""

import os
import shutil
import tempfile
import unittest

import validate

HERE = os.path.dirname(os.path.abspath(__file__))
BEFORE = os.path.join(HERE, "testdata", "before-issue-15")
FILES = ("Dockerfile", "docker-compose.yml", "prometheus.yml", "README.md", os.path.join("k8s", "flinkdeployment.yaml"))


class BeforeIssue15(unittest.TestCase):
    """Each finding of issue 15 has its own message on the old files."""

    @classmethod
    def setUpClass(cls):
        cls.errors = validate.validate(BEFORE)

    def assertFails(self, *fragments):
        hits = [e for e in self.errors if all(f in e for f in fragments)]
        self.assertTrue(hits, f"no error with {fragments} in:\n" + "\n".join(self.errors))

    def test_1_whitespace_inside_flink_properties(self):
        for where in ("Dockerfile:", "compose jobmanager:", "compose taskmanager:"):
            self.assertFails(where, "value of env.java.opts.all contains whitespace", "'--add-modulesjdk.incubator.vector'")

    def test_2_savepoint_dir_with_savepoint_upgrade_mode(self):
        self.assertFails("k8s: Job could not be upgraded with savepoint while config key[execution.checkpointing.savepoint-dir] is not set")

    def test_3_storage_not_shared_and_no_ha(self):
        self.assertFails("compose: checkpoint directory file:///tmp/flink-checkpoints is on no volume mounted by both")
        self.assertFails("compose: no savepoint directory")
        self.assertFails("k8s: state.checkpoints.dir = file:///flink-data/checkpoints is on no volume mounted by both")
        self.assertFails("k8s: high-availability.type: kubernetes")

    def test_4_listener_not_reachable_from_where_the_readme_says(self):
        self.assertFails("docker/README.md tells host clients to use Kafka at localhost:9092", "PLAINTEXT://kafka:9092")

    def test_5_prometheus_parallelism_managed_memory_model_volume(self):
        self.assertFails("prometheus: TaskManagers are not discovered")
        self.assertFails("k8s: job.args pass --parallelism")
        self.assertFails("compose: submit passes a parallelism")
        self.assertFails("compose: taskmanager.memory.managed.fraction must be 0.0")
        self.assertFails("k8s: no volume for model directories")


class Current(unittest.TestCase):

    def test_current_files_pass(self):
        self.assertEqual([], validate.validate(HERE))


class Mutations(unittest.TestCase):
    """A copy of the current files with one thing broken fails with the matching message."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="qsparse-validate-")
        os.makedirs(os.path.join(self.dir, "k8s"))
        for f in FILES:
            shutil.copy(os.path.join(HERE, f), os.path.join(self.dir, f))
        # Grafana's provisioning and the alert rules (checked by observability.py, see test_observability.py).
        shutil.copytree(os.path.join(HERE, "grafana"), os.path.join(self.dir, "grafana"))
        shutil.copy(os.path.join(HERE, "prometheus-alerts.yml"), os.path.join(self.dir, "prometheus-alerts.yml"))

    def tearDown(self):
        shutil.rmtree(self.dir)

    def edit(self, name, old, new):
        path = os.path.join(self.dir, name)
        with open(path) as f:
            text = f.read()
        self.assertIn(old, text)
        with open(path, "w") as f:
            f.write(text.replace(old, new))

    def errors(self):
        return "\n".join(validate.validate(self.dir))

    def test_comment_line_and_prefix_collision_in_flink_properties(self):
        self.edit("docker-compose.yml", "  parallelism.default: 4\n",
                  "  parallelism.default: 4\n  # slots: one per core\n  metrics.reporter.prom: x\n")
        e = self.errors()
        self.assertIn("is a comment", e)
        self.assertIn("keys metrics.reporter.prom and metrics.reporter.prom.factory.class collide", e)

    def test_restart_strategy_set_explicitly(self):
        self.edit("docker-compose.yml", "  restart-strategy.type: exponential-delay\n", "")
        self.edit(os.path.join("k8s", "flinkdeployment.yaml"), "    restart-strategy.type: exponential-delay\n", "")
        e = self.errors()
        self.assertIn("compose: restart-strategy.type must be exponential-delay", e)
        self.assertIn("k8s: restart-strategy.type must be exponential-delay", e)

    def test_quoted_value(self):
        self.edit("docker-compose.yml", "parallelism.default: 4", 'parallelism.default: "4"')
        self.assertIn("parallelism.default is quoted", self.errors())

    def test_volume_on_one_side_only(self):
        self.edit("docker-compose.yml", "    command: jobmanager\n    ports:\n      - \"8081:8081\"\n    environment:\n"
                  "      FLINK_PROPERTIES: *flink-properties\n    volumes:\n      - flink-data:/flink-data\n",
                  "    command: jobmanager\n    ports:\n      - \"8081:8081\"\n    environment:\n"
                  "      FLINK_PROPERTIES: *flink-properties\n")
        self.assertIn("is on no volume mounted by both jobmanager and taskmanager", self.errors())

    def test_object_store_needs_no_volume(self):
        self.edit("docker-compose.yml", "file:///flink-data/checkpoints", "s3://bucket/checkpoints")
        self.edit("docker-compose.yml", "file:///flink-data/savepoints", "s3://bucket/savepoints")
        self.assertNotIn("directory", self.errors())

    def test_named_volume_not_owned_by_flink(self):
        self.edit("Dockerfile", "&& chown -R flink:flink /flink-data", "")
        self.assertIn("must create /flink-data owned by flink", self.errors())

    def test_read_write_once_claim(self):
        self.edit(os.path.join("k8s", "flinkdeployment.yaml"),
                  "name: qsparse-flink-data\nspec:\n  accessModes: [\"ReadWriteMany\"]",
                  "name: qsparse-flink-data\nspec:\n  accessModes: [\"ReadWriteOnce\"]")
        self.assertIn("which this file must define with accessModes [ReadWriteMany]", self.errors())

    def test_empty_dir_is_not_shared(self):
        self.edit(os.path.join("k8s", "flinkdeployment.yaml"),
                  "persistentVolumeClaim:\n            claimName: qsparse-flink-data", "emptyDir: {}")
        self.assertIn("which is not a PersistentVolumeClaim", self.errors())

    def test_last_state_needs_kubernetes_ha(self):
        self.edit(os.path.join("k8s", "flinkdeployment.yaml"), "upgradeMode: savepoint", "upgradeMode: last-state")
        self.edit(os.path.join("k8s", "flinkdeployment.yaml"), "high-availability.type: kubernetes", "high-availability.type: none")
        self.assertIn("Job could not be upgraded with last-state while Kubernetes HA disabled", self.errors())

    def test_host_listener_not_published(self):
        self.edit("docker-compose.yml", '      - "9094:9094"\n', '      - "9095:9094"\n')
        self.assertIn("host port 9094 is not published", self.errors())

    def test_inter_broker_listener_must_be_advertised(self):
        self.edit("docker-compose.yml", "      KAFKA_INTER_BROKER_LISTENER_NAME: INTERNAL\n", "")
        self.assertIn("inter-broker listener PLAINTEXT is not advertised", self.errors())

    def test_missing_repository_path(self):
        self.edit("README.md", "`docker/local/cluster.sh`", "`docker/local/cluster-v2.sh`")
        self.assertIn("names docker/local/cluster-v2.sh, which does not exist", self.errors())


if __name__ == "__main__":
    unittest.main()
