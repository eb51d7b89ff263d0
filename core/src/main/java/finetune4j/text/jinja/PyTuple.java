package finetune4j.text.jinja;

import java.util.AbstractList;
import java.util.List;

/**
 * A Python tuple: an immutable list that prints as {@code (a, b)} and {@code (a,)}. Made by
 * {@code str.partition}, {@code dict.items()} and tuple literals so that repr() matches Python.
 */
final class PyTuple extends AbstractList<Object> {
    private final Object[] items;

    PyTuple(Object... items) {
        this.items = items.clone();
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
