package finetune4j.text.jinja;

import java.util.AbstractList;
import java.util.List;

/**
 * A Python tuple: an immutable list that prints as {@code (a, b)} and {@code (a,)}. Made by
 * {@code str.partition}, {@code dict.items()} and tuple literals so that repr() matches Python.
 * A named tuple ({@link #named}, e.g. groupby's {@code (grouper, list)}) also answers its field
 * names as attributes and still prints as a plain tuple.
 */
final class PyTuple extends AbstractList<Object> {
    private final Object[] items;
    private final List<String> names;                  // field names, or empty

    PyTuple(Object... items) {
        this.items = items.clone();
        this.names = List.of();
    }

    private PyTuple(List<String> names, Object[] items) {
        this.items = items.clone();
        this.names = names;
    }

    /** A named tuple: {@code names.get(i)} is an attribute for item i. */
    static PyTuple named(List<String> names, Object... items) {
        if (names.size() != items.length) throw new IllegalArgumentException(names + " for " + items.length + " items");
        return new PyTuple(List.copyOf(names), items);
    }

    /** The item of field {@code name}, or null when this tuple has no such field. */
    Object field(String name) {
        int i = names.indexOf(name);
        return i < 0 ? null : items[i];
    }

    static PyTuple of(List<?> items) {
        return new PyTuple(items.toArray());
    }

    @Override
    public Object get(int index) {
        return items[index];
    }

    @Override
    public int size() {
        return items.length;
    }
}
