package finetune4j.engine.kernels.vector;

import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.kernels.ScalarKernels;
import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.Weight;
import finetune4j.testing.Numerics;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link VectorKernels#linear} against the scalar reference for every weight storage the engine
 * meets: FP32 on the heap, and FP32 / BF16 / F16 in a memory-mapped file at an odd byte offset
 * (so every vector load is unaligned). M covers the GEMV path (M ≤ 8) and the packed GEMM, K and
 * N cover vector tails and panel edges, and {@code accumulate} both ways (NaN-filled output when
 * it must be overwritten).
 */
class LinearParityTest {
    static final int L = Vec.L, NR = Gemm.NR, KC = Gemm.KC;

    @TempDir
    static Path dir;
    static Arena arena;

    final Kernels ref = new ScalarKernels();
    final Kernels vec = new VectorKernels();

    @BeforeAll
    static void openArena() {
        arena = Arena.ofShared();
    }

    @AfterAll
    static void closeArena() {
        arena.close();
    }

    enum Storage { HEAP_F32, MAPPED_F32, MAPPED_BF16, MAPPED_F16 }

    static Stream<Arguments> cases() {
        int[] ms = {1, 2, Gemv.MAX_M - 1, Gemv.MAX_M, Gemv.MAX_M + 1, 13};   // GEMV up to MAX_M, GEMM above
        int[][] nks = {{1, 1}, {L - 1, L + 1}, {NR + 1, KC + 1}, {17, 4097}, {2 * NR + 3, 2 * KC + 7}};
        List<Arguments> out = new ArrayList<>();
        for (Storage s : Storage.values()) {
            for (int m : ms) {
                for (int[] nk : nks) out.add(Arguments.of(s, m, nk[0], nk[1]));
            }
        }
        out.add(Arguments.of(Storage.MAPPED_BF16, 1, 3000, 700));   // GEMV large enough to go parallel
        out.add(Arguments.of(Storage.MAPPED_F16, 37, 300, 260));   // GEMM large enough to go parallel
        out.add(Arguments.of(Storage.HEAP_F32, 64, 200, 300));
        return out.stream();
    }

    @ParameterizedTest(name = "{0} m={1} n={2} k={3}")
    @MethodSource("cases")
    void matchesReference(Storage storage, int m, int n, int k) throws IOException {
        SplittableRandom rnd = new SplittableRandom(1000L * m + 31L * n + k);
        Weight w = weight(storage, rnd, n, k);
        int xOff = 3, outOff = 5;
        float[] x = GemmParityTest.random(rnd, xOff + m * k);
        float[] base = GemmParityTest.random(rnd, outOff + m * n);

        float[] want = base.clone(), got = base.clone();
        Arrays.fill(got, outOff, got.length, Float.NaN);
        ref.linear(want, outOff, x, xOff, w, m, false);
        vec.linear(got, outOff, x, xOff, w, m, false);
        System.arraycopy(want, 0, got, 0, outOff);
        Numerics.assertClose("out = x·wᵀ (" + storage + ")", got, want, GemmParityTest.tol(k));

        want = base.clone();
        got = base.clone();
        ref.linear(want, outOff, x, xOff, w, m, true);
        vec.linear(got, outOff, x, xOff, w, m, true);
        Numerics.assertClose("out += x·wᵀ (" + storage + ")", got, want, GemmParityTest.tol(k));
    }

    @Test
    void mappedWeightsReallyAreUnalignedAndOffHeap() throws IOException {
        Weight w = weight(Storage.MAPPED_BF16, new SplittableRandom(1), 3, 5);
        assertThat(w.data().isNative()).isTrue();
        assertThat(w.data().address() % 2).isEqualTo(1);
        assertThat(w.heapArray()).isNull();
    }

    /** A weight (n, k) with random mixed-sign values, stored as {@code storage}. */
    static Weight weight(Storage storage, SplittableRandom rnd, int n, int k) throws IOException {
        float[] values = GemmParityTest.random(rnd, n * k);
        if (storage == Storage.HEAP_F32) return Weight.ofArray("test.weight", values, n, k);
        DType dt = switch (storage) {
            case MAPPED_F32 -> DType.F32;
            case MAPPED_BF16 -> DType.BF16;
            default -> DType.F16;
        };
        long bytes = (long) n * k * (dt.bits() / 8);
        int offset = 3;                                  // odd: unaligned for every element type
        MemorySegment tmp = Arena.ofAuto().allocate(bytes + offset);
        MemorySegment body = tmp.asSlice(offset, bytes);
        for (int i = 0; i < values.length; i++) dt.setFloat(body, i, values[i]);
        Path file = Files.createTempFile(dir, "weight", ".bin");
        Files.write(file, tmp.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MemorySegment mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, bytes + offset, arena);
            return new Weight("test.weight", dt, n, k, mapped.asSlice(offset, bytes));
        }
    }
}
