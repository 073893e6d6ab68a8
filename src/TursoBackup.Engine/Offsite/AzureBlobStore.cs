using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Security;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Storage;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;

namespace TursoBackup.Engine.Offsite
{
    /// <summary>
    /// Azure Blob Storage (or an emulator such as azurite, path style) as an object store: one container, optionally a
    /// prefix inside it, and each key a block blob under that prefix.
    /// </summary>
    /// <remarks>
    /// <para>Atomic: an object is staged as uncommitted blocks (each sent with its MD5, which the service checks on
    /// arrival) and becomes visible only with the one Put Block List that commits them all; a small object (one block or
    /// less) is one Put Blob with its MD5. Until the commit nothing is listed and the blob that was there stays as it was.
    /// The SHA-256 of the content is computed while it is read and compared with the caller's before the commit: a
    /// mismatch commits nothing. The commit records the SHA-256 in the blob's metadata ("sha256") and the whole content's
    /// MD5 as its Content-MD5; after the commit the blob's length and metadata are read back and checked.</para>
    /// <para>Streamed: blocks of <see cref="OffsiteOptions.BlockSize"/>, at most <see cref="OffsiteOptions.Parallelism"/> in
    /// flight, so memory is Parallelism × BlockSize whatever the object's size. The progress callback is called on the
    /// caller's thread only.</para>
    /// <para>The client pins the service version to <see cref="ServiceVersion"/> (one that both Azure and the azurite the
    /// tests run accept), so what the tests exercise is what is sent to Azure.</para>
    /// </remarks>
    public sealed class AzureBlobStore : IObjectStore
    {
        /// <summary>The REST API version every request uses (azurite 3.37.0 accepts up to 2026-06-06).</summary>
        public const BlobClientOptions.ServiceVersion ServiceVersion = BlobClientOptions.ServiceVersion.V2026_06_06;

        /// <summary>The blob metadata entry holding the content's SHA-256 (lowercase hex).</summary>
        public const string Sha256Metadata = "sha256";

        /// <summary>The emulator's well-known account (azurite, the storage emulator).</summary>
        public const string DevelopmentAccount = "devstoreaccount1";

        public const string DevelopmentKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

        private const int MaxBlocks = 50000;
        private const int MinBlockSize = 64 * 1024;
        private const int MaxBlockSize = 100 * 1024 * 1024;
        private const int ReadBufferSize = 4 * 1024 * 1024; // the most a ranged GET may ask an MD5 for

        private readonly OffsiteOptions options;
        private readonly BlobContainerClient container;
        private readonly string prefix;

        public AzureBlobStore(OffsiteAddress address, OffsiteOptions options)
        {
            if (address == null) throw new ArgumentNullException(nameof(address));
            this.options = options ?? new OffsiteOptions();
            DisplayName = address.DisplayName;
            var uri = address.Uri ?? throw new TursoBackupException(FailureKind.InvalidArgument, $"'{DisplayName}' is not an Azure Blob Storage URI.", DisplayName);

            var parts = uri.AbsolutePath.Trim('/').Split(new[] { '/' }, StringSplitOptions.RemoveEmptyEntries).Select(Uri.UnescapeDataString).ToList();
            bool pathStyle = !uri.Host.EndsWith(".blob.core.windows.net", StringComparison.OrdinalIgnoreCase);
            string serviceUri;
            if (pathStyle)
            {
                if (parts.Count < 2) throw NoContainer();
                Account = parts[0];
                parts.RemoveAt(0);
                serviceUri = uri.GetLeftPart(UriPartial.Authority) + "/" + Uri.EscapeDataString(Account);
            }
            else
            {
                if (parts.Count < 1) throw NoContainer();
                Account = uri.Host.Substring(0, uri.Host.IndexOf('.'));
                serviceUri = uri.GetLeftPart(UriPartial.Authority);
            }
            ContainerName = parts[0];
            prefix = parts.Count > 1 ? string.Join("/", parts.Skip(1)) + "/" : "";
            var containerUri = new Uri(serviceUri + "/" + Uri.EscapeDataString(ContainerName));

            var clientOptions = new BlobClientOptions(ServiceVersion);
            int timeout = Math.Max(1, this.options.TimeoutSeconds);
            clientOptions.Retry.Mode = RetryMode.Exponential;
            clientOptions.Retry.MaxRetries = 2;
            clientOptions.Retry.Delay = TimeSpan.FromMilliseconds(500);
            clientOptions.Retry.MaxDelay = TimeSpan.FromSeconds(4);
            clientOptions.Retry.NetworkTimeout = TimeSpan.FromSeconds(timeout);
            clientOptions.Diagnostics.IsLoggingEnabled = false;
            clientOptions.Diagnostics.IsDistributedTracingEnabled = false;
            clientOptions.Diagnostics.IsTelemetryEnabled = false;
            clientOptions.AddPolicy(new RequestPolicy(TimeSpan.FromSeconds(timeout)), HttpPipelinePosition.PerCall);

            container = Connect(containerUri, uri, clientOptions);
            this.options.Log?.Invoke($"Azure Blob Storage '{DisplayName}' (account '{Account}', container '{ContainerName}'): credentials from {CredentialSource}, service version {ServiceVersion}.");
        }

        public string DisplayName { get; }

        /// <summary>The storage account the address names.</summary>
        public string Account { get; }

        /// <summary>The container the address names.</summary>
        public string ContainerName { get; }

        /// <summary>The blob-name prefix every key is stored under ("" or "a/b/").</summary>
        public string Prefix => prefix;

        /// <summary>Which credential was used (for -Verbose; never the secret itself).</summary>
        public string CredentialSource { get; private set; }

        /// <summary>Blobs per listing page (null: the service's default, 5000). Tests lower it to page through few objects.</summary>
        internal int? ListPageSize { get; set; }

        /// <summary>Test hook: called with each block (or whole small object) after its MD5 was computed and before it is
        /// sent, so a test can damage it "on the way" and see the service refuse it.</summary>
        internal Action<byte[], int> DamageInTransitForTest { get; set; }

        // ------------------------------------------------------------------ credentials

        private BlobContainerClient Connect(Uri containerUri, Uri address, BlobClientOptions clientOptions)
        {
            string connection = Plain(options.ConnectionString);
            if (!string.IsNullOrEmpty(connection))
            {
                return FromConnectionString(containerUri, connection, "-ConnectionString", clientOptions);
            }
            string sas = Plain(options.SasToken);
            if (!string.IsNullOrEmpty(sas))
            {
                return FromSas(containerUri, sas, "-SasToken", clientOptions);
            }
            string query = address.Query;
            if (!string.IsNullOrEmpty(query) && query.Length > 1)
            {
                return FromSas(containerUri, query, "the SAS in the URI", clientOptions);
            }
            string key = Plain(options.Password);
            if (!string.IsNullOrEmpty(options.UserName) || !string.IsNullOrEmpty(key))
            {
                if (string.IsNullOrEmpty(options.UserName) || string.IsNullOrEmpty(key))
                {
                    throw new TursoBackupException(FailureKind.InvalidArgument,
                        $"The credential for '{DisplayName}' needs both the storage account name (as the user name) and the account key (as the password).", DisplayName) { ErrorId = "AzureCredentialIncomplete" };
                }
                if (!string.Equals(options.UserName, Account, StringComparison.Ordinal))
                {
                    throw new TursoBackupException(FailureKind.InvalidArgument,
                        $"The credential's user name '{options.UserName}' is not the storage account '{Account}' of '{DisplayName}'. Give the account name as the user name and the account key as the password.", DisplayName) { ErrorId = "AzureCredentialAccountMismatch" };
                }
                return FromKey(containerUri, key, "-Credential (account key)", clientOptions);
            }
            var env = options.GetEnvironment ?? Environment.GetEnvironmentVariable;
            connection = env("AZURE_STORAGE_CONNECTION_STRING");
            if (!string.IsNullOrEmpty(connection))
            {
                return FromConnectionString(containerUri, connection, "AZURE_STORAGE_CONNECTION_STRING", clientOptions);
            }
            sas = env("AZURE_STORAGE_SAS_TOKEN");
            if (!string.IsNullOrEmpty(sas))
            {
                return FromSas(containerUri, sas, "AZURE_STORAGE_SAS_TOKEN", clientOptions);
            }
            key = env("AZURE_STORAGE_KEY");
            if (!string.IsNullOrEmpty(key))
            {
                return FromKey(containerUri, key, "AZURE_STORAGE_KEY", clientOptions);
            }
            throw new TursoBackupException(FailureKind.AuthenticationFailed,
                $"No credentials for '{DisplayName}'. Give one of: -ConnectionString; -SasToken (or a SAS in the URI's query); -Credential with the account name '{Account}' as the user name and the account key as the password; or set AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_KEY.", DisplayName) { ErrorId = "AzureCredentialsMissing" };
        }

        private BlobContainerClient FromKey(Uri containerUri, string key, string source, BlobClientOptions clientOptions)
        {
            try
            {
                Convert.FromBase64String(key);
            }
            catch (FormatException)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"The account key for '{DisplayName}' (from {source}) is not a storage account key (it is not base64). Copy key1 or key2 from the storage account's 'Access keys'.", DisplayName) { ErrorId = "AzureKeyInvalid" };
            }
            CredentialSource = source;
            return new BlobContainerClient(containerUri, new StorageSharedKeyCredential(Account, key), clientOptions);
        }

        private BlobContainerClient FromSas(Uri containerUri, string sas, string source, BlobClientOptions clientOptions)
        {
            sas = sas.Trim().TrimStart('?');
            if (sas.IndexOf("sig=", StringComparison.OrdinalIgnoreCase) < 0)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"The shared access signature for '{DisplayName}' (from {source}) has no signature (no 'sig=' parameter). Give the whole SAS token, as the portal or 'az storage container generate-sas' prints it.", DisplayName) { ErrorId = "AzureSasInvalid" };
            }
            CredentialSource = source;
            return new BlobContainerClient(containerUri, new AzureSasCredential(sas), clientOptions);
        }

        /// <summary>A connection string gives the credentials (AccountKey or SharedAccessSignature); the address says where.</summary>
        private BlobContainerClient FromConnectionString(Uri containerUri, string connection, string source, BlobClientOptions clientOptions)
        {
            var settings = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var part in connection.Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries))
            {
                int eq = part.IndexOf('=');
                if (eq <= 0) continue;
                settings[part.Substring(0, eq).Trim()] = part.Substring(eq + 1).Trim();
            }
            if (settings.TryGetValue("UseDevelopmentStorage", out var dev) && string.Equals(dev, "true", StringComparison.OrdinalIgnoreCase))
            {
                settings["AccountName"] = DevelopmentAccount;
                settings["AccountKey"] = DevelopmentKey;
            }
            if (settings.TryGetValue("AccountName", out var name) && !string.Equals(name, Account, StringComparison.Ordinal))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"The connection string (from {source}) is for the storage account '{name}', not '{Account}' of '{DisplayName}'. Give the connection string of account '{Account}'.", DisplayName) { ErrorId = "AzureCredentialAccountMismatch" };
            }
            if (settings.TryGetValue("SharedAccessSignature", out var sas) && sas.Length > 0)
            {
                return FromSas(containerUri, sas, source, clientOptions);
            }
            if (settings.TryGetValue("AccountKey", out var key) && key.Length > 0)
            {
                return FromKey(containerUri, key, source, clientOptions);
            }
            throw new TursoBackupException(FailureKind.InvalidArgument,
                $"The connection string for '{DisplayName}' (from {source}) holds neither an AccountKey nor a SharedAccessSignature. Copy it from the storage account's 'Access keys' (or give -SasToken).", DisplayName) { ErrorId = "AzureConnectionStringInvalid" };
        }

        private static string Plain(SecureString s) => s == null || s.Length == 0 ? null : new NetworkCredential("", s).Password;

        private TursoBackupException NoContainer() => new TursoBackupException(FailureKind.InvalidArgument,
            $"'{DisplayName}' names no container. Write it as https://<account>.blob.core.windows.net/<container>[/prefix] (or http://host:port/<account>/<container> for an emulator).", DisplayName) { ErrorId = "InvalidVaultUri" };

        // ------------------------------------------------------------------ IObjectStore

        public void Probe(CancellationToken cancel)
        {
            Run("reach", null, FailureKind.InvalidOperation, cancel, () =>
            {
                // Listing (not Get Container Properties) is what a container SAS allows, and what the vault needs anyway.
                foreach (var page in container.GetBlobs(BlobTraits.None, BlobStates.None, prefix, cancel).AsPages(null, 1))
                {
                    break;
                }
                return 0;
            });
        }

        public IEnumerable<StoredObject> List(string listPrefix, CancellationToken cancel)
        {
            string full = prefix + (listPrefix ?? "");
            IEnumerator<Page<BlobItem>> pages = null;
            try
            {
                pages = Run("list", listPrefix, FailureKind.InvalidOperation, cancel,
                    () => container.GetBlobs(BlobTraits.Metadata, BlobStates.None, full, cancel).AsPages(null, ListPageSize).GetEnumerator());
                while (true)
                {
                    var e = pages;
                    if (!Run("list", listPrefix, FailureKind.InvalidOperation, cancel, () => e.MoveNext())) yield break;
                    foreach (var item in pages.Current.Values)
                    {
                        if (item.Deleted || !item.Name.StartsWith(prefix, StringComparison.Ordinal)) continue;
                        string key = item.Name.Substring(prefix.Length);
                        if (key.Length == 0 || key.EndsWith("/", StringComparison.Ordinal)) continue;
                        yield return new StoredObject(key, item.Properties.ContentLength ?? 0, ShaOf(item.Metadata), item.Properties.LastModified);
                    }
                }
            }
            finally
            {
                pages?.Dispose();
            }
        }

        public StoredObject Stat(string key, CancellationToken cancel)
        {
            DirectoryStore.CheckKey(key);
            var blob = container.GetBlockBlobClient(prefix + key);
            try
            {
                var p = Run("read", key, FailureKind.InvalidOperation, cancel, () => blob.GetProperties(null, cancel).Value, nullOnBlobNotFound: true);
                return p == null ? null : new StoredObject(key, p.ContentLength, ShaOf(p.Metadata), p.LastModified);
            }
            catch (BlobMissing)
            {
                return null;
            }
        }

        public Stream OpenRead(string key, CancellationToken cancel)
        {
            DirectoryStore.CheckKey(key);
            var blob = container.GetBlockBlobClient(prefix + key);
            try
            {
                var readOptions = new BlobOpenReadOptions(allowModifications: false)
                {
                    BufferSize = ReadBufferSize,
                    // The service sends each range's MD5 and the client checks it: a range damaged on the way is an error.
                    TransferValidation = new DownloadTransferValidationOptions { ChecksumAlgorithm = StorageChecksumAlgorithm.MD5, AutoValidateChecksum = true },
                };
                var s = Run("read", key, FailureKind.InvalidOperation, cancel, () => blob.OpenRead(readOptions, cancel), nullOnBlobNotFound: true);
                return new TranslatingStream(s, this, key, cancel);
            }
            catch (BlobMissing)
            {
                throw new TursoBackupException(FailureKind.NotFound, $"'{key}' is not in the vault '{DisplayName}'.", key) { ErrorId = "ObjectNotFound" };
            }
        }

        public void Delete(string key, CancellationToken cancel)
        {
            DirectoryStore.CheckKey(key);
            var blob = container.GetBlockBlobClient(prefix + key);
            Run("delete", key, FailureKind.WriteFailed, cancel, () => blob.DeleteIfExists(DeleteSnapshotsOption.IncludeSnapshots, null, cancel).Value);
        }

        public StoredObject Put(string key, Stream content, long length, string sha256, Action<long> progress, CancellationToken cancel)
        {
            DirectoryStore.CheckKey(key);
            if (content == null) throw new ArgumentNullException(nameof(content));
            if (length < 0) throw new ArgumentOutOfRangeException(nameof(length));
            var blob = container.GetBlockBlobClient(prefix + key);
            int blockSize = BlockSizeFor(length);
            string arrived;
            byte[] md5;
            if (length <= blockSize)
            {
                (arrived, md5) = PutSmall(blob, key, content, (int)length, sha256, cancel);
            }
            else
            {
                (arrived, md5) = PutBlocks(blob, key, content, length, blockSize, sha256, progress, cancel);
            }
            progress?.Invoke(length);

            // Read back what the service holds now under the key: its length, the SHA-256 and the MD5 it recorded.
            var p = Run("check", key, FailureKind.InvalidData, cancel, () => blob.GetProperties(null, cancel).Value);
            string recorded = ShaOf(p.Metadata);
            if (p.ContentLength != length || !string.Equals(recorded, arrived, StringComparison.Ordinal) || (p.ContentHash != null && !p.ContentHash.SequenceEqual(md5)))
            {
                throw new TursoBackupException(FailureKind.InvalidData,
                    $"'{key}' in '{DisplayName}' holds {p.ContentLength} bytes with SHA-256 {recorded ?? "(none recorded)"} right after it was stored as {length} bytes with SHA-256 {arrived}: something else wrote it at the same time. Run the copy again, and make sure only one backup writes to this vault.", key) { ErrorId = "ChecksumMismatch" };
            }
            return new StoredObject(key, p.ContentLength, recorded, p.LastModified);
        }

        public void Dispose()
        {
        }

        // ------------------------------------------------------------------ uploads

        private int BlockSizeFor(long length)
        {
            long size = Math.Min(MaxBlockSize, Math.Max(MinBlockSize, (long)options.BlockSize));
            // At most 50,000 blocks per blob: a larger object takes larger blocks.
            long needed = (length + MaxBlocks - 1) / MaxBlocks;
            return (int)Math.Max(size, needed);
        }

        private (string Sha, byte[] Md5) PutSmall(BlockBlobClient blob, string key, Stream content, int length, string sha256, CancellationToken cancel)
        {
            var buffer = new byte[length];
            int n = StoreSource.ReadBlock(content, buffer, length, key, DisplayName, cancel);
            if (n != length) throw StoreSource.CutShort(key, DisplayName, n, length);
            byte[] md5, sha;
            using (var m = MD5.Create()) md5 = m.ComputeHash(buffer, 0, length);
            using (var s = SHA256.Create()) sha = s.ComputeHash(buffer, 0, length);
            string arrived = DirectoryStore.Hex(sha);
            CheckSha(key, arrived, sha256);
            DamageInTransitForTest?.Invoke(buffer, length);
            var uploadOptions = new BlobUploadOptions
            {
                HttpHeaders = new BlobHttpHeaders { ContentHash = md5, ContentType = "application/octet-stream" },
                Metadata = new Dictionary<string, string> { [Sha256Metadata] = arrived },
                // One Put Blob. Its Content-MD5 is the MD5 of the bytes whose SHA-256 was just checked (set by
                // RequestPolicy: the SDK takes no precalculated MD5 for a single upload); the service checks the body
                // against it and refuses a damaged one.
                TransferValidation = new UploadTransferValidationOptions { ChecksumAlgorithm = StorageChecksumAlgorithm.None },
                TransferOptions = new StorageTransferOptions { InitialTransferSize = (long)length + 1, MaximumTransferSize = Math.Max(1, length) },
            };
            using (HttpPipeline.CreateHttpMessagePropertiesScope(new Dictionary<string, object> { [RequestPolicy.Md5Property] = md5 }))
            {
                Run("store", key, FailureKind.WriteFailed, cancel, () => blob.Upload(new MemoryStream(buffer, 0, length, false), uploadOptions, cancel).Value);
            }
            return (arrived, md5);
        }

        private (string Sha, byte[] Md5) PutBlocks(BlockBlobClient blob, string key, Stream content, long length, int blockSize, string sha256, Action<long> progress, CancellationToken cancel)
        {
            int parallelism = Math.Max(1, Math.Min(16, options.Parallelism));
            string upload = Guid.NewGuid().ToString("N");
            var ids = new List<string>();
            var free = new Stack<byte[]>();
            var inFlight = new List<(Task Task, byte[] Buffer, int Size)>();
            long read = 0, sent = 0;
            using (var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel))
            using (var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            using (var whole = IncrementalHash.CreateHash(HashAlgorithmName.MD5))
            {
                try
                {
                    while (read < length)
                    {
                        cancel.ThrowIfCancellationRequested();
                        while (inFlight.Count >= parallelism) sent = Finish(inFlight, WaitAny(inFlight, cancel), free, sent, progress, key, cancel);
                        var buffer = free.Count > 0 ? free.Pop() : new byte[blockSize];
                        int want = (int)Math.Min(blockSize, length - read);
                        int n = StoreSource.ReadBlock(content, buffer, want, key, DisplayName, cancel);
                        if (n != want) throw StoreSource.CutShort(key, DisplayName, read + n, length);
                        read += n;
                        sha.AppendData(buffer, 0, n);
                        whole.AppendData(buffer, 0, n);
                        byte[] blockMd5;
                        using (var m = MD5.Create()) blockMd5 = m.ComputeHash(buffer, 0, n);
                        DamageInTransitForTest?.Invoke(buffer, n);
                        // Same-length ids (the service requires it), new for every upload so no earlier attempt's blocks are reused.
                        string id = Convert.ToBase64String(Encoding.ASCII.GetBytes(upload + "-" + ids.Count.ToString("D6")));
                        ids.Add(id);
                        var stageOptions = new BlockBlobStageBlockOptions
                        {
                            TransferValidation = new UploadTransferValidationOptions { ChecksumAlgorithm = StorageChecksumAlgorithm.MD5, PrecalculatedChecksum = blockMd5 },
                        };
                        var task = blob.StageBlockAsync(id, new MemoryStream(buffer, 0, n, false), stageOptions, stop.Token);
                        inFlight.Add((task, buffer, n));
                    }
                    while (inFlight.Count > 0) sent = Finish(inFlight, WaitAny(inFlight, cancel), free, sent, progress, key, cancel);
                }
                catch
                {
                    // Nothing is committed: the staged blocks stay uncommitted (never listed; the service drops them).
                    stop.Cancel();
                    foreach (var f in inFlight)
                    {
                        try { f.Task.Wait(); } catch (Exception) { }
                    }
                    throw;
                }
                string arrived = DirectoryStore.Hex(sha.GetHashAndReset());
                byte[] md5 = whole.GetHashAndReset();
                CheckSha(key, arrived, sha256);
                var commit = new CommitBlockListOptions
                {
                    HttpHeaders = new BlobHttpHeaders { ContentHash = md5, ContentType = "application/octet-stream" },
                    Metadata = new Dictionary<string, string> { [Sha256Metadata] = arrived },
                };
                Run("store", key, FailureKind.WriteFailed, cancel, () => blob.CommitBlockList(ids, commit, cancel).Value);
                return (arrived, md5);
            }
        }

        private int WaitAny(List<(Task Task, byte[] Buffer, int Size)> inFlight, CancellationToken cancel)
        {
            try
            {
                return Task.WaitAny(inFlight.Select(f => f.Task).ToArray(), cancel);
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                throw;
            }
        }

        /// <summary>Takes a finished block out of flight (its error, translated, if it failed) and reports progress, on the caller's thread.</summary>
        private long Finish(List<(Task Task, byte[] Buffer, int Size)> inFlight, int index, Stack<byte[]> free, long sent, Action<long> progress, string key, CancellationToken cancel)
        {
            var f = inFlight[index];
            inFlight.RemoveAt(index);
            Run("store", key, FailureKind.WriteFailed, cancel, () => { f.Task.GetAwaiter().GetResult(); return 0; });
            free.Push(f.Buffer);
            sent += f.Size;
            progress?.Invoke(sent);
            return sent;
        }

        private void CheckSha(string key, string arrived, string expected)
        {
            if (expected != null && !string.Equals(arrived, expected, StringComparison.OrdinalIgnoreCase))
            {
                throw new TursoBackupException(FailureKind.InvalidData,
                    $"'{key}' read for '{DisplayName}' has SHA-256 {arrived}, not {expected}: the source changed or was damaged while it was read. Nothing was stored; run the copy again.", key) { ErrorId = "ChecksumMismatch" };
            }
        }

        private static string ShaOf(IDictionary<string, string> metadata)
        {
            if (metadata == null) return null;
            foreach (var kv in metadata)
            {
                if (string.Equals(kv.Key, Sha256Metadata, StringComparison.OrdinalIgnoreCase)) return kv.Value?.ToLowerInvariant();
            }
            return null;
        }

        /// <summary>
        /// Sets Content-MD5 on the request made inside a <see cref="HttpPipeline.CreateHttpMessagePropertiesScope"/> that
        /// gives one (the single Put Blob of a small object). And gives a request with a body the time to send it: the
        /// timeout bounds waiting for an answer, not sending a block over a slow uplink (it then grows by one second per
        /// 64 KiB of body, as if the link did at least 64 KiB/s).
        /// </summary>
        private sealed class RequestPolicy : HttpPipelineSynchronousPolicy
        {
            public const string Md5Property = "TursoBackup.ContentMd5";

            private const long MinBytesPerSecond = 64 * 1024;

            private readonly TimeSpan timeout;

            public RequestPolicy(TimeSpan timeout)
            {
                this.timeout = timeout;
            }

            public override void OnSendingRequest(HttpMessage message)
            {
                if (message.TryGetProperty(Md5Property, out var value) && value is byte[] md5)
                {
                    message.Request.Headers.SetValue("Content-MD5", Convert.ToBase64String(md5));
                }
                if (message.Request.Content != null && message.Request.Content.TryComputeLength(out long length) && length > 0)
                {
                    message.NetworkTimeout = timeout + TimeSpan.FromSeconds((double)length / MinBytesPerSecond);
                }
            }
        }

        // ------------------------------------------------------------------ errors

        private sealed class BlobMissing : Exception
        {
        }

        /// <summary>Runs one call to the service and turns what it throws into a <see cref="TursoBackupException"/>.</summary>
        private T Run<T>(string what, string key, FailureKind fallback, CancellationToken cancel, Func<T> call, bool nullOnBlobNotFound = false)
        {
            try
            {
                return call();
            }
            catch (TursoBackupException)
            {
                throw;
            }
            catch (AggregateException ex) when (ex.InnerExceptions.Count > 0)
            {
                // The retry policy's "Retry failed after 3 tries" holds each try's failure: the last one tells.
                var inner = Last(ex);
                if (inner is RequestFailedException rf && nullOnBlobNotFound && IsBlobNotFound(rf)) throw new BlobMissing();
                throw Translate(inner, what, key, fallback, cancel);
            }
            catch (RequestFailedException ex) when (nullOnBlobNotFound && IsBlobNotFound(ex))
            {
                throw new BlobMissing();
            }
            catch (Exception ex) when (IsServiceFailure(ex, cancel))
            {
                throw Translate(ex, what, key, fallback, cancel);
            }
        }

        private static Exception Last(AggregateException ex)
        {
            var all = ex.Flatten().InnerExceptions;
            return all.Count > 0 ? all[all.Count - 1] : ex;
        }

        private static bool IsBlobNotFound(RequestFailedException ex) =>
            ex.Status == 404 && (ex.ErrorCode == null || ex.ErrorCode == BlobErrorCode.BlobNotFound.ToString() || ex.ErrorCode == "ResourceNotFound");

        private static bool IsServiceFailure(Exception ex, CancellationToken cancel) =>
            ex is RequestFailedException || ex is AggregateException || ex is HttpRequestException || ex is SocketException || ex is IOException || ex is WebException
            || ex is TimeoutException || ex is FormatException
            || (ex is OperationCanceledException && !cancel.IsCancellationRequested);

        internal Exception Translate(Exception ex, string what, string key, FailureKind fallback, CancellationToken cancel)
        {
            if (ex is TursoBackupException) return ex;
            if (ex is OperationCanceledException && cancel.IsCancellationRequested) return ex;
            string doing = Doing(what, key);
            if (ex is RequestFailedException rf && rf.Status != 0)
            {
                string code = rf.ErrorCode ?? "";
                string http = $"HTTP {rf.Status}" + (code.Length > 0 ? " " + code : "");
                // The SDK's message may quote the request; only the status and error code are repeated here, and the
                // exception itself is not kept as the inner one.
                if (code == "Md5Mismatch" || code == "Crc64Mismatch" || code == "InvalidMd5" || code == "InvalidCrc64")
                {
                    return new TursoBackupException(FailureKind.InvalidData,
                        $"{doing} failed: the service found the data damaged on the way ({http}). Nothing was stored under that key; run the copy again (and check the network if it recurs).", key ?? DisplayName) { ErrorId = "ChecksumMismatch" };
                }
                if (code == "ContainerNotFound")
                {
                    return new TursoBackupException(FailureKind.NotFound,
                        $"The container '{ContainerName}' of '{DisplayName}' does not exist ({http}). Create it (az storage container create --name {ContainerName} --account-name {Account}) or correct the URI.", DisplayName) { ErrorId = "VaultNotFound" };
                }
                if (rf.Status == 404 && (code == "ResourceNotFound" || code == "AccountNotFound" || code == "") && key == null)
                {
                    return new TursoBackupException(FailureKind.NotFound,
                        $"'{DisplayName}' does not exist ({http}): check the account '{Account}' and the container '{ContainerName}' (az storage container create --name {ContainerName} --account-name {Account}).", DisplayName) { ErrorId = "VaultNotFound" };
                }
                if (rf.Status == 404)
                {
                    return new TursoBackupException(FailureKind.NotFound, $"'{key}' is not in the vault '{DisplayName}' ({http}).", key ?? DisplayName) { ErrorId = "ObjectNotFound" };
                }
                if (rf.Status == 401 || code == "AuthenticationFailed" || code == "InvalidAuthenticationInfo" || code == "NoAuthenticationInformation" || code == "AuthorizationFailure")
                {
                    return new TursoBackupException(FailureKind.AuthenticationFailed,
                        $"{doing} failed: '{DisplayName}' refused the credentials from {CredentialSource} ({http}). Check the account key or the SAS (its signature, start and expiry time), and that the account's firewall lets this machine in.", DisplayName) { ErrorId = "AzureAuthenticationFailed" };
                }
                if (code.StartsWith("Authorization", StringComparison.Ordinal) || code == "InsufficientAccountPermissions" || code == "AccountIsDisabled")
                {
                    return new TursoBackupException(FailureKind.PermissionDenied,
                        $"{doing} failed: the credentials from {CredentialSource} are not allowed to do that in '{DisplayName}' ({http}). A SAS for a vault needs the permissions read, add, create, write, delete and list (sp=racwdl) on the container.", DisplayName) { ErrorId = "AzurePermissionDenied" };
                }
                if (rf.Status == 507 || code.IndexOf("Quota", StringComparison.OrdinalIgnoreCase) >= 0 || code.IndexOf("AccountLimit", StringComparison.OrdinalIgnoreCase) >= 0
                    || code.IndexOf("SizeLimit", StringComparison.OrdinalIgnoreCase) >= 0 || code == "InsufficientStorage")
                {
                    return new TursoBackupException(FailureKind.QuotaExceeded,
                        $"{doing} failed: '{DisplayName}' is full or over its quota ({http}). Free space there (remove old backups) or raise the quota; nothing was stored under that key.", DisplayName) { ErrorId = "DestinationFull" };
                }
                if (code == "ConditionNotMet" || rf.Status == 412)
                {
                    return new TursoBackupException(FailureKind.InvalidData,
                        $"{doing} failed: the object changed in '{DisplayName}' while it was being read ({http}). Read it again.", key ?? DisplayName);
                }
                if (code == "ServerBusy" || rf.Status == 503 || rf.Status == 429)
                {
                    return new TursoBackupException(FailureKind.Busy,
                        $"{doing} failed: '{DisplayName}' is busy and asked to slow down ({http}), also after retries. Try again later.", DisplayName) { ErrorId = "DestinationBusy" };
                }
                if (rf.Status >= 500)
                {
                    return new TursoBackupException(FailureKind.Unreachable,
                        $"{doing} failed: '{DisplayName}' answered with a server error ({http}), also after retries. Try again later.", DisplayName) { ErrorId = "DestinationUnreachable" };
                }
                return new TursoBackupException(fallback, $"{doing} failed: '{DisplayName}' refused it ({http}).", key ?? DisplayName);
            }

            // No answer: refused, no such host, timed out (the SDK wraps these in a RequestFailedException with status 0).
            var cause = ex is RequestFailedException && ex.InnerException != null ? ex.InnerException : ex;
            if (cause is AggregateException agg && agg.InnerExceptions.Count > 0) cause = Last(agg);
            if (cause is RequestFailedException again && again.InnerException != null) cause = again.InnerException;
            bool timeout = cause is OperationCanceledException || cause is TimeoutException;
            if (timeout)
            {
                return new TursoBackupException(FailureKind.Unreachable,
                    $"{doing} failed: '{DisplayName}' did not answer within {Math.Max(1, options.TimeoutSeconds)} s (also after retries). Check the network and the address, or raise the timeout.", DisplayName, cause) { ErrorId = "DestinationUnreachable" };
            }
            if (cause is FormatException)
            {
                return new TursoBackupException(FailureKind.InvalidArgument,
                    $"{doing} failed: the credentials from {CredentialSource} are not in a form Azure accepts. Check them (nothing of them is shown here).", DisplayName) { ErrorId = "AzureCredentialInvalid" };
            }
            string detail = Innermost(cause).Message;
            return new TursoBackupException(FailureKind.Unreachable,
                $"{doing} failed: '{DisplayName}' cannot be reached ({detail}). Check the address (account name, host and port), the network and any proxy.", DisplayName, cause) { ErrorId = "DestinationUnreachable" };
        }

        private static Exception Innermost(Exception ex)
        {
            while (ex.InnerException != null && !(ex is SocketException)) ex = ex.InnerException;
            return ex;
        }

        private string Doing(string what, string key)
        {
            switch (what)
            {
                case "reach": return $"Reaching '{DisplayName}'";
                case "list": return $"Listing '{key}' in '{DisplayName}'";
                case "store": return $"Storing '{key}' in '{DisplayName}'";
                case "check": return $"Checking '{key}' after storing it in '{DisplayName}'";
                case "delete": return $"Removing '{key}' from '{DisplayName}'";
                default: return $"Reading '{key}' from '{DisplayName}'";
            }
        }

        /// <summary>The download stream, with the service's failures translated as it is read.</summary>
        private sealed class TranslatingStream : ForwardOnlyStream
        {
            private readonly Stream inner;
            private readonly AzureBlobStore store;
            private readonly string key;
            private readonly CancellationToken cancel;

            public TranslatingStream(Stream inner, AzureBlobStore store, string key, CancellationToken cancel)
            {
                this.inner = inner;
                this.store = store;
                this.key = key;
                this.cancel = cancel;
            }

            public override int Read(byte[] buffer, int offset, int count)
            {
                try
                {
                    return inner.Read(buffer, offset, count);
                }
                catch (Exception ex) when (!(ex is TursoBackupException) && IsServiceFailure(ex, cancel))
                {
                    throw store.Translate(ex is AggregateException a && a.InnerExceptions.Count > 0 ? Last(a) : ex, "read", key, FailureKind.InvalidData, cancel);
                }
            }

            public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            {
                try
                {
                    return await inner.ReadAsync(buffer, offset, count, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (!(ex is TursoBackupException) && IsServiceFailure(ex, cancellationToken))
                {
                    throw store.Translate(ex is AggregateException a && a.InnerExceptions.Count > 0 ? Last(a) : ex, "read", key, FailureKind.InvalidData, cancellationToken);
                }
            }

            public override bool CanRead => true;
            public override long Length => inner.Length;
            public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

            protected override void Dispose(bool disposing)
            {
                if (disposing) inner.Dispose();
                base.Dispose(disposing);
            }
        }
    }
}
