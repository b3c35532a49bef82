/** Pure-Java Q-Sparse transformer runtime. Free of Flink so that any JVM host can embed it. */
package dev.qsparse.runtime;
