package finetune4j.engine.kernels.vector;

import finetune4j.testing.SharedData;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Horizontal sums give the same bits whether a kernel runs interpreted or C2-compiled, so that a
 * training step (and a run resumed in a new JVM) does not depend on when the JIT compiled what.
 * {@code reduceLanes(ADD)} on floats breaks that: interpreted, it adds the lanes one after the
 * other; compiled, C2 adds them in a tree (measured with reduceLanes: 69% of random 16-lane sums
 * differ between the two; the forward loss of the same batch took 6 different values over 300
 * evaluations from a cold JVM; two identical stories260K DoRA runs wrote different adapters, and
 * training runs of the same settings differed in the 7th digit depending on which tests had run
 * before).
 */
class LaneSumDeterminismTest {
    /** The butterfly of {@link Vec#sumLanes} in scalar float arithmetic: what the interpreter computes. */
    static float treeSum(float[] lanes) {
        float[] v = lanes.clone();
        for (int h = v.length / 2; h >= 1; h /= 2) {
            float[] next = v.clone();
            for (int i = 0; i < v.length; i++) next[i] = v[i] + v[i ^ h];
            v = next;
        }
        return v[0];
    }

    /**
     * 200,000 calls on 1,000 vectors with mixed signs and magnitudes, long enough for C2 to compile
     * {@link Vec#sumLanes} midway: every call, interpreted or compiled, equals the scalar tree. (With
     * {@code reduceLanes(ADD)} the interpreted calls differ from any fixed tree for most inputs.)
     */
    @Test
    void laneSumIsTheSameInterpretedAndCompiled() {
        int n = 1000, lanes = Vec.L;
        SplittableRandom rnd = new SplittableRandom(5);
        float[] data = new float[n * lanes];
        for (int i = 0; i < data.length; i++) data[i] = (float) ((rnd.nextDouble() * 2 - 1) * Math.pow(10, rnd.nextInt(5)));
        float[] want = new float[n];
        int differsFromSequential = 0;
        for (int j = 0; j < n; j++) {
            float[] v = java.util.Arrays.copyOfRange(data, j * lanes, (j + 1) * lanes);
            want[j] = treeSum(v);
            float seq = 0;
            for (float x : v) seq += x;
            if (seq != want[j]) differsFromSequential++;
        }
        for (int round = 0; round < 200; round++) {
            for (int j = 0; j < n; j++) {
                float got = Vec.sumLanes(FloatVector.fromArray(Vec.S, data, j * lanes));
                if (Float.floatToRawIntBits(got) != Float.floatToRawIntBits(want[j])) {
                    throw new AssertionError("round " + round + " vector " + j + ": Vec.sumLanes = " + got + ", the fixed tree gives " + want[j]);
                }
            }
        }
        if (lanes > 2) assertThat(differsFromSequential).as("the inputs tell the orders apart").isGreaterThan(n / 10);
    }

    @Test
    void maskedLaneSumCountsOnlyTheMaskedLanes() {
        float[] v = new float[Vec.L];
        for (int i = 0; i < v.length; i++) v[i] = i + 1;
        for (int k = 0; k <= Vec.L; k++) {
            float[] prefix = new float[Vec.L];
            System.arraycopy(v, 0, prefix, 0, k);
            assertThat(Vec.sumLanes(FloatVector.fromArray(Vec.S, v, 0), Vec.S.indexInRange(0, k))).isEqualTo(treeSum(prefix));
        }
    }

    /** No kernel sums lanes with {@code reduceLanes(ADD)} (or MUL) on floating-point vectors: they call {@link Vec#sumLanes}. */
    @Test
    void noKernelUsesTheOrderDependentReduction() {
        Path dir = SharedData.repoRoot().resolve("core/src/main/java/finetune4j/engine/kernels/vector");
        Pattern bad = Pattern.compile("reduceLanes\\s*\\(\\s*(VectorOperators\\s*\\.\\s*)?(ADD|MUL)\\b");
        List<String> offenders = new ArrayList<>();
        int files = 0;
        try (Stream<Path> s = Files.list(dir)) {
            for (Path f : s.filter(p -> p.toString().endsWith(".java")).toList()) {
                files++;
                String code = Files.readString(f).replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("//[^\\n]*", " ");
                if (bad.matcher(code).find()) offenders.add(f.getFileName().toString());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        assertThat(files).isGreaterThan(5);
        assertThat(offenders).as("kernels using reduceLanes(ADD/MUL) instead of Vec.sumLanes").isEmpty();
    }
}
