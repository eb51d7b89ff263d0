package finetune4j.engine.hub;

import java.util.regex.Pattern;

/**
 * A Hugging Face Hub model reference, {@code org/name[@revision]}; the revision is a branch, a
 * tag or a commit hash and defaults to {@code main}.
 *
 * <p>Repository ids follow huggingface_hub's {@code validate_repo_id}: word characters, '-', '.',
 * no "--" or "..", at most 96 characters. The revision may hold '/' (e.g. {@code refs/pr/1}), so
 * the id is split at the first '@'.
 *
 * @param org      user or organisation, e.g. {@code TinyLlama}
 * @param name     repository name, e.g. {@code TinyLlama-1.1B-Chat-v1.0}
 * @param revision branch, tag or 40-hex commit hash
 */
public record HubId(String org, String name, String revision) {
    static final String DEFAULT_REVISION = "main";
    private static final Pattern PART = Pattern.compile("[A-Za-z0-9_](?:[\\w.-]*[A-Za-z0-9_])?");
    private static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");

    /** {@code org/name}. */
    public String repoId() {
        return org + "/" + name;
    }

    /** The cache folder name, {@code models--org--name}. */
    public String folderName() {
        return "models--" + org + "--" + name;
    }

    /** True when the revision is a full commit hash (then it never moves). */
    public boolean isCommit() {
        return isCommitHash(revision);
    }

    static boolean isCommitHash(String s) {
        return COMMIT.matcher(s).matches();
    }

    @Override
    public String toString() {
        return repoId() + "@" + revision;
    }

    /**
     * Parses {@code org/name[@revision]}; returns {@code null} when {@code s} does not have that form
     * (so callers can fall back to other interpretations and report both).
     */
    public static HubId parse(String s) {
        if (s == null) return null;
        int at = s.indexOf('@');
        String id = at < 0 ? s : s.substring(0, at);
        String rev = at < 0 ? DEFAULT_REVISION : s.substring(at + 1);
        int slash = id.indexOf('/');
        if (slash < 0 || id.indexOf('/', slash + 1) >= 0 || id.length() > 96) return null;
        String org = id.substring(0, slash), name = id.substring(slash + 1);
        if (!validPart(org) || !validPart(name)) return null;
        if (!validRevision(rev)) return null;
        return new HubId(org, name, rev);
    }

    private static boolean validPart(String p) {
        return PART.matcher(p).matches() && !p.contains("--") && !p.contains("..");
    }

    private static boolean validRevision(String r) {
        if (r.isEmpty() || r.length() > 256 || r.startsWith("/") || r.endsWith("/") || r.contains("\\")) return false;
        for (String seg : r.split("/", -1)) {
            if (seg.isEmpty() || seg.equals(".") || seg.equals("..")) return false;
        }
        for (int i = 0; i < r.length(); i++) {
            char c = r.charAt(i);
            if (c < 0x21 || c == 0x7F || c == '@') return false;
        }
        return true;
    }
}
