package finetune4j.engine.hub;

import finetune4j.ConfigException;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The Hub settings huggingface_hub reads from the environment ({@code huggingface_hub/constants.py}),
 * resolved from an explicit map so tests never touch the process environment.
 *
 * <ul>
 *   <li>cache: {@code HF_HUB_CACHE}, else {@code HUGGINGFACE_HUB_CACHE}, else {@code $HF_HOME/hub};
 *   {@code HF_HOME} defaults to {@code $XDG_CACHE_HOME/huggingface}, else {@code ~/.cache/huggingface};</li>
 *   <li>endpoint: {@code HF_ENDPOINT} without trailing '/', default {@code https://huggingface.co};</li>
 *   <li>token: {@code HF_TOKEN}, else {@code HUGGING_FACE_HUB_TOKEN}, else the file
 *   {@code HF_TOKEN_PATH} (default {@code $HF_HOME/token}), trimmed; none when empty;</li>
 *   <li>offline: {@code HF_HUB_OFFLINE} (or {@code TRANSFORMERS_OFFLINE}) is 1/ON/YES/TRUE.</li>
 * </ul>
 *
 * @param cacheDir the hub cache root holding {@code models--org--name} folders
 * @param endpoint e.g. {@code https://huggingface.co}
 * @param token    bearer token, or {@code null}
 * @param offline  use the cache only, never the network
 */
public record HubEnvironment(Path cacheDir, String endpoint, String token, boolean offline) {
    public static final String DEFAULT_ENDPOINT = "https://huggingface.co";
    private static final Set<String> TRUE = Set.of("1", "ON", "YES", "TRUE");

    /** The settings of this process ({@link System#getenv()} and {@code user.home}). */
    public static HubEnvironment fromSystem() {
        return from(System.getenv(), Path.of(System.getProperty("user.home")));
    }

    /**
     * The settings described by {@code env}, with {@code home} standing for {@code ~}.
     *
     * @throws ConfigException when {@code HF_ENDPOINT} is not an http(s) URL
     */
    public static HubEnvironment from(Map<String, String> env, Path home) {
        Path hfHome = path(env.get("HF_HOME"), home);
        if (hfHome == null) {
            Path xdg = path(env.get("XDG_CACHE_HOME"), home);
            hfHome = (xdg != null ? xdg : home.resolve(".cache")).resolve("huggingface");
        }
        Path cache = path(env.get("HF_HUB_CACHE"), home);
        if (cache == null) cache = path(env.get("HUGGINGFACE_HUB_CACHE"), home);
        if (cache == null) cache = hfHome.resolve("hub");

        String endpoint = nonEmpty(env.get("HF_ENDPOINT"));
        if (endpoint == null) endpoint = DEFAULT_ENDPOINT;
        while (endpoint.endsWith("/")) endpoint = endpoint.substring(0, endpoint.length() - 1);
        try {
            URI u = URI.create(endpoint);
            if (!("http".equals(u.getScheme()) || "https".equals(u.getScheme())) || u.getHost() == null) {
                throw new IllegalArgumentException("not http(s)");
            }
        } catch (IllegalArgumentException e) {
            throw new ConfigException("HF_ENDPOINT", endpoint, "an http(s) URL such as " + DEFAULT_ENDPOINT);
        }

        String token = nonEmpty(env.get("HF_TOKEN"));
        if (token == null) token = nonEmpty(env.get("HUGGING_FACE_HUB_TOKEN"));
        if (token == null) {
            Path tokenFile = path(env.get("HF_TOKEN_PATH"), home);
            if (tokenFile == null) tokenFile = hfHome.resolve("token");
            if (Files.isRegularFile(tokenFile)) {
                try {
                    token = nonEmpty(Files.readString(tokenFile, StandardCharsets.UTF_8).strip());
                } catch (IOException e) {
                    throw new ConfigException("HF_TOKEN_PATH", tokenFile.toString(), "a readable token file (" + e.getMessage() + ")");
                }
            }
        } else {
            token = token.strip();
        }

        String off = nonEmpty(env.get("HF_HUB_OFFLINE"));
        if (off == null) off = nonEmpty(env.get("TRANSFORMERS_OFFLINE"));
        boolean offline = off != null && TRUE.contains(off.strip().toUpperCase(Locale.ROOT));
        return new HubEnvironment(cache, endpoint, token, offline);
    }

    private static String nonEmpty(String s) {
        return s == null || s.isBlank() ? null : s;
    }

    /** A path from an environment value, with a leading {@code ~} expanded like {@code os.path.expanduser}. */
    private static Path path(String v, Path home) {
        v = nonEmpty(v);
        if (v == null) return null;
        if (v.equals("~")) return home;
        if (v.startsWith("~/")) return home.resolve(v.substring(2));
        return Path.of(v);
    }

    @Override
    public String toString() {
        return "HubEnvironment[cache=" + cacheDir + ", endpoint=" + endpoint + ", token=" + (token == null ? "none" : "set")
                + ", offline=" + offline + "]";
    }
}
