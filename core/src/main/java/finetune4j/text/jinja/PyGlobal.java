package finetune4j.text.jinja;

/**
 * The value a Jinja2 global function has when used as a variable rather than called: templates
 * test {@code strftime_now is defined} (Llama 3.x) before calling it. Jinjava resolves calls through
 * its function table and would report the bare name as undefined; this placeholder makes the name
 * defined, truthy and {@code callable}, and prints like a Python function.
 */
record PyGlobal(String name) {
    static final String[] NAMES = {"raise_exception", "strftime_now", "range", "dict", "namespace"};

    @Override
    public String toString() {
        return "<function " + name + ">";
    }
}
