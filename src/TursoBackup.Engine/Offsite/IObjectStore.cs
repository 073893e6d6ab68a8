using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;

namespace TursoBackup.Engine.Offsite
{
    /// <summary>
    /// An offsite vault's storage: a flat set of objects named by '/'-separated keys relative to the vault's root
    /// ("databases/main/&lt;id&gt;/manifest.json"). One implementation per kind of destination (a folder, Azure Blob, S3,
    /// SFTP); the vault logic above it (<see cref="VaultSync"/>, <see cref="OffsiteCache"/>) is the same for all.
    /// </summary>
    /// <remarks>
    /// Every implementation keeps three promises (tests/TursoBackup.Tests/Offsite/ObjectStoreContract.cs checks them
    /// against each real server):
    /// <list type="bullet">
    /// <item>Atomic: an object appears under its key whole or not at all. An upload stopped at any moment (killed, network
    /// gone, a stream that throws) leaves nothing that <see cref="List"/> or <see cref="Stat"/> returns under that key,
    /// and an object that was there before stays as it was (uncommitted blocks, an unfinished multipart upload, a
    /// hidden temporary name renamed at the end).</item>
    /// <item>Verified on arrival: <see cref="Put"/> returns only after checking what the destination holds against the
    /// caller's SHA-256 (a read-back) or a checksum the service computed and checked on the way (MD5/CRC of each block
    /// or part); a mismatch throws <c>TursoBackupException(InvalidData)</c> and leaves nothing new under the key.</item>
    /// <item>Streamed: memory does not grow with the object's size (blocks of a few MiB at most).</item>
    /// </list>
    /// Failures are <see cref="Errors.TursoBackupException"/>s whose message names <see cref="DisplayName"/> — never a
    /// secret — and says what to do: Unreachable, AuthenticationFailed, NotFound (no such container/bucket/folder),
    /// QuotaExceeded, SecurityError (a host key that changed).
    /// </remarks>
    public interface IObjectStore : IDisposable
    {
        /// <summary>The destination as the admin wrote it, without any secret (no SAS query, key or password).</summary>
        string DisplayName { get; }

        /// <summary>Checks that the destination is reachable, accepts the credentials and exists (the container,
        /// bucket or folder). Clear errors otherwise; writes nothing.</summary>
        void Probe(CancellationToken cancel);

        /// <summary>Every whole object whose key starts with <paramref name="prefix"/> ("" for all), in no particular order.
        /// Objects being uploaded are not listed.</summary>
        IEnumerable<StoredObject> List(string prefix, CancellationToken cancel);

        /// <summary>The object under <paramref name="key"/>, or null when there is none.</summary>
        StoredObject Stat(string key, CancellationToken cancel);

        /// <summary>
        /// Stores <paramref name="length"/> bytes read from <paramref name="content"/> under <paramref name="key"/>,
        /// replacing what was there, atomically, and verifies what arrived (see the remarks). <paramref name="sha256"/> is
        /// the content's SHA-256 (lowercase hex), computed by the caller; the store records it with the object where it can
        /// (so <see cref="StoredObject.Sha256"/> returns it). <paramref name="progress"/> is told the bytes sent so far.
        /// Parent "folders" are created as needed.
        /// </summary>
        StoredObject Put(string key, Stream content, long length, string sha256, Action<long> progress, CancellationToken cancel);

        /// <summary>A stream of the object's bytes (read as it is consumed, not buffered whole). NotFound if there is none.</summary>
        Stream OpenRead(string key, CancellationToken cancel);

        /// <summary>Removes the object; no error when it is already gone.</summary>
        void Delete(string key, CancellationToken cancel);
    }

    /// <summary>One object of an <see cref="IObjectStore"/>.</summary>
    public sealed class StoredObject
    {
        public StoredObject(string key, long length, string sha256 = null, DateTimeOffset? lastModified = null)
        {
            Key = key;
            Length = length;
            Sha256 = sha256;
            LastModified = lastModified;
        }

        /// <summary>'/'-separated, relative to the vault's root, no leading '/'.</summary>
        public string Key { get; }

        public long Length { get; }

        /// <summary>The SHA-256 recorded with the object (lowercase hex), or null when the store keeps none (a folder, SFTP).</summary>
        public string Sha256 { get; }

        public DateTimeOffset? LastModified { get; }

        public override string ToString() => Key + " (" + Length + " bytes)";
    }
}
