package finetune4j.internal;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/** Helpers for error messages that carry values without drowning the reader. */
public final class Messages {
    private static final int MAX_SHOWN = 20;

    private Messages() {
    }

    /** {@code [a, b, c, ... and 12 more]}: at most 20 entries shown, in the collection's order. */
    public static String abbreviate(Collection<String> items) {
        if (items.size() <= MAX_SHOWN) return items.toString();
        List<String> shown = new ArrayList<>(items).subList(0, MAX_SHOWN);
        String s = shown.toString();
        return s.substring(0, s.length() - 1) + ", ... and " + (items.size() - MAX_SHOWN) + " more]";
    }
}
