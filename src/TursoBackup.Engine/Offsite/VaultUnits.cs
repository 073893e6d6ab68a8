using System;
using System.Linq;
using System.Threading;

namespace TursoBackup.Engine.Offsite
{
    /// <summary>Removing a unit of a vault (a backup's folder, a WAL generation) from any store.</summary>
    public static class VaultUnits
    {
        /// <summary>
        /// Removes every object under <paramref name="prefix"/>, <paramref name="commitKey"/> (the manifest, the generation's
        /// snapshot.json) first: from then on no reader lists the unit, so a removal stopped half-way leaves only
        /// unlisted files, which the next removal (or a sync's listing) finds and removes.
        /// </summary>
        public static void Remove(IObjectStore store, string prefix, string commitKey, CancellationToken cancel)
        {
            store.Delete(commitKey, cancel);
            foreach (var o in store.List(prefix, cancel).ToList())
            {
                cancel.ThrowIfCancellationRequested();
                store.Delete(o.Key, cancel);
            }
        }
    }
}
