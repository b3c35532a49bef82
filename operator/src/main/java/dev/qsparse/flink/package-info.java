/**
 * Q-Sparse models inside Apache Flink: {@link dev.qsparse.flink.QSparseEnrichment} (builder and
 * stream wiring), {@link dev.qsparse.flink.QSparseAsyncFunction} (micro-batching, the form to
 * deploy), {@link dev.qsparse.flink.QSparseMapFunction} (one event at a time),
 * {@link dev.qsparse.flink.SharedModels} (one copy of the weights per task manager),
 * {@link dev.qsparse.flink.QSparseOptions} (configuration).
 */
package dev.qsparse.flink;
