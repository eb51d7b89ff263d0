package finetune4j.engine.hub;

import java.io.PrintStream;
import java.util.Locale;

/**
 * Download progress on stderr: a redrawn bar (bytes, %, MB/s) when stderr is a terminal, plain
 * lines otherwise (logs, CI), so redirected output stays readable.
 */
final class Progress {
    private static final long BIG = 10L << 20;         // plain mode announces files from 10 MiB on
    private final PrintStream out;
    private final boolean terminal;

    Progress(PrintStream out, boolean terminal) {
        this.out = out;
        this.terminal = terminal;
    }

    /** stderr, as a bar when the JVM's console is a terminal. */
    static Progress stderr() {
        java.io.Console c = System.console();
        return new Progress(System.err, c != null && c.isTerminal());
    }

    /** A silent sink (tests). */
    static Progress none() {
        return new Progress(new PrintStream(java.io.OutputStream.nullOutputStream()), false);
    }

    /** Starts reporting {@code label}: {@code total} bytes expected, {@code initial} already on disk. */
    Bar start(String label, long total, long initial) {
        return new Bar(label, total, initial);
    }

    void line(String s) {
        out.println(s);
    }

    final class Bar {
        private final String label;
        private final long total;
        private final long initial;
        private final long t0 = System.nanoTime();
        private long done;
        private long lastDraw;

        private Bar(String label, long total, long initial) {
            this.label = label;
            this.total = total;
            this.initial = initial;
            this.done = initial;
            if (terminal) {
                draw();
            } else if (total >= BIG || initial > 0) {
                out.println(label + ": downloading " + mb(total)
                        + (initial > 0 ? " (resuming at " + mb(initial) + ")" : ""));
            }
        }

        void update(long n) {
            done += n;
            if (terminal && System.nanoTime() - lastDraw > 100_000_000L) draw();
        }

        /** Back to {@code bytes} already on disk (a restarted download). */
        void reset(long bytes) {
            done = bytes;
        }

        void finish() {
            double s = Math.max(1e-9, (System.nanoTime() - t0) / 1e9);
            String rate = String.format(Locale.ROOT, "%.1f MB/s", (done - initial) / 1e6 / s);
            if (terminal) {
                draw();
                out.println();
            } else {
                out.println(label + ": " + mb(done) + " in " + String.format(Locale.ROOT, "%.1f s", s) + " (" + rate + ")");
            }
        }

        private void draw() {
            lastDraw = System.nanoTime();
            double s = Math.max(1e-9, (lastDraw - t0) / 1e9);
            int pct = total > 0 ? (int) (100 * done / total) : 100;
            int width = 24, full = total > 0 ? (int) (width * done / total) : width;
            String bar = "#".repeat(Math.min(width, full)) + " ".repeat(Math.max(0, width - full));
            out.print(String.format(Locale.ROOT, "\r%-40.40s %3d%% [%s] %s / %s %.1f MB/s ", label, pct, bar,
                    mb(done), mb(total), (done - initial) / 1e6 / s));
            out.flush();
        }
    }

    static String mb(long bytes) {
        return bytes < 1_000_000 ? bytes + " B" : String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
    }
}
