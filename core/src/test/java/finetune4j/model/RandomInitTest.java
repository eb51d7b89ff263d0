package finetune4j.model;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class RandomInitTest {
    @Test
    void valuesDoNotDependOnHowTheRangeIsCut() {
        int n = RandomInit.BLOCK * 2 + 123;
        float[] whole = new float[n];
        RandomInit.normal(99, 0.02, 0, whole, n);
        float[] pieces = new float[n];
        float[] tmp = new float[1000];
        for (int off = 0; off < n; off += 1000) {
            int len = Math.min(1000, n - off);
            RandomInit.normal(99, 0.02, off, tmp, len);
            System.arraycopy(tmp, 0, pieces, off, len);
        }
        assertThat(pieces).isEqualTo(whole);
        float[] other = new float[n];
        RandomInit.normal(100, 0.02, 0, other, n);
        assertThat(other).isNotEqualTo(whole);
    }
}
