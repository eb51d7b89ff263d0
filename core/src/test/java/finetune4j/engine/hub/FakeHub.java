package finetune4j.engine.hub;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A local stand-in for huggingface.co that serves the URL layout and headers the real hub sends:
 * {@code /{org}/{name}/resolve/{revision}/{file}} answers HEAD and GET with {@code X-Repo-Commit},
 * {@code ETag} (git blob sha1) and {@code Content-Length} for regular files; LFS files
 * ({@code *.safetensors}) get a 302 to a "CDN" URL on another host name ({@code localhost} vs the
 * endpoint's {@code 127.0.0.1}) with {@code X-Linked-Etag} (sha256) and {@code X-Linked-Size}; the
 * CDN honours {@code Range} with 206 and refuses requests that carry {@code Authorization}
 * (signed URLs). Errors carry {@code X-Error-Code} like the hub's. Every request is logged.
 */
final class FakeHub implements AutoCloseable {
    /** refs: branch or tag → commit; commits: commit → (file → bytes). */
    record Repo(Map<String, String> refs, Map<String, Map<String, byte[]>> commits) {
    }

    final Map<String, Repo> repos = new ConcurrentHashMap<>();
    final List<String> log = new CopyOnWriteArrayList<>();
    final Set<String> dropOnce = ConcurrentHashMap.newKeySet();   // sha256 of files whose first CDN GET breaks
    volatile String requiredToken;
    private final Map<String, byte[]> blobsBySha = new ConcurrentHashMap<>();
    private final HttpServer server;

    FakeHub() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 0);
        server.createContext("/", this::handle);
        server.start();
    }

    String endpoint() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    private String cdn() {
        return "http://localhost:" + server.getAddress().getPort() + "/cdn/";
    }

    int requests() {
        return log.size();
    }

    void put(String repoId, String ref, String commit, Map<String, byte[]> files) {
        Repo r = repos.computeIfAbsent(repoId, k -> new Repo(new ConcurrentHashMap<>(), new ConcurrentHashMap<>()));
        r.commits().put(commit, files);
        if (ref != null) r.refs().put(ref, commit);
        for (byte[] b : files.values()) blobsBySha.put(sha256(b), b);
    }

    static String sha256(byte[] b) {
        return digest("SHA-256", b);
    }

    static String gitSha1(byte[] b) {
        byte[] head = ("blob " + b.length + "\0").getBytes(StandardCharsets.UTF_8);
        byte[] all = Arrays.copyOf(head, head.length + b.length);
        System.arraycopy(b, 0, all, head.length, b.length);
        return digest("SHA-1", all);
    }

    private static String digest(String alg, byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance(alg).digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String raw = ex.getRequestURI().getRawPath();
            String range = ex.getRequestHeaders().getFirst("Range");
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            log.add(ex.getRequestMethod() + " " + raw + (range != null ? " Range:" + range : "") + (auth != null ? " auth" : ""));
            String[] parts = raw.split("/");
            if (parts.length == 3 && parts[1].equals("cdn")) {
                serveCdn(ex, parts[2], range, auth);
                return;
            }
            if (parts.length < 6 || !parts[3].equals("resolve")) {
                error(ex, 404, null, null);
                return;
            }
            if (requiredToken != null && !("Bearer " + requiredToken).equals(auth)) {
                error(ex, 401, "GatedRepo", null);
                return;
            }
            Repo repo = repos.get(parts[1] + "/" + parts[2]);
            if (repo == null) {
                error(ex, 404, "RepoNotFound", null);
                return;
            }
            String rev = URLDecoder.decode(parts[4], StandardCharsets.UTF_8);
            String commit = repo.commits().containsKey(rev) ? rev : repo.refs().get(rev);
            if (commit == null) {
                error(ex, 404, "RevisionNotFound", null);
                return;
            }
            StringBuilder file = new StringBuilder();
            for (int i = 5; i < parts.length; i++) {
                if (i > 5) file.append('/');
                file.append(URLDecoder.decode(parts[i], StandardCharsets.UTF_8));
            }
            byte[] body = repo.commits().get(commit).get(file.toString());
            if (body == null) {
                error(ex, 404, "EntryNotFound", commit);
                return;
            }
            var h = ex.getResponseHeaders();
            h.set("X-Repo-Commit", commit);
            if (file.toString().endsWith(".safetensors")) {
                String sha = sha256(body);
                h.set("ETag", "\"" + gitSha1(("version https://git-lfs.github.com/spec/v1\noid sha256:" + sha).getBytes(StandardCharsets.UTF_8)) + "\"");
                h.set("X-Linked-Etag", "\"" + sha + "\"");
                h.set("X-Linked-Size", Long.toString(body.length));
                h.set("Location", cdn() + sha);
                ex.sendResponseHeaders(302, -1);
                return;
            }
            h.set("ETag", "\"" + gitSha1(body) + "\"");
            if (ex.getRequestMethod().equals("HEAD")) {
                h.set("Content-Length", Long.toString(body.length));
                ex.sendResponseHeaders(200, -1);
            } else {
                ex.sendResponseHeaders(200, body.length);
                ex.getResponseBody().write(body);
            }
        }
    }

    private void serveCdn(HttpExchange ex, String sha, String range, String auth) throws IOException {
        byte[] body = blobsBySha.get(sha);
        if (body == null) {
            error(ex, 404, null, null);
            return;
        }
        if (auth != null) {            // S3 refuses a second credential next to the URL signature
            error(ex, 403, null, null);
            return;
        }
        int from = 0;
        if (range != null) {
            from = Integer.parseInt(range.substring("bytes=".length(), range.indexOf('-')));
            ex.getResponseHeaders().set("Content-Range", "bytes " + from + "-" + (body.length - 1) + "/" + body.length);
        }
        ex.sendResponseHeaders(range != null ? 206 : 200, body.length - from);
        OutputStream out = ex.getResponseBody();
        if (dropOnce.remove(sha)) {
            int half = from + (body.length - from) / 2;
            out.write(body, from, half - from);
            out.flush();
            throw new IOException("fake hub: dropping the connection after " + half + " bytes");
        }
        out.write(body, from, body.length - from);
    }

    private static void error(HttpExchange ex, int status, String code, String commit) throws IOException {
        if (code != null) ex.getResponseHeaders().set("X-Error-Code", code);
        if (commit != null) ex.getResponseHeaders().set("X-Repo-Commit", commit);
        byte[] msg = ("{\"error\":\"" + (code == null ? "error" : code) + "\"}").getBytes(StandardCharsets.UTF_8);
        if (ex.getRequestMethod().equals("HEAD")) {
            ex.sendResponseHeaders(status, -1);
        } else {
            ex.sendResponseHeaders(status, msg.length);
            ex.getResponseBody().write(msg);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
