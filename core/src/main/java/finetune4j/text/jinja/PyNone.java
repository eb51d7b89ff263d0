package finetune4j.text.jinja;

import com.hubspot.jinjava.util.HasObjectTruthValue;

/**
 * Python's {@code None} inside a template.
 *
 * <p>Jinjava represents both "undefined" and "null" as Java {@code null}; Jinja2 does not:
 * {@code tools is defined} is true when transformers passes {@code tools=None}, {@code x|default('d')}
 * keeps a {@code None}, and {@code {{ none }}} prints {@code None}. So every JSON {@code null} and
 * every {@code none} literal becomes this sentinel, and Java {@code null} keeps meaning "undefined".
 */
enum PyNone implements HasObjectTruthValue {
    NONE;

    @Override
    public boolean getObjectTruthValue() {
        return false;
    }

    @Override
    public String toString() {
        return "None";
    }
}
