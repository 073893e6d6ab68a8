using System;
using System.IO;
using System.Text;
using System.Threading;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Engine.Dump
{
    /// <summary>
    /// Dump files outside a vault: Export-TursoDatabase writes one (compressed when the name ends in .gz or .zst),
    /// Import-TursoDatabase loads one (ours or a sqlite3 .dump; compression recognised by its magic bytes).
    /// </summary>
    public static class DumpFiles
    {
        public static CompressionKind CompressionFromName(string path)
        {
            string lower = path.ToLowerInvariant();
            if (lower.EndsWith(".gz", StringComparison.Ordinal)) return CompressionKind.Gzip;
            if (lower.EndsWith(".zst", StringComparison.Ordinal) || lower.EndsWith(".zstd", StringComparison.Ordinal)) return CompressionKind.Zstd;
            return CompressionKind.None;
        }

        /// <summary>Gzip (1f 8b) and Zstandard (28 b5 2f fd) by their magic bytes; anything else is plain text.</summary>
        public static CompressionKind CompressionFromContent(string path)
        {
            var head = new byte[4];
            int n;
            using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read)) n = SqliteFile.ReadFully(fs, head, 0, 4);
            if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) return CompressionKind.Gzip;
            if (n >= 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd) return CompressionKind.Zstd;
            return CompressionKind.None;
        }

        /// <summary>
        /// Writes a consistent SQL dump of <paramref name="databasePath"/> (inside one read transaction) to
        /// <paramref name="outFile"/>: temporary name beside it, fsync, rename. An existing file only with overwrite.
        /// </summary>
        public static SqlDumpStats Export(string databasePath, string outFile, bool overwrite, Action<long> progress, CancellationToken cancel, TimeSpan? lockTimeout = null)
        {
            string source = Path.GetFullPath(databasePath);
            SqliteFile.RequireDatabaseFile(source);
            return WriteDumpFile(outFile, overwrite, text =>
            {
                using (var src = SqliteFile.OpenReadOnly(source, lockTimeout))
                using (var tx = src.BeginTransaction(deferred: true))
                {
                    return new SqlDumpWriter().Write(src, text, progress, cancel);
                }
            });
        }

        /// <summary>
        /// Writes a SQL dump of a remote libSQL / Turso database (<see cref="Remote.RemoteDumpWriter"/>: one read
        /// transaction on one stream where the server allows it) to <paramref name="outFile"/>, like <see cref="Export"/>.
        /// <paramref name="consistency"/> says how consistency was obtained.
        /// </summary>
        public static SqlDumpStats ExportRemote(string url, string authToken, string outFile, bool overwrite, Action<long> progress, CancellationToken cancel,
            out string consistency, Action<string> log = null)
        {
            string normalized = Remote.LibsqlUrl.Normalize(url);
            var writer = new Remote.RemoteDumpWriter { Log = log };
            var stats = WriteDumpFile(outFile, overwrite, text =>
            {
                using (var client = new Remote.HranaClient(normalized, authToken))
                {
                    return writer.Write(client, text, progress, cancel);
                }
            });
            consistency = writer.Consistency;
            return stats;
        }

        /// <summary>A dump file written through <paramref name="write"/>: temporary name beside it, fsync, rename.</summary>
        private static SqlDumpStats WriteDumpFile(string outFile, bool overwrite, Func<TextWriter, SqlDumpStats> write)
        {
            string target = Path.GetFullPath(outFile);
            if (Directory.Exists(target)) throw new TursoBackupException(FailureKind.InvalidArgument, $"'{target}' is a folder. Give the path of the dump file to write.", target);
            if (File.Exists(target) && !overwrite)
            {
                throw new TursoBackupException(FailureKind.AlreadyExists, $"'{target}' already exists. Use -Force to replace it, or choose another -OutFile.", target);
            }
            string dir = Path.GetDirectoryName(target);
            Directory.CreateDirectory(dir);
            string temp = Path.Combine(dir, "." + Path.GetFileName(target) + "." + Guid.NewGuid().ToString("N").Substring(0, 8) + ".partial");
            try
            {
                SqlDumpStats stats;
                using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1))
                {
                    OwnerOnly.File(temp); // a dump holds the whole database
                    using (var compressed = ArtifactStreams.Compress(new EarlyWritebackStream(file), CompressionFromName(target)))
                    using (var text = new StreamWriter(compressed, new UTF8Encoding(false), 1 << 16))
                    {
                        stats = write(text);
                    }
                    file.Flush(true);
                }
                DurableFile.ReplaceFile(temp, target);
                DurableFile.FlushDirectory(dir);
                return stats;
            }
            catch (IOException ex) when (DiskSpace.IsFull(ex))
            {
                throw new TursoBackupException(FailureKind.WriteFailed, $"The disk of '{target}' is full: {ex.Message} Free space; nothing was written.", target, ex);
            }
            finally
            {
                DurableFile.TryDelete(temp);
            }
        }

        /// <summary>Loads a dump file (plain, .gz or .zst) into a new database at <paramref name="databasePath"/>.</summary>
        /// <param name="fileEmergency">Files the consistent copy of an existing non-empty database before it is replaced (overwrite only); null keeps the copy beside it.</param>
        public static SqlImportStats Import(string inFile, string databasePath, bool overwrite, Files.EmergencyFiler fileEmergency,
            Action<long, long> progress, CancellationToken cancel, Action<string> log = null)
        {
            string source = Path.GetFullPath(inFile);
            if (!File.Exists(source))
            {
                throw new TursoBackupException(FailureKind.NotFound, $"Dump file '{source}' does not exist. Check the path.", source);
            }
            var compression = CompressionFromContent(source);
            using (var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read, ArtifactStreams.BufferSize, FileOptions.SequentialScan))
            using (var content = ArtifactStreams.Decompress(input, compression))
            using (var reader = new StreamReader(content, new UTF8Encoding(false, true), false, 1 << 16))
            {
                var importer = new SqlDumpImporter { Log = log };
                try
                {
                    return importer.Import(reader, databasePath, overwrite, fileEmergency, progress, cancel);
                }
                catch (Exception ex) when (ex is InvalidDataException || ex is ZstdSharp.ZstdException || ex is DecoderFallbackException)
                {
                    throw new TursoBackupException(FailureKind.InvalidData,
                        $"'{source}' could not be read as a {(compression == CompressionKind.None ? "" : compression + "-compressed ")}SQL dump ({ex.Message}). Nothing was written.", source, ex);
                }
            }
        }
    }
}
