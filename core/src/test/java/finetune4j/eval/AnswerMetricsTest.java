package finetune4j.eval;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * SQuAD answer metrics against the reference implementation: the expected values were computed with
 * {@code normalize_answer}, {@code compute_exact} and {@code compute_f1} of the SQuAD v2.0
 * evaluation script (Python 3, run once; the cases cover articles, punctuation, Unicode case and
 * whitespace, repeated tokens, and empty answers).
 */
class AnswerMetricsTest {
    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
            "The Eiffel Tower!|eiffel tower|eiffel tower|true|1.0",
            "Paris, France|  paris |paris france|false|0.6666666666666666",
            "the cat sat on the mat|a cat sat on a hat|cat sat on mat|false|0.75",
            "red red blue|red blue blue green|red red blue|false|0.5714285714285715",
            "An apple a day.|the|apple day|false|0.0",
            "\"\"|\"\"|\"\"|true|1.0",
            "x|\"\"|x|false|0.0",
            "Theatre of the absurd|theatre absurd|theatre of absurd|false|0.8",
            "Don't stop—believing|dont stop believing|dont stop—believing|false|0.4",
            "42|forty two|42|false|0.0"})
    void matchesTheSquadScript(String prediction, String reference, String normalized, boolean exact, double f1) {
        assertThat(AnswerMetrics.normalize(prediction)).isEqualTo(normalized);
        assertThat(AnswerMetrics.exactMatch(prediction, reference)).isEqualTo(exact);
        assertThat(AnswerMetrics.f1(prediction, reference)).isCloseTo(f1, org.assertj.core.data.Offset.offset(1e-15));
    }

    @org.junit.jupiter.api.Test
    void unicodeCaseAndWhitespace() {
        String p = "Ñandú  GRANDE\tthe\nend";
        assertThat(AnswerMetrics.normalize(p)).isEqualTo("ñandú grande end");
        assertThat(AnswerMetrics.exactMatch(p, "ñandú grande end")).isTrue();
        assertThat(AnswerMetrics.f1(p, "ñandú grande end")).isEqualTo(1.0);
    }
}
