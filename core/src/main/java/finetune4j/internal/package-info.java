/**
 * Shared machinery that is public only so that several packages can use it; not part of the
 * library's API: {@link finetune4j.internal.PyJson} (Python {@code json.dumps}-exact JSON) and
 * {@link finetune4j.internal.Messages} (error-message helpers).
 */
package finetune4j.internal;
