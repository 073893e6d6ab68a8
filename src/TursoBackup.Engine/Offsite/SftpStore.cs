using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;

namespace TursoBackup.Engine.Offsite
{
    /// <summary>PLACEHOLDER — being written (issue 13).</summary>
    public sealed class SftpStore : IObjectStore
    {
        public SftpStore(OffsiteAddress address, OffsiteOptions options) => throw new NotImplementedException();
        public string DisplayName => throw new NotImplementedException();
        public void Probe(CancellationToken cancel) => throw new NotImplementedException();
        public IEnumerable<StoredObject> List(string prefix, CancellationToken cancel) => throw new NotImplementedException();
        public StoredObject Stat(string key, CancellationToken cancel) => throw new NotImplementedException();
        public StoredObject Put(string key, Stream content, long length, string sha256, Action<long> progress, CancellationToken cancel) => throw new NotImplementedException();
        public Stream OpenRead(string key, CancellationToken cancel) => throw new NotImplementedException();
        public void Delete(string key, CancellationToken cancel) => throw new NotImplementedException();
        public void Dispose() { }
    }
}
