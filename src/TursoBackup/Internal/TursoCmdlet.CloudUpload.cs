using System.Threading;
using TursoBackup.Engine.Cloud;

namespace TursoBackup.Internal
{
    /// <summary>Creating a Turso Cloud database from a local file (Import-TursoCloudDatabase, Restore-TursoBackup -NewDatabase).</summary>
    public abstract partial class TursoCmdlet
    {
        /// <summary>
        /// Uploads <paramref name="path"/> as the new database <paramref name="name"/> of the connected organization:
        /// checked and converted on a copy, streamed, the half-created database deleted when anything fails. Progress in MiB.
        /// </summary>
        protected TursoDatabase UploadToCloud(string path, string name, string group, string activity)
        {
            var client = CloudSession.Require(VerboseFromAnyThread);
            var upload = new CloudUpload { Log = VerboseFromAnyThread };
            long done = 0, total = 0;
            int id = NewActivityId();
            try
            {
                return RunWithProgress(() => upload.Upload(client, path, name, group, (d, t) => { Interlocked.Exchange(ref done, d); Interlocked.Exchange(ref total, t); }, Cancellation), () =>
                {
                    long t = Interlocked.Read(ref total);
                    if (t > 0) ShowProgress(id, activity, $"{Interlocked.Read(ref done) / 1048576.0:N1} of {t / 1048576.0:N1} MiB uploaded", (int)(Interlocked.Read(ref done) * 100 / t));
                });
            }
            finally
            {
                CompleteProgress(id, activity);
            }
        }
    }
}
