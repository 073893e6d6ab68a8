using System;
using System.IO;
using TursoBackup.Engine.IO;

namespace TursoBackup.Engine.Crypto
{
    /// <summary>An OpenPGP packet header (RFC 4880 §4.2): old or new format, with a fixed, partial or indeterminate length.</summary>
    internal struct PacketHeader
    {
        public int Tag;
        public long Length;        // of the (first) chunk; -1 when indeterminate (old format, length type 3)
        public bool Partial;       // new format partial body length: more chunks follow
    }

    /// <summary>
    /// Buffered reading of a packet stream: byte-wise header parsing without a call per byte, large reads straight
    /// through. Optionally records every byte consumed (re-wrap copies the data packet byte for byte).
    /// </summary>
    internal sealed class PacketInput : ForwardOnlyStream
    {
        private readonly Stream inner;
        private readonly byte[] buffer = new byte[1 << 16];
        private int pos, end;

        /// <summary>When set, every byte consumed is written here.</summary>
        public Stream Record;

        public PacketInput(Stream inner) { this.inner = inner; }

        /// <summary>The next byte without consuming it; -1 at the end.</summary>
        public int PeekByte()
        {
            if (pos == end)
            {
                pos = 0;
                end = inner.Read(buffer, 0, buffer.Length);
                if (end <= 0) { end = 0; return -1; }
            }
            return buffer[pos];
        }

        public override bool CanRead => true;

        public override int ReadByte()
        {
            if (pos == end)
            {
                pos = 0;
                end = inner.Read(buffer, 0, buffer.Length);
                if (end <= 0) { end = 0; return -1; }
            }
            byte b = buffer[pos++];
            Count++;
            Record?.WriteByte(b);
            return b;
        }

        public override int Read(byte[] target, int offset, int count)
        {
            if (count == 0) return 0;
            int n;
            if (pos < end)
            {
                n = Math.Min(count, end - pos);
                Buffer.BlockCopy(buffer, pos, target, offset, n);
                pos += n;
            }
            else if (count >= buffer.Length)
            {
                n = inner.Read(target, offset, count);
                if (n <= 0) return 0;
            }
            else
            {
                pos = 0;
                end = inner.Read(buffer, 0, buffer.Length);
                if (end <= 0) { end = 0; return 0; }
                n = Math.Min(count, end);
                Buffer.BlockCopy(buffer, 0, target, offset, n);
                pos = n;
            }
            Record?.Write(target, offset, n);
            Count += n;
            return n;
        }

        /// <summary>The next packet header, or null at the end of the stream.</summary>
        public static PacketHeader? ReadHeader(Stream s)
        {
            int b = s.ReadByte();
            if (b < 0) return null;
            return ReadHeader(s, b);
        }

        /// <summary>The rest of a packet header whose first byte was <paramref name="b"/>.</summary>
        public static PacketHeader ReadHeader(Stream s, int b)
        {
            if ((b & 0x80) == 0) throw new InvalidDataException($"not an OpenPGP packet (byte 0x{b:X2})");
            var h = new PacketHeader();
            if ((b & 0x40) != 0)
            {
                h.Tag = b & 0x3F;
                ReadNewLength(s, ref h);
            }
            else
            {
                h.Tag = (b >> 2) & 0x0F;
                switch (b & 3)
                {
                    case 0: h.Length = Byte(s); break;
                    case 1: h.Length = (Byte(s) << 8) | Byte(s); break;
                    case 2: h.Length = ((long)Byte(s) << 24) | ((long)Byte(s) << 16) | ((long)Byte(s) << 8) | (long)Byte(s); break;
                    default: h.Length = -1; break;
                }
            }
            return h;
        }

        public static void ReadNewLength(Stream s, ref PacketHeader h)
        {
            int l1 = Byte(s);
            h.Partial = false;
            if (l1 < 192) h.Length = l1;
            else if (l1 < 224) h.Length = ((l1 - 192) << 8) + Byte(s) + 192;
            else if (l1 == 255) h.Length = ((long)Byte(s) << 24) | ((long)Byte(s) << 16) | ((long)Byte(s) << 8) | (long)Byte(s);
            else { h.Length = 1L << (l1 & 0x1F); h.Partial = true; }
        }

        public static int Byte(Stream s)
        {
            int b = s.ReadByte();
            if (b < 0) throw new EndOfStreamException("the OpenPGP data ends in the middle of a packet");
            return b;
        }

        public static byte[] ReadFully(Stream s, long length)
        {
            if (length > 1 << 20) throw new InvalidDataException("an OpenPGP key packet is implausibly large");
            var b = new byte[length];
            int got = 0;
            while (got < b.Length)
            {
                int n = s.Read(b, got, b.Length - got);
                if (n <= 0) throw new EndOfStreamException("the OpenPGP data ends in the middle of a packet");
                got += n;
            }
            return b;
        }

        /// <summary>Fills target[offset, offset+count) unless the stream ends first; returns how many bytes were read.</summary>
        public static int Fill(Stream s, byte[] target, int offset, int count)
        {
            int got = 0;
            while (got < count)
            {
                int n = s.Read(target, offset + got, count - got);
                if (n <= 0) break;
                got += n;
            }
            return got;
        }
    }

    /// <summary>The body of one packet, its partial chunks joined; the end of the stream is the end of the body.</summary>
    internal sealed class PacketBody : ForwardOnlyStream
    {
        private readonly Stream inner;
        private PacketHeader h;
        private long remaining;

        public PacketBody(Stream inner, PacketHeader header)
        {
            this.inner = inner;
            h = header;
            remaining = header.Length;
        }

        public override bool CanRead => true;

        private bool More()
        {
            while (remaining == 0)
            {
                if (!h.Partial) return false;
                PacketInput.ReadNewLength(inner, ref h);
                remaining = h.Length;
            }
            return true;
        }

        public override int ReadByte()
        {
            if (h.Length < 0)
            {
                int x = inner.ReadByte();
                if (x >= 0) Count++;
                return x;
            }
            if (!More()) return -1;
            int b = PacketInput.Byte(inner);
            remaining--;
            Count++;
            return b;
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (count == 0) return 0;
            if (h.Length < 0)
            {
                int x = inner.Read(buffer, offset, count);
                if (x > 0) Count += x;
                return Math.Max(x, 0);
            }
            if (!More()) return 0;
            int n = inner.Read(buffer, offset, (int)Math.Min(count, remaining));
            if (n <= 0) throw new EndOfStreamException("the OpenPGP data ends in the middle of a packet (it was cut short)");
            remaining -= n;
            Count += n;
            return n;
        }
    }

    /// <summary>Bytes given first, then a stream.</summary>
    internal sealed class PrefixedStream : ForwardOnlyStream
    {
        private readonly byte[] head;
        private int pos;
        private readonly int end;
        private readonly Stream rest;

        public PrefixedStream(byte[] head, int count, Stream rest)
        {
            this.head = head;
            end = count;
            this.rest = rest;
        }

        public override bool CanRead => true;

        public override int ReadByte() => pos < end ? head[pos++] : rest.ReadByte();

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (pos < end)
            {
                int n = Math.Min(count, end - pos);
                Buffer.BlockCopy(head, pos, buffer, offset, n);
                pos += n;
                return n;
            }
            return rest.Read(buffer, offset, count);
        }
    }

    internal static class PacketWriter
    {
        /// <summary>A new-format header with a definite length.</summary>
        public static int Header(byte[] b, int off, int tag, long length)
        {
            b[off] = (byte)(0xC0 | tag);
            return 1 + Length(b, off + 1, length);
        }

        public static int Length(byte[] b, int off, long length)
        {
            if (length < 192) { b[off] = (byte)length; return 1; }
            if (length < 8384)
            {
                long l = length - 192;
                b[off] = (byte)((l >> 8) + 192);
                b[off + 1] = (byte)l;
                return 2;
            }
            b[off] = 0xFF;
            b[off + 1] = (byte)(length >> 24);
            b[off + 2] = (byte)(length >> 16);
            b[off + 3] = (byte)(length >> 8);
            b[off + 4] = (byte)length;
            return 5;
        }

        /// <summary>A whole packet (header and body) of a definite length.</summary>
        public static byte[] Packet(int tag, byte[] body)
        {
            var h = new byte[6];
            int n = Header(h, 0, tag, body.Length);
            var p = new byte[n + body.Length];
            Buffer.BlockCopy(h, 0, p, 0, n);
            Buffer.BlockCopy(body, 0, p, n, body.Length);
            return p;
        }

        public static int Log2(int powerOfTwo)
        {
            int k = 0;
            while ((1 << k) < powerOfTwo) k++;
            return k;
        }
    }
}
