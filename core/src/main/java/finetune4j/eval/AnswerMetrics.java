package finetune4j.eval;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Answer comparison of the SQuAD evaluation script ({@code evaluate-v2.0.py}, also used by
 * lm-evaluation-harness and HF {@code evaluate}'s "squad"): both texts are normalised — lower-cased,
 * ASCII punctuation ({@code string.punctuation}) removed, the articles "a", "an", "the" removed as
 * whole words, whitespace runs collapsed to one space and trimmed — then
 * <ul>
 *   <li><b>exact match</b>: the normalised texts are equal;</li>
 *   <li><b>token F1</b>: over the whitespace-separated tokens of the normalised texts, with
 *       {@code common} = the size of their multiset intersection, precision = common / |prediction|,
 *       recall = common / |reference|, F1 = 2·P·R / (P + R); 0 when nothing is shared; when either
 *       side has no token, 1 if both have none, else 0 (the v2.0 script's rule).</li>
 * </ul>
 * Word boundaries and whitespace are Unicode-aware, as Python 3's {@code re} and {@code str.split}.
 */
public final class AnswerMetrics {
    private static final Pattern ARTICLES = Pattern.compile("\\b(a|an|the)\\b", Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern SPACE = Pattern.compile("\\s+", Pattern.UNICODE_CHARACTER_CLASS);
    private static final String PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

    private AnswerMetrics() {
    }

    /** The SQuAD normalisation: lower case, no punctuation, no articles, single spaces, trimmed. */
    public static String normalize(String s) {
        String lower = s.toLowerCase(Locale.ROOT);
        StringBuilder sb = new StringBuilder(lower.length());
        for (int i = 0; i < lower.length(); i++) {
            char c = lower.charAt(i);
            if (PUNCTUATION.indexOf(c) < 0) sb.append(c);
        }
        String noArticles = ARTICLES.matcher(sb).replaceAll(" ");
        return SPACE.matcher(noArticles).replaceAll(" ").strip();
    }

    /** Whether the normalised texts are equal. */
    public static boolean exactMatch(String prediction, String reference) {
        return normalize(prediction).equals(normalize(reference));
    }

    /** Token-level F1 of the normalised texts (see the class comment). */
    public static double f1(String prediction, String reference) {
        String[] p = tokens(prediction), g = tokens(reference);
        if (p.length == 0 || g.length == 0) return p.length == g.length ? 1 : 0;
        Map<String, Integer> counts = new HashMap<>();
        for (String t : g) counts.merge(t, 1, Integer::sum);
        int common = 0;
        for (String t : p) {
            Integer n = counts.get(t);
            if (n != null && n > 0) {
                common++;
                counts.put(t, n - 1);
            }
        }
        if (common == 0) return 0;
        double precision = (double) common / p.length, recall = (double) common / g.length;
        return 2 * precision * recall / (precision + recall);
    }

    private static String[] tokens(String s) {
        String n = normalize(s);
        return n.isEmpty() ? new String[0] : n.split(" ");
    }
}
