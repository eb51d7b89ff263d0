package finetune4j.train;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * Training progress for people. On a terminal, one line redrawn in place (carriage return, no
 * ANSI codes):
 * <pre>
 *   step 12/100 [==>                 ] loss 2.314 lr 1.8e-4 1234 tok/s ETA 1:23
 * </pre>
 * with evaluation and checkpoint notes printed above it. Otherwise (a pipe, a file, a CI log, or
 * {@code TERM=dumb}) a plain line every {@code everySteps} steps or {@code everySeconds} seconds,
 * whichever comes first, and at the first and last step:
 * <pre>
 *   step 12/100 loss 2.314 lr 1.8e-4 grad_norm 0.93 1234 tok/s elapsed 0:10 ETA 1:23
 * </pre>
 * The ETA is this run's mean time per step times the steps left.
 */
public final class ProgressDisplay implements TrainListener {
    private static final int BAR = 20;
    private static final long REDRAW_NANOS = 50_000_000L;   // at most 20 redraws a second

    private final PrintStream out;
    private final boolean terminal;
    private final long everySteps;
    private final long everyNanos;
    private final LongSupplier clock;

    private long total, startStep, startNanos;
    private long lastPrintStep = Long.MIN_VALUE, lastPrintNanos;
    private String lastLine = "";       // the bar line currently shown (terminal)

    /**
     * @param out          where to print
     * @param terminal     redraw one line (true) or print plain lines (false)
     * @param everySteps   plain mode: print every this many steps (&gt;= 1)
     * @param everySeconds plain mode: or when this many seconds have passed since the last line
     * @param nanoClock    time source ({@code System::nanoTime}; a fake one in tests)
     */
    public ProgressDisplay(PrintStream out, boolean terminal, long everySteps, double everySeconds, LongSupplier nanoClock) {
        if (everySteps < 1) throw new IllegalArgumentException("everySteps must be >= 1, got " + everySteps);
        this.out = out;
        this.terminal = terminal;
        this.everySteps = everySteps;
        this.everyNanos = (long) (everySeconds * 1e9);
        this.clock = nanoClock;
    }

    /** On {@code System.out}: a redrawn line on a terminal, else a plain line every 10 steps or 30 seconds. */
    public static ProgressDisplay console() {
        return new ProgressDisplay(System.out, isTerminal(), 10, 30, System::nanoTime);
    }

    /** True when standard output is an interactive terminal that understands carriage returns. */
    public static boolean isTerminal() {
        java.io.Console c = System.console();
        String term = System.getenv("TERM");
        return c != null && c.isTerminal() && !"dumb".equals(term);
    }

    @Override
    public void onStart(RunInfo run) {
        total = run.totalSteps();
        startStep = run.startStep();
        startNanos = clock.getAsLong();
        lastPrintNanos = startNanos;
        lastPrintStep = Long.MIN_VALUE;
        lastLine = "";
        String from = startStep > 0 ? " (resuming at step " + startStep + ")" : "";
        out.printf(Locale.ROOT, "training %d steps%s: %,d trainable parameters of %,d (%.2f%%)%n",
                total, from, run.trainableParams(), run.totalParams(), run.trainablePercent());
        out.flush();
    }

    @Override
    public void onStep(StepMetrics m) {
        long now = clock.getAsLong();
        boolean last = m.step() >= total;
        if (terminal) {
            if (!last && now - lastPrintNanos < REDRAW_NANOS && lastPrintStep != Long.MIN_VALUE) return;
            redraw(barLine(m, now));
        } else {
            boolean due = lastPrintStep == Long.MIN_VALUE || m.step() - lastPrintStep >= everySteps
                    || now - lastPrintNanos >= everyNanos || last;
            if (!due) return;
            out.println(plainLine(m, now));
        }
        out.flush();
        lastPrintStep = m.step();
        lastPrintNanos = now;
    }

    @Override
    public void onEval(EvalMetrics e) {
        note(String.format(Locale.ROOT, "eval step %d: val_loss %.4f val_ppl %.3f (%,d tokens)", e.step(), e.valLoss(), e.valPpl(), e.tokens()));
    }

    @Override
    public void onCheckpoint(long step, Path dir) {
        note("checkpoint step " + step + ": " + dir);
    }

    @Override
    public void onEnd(RunEnd end) {
        if (terminal && !lastLine.isEmpty()) out.println();
        lastLine = "";
        String msg = end.message() == null ? "" : ": " + end.message();
        out.printf(Locale.ROOT, "%s at step %d/%d after %s%s%n", end.status().id().replace('_', ' '), end.step(), total,
                duration(end.elapsedS()), msg);
        out.flush();
    }

    /** A line above the progress bar (terminal) or a plain line. */
    private void note(String text) {
        if (terminal && !lastLine.isEmpty()) {
            out.print("\r" + pad(text, lastLine.length()) + "\n" + lastLine);
        } else {
            out.println(text);
        }
        out.flush();
    }

    private void redraw(String line) {
        out.print("\r" + pad(line, lastLine.length()));
        lastLine = line;
    }

    private static String pad(String s, int width) {
        return s.length() >= width ? s : s + " ".repeat(width - s.length());
    }

    String barLine(StepMetrics m, long now) {
        int filled = total <= 0 ? BAR : (int) Math.min(BAR, m.step() * BAR / total);
        StringBuilder bar = new StringBuilder(BAR + 2).append('[');
        for (int i = 0; i < BAR; i++) bar.append(i < filled ? '=' : i == filled ? '>' : ' ');
        bar.append(']');
        return String.format(Locale.ROOT, "step %d/%d %s loss %s lr %s %.0f tok/s ETA %s", m.step(), total, bar,
                loss(m.loss()), lr(m.lr()), m.tokensPerS(), eta(m.step(), now));
    }

    String plainLine(StepMetrics m, long now) {
        return String.format(Locale.ROOT, "step %d/%d loss %s lr %s grad_norm %s %.0f tok/s elapsed %s ETA %s", m.step(), total,
                loss(m.loss()), lr(m.lr()), Double.isFinite(m.gradNorm()) ? String.format(Locale.ROOT, "%.3g", m.gradNorm()) : "nan",
                m.tokensPerS(), duration((now - startNanos) / 1e9), eta(m.step(), now));
    }

    private static String loss(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.3f", v) : String.valueOf(v).toLowerCase(Locale.ROOT);
    }

    /** {@code 1.8e-4}: two significant digits, exponent without padding. */
    static String lr(double v) {
        if (v == 0) return "0";
        if (!Double.isFinite(v)) return String.valueOf(v);
        String s = String.format(Locale.ROOT, "%.1e", v);        // 1.8e-04
        int e = s.indexOf('e');
        int exp = Integer.parseInt(s.substring(e + 1));
        return s.substring(0, e) + "e" + exp;
    }

    private String eta(long step, long now) {
        long done = step - startStep;
        if (done <= 0) return "?";
        double perStep = (now - startNanos) / 1e9 / done;
        return duration(perStep * Math.max(0, total - step));
    }

    /** {@code 1:23}, or {@code 1:02:03} past an hour. */
    static String duration(double seconds) {
        if (!Double.isFinite(seconds) || seconds < 0) return "?";
        long s = Math.round(seconds);
        long h = s / 3600, m = s / 60 % 60, sec = s % 60;
        return h > 0 ? String.format(Locale.ROOT, "%d:%02d:%02d", h, m, sec) : String.format(Locale.ROOT, "%d:%02d", m, sec);
    }
}
