package finetune4j.train;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A small inline-SVG line chart for {@link TrainReport}: linear axes with "nice" ticks
 * (1, 2, 5 × 10ᵏ), grid lines, one polyline per series (non-finite values leave a gap), optional
 * point markers, a legend. The {@code <svg>} element carries its domain and plot rectangle as
 * {@code data-*} attributes so tests (and curious readers) can map coordinates back to values.
 */
final class SvgChart {
    static final int WIDTH = 720, HEIGHT = 280;
    static final int LEFT = 70, RIGHT = 16, TOP = 28, BOTTOM = 40;
    static final int PLOT_W = WIDTH - LEFT - RIGHT, PLOT_H = HEIGHT - TOP - BOTTOM;

    /** One line: x (steps) and y values, same length. */
    record Series(String id, String label, String color, double[] x, double[] y, boolean markers) {
    }

    private final String title;
    private final String yLabel;
    private final List<Series> series = new ArrayList<>();

    SvgChart(String title, String yLabel) {
        this.title = title;
        this.yLabel = yLabel;
    }

    SvgChart add(Series s) {
        if (s.x().length != s.y().length) throw new IllegalArgumentException(s.id() + ": x and y lengths differ");
        series.add(s);
        return this;
    }

    boolean isEmpty() {
        for (Series s : series) for (double v : s.y()) if (Double.isFinite(v)) return false;
        return true;
    }

    String render() {
        double x0 = Double.POSITIVE_INFINITY, x1 = Double.NEGATIVE_INFINITY, y0 = Double.POSITIVE_INFINITY, y1 = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            for (int i = 0; i < s.x().length; i++) {
                if (!Double.isFinite(s.y()[i]) || !Double.isFinite(s.x()[i])) continue;
                x0 = Math.min(x0, s.x()[i]);
                x1 = Math.max(x1, s.x()[i]);
                y0 = Math.min(y0, s.y()[i]);
                y1 = Math.max(y1, s.y()[i]);
            }
        }
        if (x0 > x1) {   // nothing to draw
            x0 = 0;
            x1 = 1;
            y0 = 0;
            y1 = 1;
        }
        if (x0 == x1) {
            x0 -= 1;
            x1 += 1;
        }
        if (y0 == y1) {
            double d = y0 == 0 ? 1 : Math.abs(y0) * 0.1;
            y0 -= d;
            y1 += d;
        }
        double[] xt = ticks(x0, x1, 8), yt = ticks(y0, y1, 5);
        y0 = Math.min(y0, yt[0]);
        y1 = Math.max(y1, yt[yt.length - 1]);
        StringBuilder sb = new StringBuilder(4096);
        sb.append(String.format(Locale.ROOT,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\""
                        + " data-x0=\"%s\" data-x1=\"%s\" data-y0=\"%s\" data-y1=\"%s\" data-left=\"%d\" data-top=\"%d\""
                        + " data-width=\"%d\" data-height=\"%d\">",
                WIDTH, HEIGHT, WIDTH, HEIGHT, num(x0), num(x1), num(y0), num(y1), LEFT, TOP, PLOT_W, PLOT_H));
        sb.append("<title>").append(TrainReport.esc(title)).append("</title>");
        sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"18\" class=\"ctitle\">%s</text>", LEFT, TrainReport.esc(title)));
        // grid and ticks
        for (double t : yt) {
            if (t < y0 || t > y1) continue;
            double py = py(t, y0, y1);
            sb.append(String.format(Locale.ROOT, "<line class=\"grid\" x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\"/>", LEFT, py, LEFT + PLOT_W, py));
            sb.append(String.format(Locale.ROOT, "<text class=\"tick\" x=\"%d\" y=\"%.2f\" text-anchor=\"end\">%s</text>", LEFT - 6, py + 4, label(t)));
        }
        for (double t : xt) {
            if (t < x0 || t > x1) continue;
            double px = px(t, x0, x1);
            sb.append(String.format(Locale.ROOT, "<line class=\"grid\" x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\"/>", px, TOP, px, TOP + PLOT_H));
            sb.append(String.format(Locale.ROOT, "<text class=\"tick\" x=\"%.2f\" y=\"%d\" text-anchor=\"middle\">%s</text>", px, TOP + PLOT_H + 16, label(t)));
        }
        sb.append(String.format(Locale.ROOT, "<rect class=\"frame\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>", LEFT, TOP, PLOT_W, PLOT_H));
        sb.append(String.format(Locale.ROOT, "<text class=\"axis\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">step</text>", LEFT + PLOT_W / 2, HEIGHT - 6));
        sb.append(String.format(Locale.ROOT, "<text class=\"axis\" x=\"14\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 14 %d)\">%s</text>",
                TOP + PLOT_H / 2, TOP + PLOT_H / 2, TrainReport.esc(yLabel)));
        // the series, then the legend on a white box above them
        StringBuilder legendSb = new StringBuilder();
        legendSb.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"146\" height=\"%d\" fill=\"#fff\" fill-opacity=\"0.85\"/>",
                LEFT + PLOT_W - 154, TOP + 2, 16 * series.size() + 4));
        int legend = 0;
        for (Series s : series) {
            StringBuilder pts = new StringBuilder();
            int n = 0;
            for (int i = 0; i < s.x().length; i++) {
                if (!Double.isFinite(s.y()[i])) {
                    n = flush(sb, s, pts, n);
                    continue;
                }
                if (n++ > 0) pts.append(' ');
                pts.append(String.format(Locale.ROOT, "%.2f,%.2f", px(s.x()[i], x0, x1), py(s.y()[i], y0, y1)));
                if (s.markers()) {
                    sb.append(String.format(Locale.ROOT, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\" data-series=\"%s\"/>",
                            px(s.x()[i], x0, x1), py(s.y()[i], y0, y1), s.color(), s.id()));
                }
            }
            flush(sb, s, pts, n);
            int ly = TOP + 14 + 16 * legend++;
            legendSb.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>",
                    LEFT + PLOT_W - 150, ly - 4, LEFT + PLOT_W - 130, ly - 4, s.color()));
            legendSb.append(String.format(Locale.ROOT, "<text class=\"legend\" x=\"%d\" y=\"%d\">%s</text>", LEFT + PLOT_W - 124, ly, TrainReport.esc(s.label())));
        }
        sb.append(legendSb).append("</svg>");
        return sb.toString();
    }

    private static int flush(StringBuilder sb, Series s, StringBuilder pts, int n) {
        if (n > 0) {
            sb.append("<polyline class=\"series\" data-series=\"").append(s.id()).append("\" fill=\"none\" stroke=\"")
                    .append(s.color()).append("\" stroke-width=\"1.6\" points=\"").append(pts).append("\"/>");
        }
        pts.setLength(0);
        return 0;
    }

    static double px(double x, double x0, double x1) {
        return LEFT + (x - x0) / (x1 - x0) * PLOT_W;
    }

    static double py(double y, double y0, double y1) {
        return TOP + (1 - (y - y0) / (y1 - y0)) * PLOT_H;
    }

    /** About {@code count} round tick values covering [lo, hi] (step 1, 2 or 5 × 10ᵏ). */
    static double[] ticks(double lo, double hi, int count) {
        double raw = (hi - lo) / Math.max(1, count);
        double mag = Math.pow(10, Math.floor(Math.log10(raw)));
        double step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
        double first = Math.floor(lo / step) * step, last = Math.ceil(hi / step) * step;
        int n = (int) Math.round((last - first) / step) + 1;
        double[] t = new double[n];
        for (int i = 0; i < n; i++) t[i] = first + i * step;
        return t;
    }

    private static String label(double v) {
        if (v == 0) return "0";
        double a = Math.abs(v);
        if (a >= 1e5 || a < 1e-3) return ProgressDisplay.lr(v);
        String s = String.format(Locale.ROOT, "%.4f", v).replaceAll("0+$", "");
        return s.endsWith(".") ? s.substring(0, s.length() - 1) : s;
    }

    private static String num(double v) {
        return Double.toString(v);
    }
}
