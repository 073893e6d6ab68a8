using System;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using TursoBackup.Engine.Errors;

namespace TursoBackup.Engine.Incremental
{
    /// <summary>
    /// An Incremental backup's artifact, <c>&lt;database&gt;.pages</c>: the page size, the page count and the SHA-256 of
    /// every page in page order — the backup's whole content by address (docs/vault-format.md, "Incremental").
    /// </summary>
    public static class PageMap
    {
        public const string Extension = ".pages";
        private static readonly byte[] Magic = System.Text.Encoding.ASCII.GetBytes("TBPMAP01");
        public const int HeaderBytes = 8 + 4 + 8;

        public static byte[] Header(int pageSize, long pageCount)
        {
            var header = new byte[HeaderBytes];
            Buffer.BlockCopy(Magic, 0, header, 0, Magic.Length);
            Buffer.BlockCopy(BitConverter.GetBytes(pageSize), 0, header, 8, 4);
            Buffer.BlockCopy(BitConverter.GetBytes(pageCount), 0, header, 12, 8);
            return header;
        }

        /// <summary>Reads a map whole; <paramref name="sha256"/> receives the SHA-256 of the file as read.</summary>
        public static PageHash[] Read(string path, out int pageSize, out string sha256)
        {
            byte[] bytes = File.ReadAllBytes(path);
            using (var sha = SHA256.Create()) sha256 = Sqlite.Hex.Of(sha.ComputeHash(bytes));
            if (bytes.Length < HeaderBytes || !bytes.Take(Magic.Length).SequenceEqual(Magic))
                throw new TursoBackupException(FailureKind.InvalidData, $"'{path}' is not a page map of an Incremental backup (its header is wrong): the backup is damaged.", path);
            pageSize = BitConverter.ToInt32(bytes, 8);
            long count = BitConverter.ToInt64(bytes, 12);
            if (count < 0 || HeaderBytes + count * PageHash.Size != bytes.Length)
                throw new TursoBackupException(FailureKind.InvalidData, $"The page map '{path}' is {bytes.Length:N0} bytes, not the {HeaderBytes + count * PageHash.Size:N0} its {count:N0} page(s) take: the backup is damaged.", path);
            var hashes = new PageHash[count];
            for (long i = 0; i < count; i++) hashes[i] = PageHash.Read(bytes, (int)(HeaderBytes + i * PageHash.Size));
            return hashes;
        }
    }
}
