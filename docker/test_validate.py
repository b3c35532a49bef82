"""Proof that docker/validate.py catches what issues 15 and 29 found: it fails on the deployment
files as they were before issue 15 (docker/testdata/before-issue-15/, one message per problem),
passes on the current ones, and fails again when one fixed thing is broken in a copy of the current
files.

    /usr/bin/python3 -m unittest discover -s docker -p 'test_*.py'
"""

import os
import shutil
import tempfile
import unittest

import validate

HERE = os.path.dirname(os.path.abspath(__file__))
BEFORE = os.path.join(HERE, "testdata", "before-issue-15")
FILES = ("Dockerfile", "docker-compose.yml", "prometheus.yml", "README.md", "sql-init.sql",
         os.path.join("k8s", "flinkdeployment.yaml"), os.path.join("k8s", "sql-session.yaml"))
SQL_K8S = os.path.join("k8s", "sql-session.yaml")


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


class BeforeIssue29(unittest.TestCase):
    """Issue 29 on the same old files: a single-stage image on a floating tag, no SQL client, no SQL
    deployment for Kubernetes, Kafka's topics inside the container."""

    @classmethod
    def setUpClass(cls):
        cls.errors = validate.validate(BEFORE)

    def assertFails(self, *fragments):
        hits = [e for e in self.errors if all(f in e for f in fragments)]
        self.assertTrue(hits, f"no error with {fragments} in:\n" + "\n".join(self.errors))

    def test_4_single_stage_image_on_a_floating_tag(self):
        self.assertFails("Dockerfile: the runtime stage must be FROM flink:2.2.1-java17", "not flink:2.2-java17")
        self.assertFails("Dockerfile: single stage")

    def test_1_no_sql_deployment(self):
        self.assertFails("compose: service sql-client missing")
        self.assertFails("k8s: no SQL example")

    def test_5_kafka_data_in_the_container(self):
        self.assertFails("compose: kafka sets no KAFKA_LOG_DIRS")


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

    # Issue 29: the multi-stage image.

    def test_floating_runtime_tag(self):
        self.edit("Dockerfile", "FROM flink:2.2.1-java17", "FROM flink:2.2-java17")
        self.assertIn("the runtime stage must be FROM flink:2.2.1-java17", self.errors())

    def test_copy_from_what_the_build_stage_does_not_build(self):
        self.edit("Dockerfile", "-pl jobs,sql -am package", "-pl jobs -am package")
        self.assertIn("COPY --from=build /src/sql/target/qsparse-sql.jar: nothing in stage build produces it", self.errors())

    def test_copy_from_a_file_no_pom_names(self):
        self.edit("Dockerfile", "/src/sql/target/flink-sql-connector-kafka.jar",
                  "/src/sql/target/flink-sql-connector-kafka-5.0.0-2.2.jar")
        self.assertIn("flink-sql-connector-kafka-5.0.0-2.2.jar: nothing in stage build produces it", self.errors())

    def test_copy_from_before_package(self):
        self.edit("Dockerfile", "-pl jobs,sql -am package", "-pl jobs,sql -am compile")
        e = self.errors()
        self.assertIn("build stage build runs no `mvn ... package`", e)
        self.assertIn("qsparse-enrichment-job.jar: nothing in stage build produces it", e)

    def test_build_stage_without_gcc(self):
        self.edit("Dockerfile", "--no-install-recommends gcc libc6-dev", "--no-install-recommends libc6-dev")
        self.assertIn("does not install gcc", self.errors())

    def test_build_stage_without_jdk_17(self):
        self.edit("Dockerfile", "FROM maven:3.9.11-eclipse-temurin-17 AS build", "FROM maven:3.9.11-eclipse-temurin-21 AS build")
        self.assertIn("has no JDK 17 with Maven", self.errors())

    def test_copy_from_an_unknown_stage(self):
        self.edit("Dockerfile", "COPY --from=build /src/jobs/", "COPY --from=builder /src/jobs/")
        self.assertIn("COPY --from=builder: no such build stage", self.errors())

    # Issue 29: SQL in compose and on Kubernetes.

    def test_sql_client_runs_a_script_the_image_lacks(self):
        self.edit("docker-compose.yml", "      - /opt/qsparse/sql/enrichment.sql\n", "      - /opt/qsparse/sql/other.sql\n")
        self.assertIn("compose sql-client: /opt/qsparse/sql/other.sql is not in the image", self.errors())

    def test_init_adds_a_jar_the_image_lacks(self):
        self.edit("Dockerfile", "/opt/qsparse/sql/flink-sql-connector-kafka.jar", "/opt/flink/opt/flink-sql-connector-kafka.jar")
        self.assertIn("ADD JARs /opt/qsparse/sql/flink-sql-connector-kafka.jar, which is not in the image", self.errors())

    def test_init_without_the_connector(self):
        self.edit("sql-init.sql", "ADD JAR '/opt/qsparse/sql/flink-sql-connector-kafka.jar';\n", "")
        self.assertIn("neither qsparse-sql.jar nor the Kafka SQL connector", self.errors())

    def test_sql_client_not_one_shot(self):
        self.edit("docker-compose.yml", "        condition: service_completed_successfully\n    restart: \"no\"\n",
                  "        condition: service_completed_successfully\n    restart: always\n")
        self.assertIn("sql-client is one shot", self.errors())

    def test_gateway_not_pointing_at_the_session(self):
        self.edit(SQL_K8S, "rest.address: qsparse-sql-rest", "rest.address: qsparse-sql")
        self.assertIn("the gateway's rest.address must be qsparse-sql-rest", self.errors())

    def test_sql_job_on_an_application_deployment(self):
        self.edit(SQL_K8S, "  jobManager:\n", "  job:\n    jarURI: local:///opt/qsparse/sql/qsparse-sql.jar\n  jobManager:\n")
        self.assertIn("the SQL gateway needs a session cluster", self.errors())

    def test_client_endpoint_is_not_the_gateway_service(self):
        self.edit(SQL_K8S, "            - qsparse-sql-gateway:8083\n", "            - qsparse-sql-gateway:8081\n")
        self.assertIn("the Job's --endpoint must be the gateway's Service qsparse-sql-gateway:8083", self.errors())

    # Issue 29: Kafka's data on a volume.

    def test_kafka_data_not_on_a_volume(self):
        self.edit("docker-compose.yml", "    volumes:\n      - kafka-data:/var/lib/kafka/data\n", "")
        self.assertIn("kafka's log directory /var/lib/kafka/data is on no named volume", self.errors())

    def test_kafka_without_a_fixed_cluster_id(self):
        self.edit("docker-compose.yml", "      CLUSTER_ID: aWmGPvPbUVebeq3uZ-zkcA\n", "")
        self.assertIn("kafka needs a fixed CLUSTER_ID", self.errors())

    def test_missing_repository_path(self):
        self.edit("README.md", "`docker/local/cluster.sh`", "`docker/local/cluster-v2.sh`")
        self.assertIn("names docker/local/cluster-v2.sh, which does not exist", self.errors())


if __name__ == "__main__":
    unittest.main()
