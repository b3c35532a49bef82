-- The jars a SQL session needs on the qsparse-flink image (docker/Dockerfile puts them here): the
-- qsparse model provider (its Jackson relocated) and Flink's Kafka SQL connector. ADD JAR ships
-- them with each job to the TaskManagers. They are not in /opt/flink/lib: there the Kafka SQL
-- connector's classes would shadow the DataStream job's own Kafka connector (Flink loads
-- org.apache.flink.* parent-first).
--   /opt/flink/bin/sql-client.sh -i /opt/qsparse/sql/init.sql -f /opt/qsparse/sql/enrichment.sql
ADD JAR '/opt/qsparse/sql/qsparse-sql.jar';
ADD JAR '/opt/qsparse/sql/flink-sql-connector-kafka.jar';
