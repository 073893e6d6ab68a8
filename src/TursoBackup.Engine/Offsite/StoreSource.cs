using System;
using System.IO;
using System.Threading;
using TursoBackup.Engine.Errors;

namespace TursoBackup.Engine.Offsite
{
    /// <summary>Reading the caller's content in a store's Put, the same for every store.</summary>
    internal static class StoreSource
    {
        /// <summary>
        /// Fills <paramref name="buffer"/> with up to <paramref name="count"/> bytes of <paramref name="content"/> (fewer
        /// only at its end). A source that fails to read is WriteFailed: nothing was stored at <paramref name="destination"/>.
        /// </summary>
        public static int ReadBlock(Stream content, byte[] buffer, int count, string key, string destination, CancellationToken cancel)
        {
            int total = 0;
            try
            {
                while (total < count)
                {
                    cancel.ThrowIfCancellationRequested();
                    int n = content.Read(buffer, total, count - total);
                    if (n <= 0) break;
                    total += n;
                }
            }
            catch (IOException ex)
            {
                throw new TursoBackupException(FailureKind.WriteFailed,
                    $"Reading the source of '{key}' failed ({ex.Message}) while storing it in '{destination}'. Nothing was stored; run the copy again.", key, ex);
            }
            return total;
        }

        /// <summary>The source gave fewer bytes than the length it was stored with.</summary>
        public static TursoBackupException CutShort(string key, string destination, long got, long length) =>
            new TursoBackupException(FailureKind.InvalidData,
                $"Copying '{key}' to '{destination}' read {got} bytes where {length} were expected (the source changed or was cut short). Nothing was stored; run the copy again.", key);
    }
}
