package finetune4j.engine.kernels.vector;

/**
 * Argument checks at the door of the fast kernels. Misuse of a kernel is a programmer error
 * ({@link IllegalArgumentException}) and is reported here, with the values, rather than as an
 * index exception from inside a SIMD loop on a worker thread.
 */
final class Checks {
    private Checks() {
    }

    /** A row-major (rows, cols) matrix at {@code off} with row stride {@code ld} fits in {@code a}. */
    static void matrix(String name, float[] a, int off, int rows, int cols, int ld) {
        if (rows < 0 || cols < 0 || off < 0) {
            throw new IllegalArgumentException(name + ": negative size or offset: (" + rows + ", " + cols
                    + ") at offset " + off);
        }
        if (rows == 0 || cols == 0) return;
        if (rows > 1 && ld < cols) {
            throw new IllegalArgumentException(name + ": row stride " + ld + " is smaller than the row length " + cols);
        }
        long end = off + (long) (rows - 1) * ld + cols;
        if (end > a.length) {
            throw new IllegalArgumentException(name + ": (" + rows + ", " + cols + ") with row stride " + ld
                    + " at offset " + off + " needs " + end + " elements, the array has " + a.length);
        }
    }

    static void attention(int tq, int tk, int past, int heads, int kvHeads, int headDim) {
        if (tq < 0 || past < 0 || headDim <= 0 || kvHeads <= 0 || heads % kvHeads != 0) {
            throw new IllegalArgumentException("attention: bad shape tq=" + tq + " past=" + past + " heads=" + heads
                    + " kvHeads=" + kvHeads + " headDim=" + headDim + " (heads must be a multiple of kvHeads)");
        }
        if (tk < past + tq) {
            throw new IllegalArgumentException("attention: tk=" + tk + " keys cannot hold past=" + past
                    + " + tq=" + tq + " positions");
        }
    }
}
