-- Q-Sparse in Flink SQL: the enrichment of the DataStream demo (Kafka -> Q-Sparse -> Kafka), in SQL.
--
-- It needs two jars in the session, both built by `mvn -B -ntp -DskipTests package` into sql/target/:
-- qsparse-sql.jar (the provider; its Jackson relocated) and flink-sql-connector-kafka.jar. Either
-- ADD JAR them first (what docker/sql-init.sql does in the image, for the compose `sql-client` and
-- the Kubernetes SQL gateway) or copy them into $FLINK_HOME/lib/ of every Flink process:
--   /opt/flink/bin/sql-client.sh -i /opt/qsparse/sql/init.sql -f /opt/qsparse/sql/enrichment.sql  # in the image
--   docker/local/cluster.sh sql -i INIT FILE   # the local cluster's SQL gateway (docker/README.md)
-- Task managers need --add-modules=jdk.incubator.vector in env.java.opts.all for the vector kernels.
-- The two values marked EDIT are those of docker/docker-compose.yml and the image: Kafka at
-- kafka:9092, the demo model at /opt/qsparse/models/qsparse-demo (the same path on every task
-- manager). MlPredictScriptTest plans this file as it is written here; SqlEnrichmentScriptTest runs
-- it on the multi-process cluster.

SET 'execution.checkpointing.interval' = '1 s';
-- Rows in flight in ML_PREDICT (default 10): at least 2 x batch.max-size x threads lets a
-- micro-batch form while another runs.
SET 'table.exec.async-ml-predict.max-concurrent-operations' = '32';

-- Input: JSON text events {"id": ..., "text": ...}.
CREATE TABLE events (
  id STRING,
  text STRING
) WITH (
  'connector' = 'kafka',
  'topic' = 'qsparse-input',
  'properties.bootstrap.servers' = 'kafka:9092',  -- EDIT
  'properties.group.id' = 'qsparse-sql',
  'properties.isolation.level' = 'read_committed',
  'scan.startup.mode' = 'earliest-offset',
  'format' = 'json',
  'json.ignore-parse-errors' = 'true'
);

-- Output: each event with its embedding, token count and achieved sparsity, or its error.
CREATE TABLE enriched (
  id STRING,
  embedding ARRAY<FLOAT>,
  input_tokens INT,
  activation_sparsity DOUBLE,
  error STRING
) WITH (
  'connector' = 'kafka',
  'topic' = 'qsparse-enriched-sql',
  'properties.bootstrap.servers' = 'kafka:9092',  -- EDIT
  'properties.transaction.timeout.ms' = '600000',
  'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = 'qsparse-sql-enrichment',
  'format' = 'json'
);

-- The model, run inside the task managers: one memory-mapped copy of the weights per task
-- manager, micro-batches of up to 16 rows or 10 ms.
CREATE MODEL embedder
INPUT (text STRING)
OUTPUT (embedding ARRAY<FLOAT>, input_tokens INT, activation_sparsity DOUBLE, error STRING)
WITH (
  'provider' = 'qsparse',
  'model-path' = '/opt/qsparse/models/qsparse-demo',  -- EDIT
  'task' = 'embed',
  'batch.max-size' = '16',
  'batch.max-wait' = '10 ms'
);

-- A row without usable text (null, blank, over input.max-chars with 'input.overflow' = 'reject')
-- comes out with a null embedding and the reason in error; the job goes on.
INSERT INTO enriched
SELECT id, embedding, input_tokens, activation_sparsity, error
FROM ML_PREDICT(TABLE events, MODEL embedder, DESCRIPTOR(text));
