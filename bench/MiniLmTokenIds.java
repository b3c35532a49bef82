import dev.qsparse.runtime.tokenizer.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.StringJoiner;

/**
 * Writes the runtime tokenizer's ids for each line of a text file, one line of space-separated ids
 * per text ([CLS]/[SEP] left to the reader): the input of bench/minilm_topk_criteria.py. A
 * single-file program for the java launcher, outside the Maven build:
 * {@code java -cp "model-runtime/target/classes:$CP" bench/MiniLmTokenIds.java TOKENIZER_JSON TEXTS OUT}.
 */
public class MiniLmTokenIds {
    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            throw new IllegalArgumentException("usage: MiniLmTokenIds TOKENIZER_JSON TEXTS OUT");
        }
        Tokenizer tokenizer = Tokenizer.load(Path.of(args[0]));
        StringBuilder out = new StringBuilder();
        for (String line : Files.readAllLines(Path.of(args[1]))) {
            StringJoiner ids = new StringJoiner(" ");
            for (int id : tokenizer.encodeWithSpecialTokens(line)) {
                ids.add(Integer.toString(id));
            }
            out.append(ids).append('\n');
        }
        Files.writeString(Path.of(args[2]), out);
    }
}
