/**
 * Writers of trained results in other tools' formats: {@link finetune4j.export.PeftAdapterWriter}
 * (PEFT adapter directories, atomic, byte-compatible with {@code save_pretrained}).
 */
package finetune4j.export;
