using System;

namespace TursoBackup.Engine.Incremental
{
    /// <summary>The SHA-256 of one database page: the page's address in the page store (docs/vault-format.md, "Incremental").</summary>
    public readonly struct PageHash : IEquatable<PageHash>
    {
        public const int Size = 32;

        private readonly ulong a, b, c, d;

        private PageHash(ulong a, ulong b, ulong c, ulong d)
        {
            this.a = a;
            this.b = b;
            this.c = c;
            this.d = d;
        }

        public static PageHash Read(byte[] buffer, int offset) =>
            new PageHash(BitConverter.ToUInt64(buffer, offset), BitConverter.ToUInt64(buffer, offset + 8),
                BitConverter.ToUInt64(buffer, offset + 16), BitConverter.ToUInt64(buffer, offset + 24));

        public void Write(byte[] buffer, int offset)
        {
            Put(buffer, offset, a);
            Put(buffer, offset + 8, b);
            Put(buffer, offset + 16, c);
            Put(buffer, offset + 24, d);
        }

        private static void Put(byte[] buffer, int offset, ulong v)
        {
            var bytes = BitConverter.GetBytes(v);
            Buffer.BlockCopy(bytes, 0, buffer, offset, 8);
        }

        public bool Equals(PageHash other) => a == other.a && b == other.b && c == other.c && d == other.d;

        public override bool Equals(object obj) => obj is PageHash other && Equals(other);

        public override int GetHashCode() => unchecked((int)a ^ (int)(a >> 32));

        public override string ToString()
        {
            var bytes = new byte[Size];
            Write(bytes, 0);
            return Sqlite.Hex.Of(bytes);
        }
    }

    /// <summary>Where a page's content lies in the store: a pack, the zstd frame in it, and the page's place in that frame.</summary>
    public sealed class ChunkLocation
    {
        public ChunkLocation(string pack, long frameOffset, int frameLength, int slot)
        {
            Pack = pack;
            FrameOffset = frameOffset;
            FrameLength = frameLength;
            Slot = slot;
        }

        /// <summary>The pack's name (without extension) in the store folder.</summary>
        public string Pack { get; }
        public long FrameOffset { get; }
        public int FrameLength { get; }
        public int Slot { get; }
    }
}
