using System;
using System.IO;
using System.Threading;

namespace TursoBackup.Engine.Wal
{
    /// <summary>
    /// Tells when a database's <c>-wal</c> file was written (a commit appends frames, or overwrites them after a restart),
    /// so that the archiver captures commits as they happen instead of on the next tick of its interval — the interval
    /// stays the ceiling. It looks at the file's size and modification time every <see cref="PollInterval"/> (5 ms): one
    /// stat call, about a microsecond, where a file-system watch (inotify) would raise an event for every write a busy
    /// writer makes — tens of thousands a second, each one managed work on a core the writer needs. It works the same
    /// on network shares, where watches do not.
    /// </summary>
    public sealed class WalChangeSignal : IDisposable
    {
        private readonly string walPath;
        private long lastLength = -1;
        private DateTime lastWrite;

        public WalChangeSignal(string databasePath)
        {
            walPath = Path.GetFullPath(databasePath) + "-wal";
            Changed(); // what is there now is the starting point
        }

        /// <summary>How often the -wal file is looked at while waiting.</summary>
        public static TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(5);

        /// <summary>True when the -wal file's size or modification time differs from the last time this was asked.</summary>
        public bool Changed()
        {
            long length;
            DateTime write;
            try
            {
                var info = new FileInfo(walPath);
                if (!info.Exists) { length = 0; write = default(DateTime); }
                else { length = info.Length; write = info.LastWriteTimeUtc; }
            }
            catch (IOException) { return false; }
            catch (UnauthorizedAccessException) { return false; }
            bool changed = length != lastLength || write != lastWrite;
            lastLength = length;
            lastWrite = write;
            return changed;
        }

        /// <summary>
        /// Waits until the -wal file changes (true), <paramref name="ceiling"/> passes, or <paramref name="cancel"/> is
        /// set (false). It does not return true before <paramref name="floor"/> has passed since <paramref name="since"/>,
        /// so a burst of commits is captured in a few syncs instead of one per commit.
        /// </summary>
        public bool Wait(TimeSpan ceiling, TimeSpan floor, DateTime since, CancellationToken cancel)
        {
            var end = DateTime.UtcNow + ceiling;
            var earliest = since + floor;
            while (true)
            {
                var now = DateTime.UtcNow;
                if (now >= end) return false;
                var step = PollInterval;
                if (earliest > now && earliest - now > step) step = earliest - now; // nothing can count before the floor
                if (end - now < step) step = end - now;
                if (cancel.WaitHandle.WaitOne(step)) return false;
                if (DateTime.UtcNow >= earliest && Changed()) return true;
            }
        }

        public void Dispose() { }
    }
}
