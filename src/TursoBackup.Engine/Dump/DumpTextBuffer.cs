using System;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;

namespace TursoBackup.Engine.Dump
{
    /// <summary>
    /// The one writer of SQL dump text, for both dumps: local (<see cref="SqlDumpWriter"/>, values read from SQLite as
    /// UTF-8 bytes) and remote (<see cref="Remote.RemoteDumpWriter"/>, values that arrive as .NET objects: null, long,
    /// double, string, byte[]). Integers, REALs that parse back to the same bits, text with control characters through
    /// replace(), X'..' blobs. Characters are collected in one reused buffer and handed to the TextWriter in 64K blocks;
    /// <see cref="Utf8Extra"/> keeps what the text takes in UTF-8.
    /// </summary>
    internal sealed class DumpTextBuffer
    {
        private const int BufferSize = 1 << 16;
        private const string MarkerCandidates = "\\~^`|#@$%&!?";
        private static readonly char[] HexDigits = "0123456789abcdef".ToCharArray();
        private static readonly bool VerifyRoundTrip =
            RuntimeInformation.FrameworkDescription.StartsWith(".NET Framework", StringComparison.OrdinalIgnoreCase);
        private static readonly double[] Pow10 =
        {
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
        };

        private readonly TextWriter output;
        private readonly char[] buf = new char[BufferSize];
        private readonly char[] digits = new char[24];
        private int pos;

        public DumpTextBuffer(TextWriter output)
        {
            this.output = output;
        }

        /// <summary>Characters handed to the TextWriter.</summary>
        public long Flushed { get; private set; }

        /// <summary>Characters written so far, buffered ones included.</summary>
        public long Written => Flushed + pos;

        /// <summary>UTF-8 bytes minus UTF-16 characters of what was written.</summary>
        public long Utf8Extra { get; private set; }

        public void Flush()
        {
            if (pos == 0) return;
            output.Write(buf, 0, pos);
            Flushed += pos;
            pos = 0;
        }

        public void Put(char c)
        {
            if (pos == buf.Length) Flush();
            buf[pos++] = c;
        }

        public void WriteAscii(string s)
        {
            if (pos + s.Length > buf.Length)
            {
                Flush();
                if (s.Length > buf.Length)
                {
                    output.Write(s);
                    Flushed += s.Length;
                    return;
                }
            }
            s.CopyTo(0, buf, pos, s.Length);
            pos += s.Length;
        }

        /// <summary>Text that may hold non-ASCII characters, written as is (names, schema SQL).</summary>
        public void WriteRaw(string s)
        {
            WriteAscii(s);
            Utf8Extra += Utf8ExtraOf(s);
        }

        /// <summary>Text written as is whose <see cref="Utf8ExtraOf"/> the caller already knows (a repeated INSERT prefix).</summary>
        public void WriteRaw(string s, long utf8Extra)
        {
            WriteAscii(s);
            Utf8Extra += utf8Extra;
        }

        /// <summary>Schema SQL as stored, then ';' (on a new line when its last line has a comment that would swallow it).</summary>
        public void WriteSchemaSql(string sql)
        {
            WriteRaw(sql);
            int lastLine = sql.LastIndexOf('\n') + 1;
            WriteAscii(sql.IndexOf("--", lastLine, StringComparison.Ordinal) >= 0 ? "\n;\n" : ";\n");
        }

        /// <summary>One value as an SQL literal.</summary>
        public void WriteValue(object v)
        {
            switch (v)
            {
                case null: WriteAscii("NULL"); break;
                case long l: WriteInt64(l); break;
                case double d: WriteDouble(d); break;
                case string s: WriteText(s); break;
                case byte[] b: WriteBlob(b, "X'", "'"); break;
                default: throw new ArgumentException("Unexpected value type " + v.GetType().Name);
            }
        }

        public void WriteInt64(long v)
        {
            if (pos + 20 > buf.Length) Flush();
            if (v < 0)
            {
                if (v == long.MinValue)
                {
                    WriteAscii("-9223372036854775808");
                    return;
                }
                buf[pos++] = '-';
                v = -v;
            }
            int d = digits.Length;
            do
            {
                long q = v / 10;
                digits[--d] = (char)('0' + (int)(v - q * 10));
                v = q;
            } while (v != 0);
            int len = digits.Length - d;
            Array.Copy(digits, d, buf, pos, len);
            pos += len;
        }

        /// <summary>A REAL literal that parses back to the same bits and stays REAL (1.0, never 1; 1e999 for infinity).</summary>
        public void WriteDouble(double d)
        {
            long bits = BitConverter.DoubleToInt64Bits(d);
            if (double.IsNaN(d)) { WriteAscii("NULL"); return; }
            if (bits == 0x7FF0000000000000L) { WriteAscii("1e999"); return; }
            if (bits == unchecked((long)0xFFF0000000000000UL)) { WriteAscii("-1e999"); return; }
            if (d >= -1e15 && d <= 1e15)
            {
                long l = (long)d;
                if (l == d)
                {
                    if (l == 0 && bits < 0) WriteAscii("-0.0");
                    else
                    {
                        WriteInt64(l);
                        WriteAscii(".0");
                    }
                    return;
                }
            }
            if (TryWriteShortDecimal(d)) return;
            string s = d.ToString("R", CultureInfo.InvariantCulture);
            if (VerifyRoundTrip && BitConverter.DoubleToInt64Bits(double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture)) != bits)
            {
                s = d.ToString("G17", CultureInfo.InvariantCulture);
            }
            WriteAscii(s);
            if (s.IndexOf('.') < 0 && s.IndexOf('E') < 0 && s.IndexOf('e') < 0) WriteAscii(".0");
        }

        /// <summary>d as I.F with the fewest fraction digits (up to 15) such that m/10^k, m &lt; 2^53, is d.</summary>
        private bool TryWriteShortDecimal(double d)
        {
            double a = Math.Abs(d);
            if (!(a >= 1e-4 && a < 1e15)) return false;
            for (int k = 1; k <= 15; k++)
            {
                double scaled = a * Pow10[k];
                if (scaled >= 9007199254740992.0) return false;
                double m = Math.Round(scaled);
                if (m / Pow10[k] != a) continue;
                long mi = (long)m, div = (long)Pow10[k];
                if (d < 0) Put('-');
                WriteInt64(mi / div);
                Put('.');
                long frac = mi % div;
                if (pos + 16 > buf.Length) Flush();
                for (int j = k - 1; j >= 0; j--)
                {
                    buf[pos + j] = (char)('0' + (int)(frac % 10));
                    frac /= 10;
                }
                pos += k;
                return true;
            }
            return false;
        }

        public void WriteBlob(ReadOnlySpan<byte> b, string open, string close)
        {
            WriteAscii(open);
            int i = 0;
            while (i < b.Length)
            {
                if (buf.Length - pos < 2) Flush();
                int take = Math.Min(b.Length - i, (buf.Length - pos) / 2);
                int p = pos;
                for (int k = 0; k < take; k++)
                {
                    byte x = b[i + k];
                    buf[p] = HexDigits[x >> 4];
                    buf[p + 1] = HexDigits[x & 15];
                    p += 2;
                }
                pos = p;
                i += take;
            }
            WriteAscii(close);
        }

        /// <summary>
        /// '...' with quotes doubled; control characters other than tab become markers inside the literal, turned
        /// back by nested replace() calls (replace('a\nb','\n',char(10)), as sqlite3 .dump does for CR and LF).
        /// A string with unpaired surrogates (not valid Unicode) is written as CAST(X'..' AS TEXT) of its UTF-8.
        /// </summary>
        public void WriteText(string s)
        {
            uint controls = 0;
            bool badSurrogate = false;
            for (int i = 0; i < s.Length; i++)
            {
                char c = s[i];
                if (c < 0x20)
                {
                    if (c != 9) controls |= 1u << c;
                }
                else if (char.IsSurrogate(c))
                {
                    if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
                    else badSurrogate = true;
                }
            }
            if (badSurrogate)
            {
                WriteBlob(new UTF8Encoding(false, false).GetBytes(s), "CAST(X'", "' AS TEXT)");
                return;
            }
            if (controls == 0)
            {
                Put('\'');
                WriteBody(s, '\0');
                Put('\'');
                return;
            }
            char marker = '\0';
            foreach (char m in MarkerCandidates)
            {
                if (s.IndexOf(m) < 0)
                {
                    marker = m;
                    break;
                }
            }
            if (marker == '\0')
            {
                WriteBlob(Encoding.UTF8.GetBytes(s), "CAST(X'", "' AS TEXT)");
                return;
            }
            for (int c = 0; c < 32; c++)
            {
                if ((controls & (1u << c)) != 0) WriteAscii("replace(");
            }
            Put('\'');
            WriteBody(s, marker);
            Put('\'');
            for (int c = 0; c < 32; c++)
            {
                if ((controls & (1u << c)) == 0) continue;
                WriteAscii(",'");
                WriteMarker(marker, c);
                WriteAscii("',char(");
                WriteInt64(c);
                WriteAscii("))");
            }
        }

        private void WriteMarker(char marker, int c)
        {
            if (buf.Length - pos < 8) Flush();
            buf[pos++] = marker;
            if (c == 10) buf[pos++] = 'n';
            else if (c == 13) buf[pos++] = 'r';
            else
            {
                buf[pos++] = 'x';
                buf[pos++] = HexDigits[c >> 4];
                buf[pos++] = HexDigits[c & 15];
            }
        }

        private void WriteBody(string s, char marker)
        {
            int limit = buf.Length - 8;
            long extra = 0;
            for (int i = 0; i < s.Length; i++)
            {
                if (pos >= limit) Flush();
                char c = s[i];
                if (c < 0x80)
                {
                    if (c >= 0x20)
                    {
                        buf[pos++] = c;
                        if (c == '\'') buf[pos++] = '\'';
                    }
                    else if (c == 9 || marker == '\0')
                    {
                        buf[pos++] = c;
                    }
                    else
                    {
                        WriteMarker(marker, c);
                    }
                }
                else
                {
                    buf[pos++] = c;
                    extra += c < 0x800 ? 1 : char.IsSurrogate(c) ? 1 : 2; // a surrogate pair: 4 bytes for 2 chars
                }
            }
            Utf8Extra += extra;
        }

        /// <summary>
        /// A TEXT value given as UTF-8 bytes: '...' with quotes doubled; control characters other than tab (they
        /// would not survive line-based readers: sqlite3 drops a CR before LF, Windows text mode stops at Ctrl-Z)
        /// are written as markers inside the literal and turned back by nested replace() calls, like sqlite3 .dump
        /// does for CR and LF: replace('a\nb','\n',char(10)). Text that is not valid UTF-8 is written as
        /// CAST(X'..' AS TEXT), which gives back the same bytes.
        /// </summary>
        public void WriteTextUtf8(ReadOnlySpan<byte> s)
        {
            bool nonAscii = false;
            uint controls = 0;
            for (int i = 0; i < s.Length; i++)
            {
                byte b = s[i];
                if (b < 0x20)
                {
                    if (b != 9) controls |= 1u << b;
                }
                else if (b >= 0x80)
                {
                    nonAscii = true;
                }
            }
            if (nonAscii && !SqlText.IsValidUtf8(s))
            {
                WriteBlob(s, "CAST(X'", "' AS TEXT)");
                return;
            }
            if (controls == 0)
            {
                Put('\'');
                WriteBodyUtf8(s, '\0');
                Put('\'');
                return;
            }
            char marker = '\0';
            foreach (char m in MarkerCandidates)
            {
                if (s.IndexOf((byte)m) < 0)
                {
                    marker = m;
                    break;
                }
            }
            if (marker == '\0')
            {
                WriteBlob(s, "CAST(X'", "' AS TEXT)"); // contains every marker candidate: give up on readability
                return;
            }
            for (int c = 0; c < 32; c++)
            {
                if ((controls & (1u << c)) != 0) WriteAscii("replace(");
            }
            Put('\'');
            WriteBodyUtf8(s, marker);
            Put('\'');
            for (int c = 0; c < 32; c++)
            {
                if ((controls & (1u << c)) == 0) continue;
                WriteAscii(",'");
                WriteMarker(marker, c);
                WriteAscii("',char(");
                WriteInt64(c);
                WriteAscii("))");
            }
        }

        /// <summary>The inside of a text literal from valid UTF-8: quotes doubled, control characters as markers.</summary>
        private void WriteBodyUtf8(ReadOnlySpan<byte> s, char marker)
        {
            int limit = buf.Length - 8;
            int i = 0, n = s.Length;
            long extra = 0;
            while (i < n)
            {
                if (pos >= limit) Flush();
                byte b = s[i];
                if (b < 0x80)
                {
                    if (b >= 0x20)
                    {
                        buf[pos++] = (char)b;
                        if (b == '\'') buf[pos++] = '\'';
                    }
                    else if (b == 9 || marker == '\0')
                    {
                        buf[pos++] = (char)b;
                    }
                    else
                    {
                        WriteMarker(marker, b);
                    }
                    i++;
                }
                else if (b < 0xE0)
                {
                    buf[pos++] = (char)(((b & 0x1F) << 6) | (s[i + 1] & 0x3F));
                    i += 2;
                    extra += 1;
                }
                else if (b < 0xF0)
                {
                    buf[pos++] = (char)(((b & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F));
                    i += 3;
                    extra += 2;
                }
                else
                {
                    int cp = ((b & 0x07) << 18) | ((s[i + 1] & 0x3F) << 12) | ((s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
                    cp -= 0x10000;
                    buf[pos++] = (char)(0xD800 + (cp >> 10));
                    buf[pos++] = (char)(0xDC00 + (cp & 0x3FF));
                    i += 4;
                    extra += 2;
                }
            }
            Utf8Extra += extra;
        }

        public static long Utf8ExtraOf(string s)
        {
            long extra = 0;
            foreach (char c in s)
            {
                if (c < 0x80) continue;
                extra += c < 0x800 ? 1 : char.IsSurrogate(c) ? 1 : 2;
            }
            return extra;
        }
    }
}
