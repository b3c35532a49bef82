package dev.qsparse.flink;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.BroadcastState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.ThreadSafeSimpleCounter;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.functions.co.BroadcastProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides which model version answers each event, from the model control topic read as a
 * broadcast stream (Flink's broadcast state pattern), and tags the event with it
 * ({@link VersionedEvent}) for {@link VersionedAsyncFunction}.
 *
 * <p><b>When a switch takes effect.</b> A control record ({@link ModelSwitch}) is parsed and the
 * version it names is loaded (beside the one serving, through {@link SharedModels}, so the
 * enrichment tasks of this task manager find it mapped) and smoke-checked ({@link ModelSmokeCheck})
 * at once; it then waits as <em>pending</em>. At the next checkpoint barrier this subtask
 * processes, {@link #snapshotState} makes it the <em>active</em> version and writes that into the
 * broadcast state of the same checkpoint: every event after that barrier is tagged with the new
 * version, every event before it with the old one. So a version change is tied to a position in
 * the stream that a restore reproduces exactly: the restored state names the version that tagged
 * the events after the checkpoint, and events before it that were still in flight are in the
 * async operator's checkpointed queue with their tags. The switch is visible downstream as soon as
 * that checkpoint completes (records after its barrier are committed by the next one): within
 * one checkpoint interval of the record's arrival.
 *
 * <p><b>Refused switches.</b> A malformed record, a version that cannot be fetched or loaded, one
 * that does not fit the configured mode, or one whose smoke check gives no finite result is
 * refused: the active version keeps serving, {@code modelSwitchesRefused} counts it, and a dead
 * letter with stage {@value DeadLetter#STAGE_MODEL_SWITCH} (the control record as payload, the
 * reason) goes to {@link #REFUSED}. A record that fails to parse is reported by subtask 0 only
 * (every subtask sees it and refuses it alike); a load or smoke-check failure by every subtask
 * that had it, naming the subtask.
 *
 * <p><b>At most two versions mapped per task manager.</b> A second switch while one is pending
 * replaces it (the pending one is released first). A switch that arrives while the version
 * before the active one is still mapped in this task manager (enrichment tasks still finishing
 * events tagged with it) waits (in state, so a restore does not lose it) until that version is
 * released, or at most {@code qsparse.async.timeout}, after which no event can still need it.
 *
 * <p>After a restore the version in state wins over {@code qsparse.model.path}: the job goes on
 * with the version it was serving; publish a switch to change it.
 */
public class ModelVersionTagger extends BroadcastProcessFunction<byte[], byte[], VersionedEvent>
        implements CheckpointedFunction {

    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(ModelVersionTagger.class);

    /** The broadcast state: the active version, and a switch still waiting to be loaded. */
    public static final MapStateDescriptor<String, ModelSwitch> STATE =
            new MapStateDescriptor<>("qsparse-model-version", Types.STRING, TypeInformation.of(ModelSwitch.class));

    /** Refused control records, as dead letters with stage {@value DeadLetter#STAGE_MODEL_SWITCH}. */
    public static final OutputTag<DeadLetter> REFUSED =
            new OutputTag<>("qsparse-model-switch-refused", TypeInformation.of(DeadLetter.class));

    static final String ACTIVE = "active";
    static final String WAITING = "waiting";
    /** Counter: switches that took effect (at a checkpoint barrier) in this subtask. */
    static final String MODEL_SWITCHES = "modelSwitches";
    /** Counter: control records this subtask refused. */
    static final String MODEL_SWITCHES_REFUSED = "modelSwitchesRefused";

    private final QSparseSettings settings;

    private transient BroadcastState<String, ModelSwitch> state;
    private transient ModelSwitch active;
    private transient SharedModels.Lease activeLease;
    private transient ModelSwitch pending;
    private transient SharedModels.Lease pendingLease;
    private transient ModelSwitch waiting;
    private transient long waitingSinceNanos;
    /** The version before the active one while it may still be mapped here; null once released. */
    private transient String previousKey;

    private transient int subtask;
    private transient int parallelism;
    private transient Counter switches;
    private transient Counter refused;

    public ModelVersionTagger(QSparseSettings settings) {
        this.settings = settings;
    }

    @Override
    public void initializeState(FunctionInitializationContext context) throws Exception {
        // The same state object the broadcast operator hands to processBroadcastElement.
        state = context.getOperatorStateStore().getBroadcastState(STATE);
        if (context.isRestored()) {
            active = state.get(ACTIVE);
            waiting = state.get(WAITING);
            waitingSinceNanos = System.nanoTime();
        }
    }

    @Override
    public void open(OpenContext openContext) throws Exception {
        super.open(openContext);
        subtask = getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
        parallelism = getRuntimeContext().getTaskInfo().getNumberOfParallelSubtasks();
        MetricGroup g = getRuntimeContext().getMetricGroup().addGroup(OperatorMetrics.GROUP);
        switches = g.counter(MODEL_SWITCHES, new ThreadSafeSimpleCounter());
        refused = g.counter(MODEL_SWITCHES_REFUSED, new ThreadSafeSimpleCounter());
        if (active == null) {
            ModelLocation location = settings.modelLocation();
            activeLease = acquire(location, QSparseOptions.MODEL_PATH.key());
            active = new ModelSwitch(settings.modelPath(), TaskModel.modelVersion(settings, activeLease));
        } else {
            // The version recorded in state must answer what follows the checkpoint: no fallback.
            activeLease = acquire(active.location(), "the model version " + active.version + " in the restored state");
        }
        LOG.info("Subtask {} of {} serves model version {}", subtask, parallelism, active);
    }

    private SharedModels.Lease acquire(ModelLocation location, String what) throws ModelUnavailableException {
        try {
            return SharedModels.acquire(location, settings.modelCache());
        } catch (Exception | LinkageError e) {
            throw new ModelUnavailableException(
                    "cannot load the Q-Sparse model at " + location + " (" + what + "): " + e.getMessage(), e);
        }
    }

    @Override
    public void processElement(byte[] event, ReadOnlyContext ctx, Collector<VersionedEvent> out) {
        if (waiting != null) {
            loadWaiting(d -> ctx.output(REFUSED, d));
        }
        out.collect(new VersionedEvent(active.model, active.version, event));
    }

    @Override
    public void processBroadcastElement(byte[] record, Context ctx, Collector<VersionedEvent> out) {
        ModelSwitch requested;
        try {
            requested = ModelSwitch.parse(record);
        } catch (IllegalArgumentException e) {
            if (subtask == 0) {
                refuse(d -> ctx.output(REFUSED, d), record, e.getMessage());
            } else {
                refused.inc();
            }
            return;
        }
        LOG.info("Subtask {} received a model switch to {}", subtask, requested);
        waiting = requested;
        waitingSinceNanos = System.nanoTime();
        loadWaiting(d -> ctx.output(REFUSED, d));
    }

    /** Loads and checks the waiting switch unless the version before the active one is still mapped here. */
    private void loadWaiting(Consumer<DeadLetter> refusals) {
        if (previousKey != null
                && SharedModels.references(previousKey) > 0
                && System.nanoTime() - waitingSinceNanos < settings.timeout().toNanos()) {
            return;
        }
        previousKey = null;
        ModelSwitch requested = waiting;
        waiting = null;
        byte[] record = ModelSwitch.toJson(requested.model, requested.version).getBytes(StandardCharsets.UTF_8);
        if (pending != null) {
            // Replaced before it took effect: release it first, so that two versions stay the most.
            LOG.info("Subtask {}: pending model version {} replaced by {}", subtask, pending, requested);
            pendingLease.close();
            pending = null;
            pendingLease = null;
        }
        ModelLocation location = requested.location();
        SharedModels.Lease lease;
        try {
            lease = SharedModels.acquire(location, settings.modelCache());
        } catch (Exception | LinkageError e) {
            refuse(
                    refusals,
                    record,
                    "subtask " + subtask + ": cannot load the model at " + location + ": " + e.getMessage());
            return;
        }
        if (lease.key().equals(activeLease.key())) {
            lease.close();
            refuse(
                    refusals,
                    record,
                    "subtask " + subtask + ": " + location + " is the model already serving (version " + active.version
                            + ")");
            return;
        }
        String version = requested.version != null
                ? requested.version
                : lease.version() != null ? lease.version() : location.lastSegment();
        if (version.equals(active.version)) {
            lease.close();
            refuse(
                    refusals,
                    record,
                    "subtask " + subtask + ": version " + version + " is already serving (from " + active.model
                            + "); give the new model another version");
            return;
        }
        String failure = ModelSmokeCheck.failure(settings, lease.model(), lease.path());
        if (failure != null) {
            lease.close();
            refuse(
                    refusals,
                    record,
                    "subtask " + subtask + ": model version " + version + " at " + location + ": " + failure);
            return;
        }
        pending = new ModelSwitch(requested.model, version);
        pendingLease = lease;
        LOG.info(
                "Subtask {}: model version {} loaded and checked; it serves from the next checkpoint barrier on",
                subtask,
                pending);
    }

    private void refuse(Consumer<DeadLetter> refusals, byte[] record, String reason) {
        refused.inc();
        LOG.warn("Model switch refused, version {} keeps serving: {}", active.version, reason);
        refusals.accept(DeadLetter.of(
                record,
                isUtf8(record),
                null,
                false,
                DeadLetter.STAGE_MODEL_SWITCH,
                "model switch refused, version " + active.version + " keeps serving: " + reason,
                settings.modelName(),
                settings.maxRecordBytes()));
    }

    private static boolean isUtf8(byte[] bytes) {
        try {
            StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes));
            return true;
        } catch (CharacterCodingException e) {
            return false;
        }
    }

    /** At the barrier: a pending version becomes the active one, in the state of this very checkpoint. */
    @Override
    public void snapshotState(FunctionSnapshotContext context) throws Exception {
        if (pending != null) {
            previousKey = activeLease.key();
            activeLease.close();
            LOG.info(
                    "Subtask {}: model version {} replaces {} after the barrier of checkpoint {}",
                    subtask,
                    pending,
                    active,
                    context.getCheckpointId());
            active = pending;
            activeLease = pendingLease;
            pending = null;
            pendingLease = null;
            switches.inc();
        }
        state.put(ACTIVE, active);
        if (waiting != null) {
            state.put(WAITING, waiting);
        } else {
            state.remove(WAITING);
        }
    }

    /** The version this subtask tags events with now (for tests and diagnostics). */
    ModelSwitch active() {
        return active;
    }

    @Override
    public void close() throws Exception {
        try {
            if (pendingLease != null) {
                pendingLease.close();
            }
            if (activeLease != null) {
                activeLease.close();
            }
        } finally {
            pendingLease = null;
            activeLease = null;
            super.close();
        }
    }
}
