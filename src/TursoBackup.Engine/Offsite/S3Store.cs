using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;

namespace TursoBackup.Engine.Offsite
{
    /// <summary>
    /// An S3 bucket (AWS, or an S3-compatible store at <see cref="OffsiteOptions.Endpoint"/>, path-style) as an object store:
    /// <c>s3://bucket[/prefix]</c>, the prefix put before every key.
    /// <list type="bullet">
    /// <item>Atomic: an object smaller than a part is read whole into memory (at most one part), checked against the
    /// caller's SHA-256 and sent in one PutObject; a larger one goes as a multipart upload that is completed only when every
    /// part is in and the SHA-256 computed while streaming equals the caller's — on any failure the upload is aborted. S3
    /// never lists an unfinished multipart upload, and the object that was there stays until the completion replaces it.</item>
    /// <item>Verified on arrival: every PutObject/UploadPart carries Content-MD5 (S3 rejects a body that does not match,
    /// BadDigest), each returned ETag is compared with that MD5, and the completed object's ETag with the multipart form
    /// (MD5 of the part MD5s, "-N") or, where a store returns the whole object's MD5 (s3rver), with that.</item>
    /// <item>Streamed: at most <see cref="OffsiteOptions.Parallelism"/> part buffers of <see cref="OffsiteOptions.BlockSize"/>
    /// (5 MiB minimum) at once.</item>
    /// </list>
    /// The SHA-256 is recorded as user metadata x-amz-meta-sha256: <see cref="Stat"/> returns it; <see cref="List"/> does not
    /// (ListObjectsV2 returns no metadata, and a HEAD per object would make a listing cost one request per object).
    /// </summary>
    public sealed class S3Store : IObjectStore
    {
        private const int MinPartSize = 5 * 1024 * 1024;
        private const long MaxPartSize = 5L * 1024 * 1024 * 1024;
        private const int MaxParts = 10000;
        private const string ShaMetadata = "sha256";

        private readonly OffsiteAddress address;
        private readonly OffsiteOptions options;
        private readonly string bucket;
        private readonly string root;
        private readonly string region;
        private AmazonS3Client client;
        private AmazonS3Client uploadClient;

        public S3Store(OffsiteAddress address, OffsiteOptions options)
        {
            this.address = address ?? throw new ArgumentNullException(nameof(address));
            this.options = options ?? new OffsiteOptions();
            if (address.Kind != OffsiteKind.S3 || address.Uri == null)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument, $"'{address.DisplayName}' is not an S3 vault. Write it as s3://bucket[/prefix].", address.DisplayName);
            }
            // The bucket as written (Uri lowercases its host; S3 bucket names are lowercase anyway, but keep what was given).
            string text = OffsiteAddress.Redact(address.Text);
            string rest = text.Substring(text.IndexOf("://", StringComparison.Ordinal) + 3);
            int slash = rest.IndexOf('/');
            bucket = slash < 0 ? rest : rest.Substring(0, slash);
            int at = bucket.LastIndexOf('@');
            if (at >= 0) bucket = bucket.Substring(at + 1);
            if (bucket.Length == 0 || bucket.IndexOf(':') >= 0)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument, $"'{address.DisplayName}' names no bucket. Write it as s3://bucket[/prefix] (the endpoint of an S3-compatible store goes in -Endpoint).", address.DisplayName) { ErrorId = "InvalidVaultUri" };
            }
            string prefix = Uri.UnescapeDataString(address.Uri.AbsolutePath).Trim('/');
            root = prefix.Length == 0 ? "" : prefix + "/";
            region = First(this.options.Region, this.options.GetEnvironment?.Invoke("AWS_REGION"), "us-east-1");
        }

        public string DisplayName => address.DisplayName;

        /// <summary>The bucket this store writes to.</summary>
        public string Bucket => bucket;

        /// <summary>The key prefix (the URI's path, with a trailing '/', or "").</summary>
        public string Root => root;

        private string Where => options.Endpoint == null ? DisplayName : DisplayName + " (at " + options.Endpoint + ")";

        private int PartSize(long length)
        {
            long size = Math.Max(MinPartSize, Math.Min(MaxPartSize, (long)Math.Max(1, options.BlockSize)));
            // At most 10 000 parts: a very large object gets larger parts (whole MiB).
            if (length > size * MaxParts)
            {
                long needed = (length + MaxParts - 1) / MaxParts;
                size = (needed + (1 << 20) - 1) / (1 << 20) * (1 << 20);
            }
            return (int)Math.Min(size, int.MaxValue - 64);
        }

        // ------------------------------------------------------------------ operations

        public void Probe(CancellationToken cancel)
        {
            Call(c => Client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = root, MaxKeys = 1 }, c), cancel, "reaching", null);
        }

        public IEnumerable<StoredObject> List(string prefix, CancellationToken cancel)
        {
            prefix = prefix ?? "";
            string token = null;
            do
            {
                cancel.ThrowIfCancellationRequested();
                var page = Call(c => Client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = root + prefix, ContinuationToken = token }, c), cancel, "listing", prefix);
                if (page.S3Objects != null)
                {
                    foreach (var o in page.S3Objects)
                    {
                        if (o.Key == null || !o.Key.StartsWith(root, StringComparison.Ordinal)) continue;
                        string key = o.Key.Substring(root.Length);
                        // A "folder" marker some consoles create holds nothing of a vault's.
                        if (key.Length == 0 || key.EndsWith("/", StringComparison.Ordinal)) continue;
                        yield return new StoredObject(key, o.Size ?? 0, null, Utc(o.LastModified));
                    }
                }
                token = page.IsTruncated == true ? page.NextContinuationToken : null;
            }
            while (!string.IsNullOrEmpty(token));
        }

        public StoredObject Stat(string key, CancellationToken cancel)
        {
            DirectoryStore.CheckKey(key);
            GetObjectMetadataResponse head;
            try
            {
                head = Run(c => Client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = bucket, Key = root + key }, c), cancel);
            }
            catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound && ex.ErrorCode != "NoSuchBucket")
            {
                // HEAD has no body: a missing bucket is a 404 too; Probe and List name it.
                return null;
            }
            catch (Exception ex) when (!Cancelled(ex, cancel))
            {
                throw Translate(ex, "reading", key);
            }
            return new StoredObject(key, head.ContentLength, ShaOf(head.Metadata), Utc(head.LastModified));
        }

        public StoredObject Put(string key, Stream content, long length, string sha256, Action<long> progress, CancellationToken cancel)
        {
            DirectoryStore.CheckKey(key);
            if (content == null) throw new ArgumentNullException(nameof(content));
            if (length < 0) throw new ArgumentOutOfRangeException(nameof(length));
            sha256 = sha256?.ToLowerInvariant();
            int partSize = PartSize(length);
            return length < partSize
                ? PutSmall(key, content, (int)length, sha256, progress, cancel)
                : PutMultipart(key, content, length, sha256, partSize, progress, cancel);
        }

        public Stream OpenRead(string key, CancellationToken cancel)
        {
            DirectoryStore.CheckKey(key);
            var response = Call(c => Client.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = root + key }, c), cancel, "reading", key);
            return new ReadStream(this, key, response);
        }

        public void Delete(string key, CancellationToken cancel)
        {
            DirectoryStore.CheckKey(key);
            try
            {
                Run(c => Client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = bucket, Key = root + key }, c), cancel);
            }
            catch (AmazonS3Exception ex) when (ex.ErrorCode == "NoSuchKey")
            {
                // already gone
            }
            catch (Exception ex) when (!Cancelled(ex, cancel))
            {
                throw Translate(ex, "deleting", key);
            }
        }

        public void Dispose()
        {
            client?.Dispose();
            uploadClient?.Dispose();
        }

        // ------------------------------------------------------------------ uploads

        private StoredObject PutSmall(string key, Stream content, int length, string sha256, Action<long> progress, CancellationToken cancel)
        {
            var buffer = new byte[length];
            int got = StoreSource.ReadBlock(content, buffer, length, key, DisplayName, cancel);
            if (got != length) throw StoreSource.CutShort(key, DisplayName, got, length);
            string arrived = Hex(Sha256(buffer, length));
            byte[] md5 = Md5(buffer, length);
            // Checked before anything is sent: a mismatch leaves the bucket untouched.
            if (sha256 != null && arrived != sha256) throw Mismatch(key, arrived, sha256);
            var request = new PutObjectRequest
            {
                BucketName = bucket,
                Key = root + key,
                InputStream = new MemoryStream(buffer, 0, length, false),
                AutoCloseStream = true,
                MD5Digest = Convert.ToBase64String(md5),
                UseChunkEncoding = false,
                ContentType = "application/octet-stream",
            };
            request.Metadata[ShaMetadata] = arrived;
            var response = Call(c => UploadClient.PutObjectAsync(request, c), cancel, "storing", key);
            string etag = Unquote(response.ETag);
            if (IsPlainMd5(etag) && !EncryptedEtag(response.ServerSideEncryptionMethod) && etag != Hex(md5))
            {
                // S3 checked Content-MD5; a store that did not and kept other bytes holds a damaged object: remove it.
                TryDelete(key);
                throw new TursoBackupException(FailureKind.InvalidData, $"'{key}' arrived in '{DisplayName}' with MD5 {etag}, not {Hex(md5)}: it was damaged on the way. It was removed again; run the copy again.", key) { ErrorId = "ChecksumMismatch" };
            }
            progress?.Invoke(length);
            return new StoredObject(key, length, arrived, DateTimeOffset.UtcNow);
        }

        private StoredObject PutMultipart(string key, Stream content, long length, string sha256, int partSize, Action<long> progress, CancellationToken cancel)
        {
            var initiate = new InitiateMultipartUploadRequest { BucketName = bucket, Key = root + key, ContentType = "application/octet-stream" };
            if (sha256 != null) initiate.Metadata[ShaMetadata] = sha256;
            string uploadId = Call(c => Client.InitiateMultipartUploadAsync(initiate, c), cancel, "storing", key).UploadId;
            int parallelism = Math.Max(1, Math.Min(16, options.Parallelism));
            var free = new Stack<byte[]>();
            var inFlight = new List<(Task<string> Task, byte[] Buffer, int PartNumber, int Length, string Md5)>();
            var etags = new SortedDictionary<int, string>();
            var partMd5s = new List<byte[]>();
            long sent = 0;
            using (var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel))
            using (var sha = SHA256.Create())
            using (var whole = MD5.Create())
            {
                try
                {
                    long read = 0;
                    int partNumber = 0;
                    while (read < length)
                    {
                        // Memory stays at `parallelism` buffers: wait for a part to finish before reading the next.
                        while (inFlight.Count >= parallelism) sent += Finish(inFlight, WaitAny(inFlight, cancel), etags, free, key, progress, sent);
                        byte[] buffer = free.Count > 0 ? free.Pop() : new byte[partSize];
                        int want = (int)Math.Min(partSize, length - read);
                        int got = StoreSource.ReadBlock(content, buffer, want, key, DisplayName, cancel);
                        if (got != want) throw StoreSource.CutShort(key, DisplayName, read + got, length);
                        read += got;
                        sha.TransformBlock(buffer, 0, got, null, 0);
                        whole.TransformBlock(buffer, 0, got, null, 0);
                        byte[] md5 = Md5(buffer, got);
                        partMd5s.Add(md5);
                        int number = ++partNumber;
                        var request = new UploadPartRequest
                        {
                            BucketName = bucket,
                            Key = root + key,
                            UploadId = uploadId,
                            PartNumber = number,
                            PartSize = got,
                            InputStream = new MemoryStream(buffer, 0, got, false),
                            MD5Digest = Convert.ToBase64String(md5),
                            UseChunkEncoding = false,
                            IsLastPart = read == length,
                        };
                        var token = stop.Token;
                        var task = Task.Run(async () => Unquote((await UploadClient.UploadPartAsync(request, token).ConfigureAwait(false)).ETag));
                        inFlight.Add((task, buffer, number, got, Hex(md5)));
                    }
                    while (inFlight.Count > 0) sent += Finish(inFlight, WaitAny(inFlight, cancel), etags, free, key, progress, sent);
                    sha.TransformFinalBlock(new byte[0], 0, 0);
                    whole.TransformFinalBlock(new byte[0], 0, 0);
                    string arrived = Hex(sha.Hash);
                    // Completed only when what was sent is what the caller hashed: else nothing new appears.
                    if (sha256 != null && arrived != sha256) throw Mismatch(key, arrived, sha256);
                    var complete = new CompleteMultipartUploadRequest
                    {
                        BucketName = bucket,
                        Key = root + key,
                        UploadId = uploadId,
                        PartETags = etags.Select(e => new PartETag(e.Key, e.Value)).ToList(),
                    };
                    var done = Call(c => UploadClient.CompleteMultipartUploadAsync(complete, c), cancel, "storing", key);
                    uploadId = null;
                    string etag = Unquote(done.ETag);
                    string multipart = MultipartEtag(partMd5s);
                    bool encrypted = EncryptedEtag(done.ServerSideEncryptionMethod);
                    if (etag != null && etag.IndexOf('-') > 0 && !encrypted && etag != multipart)
                    {
                        TryDelete(key);
                        throw new TursoBackupException(FailureKind.InvalidData, $"'{key}' arrived in '{DisplayName}' with ETag {etag}, not {multipart} (the MD5s of its {partMd5s.Count} parts): it was assembled wrong. It was removed again; run the copy again.", key) { ErrorId = "ChecksumMismatch" };
                    }
                    if (IsPlainMd5(etag) && !encrypted && etag != Hex(whole.Hash))
                    {
                        // A store that gives the whole object's MD5 for a multipart upload (s3rver) said whether it matches;
                        // any other plain ETag is the store's own and says nothing: the parts' Content-MD5 checked the bytes.
                        options.Log?.Invoke($"'{key}' in '{DisplayName}': the store's ETag {etag} is neither the multipart form nor the object's MD5; the parts' checksums verified it.");
                    }
                    if (sha256 == null) options.Log?.Invoke($"'{key}' was stored in '{DisplayName}' without a SHA-256 to record (none was given).");
                    return new StoredObject(key, length, arrived, DateTimeOffset.UtcNow);
                }
                finally
                {
                    if (uploadId != null)
                    {
                        // Stop the parts in flight, wait for them (none may land after the abort), then abort the upload.
                        try { stop.Cancel(); } catch (ObjectDisposedException) { }
                        try { Task.WaitAll(inFlight.Select(f => (Task)f.Task).ToArray(), TimeSpan.FromSeconds(Math.Max(5, options.TimeoutSeconds))); } catch (AggregateException) { }
                        Abort(key, uploadId);
                    }
                }
            }
        }

        private static int WaitAny(List<(Task<string> Task, byte[] Buffer, int PartNumber, int Length, string Md5)> inFlight, CancellationToken cancel)
        {
            try
            {
                return Task.WaitAny(inFlight.Select(f => (Task)f.Task).ToArray(), cancel);
            }
            catch (OperationCanceledException)
            {
                cancel.ThrowIfCancellationRequested();
                throw;
            }
        }

        /// <summary>Takes part <paramref name="index"/> off the in-flight list: its ETag checked against its MD5, its buffer
        /// freed for the next part, progress told (on the caller's thread). Returns the part's length.</summary>
        private long Finish(List<(Task<string> Task, byte[] Buffer, int PartNumber, int Length, string Md5)> inFlight, int index,
            SortedDictionary<int, string> etags, Stack<byte[]> free, string key, Action<long> progress, long sentBefore)
        {
            var f = inFlight[index];
            inFlight.RemoveAt(index);
            string etag;
            try
            {
                etag = f.Task.GetAwaiter().GetResult();
            }
            catch (Exception ex)
            {
                throw Translate(ex, "storing", key);
            }
            if (IsPlainMd5(etag) && etag != f.Md5)
            {
                throw new TursoBackupException(FailureKind.InvalidData, $"Part {f.PartNumber} of '{key}' arrived in '{DisplayName}' with MD5 {etag}, not {f.Md5}: it was damaged on the way. Nothing was stored; run the copy again.", key) { ErrorId = "ChecksumMismatch" };
            }
            etags[f.PartNumber] = etag;
            free.Push(f.Buffer);
            progress?.Invoke(sentBefore + f.Length);
            return f.Length;
        }

        private void Abort(string key, string uploadId)
        {
            try
            {
                using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(Math.Max(5, options.TimeoutSeconds))))
                {
                    Run(c => Client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = bucket, Key = root + key, UploadId = uploadId }, c), timeout.Token);
                }
            }
            catch (Exception ex)
            {
                // The upload was never completed, so nothing is listed; its parts stay billed until a lifecycle rule
                // ("AbortIncompleteMultipartUpload") removes them.
                options.Log?.Invoke($"The unfinished upload of '{key}' in '{DisplayName}' could not be aborted ({Describe(ex)}); it is not listed as an object. A lifecycle rule that aborts incomplete multipart uploads removes its parts.");
            }
        }

        private void TryDelete(string key)
        {
            try
            {
                using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(Math.Max(5, options.TimeoutSeconds))))
                {
                    Run(c => Client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = bucket, Key = root + key }, c), timeout.Token);
                }
            }
            catch (Exception ex)
            {
                options.Log?.Invoke($"The damaged '{key}' could not be removed from '{DisplayName}' ({Describe(ex)}).");
            }
        }

        private TursoBackupException Mismatch(string key, string arrived, string expected) =>
            new TursoBackupException(FailureKind.InvalidData, $"'{key}' read for '{DisplayName}' has SHA-256 {arrived}, not {expected}: the data changed or was damaged before it was sent. Nothing was stored; run the copy again.", key) { ErrorId = "ChecksumMismatch" };

        // ------------------------------------------------------------------ the client

        private AmazonS3Client Client => client ?? (client = CreateClient(options.TimeoutSeconds));

        /// <summary>For request bodies of up to a part: the timeout also covers sending the part (at 128 KiB/s at least).</summary>
        private AmazonS3Client UploadClient => uploadClient ?? (uploadClient = CreateClient(Math.Max(1, options.TimeoutSeconds) + PartSize(0) / (128 * 1024)));

        private AmazonS3Client CreateClient(int timeoutSeconds)
        {
            var credentials = Credentials();
            var config = new AmazonS3Config
            {
                // Newer flexible checksums only where an operation needs them: S3-compatible stores (s3rver, older MinIO,
                // Ceph) do not know them; Content-MD5 is what verifies each body.
                RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
                ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
                Timeout = TimeSpan.FromSeconds(Math.Max(1, timeoutSeconds)),
                MaxErrorRetry = 2,
                RetryMode = RequestRetryMode.Standard,
                // Only what the options say: no AWS_ENDPOINT_URL or ~/.aws/config sending the vault elsewhere.
                IgnoreConfiguredEndpointUrls = true,
            };
            if (!string.IsNullOrEmpty(options.Endpoint))
            {
                if (!Uri.TryCreate(options.Endpoint, UriKind.Absolute, out var endpoint) || (endpoint.Scheme != "http" && endpoint.Scheme != "https"))
                {
                    throw new TursoBackupException(FailureKind.InvalidArgument, $"The endpoint '{OffsiteAddress.Redact(options.Endpoint)}' of '{DisplayName}' is not an http(s) URL. Give the S3-compatible store's service URL, e.g. -Endpoint https://s3.example.com or http://127.0.0.1:4568.", DisplayName) { ErrorId = "InvalidEndpoint" };
                }
                config.ServiceURL = options.Endpoint;
                config.ForcePathStyle = true;
                config.AuthenticationRegion = region;
            }
            else
            {
                config.RegionEndpoint = RegionEndpoint.GetBySystemName(region);
            }
            return new AmazonS3Client(credentials, config);
        }

        private AWSCredentials Credentials()
        {
            string user = options.UserName;
            string secret = Plain(options.Password);
            if (!string.IsNullOrEmpty(user) || !string.IsNullOrEmpty(secret))
            {
                if (string.IsNullOrEmpty(user) || string.IsNullOrEmpty(secret))
                {
                    throw new TursoBackupException(FailureKind.AuthenticationFailed, $"The credential for '{DisplayName}' lacks {(string.IsNullOrEmpty(user) ? "the access key id (its user name)" : "the secret access key (its password)")}. Give -Credential with the access key id as user name and the secret access key as password.", DisplayName) { ErrorId = "S3CredentialsMissing" };
                }
                return new BasicAWSCredentials(user, secret);
            }
            var env = options.GetEnvironment ?? (_ => null);
            string id = env("AWS_ACCESS_KEY_ID");
            string key = env("AWS_SECRET_ACCESS_KEY");
            string token = env("AWS_SESSION_TOKEN");
            if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(key))
            {
                throw new TursoBackupException(FailureKind.AuthenticationFailed, $"No S3 credentials for '{DisplayName}'. Give -Credential (the access key id as user name, the secret access key as password), or set the environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials).", DisplayName) { ErrorId = "S3CredentialsMissing" };
            }
            return string.IsNullOrEmpty(token) ? (AWSCredentials)new BasicAWSCredentials(id, key) : new SessionAWSCredentials(id, key, token);
        }

        private static string Plain(SecureString secret)
        {
            if (secret == null || secret.Length == 0) return null;
            IntPtr p = Marshal.SecureStringToGlobalAllocUnicode(secret);
            try
            {
                return Marshal.PtrToStringUni(p);
            }
            finally
            {
                Marshal.ZeroFreeGlobalAllocUnicode(p);
            }
        }

        // ------------------------------------------------------------------ calls and errors

        /// <summary>Runs an SDK call synchronously (off any synchronization context) with the SDK's exceptions as they are.</summary>
        private static T Run<T>(Func<CancellationToken, Task<T>> call, CancellationToken cancel) =>
            Task.Run(() => call(cancel), cancel).GetAwaiter().GetResult();

        /// <summary>Runs an SDK call synchronously; failures translated.</summary>
        private T Call<T>(Func<CancellationToken, Task<T>> call, CancellationToken cancel, string doing, string key)
        {
            try
            {
                return Run(call, cancel);
            }
            catch (Exception ex) when (!Cancelled(ex, cancel))
            {
                throw Translate(ex, doing, key);
            }
        }

        private static bool Cancelled(Exception ex, CancellationToken cancel) => ex is OperationCanceledException && cancel.IsCancellationRequested;

        /// <summary>An SDK or network failure as the engine's error, naming the destination (never a secret) and what to do.</summary>
        internal Exception Translate(Exception ex, string doing, string key)
        {
            if (ex is TursoBackupException tb) return tb;
            if (ex is AggregateException agg && agg.InnerExceptions.Count == 1) return Translate(agg.InnerException, doing, key);
            string what = key == null ? $"{doing} '{Where}'" : $"{doing} '{key}' in '{Where}'";
            object target = DisplayName;
            if (ex is AmazonS3Exception s3 && (s3.ErrorCode != null || s3.StatusCode != 0) && !IsNetwork(s3.InnerException))
            {
                string code = string.IsNullOrEmpty(s3.ErrorCode) ? ((int)s3.StatusCode).ToString() : s3.ErrorCode;
                string said = $"S3 answered {code} ({(int)s3.StatusCode}{(string.IsNullOrEmpty(s3.Message) ? "" : ": " + s3.Message.TrimEnd('.'))})";
                switch (code)
                {
                    case "NoSuchBucket":
                        return new TursoBackupException(FailureKind.NotFound, $"The bucket '{bucket}' of '{Where}' does not exist ({said}). Create it (aws s3 mb s3://{bucket}, or in the provider's console) or correct the vault URI{(options.Endpoint == null ? " and -Region" : " and -Endpoint")}.", target, ex) { ErrorId = "VaultNotFound" };
                    case "NoSuchKey":
                        return new TursoBackupException(FailureKind.NotFound, $"'{key}' is not in '{Where}'.", key, ex);
                    case "NoSuchUpload":
                        return new TursoBackupException(FailureKind.WriteFailed, $"The multipart upload of '{key}' to '{Where}' was removed by the store while in progress ({said}) — a lifecycle rule aborting incomplete uploads too early? Nothing was stored; run the copy again.", target, ex);
                    case "InvalidAccessKeyId":
                    case "SignatureDoesNotMatch":
                    case "InvalidToken":
                    case "ExpiredToken":
                    case "TokenRefreshRequired":
                    case "InvalidSecurity":
                    case "AuthFailure":
                    case "Unauthorized":
                    case "401":
                        return new TursoBackupException(FailureKind.AuthenticationFailed, $"{Capital(what)} failed: the credentials were refused ({said}). Check the access key id and secret access key given with -Credential (or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, and AWS_SESSION_TOKEN if they are temporary).", target, ex) { ErrorId = "S3AuthenticationFailed" };
                    case "RequestTimeTooSkewed":
                        return new TursoBackupException(FailureKind.AuthenticationFailed, $"{Capital(what)} failed: this machine's clock is too far from the store's ({said}). Set the clock right (NTP) and run again.", target, ex) { ErrorId = "S3AuthenticationFailed" };
                    case "AccessDenied":
                    case "AllAccessDisabled":
                    case "AccountProblem":
                    case "Forbidden":
                    case "403":
                        return new TursoBackupException(FailureKind.PermissionDenied, $"{Capital(what)} was refused ({said}). Give these credentials s3:ListBucket, s3:GetObject, s3:PutObject, s3:DeleteObject and s3:AbortMultipartUpload on the bucket '{bucket}'{(root.Length > 0 ? " and prefix '" + root + "'" : "")} (and check that they are the right ones).", target, ex);
                    case "QuotaExceeded":
                    case "EntityTooLarge":
                    case "XMinioStorageFull":
                    case "StorageFull":
                    case "InsufficientStorage":
                    case "ServiceQuotaExceeded":
                    case "TooManyBuckets":
                    case "507":
                        return new TursoBackupException(FailureKind.QuotaExceeded, $"'{Where}' is full or over its quota: {doing}{(key == null ? "" : " '" + key + "'")} was refused ({said}). Free space, raise the quota, or choose another destination; nothing was stored.", target, ex) { ErrorId = "DestinationFull" };
                    case "BadDigest":
                    case "InvalidDigest":
                    case "XAmzContentSHA256Mismatch":
                    case "IncompleteBody":
                        return new TursoBackupException(FailureKind.InvalidData, $"{Capital(what)}: the store found the data damaged on the way ({said}). Nothing was stored; run the copy again.", key ?? target, ex) { ErrorId = "ChecksumMismatch" };
                    case "PermanentRedirect":
                    case "AuthorizationHeaderMalformed":
                    case "IllegalLocationConstraintException":
                        return new TursoBackupException(FailureKind.InvalidArgument, $"{Capital(what)} failed: the bucket '{bucket}' is not in the region {region} ({said}). Give its region with -Region (or AWS_REGION).", target, ex) { ErrorId = "S3WrongRegion" };
                    case "InvalidBucketName":
                        return new TursoBackupException(FailureKind.InvalidArgument, $"'{bucket}' is not a valid bucket name ({said}). Correct the vault URI.", target, ex) { ErrorId = "InvalidVaultUri" };
                }
                if (s3.StatusCode == HttpStatusCode.NotFound && key != null)
                {
                    return new TursoBackupException(FailureKind.NotFound, $"'{key}' is not in '{Where}' ({said}).", key, ex);
                }
                if ((int)s3.StatusCode >= 500 || code == "SlowDown" || code == "RequestTimeout" || s3.StatusCode == (HttpStatusCode)429)
                {
                    return new TursoBackupException(FailureKind.Unreachable, $"{Capital(what)} failed: the store is busy or failing ({said}). Run again later.", target, ex);
                }
                return new TursoBackupException(doing == "storing" || doing == "deleting" ? FailureKind.WriteFailed : FailureKind.InvalidOperation,
                    $"{Capital(what)} failed: {said}.", target, ex);
            }
            if (ex is OperationCanceledException || ex is TimeoutException || FindInner<TimeoutException>(ex) != null)
            {
                return new TursoBackupException(FailureKind.Unreachable, $"{Capital(what)} failed: no answer within {options.TimeoutSeconds} s. Check the network and the endpoint, then run again.", target, ex) { ErrorId = "DestinationUnreachable" };
            }
            if (IsNetwork(ex) || ex is AmazonClientException || ex is AmazonServiceException)
            {
                return new TursoBackupException(FailureKind.Unreachable, $"{Capital(what)} failed: {Describe(ex)}. Check the network{(options.Endpoint == null ? "" : " and that the store at " + options.Endpoint + " is running")}, then run again.", target, ex) { ErrorId = "DestinationUnreachable" };
            }
            return ex;
        }

        private static bool IsNetwork(Exception ex) =>
            ex != null && (ex is HttpRequestException || ex is SocketException || ex is WebException || ex is IOException
                || FindInner<HttpRequestException>(ex) != null || FindInner<SocketException>(ex) != null || FindInner<WebException>(ex) != null);

        private static T FindInner<T>(Exception ex) where T : Exception
        {
            for (var e = ex; e != null; e = e.InnerException)
            {
                if (e is T t) return t;
            }
            return null;
        }

        /// <summary>The innermost useful cause (a socket error's message, say), without anything the request held.</summary>
        private static string Describe(Exception ex)
        {
            var socket = FindInner<SocketException>(ex);
            if (socket != null) return socket.Message.TrimEnd('.') + " (" + socket.SocketErrorCode + ")";
            var http = FindInner<HttpRequestException>(ex);
            if (http != null) return (http.InnerException?.Message ?? http.Message).TrimEnd('.');
            if (ex is AmazonServiceException s && !string.IsNullOrEmpty(s.ErrorCode)) return s.ErrorCode + ": " + s.Message?.TrimEnd('.');
            return ex.Message.TrimEnd('.');
        }

        private static string Capital(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s.Substring(1);

        // ------------------------------------------------------------------ helpers

        private static string ShaOf(MetadataCollection metadata)
        {
            string v = metadata?[ShaMetadata];
            if (v == null) return null;
            v = v.Trim().ToLowerInvariant();
            return v.Length == 64 && v.All(c => (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) ? v : null;
        }

        private static DateTimeOffset? Utc(DateTime? t) =>
            t == null ? (DateTimeOffset?)null : new DateTimeOffset(t.Value.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(t.Value, DateTimeKind.Utc) : t.Value.ToUniversalTime());

        private static string Unquote(string etag) => etag?.Trim().Trim('"').ToLowerInvariant();

        private static bool IsPlainMd5(string etag) =>
            etag != null && etag.Length == 32 && etag.All(c => (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));

        /// <summary>With SSE-KMS (and SSE-C) an ETag is not the MD5 of the data.</summary>
        private static bool EncryptedEtag(ServerSideEncryptionMethod method) =>
            method != null && (method == ServerSideEncryptionMethod.AWSKMS || method == ServerSideEncryptionMethod.AWSKMSDSSE);

        internal static string MultipartEtag(IList<byte[]> partMd5s)
        {
            using (var md5 = MD5.Create())
            {
                var all = new byte[partMd5s.Count * 16];
                for (int i = 0; i < partMd5s.Count; i++) Buffer.BlockCopy(partMd5s[i], 0, all, i * 16, 16);
                return Hex(md5.ComputeHash(all)) + "-" + partMd5s.Count;
            }
        }

        private static byte[] Md5(byte[] b, int n)
        {
            using (var md5 = MD5.Create()) return md5.ComputeHash(b, 0, n);
        }

        private static byte[] Sha256(byte[] b, int n)
        {
            using (var sha = SHA256.Create()) return sha.ComputeHash(b, 0, n);
        }

        private static string Hex(byte[] b) => DirectoryStore.Hex(b);

        private static string First(params string[] values) => values.FirstOrDefault(v => !string.IsNullOrWhiteSpace(v));

        /// <summary>The body of a GetObject, read as it is consumed; network failures while reading become engine errors.</summary>
        private sealed class ReadStream : ForwardOnlyStream
        {
            private readonly S3Store store;
            private readonly string key;
            private readonly GetObjectResponse response;
            private readonly Stream inner;
            private long position;

            public ReadStream(S3Store store, string key, GetObjectResponse response)
            {
                this.store = store;
                this.key = key;
                this.response = response;
                inner = response.ResponseStream;
            }

            public override int Read(byte[] buffer, int offset, int count)
            {
                try
                {
                    int n = inner.Read(buffer, offset, count);
                    position += n;
                    return n;
                }
                catch (Exception ex) when (ex is IOException || ex is HttpRequestException || ex is SocketException || ex is OperationCanceledException)
                {
                    throw new TursoBackupException(FailureKind.Unreachable, $"Reading '{key}' from '{store.Where}' was cut off after {position} bytes ({Describe(ex)}). Run again.", key, ex) { ErrorId = "DestinationUnreachable" };
                }
            }

            public override bool CanRead => true;
            public override long Length => response.ContentLength;
            public override long Position { get => position; set => throw new NotSupportedException(); }

            protected override void Dispose(bool disposing)
            {
                if (disposing)
                {
                    inner.Dispose();
                    response.Dispose();
                }
                base.Dispose(disposing);
            }
        }
    }
}
