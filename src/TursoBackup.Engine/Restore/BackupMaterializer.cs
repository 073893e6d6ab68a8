using System;
using System.IO;
using System.Text;
using System.Threading;
using TursoBackup.Engine.Dump;
using TursoBackup.Engine.IO;

namespace TursoBackup.Engine.Restore
{
    /// <summary>
    /// Turns a stored backup back into a database file, reading the artifact once: a snapshot is decompressed into
    /// the file, a dump is decompressed and loaded into it. Returns the SHA-256 of the stored artifact (for the caller
    /// to compare with the manifest) and the size of the database written.
    /// </summary>
    public static class BackupMaterializer
    {
        /// <param name="targetName">The file named in messages (the restore's destination), never the internal temporary path.</param>
        public static (string Sha256, long Bytes) Materialize(BackupInfo backup, string newFile, Action<long, long> progress, CancellationToken cancel = default(CancellationToken), string targetName = null)
        {
            long total = backup.SourceBytes;
            string sha = ArtifactStreams.ReadArtifact(backup.Location, backup.Compression, content =>
            {
                if (backup.Kind == BackupKind.Dump)
                {
                    using (var reader = new StreamReader(content, new UTF8Encoding(false, true), false, 1 << 16, leaveOpen: true))
                    {
                        new SqlDumpImporter().LoadInto(reader, newFile, targetName ?? newFile,
                            (statements, chars) => progress?.Invoke(chars, 0), cancel);
                    }
                }
                else
                {
                    ArtifactStreams.WriteNewFile(content, newFile, done => progress?.Invoke(done, total));
                }
            });
            return (sha, new FileInfo(newFile).Length);
        }
    }
}
