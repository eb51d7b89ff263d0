package finetune4j.text.jinja;

import java.time.Duration;

/**
 * Bounds on one render, so that a hostile or buggy template cannot exhaust memory or time.
 *
 * @param maxOutputChars  the rendered text (and any single string or list built while rendering)
 *                        may not exceed this many chars / items
 * @param maxRenderTime   wall-clock budget of one render, checked at every template node and every
 *                        attribute, item, method or filter access
 * @param maxRange        the longest {@code range(...)}; Jinja2's sandbox allows 100000 (MAX_RANGE)
 */
public record RenderLimits(int maxOutputChars, Duration maxRenderTime, int maxRange) {
    /** 8 M chars, 10 s, range 100000 (Jinja2's sandbox MAX_RANGE). */
    public static final RenderLimits DEFAULT = new RenderLimits(8_000_000, Duration.ofSeconds(10), 100_000);

    public RenderLimits {
        if (maxOutputChars <= 0) throw new IllegalArgumentException("maxOutputChars must be > 0, got " + maxOutputChars);
        if (maxRenderTime == null || maxRenderTime.isNegative() || maxRenderTime.isZero()) {
            throw new IllegalArgumentException("maxRenderTime must be > 0, got " + maxRenderTime);
        }
        if (maxRange < 0) throw new IllegalArgumentException("maxRange must be >= 0, got " + maxRange);
    }
}
