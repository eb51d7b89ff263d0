package finetune4j.eval;

import com.fasterxml.jackson.databind.JsonNode;
import finetune4j.ConfigException;
import finetune4j.InvalidDataException;
import finetune4j.batch.Tokenized;
import finetune4j.data.DatasetReader;
import finetune4j.model.LlamaModel;
import finetune4j.model.TrainingBuffers;
import finetune4j.text.Tokenizer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * Multiple-choice scoring by log-likelihood ({@code eval --choices}), as lm-evaluation-harness's
 * {@code multiple_choice} tasks do: for each choice, the score is the sum of the log-probabilities
 * of the continuation's tokens given the context; the prediction is the highest score
 * ({@code acc}), or the highest score divided by the choice's length in characters
 * ({@code acc_norm}, lm-eval's {@code completion_len = len(choice)}); ties go to the first choice
 * (numpy's argmax).
 *
 * <p>Records (JSON/JSONL, MMLU style): {@code question} (string), {@code choices} (a list of at least
 * two strings) and {@code answer} (the 0-based index, a letter A, B, ... — case-insensitive, a one-letter string is read as a letter —
 * or the text of a choice);
 * optional {@code subject}. Two prompt styles:
 * <ul>
 *   <li>{@link Style#CLOZE} (default; lm-eval's ARC/HellaSwag form): context
 *       {@code "Question: {question}\nAnswer:"}, continuation {@code " {choice}"};</li>
 *   <li>{@link Style#LETTERS} (lm-eval's {@code mmlu} form): context
 *       {@code "The following are multiple choice questions (with answers) about {subject}.\n\n"} (when
 *       there is a subject, underscores as spaces) {@code + "{question}\nA. {choice 0}\nB. ...\nAnswer:"},
 *       continuations {@code " A"}, {@code " B"}, ... (so {@code acc_norm} equals {@code acc}).</li>
 * </ul>
 * Context and continuation are tokenized as lm-eval's {@code _encode_pair} does: trailing spaces of
 * the context move to the continuation, {@code whole = encode(context + continuation)},
 * {@code ctx = encode(context)}, continuation tokens = {@code whole[len(ctx):]}. Text is encoded with
 * the tokenizer's special tokens (its BOS), as training and {@code generate} encode text (lm-eval's
 * HF backend adds them only with {@code add_bos_token=True}). A sequence longer than the model's
 * context loses tokens on the left (as lm-eval truncates).
 */
public final class ChoiceEval {
    /** How the question becomes a context and the choices continuations. */
    public enum Style {
        CLOZE, LETTERS;

        public static Style parse(String s) {
            return switch (s.trim().toLowerCase(Locale.ROOT)) {
                case "cloze" -> CLOZE;
                case "letters" -> LETTERS;
                default -> throw new ConfigException("--choice-style", s, "cloze or letters");
            };
        }
    }

    /**
     * One question.
     *
     * @param answer  index of the right choice
     * @param subject the MMLU subject, or null
     */
    public record Question(String source, String question, List<String> choices, int answer, String subject) {
        public Question {
            choices = List.copyOf(choices);
        }
    }

    /**
     * A scored question.
     *
     * @param logLikelihoods (choices) summed log-probability of each continuation
     * @param predicted      argmax of the log-likelihoods
     * @param predictedNorm  argmax of the log-likelihoods divided by the choices' lengths in characters
     */
    public record Scored(Question question, double[] logLikelihoods, int predicted, int predictedNorm) {
        public boolean correct() {
            return predicted == question.answer();
        }

        public boolean correctNorm() {
            return predictedNorm == question.answer();
        }
    }

    /** Every scored question, in file order. */
    public record Result(List<Scored> questions) {
        public Result {
            questions = List.copyOf(questions);
        }

        /** Fraction predicted right by the raw log-likelihood (NaN when empty). */
        public double acc() {
            return mean(true);
        }

        /** Fraction predicted right by the length-normalised log-likelihood (NaN when empty). */
        public double accNorm() {
            return mean(false);
        }

        private double mean(boolean raw) {
            if (questions.isEmpty()) return Double.NaN;
            int n = 0;
            for (Scored s : questions) if (raw ? s.correct() : s.correctNorm()) n++;
            return (double) n / questions.size();
        }
    }

    private final LlamaModel model;
    private final Tokenizer tokenizer;
    private final Style style;
    private TrainingBuffers buffers;                 // grown to the longest sequence met

    public ChoiceEval(LlamaModel model, Tokenizer tokenizer, Style style) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.style = style;
    }

    /** Whether a record looks like a multiple-choice question ({@code question}, {@code choices}, {@code answer}). */
    public static boolean looksLikeChoices(JsonNode record) {
        return record.has("question") && record.has("choices") && record.has("answer");
    }

    /**
     * The questions of {@code file}.
     *
     * @throws InvalidDataException naming {@code path:line} and the field for a malformed record, or
     *                              when the file holds no question
     */
    public static List<Question> read(Path file) {
        List<Question> out = new ArrayList<>();
        DatasetReader.forEach(file, r -> out.add(parse(r)));
        if (out.isEmpty()) throw new InvalidDataException(file.toString(), 0, null, "the dataset is empty (no records)");
        return out;
    }

    static Question parse(DatasetReader.RawRecord r) {
        JsonNode j = r.json();
        JsonNode q = j.get("question");
        if (q == null || !q.isTextual()) {
            throw r.error("question", q == null ? "is missing (expected a string)" : "expected a string, got " + type(q));
        }
        JsonNode cs = j.get("choices");
        if (cs == null || !cs.isArray()) {
            throw r.error("choices", cs == null ? "is missing (expected a list of strings)" : "expected a list of strings, got " + type(cs));
        }
        List<String> choices = new ArrayList<>();
        for (int i = 0; i < cs.size(); i++) {
            if (!cs.get(i).isTextual()) throw r.error("choices[" + i + "]", "expected a string, got " + type(cs.get(i)));
            if (cs.get(i).asText().isEmpty()) throw r.error("choices[" + i + "]", "is empty");
            choices.add(cs.get(i).asText());
        }
        if (choices.size() < 2) throw r.error("choices", "has " + choices.size() + " entries; at least 2 are needed");
        JsonNode a = j.get("answer");
        int answer = -1;
        if (a == null) throw r.error("answer", "is missing (expected an index, a letter or a choice's text)");
        if (a.isIntegralNumber()) {
            answer = a.asInt();
        } else if (a.isTextual()) {
            String s = a.asText().strip();
            if (s.matches("[A-Za-z]")) answer = Character.toUpperCase(s.charAt(0)) - 'A';
            else if (s.matches("\\d+")) answer = Integer.parseInt(s);
            else if ((answer = choices.indexOf(a.asText())) < 0) {
                throw r.error("answer", "'" + a.asText() + "' is neither an index, a letter nor one of the choices");
            }
        } else {
            throw r.error("answer", "expected an index, a letter or a choice's text, got " + type(a));
        }
        if (answer < 0 || answer >= choices.size()) {
            throw r.error("answer", a + " is outside the " + choices.size() + " choices (indices 0.." + (choices.size() - 1)
                    + ", letters A.." + (char) ('A' + choices.size() - 1) + ")");
        }
        JsonNode sub = j.get("subject");
        return new Question(r.source(), q.asText(), choices, answer, sub != null && sub.isTextual() ? sub.asText() : null);
    }

    private static String type(JsonNode n) {
        return n.getNodeType().toString().toLowerCase(Locale.ROOT);
    }

    /** The context of {@code q} in this style. */
    public String context(Question q) {
        if (style == Style.CLOZE) return "Question: " + q.question() + "\nAnswer:";
        StringBuilder sb = new StringBuilder();
        if (q.subject() != null && !q.subject().isBlank()) {
            sb.append("The following are multiple choice questions (with answers) about ")
                    .append(q.subject().replace('_', ' ').strip()).append(".\n\n");
        }
        sb.append(q.question().strip());
        for (int i = 0; i < q.choices().size(); i++) sb.append('\n').append(letter(i)).append(". ").append(q.choices().get(i));
        return sb.append("\nAnswer:").toString();
    }

    /** The continuation of each choice: {@code " " + choice} (cloze) or {@code " " + letter}. */
    public List<String> continuations(Question q) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < q.choices().size(); i++) out.add(" " + (style == Style.CLOZE ? q.choices().get(i) : letter(i)));
        return out;
    }

    /** The texts {@code acc_norm} divides by the length of: the choices, or the letters. */
    public List<String> normalisers(Question q) {
        if (style == Style.CLOZE) return q.choices();
        List<String> out = new ArrayList<>();
        for (int i = 0; i < q.choices().size(); i++) out.add(String.valueOf(letter(i)));
        return out;
    }

    private static char letter(int i) {
        return (char) ('A' + i);
    }

    /**
     * Token ids of context + continuation and how many of them (at the end) are the continuation,
     * as lm-eval's {@code _encode_pair}: {@code {ids, continuationTokens}}.
     */
    public Encoded encode(String context, String continuation) {
        int spaces = context.length() - context.stripTrailing().length();
        if (spaces > 0) {
            continuation = context.substring(context.length() - spaces) + continuation;
            context = context.substring(0, context.length() - spaces);
        }
        int[] whole = tokenizer.encode(context + continuation, true);
        int ctx = tokenizer.encode(context, true).length;
        return new Encoded(whole, Math.max(0, whole.length - ctx));
    }

    /** Context + continuation ids; the last {@code continuationTokens} are the continuation. */
    public record Encoded(int[] ids, int continuationTokens) {
    }

    /** The summed log-probability of each continuation of {@code q} given its context. */
    public double[] logLikelihoods(Question q) {
        String ctx = context(q);
        List<String> conts = continuations(q);
        double[] out = new double[conts.size()];
        for (int i = 0; i < out.length; i++) {
            Encoded e = encode(ctx, conts.get(i));
            if (e.continuationTokens() == 0) {
                throw new InvalidDataException(q.source(), 0, "choices[" + i + "]", "the continuation '" + conts.get(i)
                        + "' adds no token to the context");
            }
            out[i] = logLikelihood(e, q.source());
        }
        return out;
    }

    /** Σ log p(continuation token | everything before it), by the model's loss on those tokens. */
    double logLikelihood(Encoded e, String source) {
        int[] ids = e.ids();
        int n = e.continuationTokens(), context = model.maxContext();
        if (n >= context) {
            throw new InvalidDataException(source, 0, "choices", "a continuation of " + n + " tokens does not fit the model's context of "
                    + context);
        }
        if (ids.length > context) ids = Arrays.copyOfRange(ids, ids.length - context, ids.length);   // cut on the left
        int t = ids.length;
        int[] labels = new int[t];
        Arrays.fill(labels, Tokenized.IGNORE);
        System.arraycopy(ids, t - n, labels, t - n, n);
        if (buffers == null || buffers.maxSeq() < t) {
            int cap = buffers == null ? 32 : buffers.maxSeq();
            while (cap < t) cap *= 2;
            buffers = TrainingBuffers.allocate(model.config(), 1, Math.min(cap, context), false);
        }
        return -model.forwardLoss(buffers, ids, labels, 1, t);
    }

    /** The predictions of {@link #pick} for {@code q}. */
    public Scored score(Question q) {
        double[] ll = logLikelihoods(q);
        List<String> norm = normalisers(q);
        return new Scored(q, ll, pick(ll, null), pick(ll, norm));
    }

    /**
     * The index of the largest {@code ll[i]} (first on ties), or of the largest
     * {@code ll[i] / len(lengthsOf[i])} (length in characters, code points) when {@code lengthsOf}
     * is given.
     */
    public static int pick(double[] ll, List<String> lengthsOf) {
        int best = 0;
        double bestScore = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < ll.length; i++) {
            double s = lengthsOf == null ? ll[i] : ll[i] / lengthsOf.get(i).codePointCount(0, lengthsOf.get(i).length());
            if (s > bestScore) {
                bestScore = s;
                best = i;
            }
        }
        return best;
    }

    /** Scores every question, calling {@code each} after each. */
    public Result run(List<Question> questions, Consumer<Scored> each) {
        List<Scored> out = new ArrayList<>(questions.size());
        for (Question q : questions) {
            Scored s = score(q);
            out.add(s);
            if (each != null) each.accept(s);
        }
        return new Result(out);
    }
}
