package finetune4j.engine.kernels.onednn;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * One oneDNN matmul primitive for one shape, ready to run: {@code dst(M, Q) = src(M, P) · wei(P, Q)},
 * src bf16 row-major, wei bf16 in the blocked layout the primitive chose ({@code format_tag_any},
 * see {@link #weightsMd}), dst f32 row-major.
 *
 * <p>The Linear products map onto it as (W is stored (N, K) row-major):
 * <pre>
 *   forward   out(M, N) = x(M, K) · Wᵀ     P = K, Q = N, plain weights = W read as (K, N) column-major (tag ba)
 *   backward  dx(M, K)  = dy(M, N) · W     P = N, Q = K, plain weights = W read as (N, K) row-major   (tag ab)
 * </pre>
 *
 * <p>A plan for a 4-bit weight ({@link Key#plain}) takes the weights in the direction's plain
 * layout instead: they are dequantized to bf16 for every call (a 7B model's weights cannot be
 * kept in bf16), so no reorder into a blocked layout is paid.
 *
 * <p>The memory objects are created without data; each run points them at the caller's buffers,
 * so a plan is used by one thread at a time (the kernels hold a lock).
 */
final class MatmulPlan {
    /** Which Linear product: the plain weight layout differs. */
    enum Direction {
        FORWARD(OneDnn.TAG_BA), BACKWARD(OneDnn.TAG_AB);

        final int plainTag;

        Direction(int plainTag) {
            this.plainTag = plainTag;
        }
    }

    /**
     * The cache key of a plan.
     *
     * @param plain weights in the direction's plain layout ({@link Direction#plainTag}) rather than
     *              the blocked one oneDNN prefers
     */
    record Key(Direction direction, int m, int p, int q, boolean plain) {
    }

    final Key key;
    final String implementation;
    final MemorySegment weightsMd;        // owned clone: the layout packed weights must have
    final long weightsBytes;
    private final OneDnn dnn;
    private final MemorySegment primitive, srcMem, weiMem, dstMem, srcMd, dstMd;
    private final MemorySegment args;      // dnnl_exec_arg_t[3]
    private final Arena arena = Arena.ofShared();

    private MatmulPlan(OneDnn dnn, Key key, MemorySegment pd, MemorySegment srcMd, MemorySegment dstMd) {
        this.dnn = dnn;
        this.key = key;
        this.srcMd = srcMd;
        this.dstMd = dstMd;
        this.implementation = dnn.implementation(pd);
        this.weightsMd = dnn.cloneMd(dnn.weightsMd(pd));
        this.weightsBytes = dnn.size(weightsMd);
        this.primitive = dnn.primitive(pd);
        this.srcMem = dnn.memory(srcMd, MemorySegment.NULL);
        this.weiMem = dnn.memory(weightsMd, MemorySegment.NULL);
        this.dstMem = dnn.memory(dstMd, MemorySegment.NULL);
        this.args = OneDnn.execArgs(arena, new int[]{OneDnn.ARG_SRC, OneDnn.ARG_WEIGHTS, OneDnn.ARG_DST},
                new MemorySegment[]{srcMem, weiMem, dstMem});
    }

    /**
     * Creates the primitive for {@code key}: bf16 × bf16 → f32 with the weights in
     * {@code format_tag_any} (or the plain layout for a {@link Key#plain} key), or null when
     * oneDNN implements no such product on this CPU.
     */
    static MatmulPlan create(OneDnn dnn, Key key) {
        MemorySegment srcMd = dnn.md(key.m(), key.p(), OneDnn.BF16, OneDnn.TAG_AB);
        MemorySegment weiAny = dnn.md(key.p(), key.q(), OneDnn.BF16,
                key.plain() ? key.direction().plainTag : OneDnn.TAG_ANY);
        MemorySegment dstMd = dnn.md(key.m(), key.q(), OneDnn.F32, OneDnn.TAG_AB);
        MemorySegment pd = null;
        try {
            pd = dnn.tryMatmul(srcMd, weiAny, dstMd, false, OneDnn.FPMATH_STRICT);
            if (pd == null) {
                dnn.destroyMd(srcMd);
                dnn.destroyMd(dstMd);
                return null;
            }
            return new MatmulPlan(dnn, key, pd, srcMd, dstMd);
        } finally {
            if (pd != null) dnn.destroyPd(pd);
            dnn.destroyMd(weiAny);
        }
    }

    /**
     * {@code dst = src · wei}: {@code src} holds (M, P) bf16, {@code packedWeights} (P, Q) in
     * {@link #weightsMd}'s layout, {@code dst} receives (M, Q) f32; all native segments.
     */
    void run(MemorySegment src, MemorySegment packedWeights, MemorySegment dst) {
        dnn.setData(srcMem, src);
        dnn.setData(weiMem, packedWeights);
        dnn.setData(dstMem, dst);
        dnn.execute(primitive, 3, args);
    }

    // statistics of the calls (NativeKernels.stats): fastest part of a call, total time, calls
    long calls, totalNanos, minConvert = Long.MAX_VALUE, minMatmul = Long.MAX_VALUE, minCopy = Long.MAX_VALUE;

    void record(long convert, long matmul, long copy) {
        calls++;
        totalNanos += convert + matmul + copy;
        minConvert = Math.min(minConvert, convert);
        minMatmul = Math.min(minMatmul, matmul);
        minCopy = Math.min(minCopy, copy);
    }

    void resetStats() {
        calls = totalNanos = 0;
        minConvert = minMatmul = minCopy = Long.MAX_VALUE;
    }

    /** Frees the primitive, memory objects and descriptors. */
    void destroy() {
        dnn.destroyPrimitive(primitive);
        dnn.destroyMemory(srcMem);
        dnn.destroyMemory(weiMem);
        dnn.destroyMemory(dstMem);
        dnn.destroyMd(srcMd);
        dnn.destroyMd(dstMd);
        dnn.destroyMd(weightsMd);
        arena.close();
    }
}
