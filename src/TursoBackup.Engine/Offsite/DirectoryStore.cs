using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Threading;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;

namespace TursoBackup.Engine.Offsite
{
    /// <summary>
    /// A folder as an object store: another disk, a mounted share, a UNC path — and the local cache of a remote vault.
    /// An object is written as a hidden sibling ".&lt;name&gt;.&lt;random&gt;.partial", fsynced, read back and checked against the
    /// caller's SHA-256, then renamed over its key; hidden names are never listed.
    /// </summary>
    public sealed class DirectoryStore : IObjectStore
    {
        private const int BufferSize = 1 << 20;

        public DirectoryStore(string root)
        {
            Root = Path.GetFullPath(root);
        }

        public string Root { get; }

        public string DisplayName => Root;

        /// <summary>Creates the folder (owner-only) when it is missing; an unwritable place is a clear error.</summary>
        public void CreateRoot()
        {
            try
            {
                OwnerOnly.CreateDirectory(Root);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new TursoBackupException(FailureKind.PermissionDenied, $"The vault folder '{Root}' cannot be created: {ex.Message} Choose a folder this account can write to.", Root, ex);
            }
        }

        public void Probe(CancellationToken cancel)
        {
            if (!Directory.Exists(Root))
            {
                throw new TursoBackupException(FailureKind.NotFound, $"The vault folder '{Root}' does not exist. Check the path (is the disk or share mounted?).", Root) { ErrorId = "VaultNotFound" };
            }
        }

        public string PathOf(string key)
        {
            CheckKey(key);
            return Path.Combine(Root, key.Replace('/', Path.DirectorySeparatorChar));
        }

        public IEnumerable<StoredObject> List(string prefix, CancellationToken cancel)
        {
            prefix = prefix ?? "";
            if (!Directory.Exists(Root)) yield break;
            // Start at the deepest folder the prefix names, so listing one backup does not walk the whole vault.
            int slash = prefix.LastIndexOf('/');
            string start = slash < 0 ? Root : Path.Combine(Root, prefix.Substring(0, slash).Replace('/', Path.DirectorySeparatorChar));
            if (!Directory.Exists(start)) yield break;
            var pending = new Stack<string>();
            pending.Push(start);
            while (pending.Count > 0)
            {
                cancel.ThrowIfCancellationRequested();
                string dir = pending.Pop();
                string[] files, dirs;
                try
                {
                    files = Directory.GetFiles(dir);
                    dirs = Directory.GetDirectories(dir);
                }
                catch (DirectoryNotFoundException)
                {
                    continue;
                }
                foreach (var d in dirs)
                {
                    if (Path.GetFileName(d).StartsWith(".", StringComparison.Ordinal)) continue;
                    if ((File.GetAttributes(d) & FileAttributes.ReparsePoint) != 0) continue;
                    pending.Push(d);
                }
                foreach (var f in files)
                {
                    if (Path.GetFileName(f).StartsWith(".", StringComparison.Ordinal)) continue;
                    string key = f.Substring(Root.Length).TrimStart(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar).Replace(Path.DirectorySeparatorChar, '/');
                    if (!key.StartsWith(prefix, StringComparison.Ordinal)) continue;
                    FileInfo info;
                    try
                    {
                        info = new FileInfo(f);
                        if (!info.Exists) continue;
                    }
                    catch (IOException)
                    {
                        continue;
                    }
                    yield return new StoredObject(key, info.Length, null, info.LastWriteTimeUtc);
                }
            }
        }

        public StoredObject Stat(string key, CancellationToken cancel)
        {
            var info = new FileInfo(PathOf(key));
            return info.Exists ? new StoredObject(key, info.Length, null, info.LastWriteTimeUtc) : null;
        }

        public StoredObject Put(string key, Stream content, long length, string sha256, Action<long> progress, CancellationToken cancel)
        {
            string final = PathOf(key);
            string dir = Path.GetDirectoryName(final);
            try
            {
                if (!Directory.Exists(dir)) CreateFolders(dir);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw Failure(ex, key);
            }
            string partial = Path.Combine(dir, "." + Path.GetFileName(final) + "." + Guid.NewGuid().ToString("N").Substring(0, 8) + ".partial");
            try
            {
                long written = 0;
                // One buffer of our own, no larger than the object (most vault files are small), and none in the FileStream.
                using (var fs = new FileStream(partial, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1))
                {
                    OwnerOnly.File(partial);
                    var buffer = new byte[(int)Math.Max(1, Math.Min(BufferSize, length))];
                    int n;
                    while (written < length && (n = content.Read(buffer, 0, (int)Math.Min(buffer.Length, length - written))) > 0)
                    {
                        cancel.ThrowIfCancellationRequested();
                        fs.Write(buffer, 0, n);
                        written += n;
                        progress?.Invoke(written);
                    }
                    fs.Flush(true);
                }
                if (written != length)
                {
                    throw StoreSource.CutShort(key, Root, written, length);
                }
                string arrived = Sha256Of(partial, cancel);
                if (sha256 != null && !string.Equals(arrived, sha256, StringComparison.OrdinalIgnoreCase))
                {
                    throw new TursoBackupException(FailureKind.InvalidData, $"'{key}' arrived in '{Root}' with SHA-256 {arrived}, not {sha256}: the copy was damaged on the way (or the disk is failing). Nothing was stored; run the copy again and check the disk.", key) { ErrorId = "ChecksumMismatch" };
                }
                DurableFile.ReplaceFile(partial, final);
                DurableFile.FlushDirectory(dir);
                return new StoredObject(key, length, arrived, DateTimeOffset.UtcNow);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw Failure(ex, key);
            }
            finally
            {
                DurableFile.TryDelete(partial);
            }
        }

        public Stream OpenRead(string key, CancellationToken cancel)
        {
            string path = PathOf(key);
            if (!File.Exists(path))
            {
                throw new TursoBackupException(FailureKind.NotFound, $"'{key}' is not in the vault folder '{Root}'.", key);
            }
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 81920);
        }

        public void Delete(string key, CancellationToken cancel)
        {
            string path = PathOf(key);
            if (!File.Exists(path)) return;
            File.Delete(path);
            // Remove folders left empty, up to the root (a removed backup leaves no empty folder behind).
            string dir = Path.GetDirectoryName(path);
            while (dir != null && dir.Length > Root.Length && Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any())
            {
                try { Directory.Delete(dir); } catch (IOException) { break; }
                dir = Path.GetDirectoryName(dir);
            }
        }

        public void Dispose()
        {
        }

        /// <summary>SHA-256 of a file, lowercase hex.</summary>
        public static string Sha256Of(string path, CancellationToken cancel = default(CancellationToken))
        {
            using (var sha = SHA256.Create())
            using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1))
            {
                var buffer = new byte[(int)Math.Max(1, Math.Min(BufferSize, fs.Length))];
                int n;
                while ((n = fs.Read(buffer, 0, buffer.Length)) > 0)
                {
                    cancel.ThrowIfCancellationRequested();
                    sha.TransformBlock(buffer, 0, n, null, 0);
                }
                sha.TransformFinalBlock(buffer, 0, 0);
                return Hex(sha.Hash);
            }
        }

        public static string Hex(byte[] bytes)
        {
            var c = new char[bytes.Length * 2];
            for (int i = 0; i < bytes.Length; i++)
            {
                c[2 * i] = "0123456789abcdef"[bytes[i] >> 4];
                c[2 * i + 1] = "0123456789abcdef"[bytes[i] & 15];
            }
            return new string(c);
        }

        /// <summary>Keys are '/'-separated names that cannot leave the root: no empty, "." or ".." part, no leading '/', no '\'.</summary>
        public static void CheckKey(string key)
        {
            if (string.IsNullOrEmpty(key) || key.StartsWith("/", StringComparison.Ordinal) || key.IndexOf('\\') >= 0 || key.IndexOf(':') >= 0
                || key.Split('/').Any(p => p.Length == 0 || p == "." || p == ".."))
            {
                throw new TursoBackupException(FailureKind.InvalidData, $"'{key}' is not a key a vault may hold (it could name a place outside the vault). It was not used.", key) { ErrorId = "InvalidObjectKey" };
            }
        }

        private void CreateFolders(string dir)
        {
            var missing = new Stack<string>();
            for (string d = dir; d != null && !Directory.Exists(d); d = Path.GetDirectoryName(d)) missing.Push(d);
            while (missing.Count > 0)
            {
                string d = missing.Pop();
                OwnerOnly.CreateDirectory(d);
                DurableFile.FlushDirectory(Path.GetDirectoryName(d));
            }
        }

        private TursoBackupException Failure(Exception ex, string key)
        {
            bool full = ex is IOException io && (io.HResult == 28 || io.HResult == unchecked((int)0x80070070) || io.Message.IndexOf("space", StringComparison.OrdinalIgnoreCase) >= 0);
            if (full)
            {
                return new TursoBackupException(FailureKind.QuotaExceeded, $"The vault folder '{Root}' is full: '{key}' could not be stored ({ex.Message}). Free space there or choose another destination; nothing was stored.", Root, ex) { ErrorId = "DestinationFull" };
            }
            if (ex is UnauthorizedAccessException)
            {
                return new TursoBackupException(FailureKind.PermissionDenied, $"The vault folder '{Root}' is not writable: {ex.Message} Grant this account write access or choose another destination.", Root, ex);
            }
            return new TursoBackupException(FailureKind.WriteFailed, $"'{key}' could not be stored in '{Root}': {ex.Message} Nothing was stored; run the copy again.", Root, ex);
        }
    }
}
