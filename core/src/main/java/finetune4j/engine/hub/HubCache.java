package finetune4j.engine.hub;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The huggingface_hub cache layout of one model repository, so that files downloaded here and by
 * Python ({@code hf_hub_download}, transformers) are shared:
 * <pre>
 * {cache}/models--{org}--{name}/
 *     blobs/{etag}                      file contents (etag = git sha1, or sha256 for LFS files)
 *     blobs/{etag}.incomplete           a download in progress (resumed with Range)
 *     refs/{revision}                   the commit hash a branch or tag pointed to (no newline)
 *     snapshots/{commit}/{file}         relative symlink to ../../blobs/{etag}
 *     .no_exist/{commit}/{file}         empty marker: the file does not exist at that commit
 * {cache}/.locks/models--{org}--{name}/{etag}.lock
 * </pre>
 * ({@code huggingface_hub/file_download.py}: {@code _hf_hub_download_to_cache_dir},
 * {@code _create_symlink}, {@code _cache_commit_hash_for_specific_revision}, {@code try_to_load_from_cache}.)
 */
final class HubCache {
    final Path cacheDir;
    final HubId id;
    final Path storage;

    HubCache(Path cacheDir, HubId id) {
        this.cacheDir = cacheDir;
        this.id = id;
        this.storage = cacheDir.resolve(id.folderName());
    }

    Path blob(String etag) {
        return storage.resolve("blobs").resolve(etag);
    }

    Path incomplete(String etag) {
        return storage.resolve("blobs").resolve(etag + ".incomplete");
    }

    Path snapshot(String commit) {
        return storage.resolve("snapshots").resolve(commit);
    }

    /** {@code snapshots/{commit}/{file}}; a repo path with '/' becomes nested folders. */
    Path pointer(String commit, String file) {
        return resolveRepoPath(snapshot(commit), file);
    }

    Path noExist(String commit, String file) {
        return resolveRepoPath(storage.resolve(".no_exist").resolve(commit), file);
    }

    Path lockFile(String etag) {
        return cacheDir.resolve(".locks").resolve(id.folderName()).resolve(etag + ".lock");
    }

    private static Path resolveRepoPath(Path base, String file) {
        Path p = base;
        for (String part : file.split("/")) p = p.resolve(part);
        return p;
    }

    /** The commit a branch or tag pointed to when last fetched, or {@code null}. A commit hash maps to itself. */
    String commitOf(String revision) {
        if (HubId.isCommitHash(revision)) return revision;
        Path ref = resolveRepoPath(storage.resolve("refs"), revision);
        if (!Files.isRegularFile(ref)) return null;
        try {
            String c = Files.readString(ref, StandardCharsets.UTF_8).strip();
            return c.isEmpty() ? null : c;
        } catch (IOException e) {
            return null;
        }
    }

    /** Records {@code refs/{revision} = commit} unless the revision is the commit itself or already recorded. */
    void writeRef(String revision, String commit) throws IOException {
        if (revision.equals(commit)) return;
        Path ref = resolveRepoPath(storage.resolve("refs"), revision);
        if (commit.equals(commitOf(revision))) return;
        Files.createDirectories(ref.getParent());
        Path tmp = ref.resolveSibling(ref.getFileName() + ".tmp" + ProcessHandle.current().pid());
        Files.writeString(tmp, commit, StandardCharsets.UTF_8);
        Files.move(tmp, ref, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** True when {@code file} is present in the snapshot (a symlink must resolve to an existing blob). */
    boolean has(String commit, String file) {
        return Files.isRegularFile(pointer(commit, file));
    }

    boolean knownMissing(String commit, String file) {
        return Files.exists(noExist(commit, file));
    }

    void markMissing(String commit, String file) {
        Path p = noExist(commit, file);
        try {
            Files.createDirectories(p.getParent());
            Files.createFile(p);
        } catch (FileAlreadyExistsException e) {
            // already known
        } catch (IOException e) {
            // huggingface_hub only logs this too: the marker saves a request, nothing more
        }
    }

    /**
     * Points {@code snapshots/{commit}/{file}} at {@code blobs/{etag}} with a relative symlink; where
     * symlinks are not supported the blob is copied (as huggingface_hub does on Windows).
     */
    void link(String etag, String commit, String file) throws IOException {
        Path blob = blob(etag);
        Path pointer = pointer(commit, file);
        Files.createDirectories(pointer.getParent());
        Files.deleteIfExists(pointer);
        Path relative = pointer.getParent().relativize(blob);
        try {
            Files.createSymbolicLink(pointer, relative);
        } catch (UnsupportedOperationException | FileSystemException e) {
            if (e instanceof FileAlreadyExistsException && Files.isRegularFile(pointer)) return; // raced with another process
            Files.copy(blob, pointer, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
