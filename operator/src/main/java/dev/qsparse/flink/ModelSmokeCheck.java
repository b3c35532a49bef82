package dev.qsparse.flink;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceRequest;
import dev.qsparse.runtime.inference.InferenceResult;
import dev.qsparse.runtime.inference.InferenceSession;
import dev.qsparse.runtime.inference.Task;
import java.nio.file.Path;

/**
 * The check a new model version passes before it may serve: it fits the configured mode (the
 * same checks as at open) and one short text gives a finite result. An embedding model must give
 * a finite embedding; any other is scored (a forward pass without generating), whose log
 * probability must be finite. A version whose weights load but compute NaN is refused here
 * instead of turning every event into a dead letter.
 */
final class ModelSmokeCheck {

    static final String TEXT = "A short sentence to check that a new model version computes finite numbers.";

    private ModelSmokeCheck() {}

    /**
     * Null when {@code model} may serve with {@code settings}, else the reason it may not.
     */
    static String failure(QSparseSettings settings, Model model, Path directory) {
        try {
            TaskModel.checkModeFits(settings, directory, model);
            TaskModel.checkChatTemplate(settings, directory, model);
        } catch (ModelUnavailableException e) {
            return e.getMessage();
        }
        InferenceRequest request = settings.defaultMode() == Task.EMBED
                ? InferenceRequest.embed(TEXT, settings.pooling())
                : InferenceRequest.score(TEXT);
        InferenceResult result;
        try (InferenceSession session = model.newSession()) {
            result = session.run(request);
        } catch (RuntimeException e) {
            return "the smoke check's " + request.task().wireName() + " failed: " + e;
        }
        if (result instanceof InferenceResult.Failure f) {
            return "the smoke check's " + request.task().wireName() + " failed: " + f.reason();
        }
        if (result instanceof InferenceResult.Embedding e) {
            for (float v : e.vector()) {
                if (!Float.isFinite(v)) {
                    return "the smoke check's embedding is not finite (NaN or infinity)";
                }
            }
        } else if (result instanceof InferenceResult.Score s && !Double.isFinite(s.logprob())) {
            return "the smoke check's score is not finite (NaN or infinity)";
        }
        return null;
    }
}
