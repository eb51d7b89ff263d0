package finetune4j.peft;

import java.nio.charset.StandardCharsets;

/**
 * The random numbers of the adapter layers, written out so they are the same on every JDK and
 * easy to re-implement (tools/golden/lora_reference.py does, for the dropout mask):
 * SplitMix64 (Steele, Lea &amp; Flood, "Fast splittable pseudorandom number generators", OOPSLA
 * 2014; the {@code java.util.SplittableRandom} mixer) and FNV-1a 64 for names.
 *
 * <ul>
 *   <li>A stream: {@code state += 0x9E3779B97F4A7C15; return mix64(state)}.</li>
 *   <li>Initialisation of module {@code name} under seed {@code seed}: the stream starting at
 *       {@code state = mix64(seed) ^ fnv1a64("lora_init:" + name)}; each module has its own
 *       stream, so a module's initial values do not depend on which other modules are targeted.</li>
 *   <li>Counter-based draws (dropout, {@link Dropout}): {@code mix64(base + (i + 1)·0x9E3779B97F4A7C15)}
 *       for element index {@code i}, so any element can be recomputed without replaying a stream.</li>
 * </ul>
 */
final class SplitMix {
    static final long GOLDEN = 0x9E3779B97F4A7C15L;

    private long state;

    private SplitMix(long state) {
        this.state = state;
    }

    /** The initialisation stream of one module (see the class comment). */
    static SplitMix forModule(long seed, String name) {
        return new SplitMix(mix64(seed) ^ fnv1a64("lora_init:" + name));
    }

    long nextLong() {
        state += GOLDEN;
        return mix64(state);
    }

    /** Uniform in [0, 1) with 53 random bits. */
    double nextDouble() {
        return (nextLong() >>> 11) * 0x1.0p-53;
    }

    /** Uniform in [−bound, bound). */
    float uniform(double bound) {
        return (float) ((2 * nextDouble() - 1) * bound);
    }

    /** Standard normal by Box–Muller, one value per call (the second is discarded: simple and stateless). */
    double gaussian() {
        double u1 = 1.0 - nextDouble(); // (0, 1]: log is finite
        double u2 = nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }

    /** The SplitMix64 finalizer (a bijection on 64-bit values with full avalanche). */
    static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** FNV-1a 64 of the UTF-8 bytes of {@code s}. */
    static long fnv1a64(String s) {
        long h = 0xCBF29CE484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xFF;
            h *= 0x100000001B3L;
        }
        return h;
    }
}
