package finetune4j.peft;

import finetune4j.engine.kernels.Kernels;
import finetune4j.engine.tensor.NamedParam;
import finetune4j.engine.tensor.LinearWeight;
import finetune4j.model.FrozenLinear;
import finetune4j.model.LinearSlot;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A linear layer with LoRA / rsLoRA / DoRA adapters, wrapping its frozen base slot exactly as
 * PEFT's {@code lora.Linear} wraps {@code base_layer} ({@code tuners/lora/layer.py Linear.forward},
 * {@code dora.py DoraLinearLayer.forward}, {@code variants.py DoraLinearVariant.forward}).
 *
 * <p>Per adapter (a "branch": weights, multiplier {@code w}, dropout state), with
 * {@code xd = dropout(x)} (identity unless training with p &gt; 0) and {@code u = xd·Aᵀ}:
 * <pre>
 * LoRA   y += w · s · u·Bᵀ
 * DoRA   y += w · (f ⊙ v − W·xd),   v = W·xd + s·u·Bᵀ,   f = m / ‖W + s·B·A‖_row  (norm detached)
 * </pre>
 * after {@code y = base(x)}. DoRA's form equals PEFT's {@code (f − 1)·(W·xd) + f·s·B·A·xd}; the
 * bias stays out of the rescale; without dropout {@code W·x} is the base output minus its bias
 * (PEFT's {@code base_result − bias}), with dropout it is recomputed on {@code xd} as PEFT does.
 * The norm is recomputed only when A or B changed since it was last computed (compared against a
 * copy), so W is streamed once per optimizer step, not once per forward call.
 *
 * <p>Backward (sum over branches; {@code g = w·dy} for LoRA, {@code g = w·dy ⊙ f} for DoRA):
 * <pre>
 * dm  += w · Σ_rows dy ⊙ v / ‖·‖                           (DoRA)
 * dB  += s · gᵀ·u          du = s · g·B          dA += duᵀ·xd
 * dx   = base.dx(dy) + Σ mask/(1−p) ⊙ (du·A [+ (w(f−1) ⊙ dy)·W for DoRA])
 * </pre>
 * Without dropout the DoRA term {@code (w(f−1) ⊙ dy)·W} is folded into one base backward call on
 * {@code dy ⊙ (1 + Σ w(f−1))}.
 *
 * <p>Saved state and threads: in training mode each branch keeps {@code u = xd·Aᵀ} (stored
 * transposed, {@code (R, M)}, so that every rank-sized product has a wide GEMM output), DoRA's
 * {@code v (M, N)} and its norm from the latest forward call for {@link #backward}; this is the
 * single-threaded trainer's mode. In inference mode nothing is saved: temporaries come from a
 * per-thread scratch, so several threads may run forward passes at once. Buffers grow to the
 * largest call and are then reused (no allocation per call).
 */
public final class LoraLinear implements LinearSlot {
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private final LinearSlot base;
    private final LinearWeight baseWeight; // (N, K) dense or 4-bit, or null: DoRA needs it
    private final float[] baseBias;  // (N) or null
    private final Kernels kernels;
    private final int n, k;
    private volatile Branch[] branches = new Branch[0];

    /**
     * Wraps {@code base} with no adapters yet ({@link LoraAdapter} adds them). DoRA needs the
     * base weight, available from a {@link FrozenLinear} (dense, or 4-bit: QLoRA's base, whose
     * rows DoRA dequantizes one at a time).
     *
     * @throws IllegalArgumentException when the base has trainable parameters (it must be frozen)
     */
    public LoraLinear(LinearSlot base, Kernels kernels) {
        this(base, denseWeight(base), base instanceof FrozenLinear f ? f.bias() : null, kernels);
    }

    /** The weight of a frozen base slot (dense or 4-bit), or null when the slot does not expose one. */
    static LinearWeight denseWeight(LinearSlot s) {
        return s instanceof FrozenLinear f ? f.weight() : null;
    }

    /** A base whose weight (for DoRA) and bias are given explicitly (tests, quantised bases). */
    LoraLinear(LinearSlot base, LinearWeight baseWeight, float[] baseBias, Kernels kernels) {
        if (base instanceof LoraLinear) throw new IllegalArgumentException(base.name() + " is already a LoraLinear");
        if (!base.trainableParameters().isEmpty()) {
            throw new IllegalArgumentException(base.name() + ": the base layer of a LoRA slot must be frozen, it has "
                    + base.trainableParameters().size() + " trainable parameters");
        }
        if (baseWeight != null && (baseWeight.rows() != base.outFeatures() || baseWeight.cols() != base.inFeatures())) {
            throw new IllegalArgumentException(base.name() + ": weight (" + baseWeight.rows() + ", " + baseWeight.cols() + ") for slot ("
                    + base.outFeatures() + ", " + base.inFeatures() + ")");
        }
        this.base = base;
        this.baseWeight = baseWeight;
        this.baseBias = baseBias;
        this.kernels = kernels;
        this.n = base.outFeatures();
        this.k = base.inFeatures();
    }

    /** The wrapped frozen layer. */
    public LinearSlot base() {
        return base;
    }

    /** The base weight (N, K) when the base exposes one (needed by DoRA and merging), else null. */
    public LinearWeight baseWeight() {
        return baseWeight;
    }

    /** The base bias (N) or null. Not a copy. */
    public float[] baseBias() {
        return baseBias;
    }

    /** The adapters on this slot with their multipliers, in the order they were added. */
    public List<WeightedLora> adapters() {
        List<WeightedLora> out = new ArrayList<>();
        for (Branch b : branches) out.add(new WeightedLora(b.w, b.weight));
        return out;
    }

    /** Adds an adapter; {@code seed} keys its dropout masks. Not while a forward pass runs. */
    synchronized Branch addBranch(LoraWeights w, float weight, long seed) {
        if (w.in() != k || w.out() != n) {
            throw new IllegalArgumentException(name() + ": adapter (" + w.out() + ", " + w.in() + ") for slot (" + n + ", " + k + ")");
        }
        if (w.isDora() && baseWeight == null) {
            throw new IllegalArgumentException(name() + ": DoRA needs the base weight, which "
                    + base.getClass().getSimpleName() + " does not expose");
        }
        Branch b = new Branch(w, weight, seed, branches.length);
        Branch[] next = Arrays.copyOf(branches, branches.length + 1);
        next[branches.length] = b;
        branches = next;
        return b;
    }

    /** Removes an adapter; returns how many remain. */
    synchronized int removeBranch(Branch b) {
        List<Branch> keep = new ArrayList<>(List.of(branches));
        keep.remove(b);
        branches = keep.toArray(new Branch[0]);
        return branches.length;
    }

    @Override
    public String name() {
        return base.name();
    }

    @Override
    public int inFeatures() {
        return k;
    }

    @Override
    public int outFeatures() {
        return n;
    }

    @Override
    public long parameterCount() {
        return base.parameterCount() + adapterParameterCount();
    }

    /** Parameters of the adapters alone. */
    public long adapterParameterCount() {
        long c = 0;
        for (Branch b : branches) c += b.w.parameterCount();
        return c;
    }

    @Override
    public long weightBytes() {
        return base.weightBytes() + 4 * adapterParameterCount();
    }

    @Override
    public List<NamedParam> trainableParameters() {
        List<NamedParam> out = new ArrayList<>();
        for (Branch b : branches) {
            out.add(b.w.a());
            out.add(b.w.b());
            if (b.w.isDora()) out.add(b.w.magnitude());
        }
        return out;
    }

    // ------------------------------------------------------------------ forward

    @Override
    public void forward(float[] out, int outOff, float[] x, int xOff, int m) {
        base.forward(out, outOff, x, xOff, m);                                  // (M, N) = x·Wᵀ + bias
        Branch[] bs = branches;
        if (bs.length == 0) return;
        Scratch sc = SCRATCH.get();
        int mn = m * n;
        float[] wx0 = null;                                                     // (M, N) W·x without bias
        for (Branch b : bs) {
            if (b.w.isDora() && !b.dropping()) {
                wx0 = sc.wx0 = grow(sc.wx0, mn);
                for (int i = 0; i < m; i++) {
                    System.arraycopy(out, outOff + i * n, wx0, i * n, n);
                    if (baseBias != null) for (int j = 0; j < n; j++) wx0[i * n + j] -= baseBias[j];
                }
                break;
            }
        }
        for (Branch b : bs) {
            LoraWeights w = b.w;
            int r = w.r();
            float s = w.scaling();
            float[] xd = x;
            int xdOff = xOff;
            if (b.dropping()) {                                                 // xd (M, K) = dropout(x)
                xd = sc.xd = grow(sc.xd, m * k);
                xdOff = 0;
                kernels.dropout(xd, 0, x, xOff, m, k, b.dropoutBase(), w.dropout());
            }
            if (!b.training) b.savedRows = -1;
            // uᵀ (R, M) = A·xdᵀ: u = xd·Aᵀ kept transposed so every product below has a wide output
            // (the GEMM vectorises along its N; an N of R = 8 would waste most lanes)
            float[] ut = b.training ? b.saveU(m) : (sc.u = grow(sc.u, m * r));
            kernels.gemm(false, true, r, m, k, 1f, w.aData(), 0, k, xd, xdOff, k, 0f, ut, 0, m);
            if (!w.isDora()) {                                                  // y += w·s·u·Bᵀ
                kernels.gemm(true, true, m, n, r, b.weight * s, ut, 0, m, w.bData(), 0, r, 1f, out, outOff, n);
                continue;
            }
            float[] norm = b.norm(sc);                                          // (N) ‖W + s·B·A‖, detached
            float[] wx = wx0;                                                   // (M, N) W·xd
            if (b.dropping()) {
                wx = sc.wx = grow(sc.wx, mn);
                kernels.linear(wx, 0, xd, xdOff, baseWeight, m, false);
            }
            float[] v = b.training ? b.saveV(m) : (sc.v = grow(sc.v, mn));     // (M, N) W·xd + s·u·Bᵀ
            System.arraycopy(wx, 0, v, 0, mn);
            kernels.gemm(true, true, m, n, r, s, ut, 0, m, w.bData(), 0, r, 1f, v, 0, n);
            float[] mag = w.magnitude().data();
            float[] f = sc.f = grow(sc.f, n);
            for (int j = 0; j < n; j++) f[j] = mag[j] / norm[j];
            float wt = b.weight;
            for (int i = 0; i < m; i++) {                                       // y += w·(f ⊙ v − W·xd)
                int o = outOff + i * n, p = i * n;
                for (int j = 0; j < n; j++) out[o + j] += wt * (f[j] * v[p + j] - wx[p + j]);
            }
        }
    }

    // ------------------------------------------------------------------ backward

    @Override
    public void backward(float[] dx, int dxOff, boolean accumulate, float[] dy, int dyOff, float[] x, int xOff, int m) {
        Branch[] bs = branches;
        for (Branch b : bs) {
            if (!b.training || b.savedRows != m) {
                throw new IllegalStateException(name() + ": backward over " + m + " rows needs a forward of the same rows in"
                        + " training mode first (adapter training=" + b.training + ", saved rows=" + b.savedRows + ")");
            }
        }
        Scratch sc = SCRATCH.get();
        int mn = m * n;
        if (dx != null) {
            // base.dx(dy), with DoRA's (w(f−1) ⊙ dy)·W folded in for the branches that saw x itself
            float[] colScale = null;
            for (Branch b : bs) {
                if (b.w.isDora() && !b.dropping()) {
                    if (colScale == null) {
                        colScale = sc.colScale = grow(sc.colScale, n);
                        Arrays.fill(colScale, 0, n, 1f);
                    }
                    float[] mag = b.w.magnitude().data();
                    for (int j = 0; j < n; j++) colScale[j] += b.weight * (mag[j] / b.norm[j] - 1f);
                }
            }
            if (colScale == null) {
                base.backward(dx, dxOff, accumulate, dy, dyOff, x, xOff, m);
            } else {
                float[] dyEff = sc.dyEff = grow(sc.dyEff, mn);                 // (M, N) dy ⊙ (1 + Σ w(f−1))
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < n; j++) dyEff[i * n + j] = dy[dyOff + i * n + j] * colScale[j];
                }
                base.backward(dx, dxOff, accumulate, dyEff, 0, x, xOff, m);
            }
        }
        for (Branch b : bs) {
            LoraWeights w = b.w;
            int r = w.r();
            float s = w.scaling();
            float[] xd = x;
            int xdOff = xOff;
            if (b.dropping()) {                                                 // regenerate xd (M, K)
                xd = sc.xd = grow(sc.xd, m * k);
                xdOff = 0;
                kernels.dropout(xd, 0, x, xOff, m, k, b.dropoutBase(), w.dropout());
            }
            float[] g = dy;                                                     // (M, N) gradient into s·u·Bᵀ, over alpha
            int gOff = dyOff;
            float alpha = b.weight * s;
            float[] f = null;
            if (w.isDora()) {
                float[] mag = w.magnitude().data(), dm = w.magnitude().grad(), v = b.v;
                f = sc.f = grow(sc.f, n);
                for (int j = 0; j < n; j++) f[j] = mag[j] / b.norm[j];
                float[] gv = sc.g = grow(sc.g, mn);                             // w·dy ⊙ f
                double[] acc = sc.acc = growD(sc.acc, n);
                Arrays.fill(acc, 0, n, 0);
                for (int i = 0; i < m; i++) {
                    int p = i * n, q = dyOff + i * n;
                    for (int j = 0; j < n; j++) {
                        float d = b.weight * dy[q + j];
                        acc[j] += (double) d * v[p + j];
                        gv[p + j] = d * f[j];
                    }
                }
                for (int j = 0; j < n; j++) dm[j] += (float) (acc[j] / b.norm[j]);
                g = gv;
                gOff = 0;
                alpha = s;
            }
            // everything rank-sized is kept transposed (R rows) so each product has a wide output:
            // dBᵀ (R, N) = alpha·uᵀ·g, added into dB (N, R);  duᵀ (R, M) = alpha·Bᵀ·gᵀ;
            // dA (R, K) += duᵀ·xd;  dx (M, K) += (duᵀ)ᵀ·A
            float[] dbt = sc.dbt = grow(sc.dbt, r * n);
            kernels.gemm(false, false, r, n, m, alpha, b.u, 0, m, g, gOff, n, 0f, dbt, 0, n);
            float[] dB = w.b().grad(), bData = w.bData();
            float[] bt = sc.bt = grow(sc.bt, r * n);                            // Bᵀ (R, N)
            for (int j = 0; j < n; j++) {
                for (int p = 0; p < r; p++) {
                    dB[j * r + p] += dbt[p * n + j];
                    bt[p * n + j] = bData[j * r + p];
                }
            }
            float[] dut = sc.du = grow(sc.du, r * m);                           // duᵀ (R, M)
            kernels.gemm(false, true, r, m, n, alpha, bt, 0, n, g, gOff, n, 0f, dut, 0, m);
            kernels.gemm(false, false, r, k, m, 1f, dut, 0, m, xd, xdOff, k, 1f, w.a().grad(), 0, k);
            if (dx == null) continue;
            if (!b.dropping()) {                                                // dx += du·A
                kernels.gemm(true, false, m, k, r, 1f, dut, 0, m, w.aData(), 0, k, 1f, dx, dxOff, k);
                continue;
            }
            float[] dxd = sc.dxd = grow(sc.dxd, m * k);                         // (M, K) d/d(xd)
            if (w.isDora()) {                                                   // (w(f−1) ⊙ dy)·W
                float[] h = sc.h = grow(sc.h, mn);
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < n; j++) h[i * n + j] = b.weight * (f[j] - 1f) * dy[dyOff + i * n + j];
                }
                base.backward(dxd, 0, false, h, 0, xd, xdOff, m);
                kernels.gemm(true, false, m, k, r, 1f, dut, 0, m, w.aData(), 0, k, 1f, dxd, 0, k);
            } else {
                kernels.gemm(true, false, m, k, r, 1f, dut, 0, m, w.aData(), 0, k, 0f, dxd, 0, k);
            }
            kernels.dropout(dxd, 0, dxd, 0, m, k, b.dropoutBase(), w.dropout());  // ⊙ mask/(1−p)
            kernels.add(dx, dxOff, dx, dxOff, dxd, 0, m * k);
        }
    }

    private static float[] grow(float[] a, int n) {
        return a != null && a.length >= n ? a : new float[Math.max(n, a == null ? 0 : a.length + a.length / 2)];
    }

    private static double[] growD(double[] a, int n) {
        return a != null && a.length >= n ? a : new double[n];
    }

    /** Per-thread temporaries, shared by every LoRA slot on the thread (slots run one at a time). */
    private static final class Scratch {
        float[] xd;       // (M, K) dropout(x)
        float[] wx0;      // (M, N) base(x) − bias
        float[] wx;       // (M, N) W·dropout(x)
        float[] u;        // (R, M) inference-mode (x·Aᵀ)ᵀ
        float[] v;        // (M, N) inference-mode DoRA W·xd + s·u·Bᵀ
        float[] f;        // (N) m / norm
        float[] colScale; // (N)
        float[] dyEff;    // (M, N)
        float[] g;        // (M, N)
        float[] h;        // (M, N)
        float[] du;       // (R, M) duᵀ
        float[] dbt;      // (R, N) dBᵀ of one call
        float[] bt;       // (R, N) Bᵀ
        float[] dxd;      // (M, K)
        double[] acc;     // (N)
        float[] normTmp;  // (NORM_BLOCK, K)
        float[] normRow;  // (K)
    }

    /** One adapter on this slot: weights, multiplier, mode, and what its forward saved. */
    final class Branch {
        final LoraWeights w;
        final float weight;
        final long seed;
        final int index;
        private final long moduleHash; // fnv1a64(module), keys the dropout mask
        volatile boolean training;
        volatile long dropoutKey;
        float[] u;             // (R, M) saved (xd·Aᵀ)ᵀ (training), transposed for wide GEMM outputs
        float[] v;             // (M, N) saved DoRA W·xd + s·u·Bᵀ (training)
        int savedRows = -1;
        final float[] norm;    // (N) DoRA ‖W + s·B·A‖ for the current A, B
        private final float[] aSeen, bSeen; // the A, B the norm was computed for
        private boolean normValid;

        private Branch(LoraWeights w, float weight, long seed, int index) {
            this.w = w;
            this.weight = weight;
            this.seed = seed;
            this.index = index;
            this.moduleHash = SplitMix.fnv1a64(w.module());
            this.norm = w.isDora() ? new float[w.out()] : null;
            this.aSeen = w.isDora() ? new float[w.aData().length] : null;
            this.bSeen = w.isDora() ? new float[w.bData().length] : null;
        }

        LoraLinear slot() {
            return LoraLinear.this;
        }

        boolean dropping() {
            return training && w.dropout() > 0;
        }

        long dropoutBase() {
            return Dropout.base(seed, dropoutKey, moduleHash, index);
        }

        float[] saveU(int m) {
            savedRows = m;
            return u = grow(u, m * w.r());
        }

        float[] saveV(int m) {
            return v = grow(v, m * w.out());
        }

        /** The detached DoRA norm for the current A and B, recomputed only when they changed. */
        synchronized float[] norm(Scratch sc) {
            float[] a = w.aData(), b = w.bData();
            if (!normValid || !Arrays.equals(a, aSeen) || !Arrays.equals(b, bSeen)) {
                sc.normTmp = grow(sc.normTmp, LoraMath.NORM_BLOCK * k);
                sc.normRow = grow(sc.normRow, k);
                LoraMath.rowNorms(norm, baseWeight, a, b, w.r(), w.scaling(), kernels, sc.normTmp, sc.normRow);
                System.arraycopy(a, 0, aSeen, 0, a.length);
                System.arraycopy(b, 0, bSeen, 0, b.length);
                normValid = true;
            }
            return norm;
        }
    }
}
