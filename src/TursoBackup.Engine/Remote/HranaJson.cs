using System;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;

namespace TursoBackup.Engine.Remote
{
    /// <summary>
    /// JSON for Hrana: request bodies are written by hand (values need exact control: integers as decimal strings,
    /// floats that parse back to the same bits), responses are read with a small pull reader straight from the
    /// response stream, so a page of rows becomes typed values without an intermediate object tree.
    /// </summary>
    internal static class HranaJson
    {
        // "R" is the shortest round-trip form on .NET Core 3.0+; .NET Framework's "R" is wrong for some values,
        // so there it is checked and replaced by "G17" when it does not parse back to the same bits.
        private static readonly bool VerifyRoundTrip =
            RuntimeInformation.FrameworkDescription.StartsWith(".NET Framework", StringComparison.OrdinalIgnoreCase);

        public static void String(StringBuilder sb, string s) => IO.Json.WriteString(sb, s);

        /// <summary>A finite double as a JSON number that parses back to the same bits (always with '.' or an exponent).</summary>
        public static string Double(double d)
        {
            if (d == 0) return BitConverter.DoubleToInt64Bits(d) < 0 ? "-0.0" : "0.0";
            string s = d.ToString("R", CultureInfo.InvariantCulture);
            if (VerifyRoundTrip && BitConverter.DoubleToInt64Bits(double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture)) != BitConverter.DoubleToInt64Bits(d))
            {
                s = d.ToString("G17", CultureInfo.InvariantCulture);
            }
            if (s.IndexOf('.') < 0 && s.IndexOf('E') < 0 && s.IndexOf('e') < 0) s += ".0";
            return s;
        }
    }

    /// <summary>
    /// A forward-only JSON reader over a TextReader. Callers walk the structure they expect
    /// (<see cref="NextProperty"/>, <see cref="NextElement"/>) and skip what they do not know.
    /// </summary>
    internal sealed class JsonPullReader
    {
        private readonly TextReader reader;
        private readonly char[] buf = new char[1 << 15];
        private readonly StringBuilder scratch = new StringBuilder();
        private int pos, len;
        private long consumedBefore;

        public JsonPullReader(TextReader reader)
        {
            this.reader = reader;
        }

        /// <summary>Characters read so far.</summary>
        public long Position => consumedBefore + pos;

        private bool Fill()
        {
            consumedBefore += len;
            pos = 0;
            len = reader.Read(buf, 0, buf.Length);
            if (len < 0) len = 0;
            return len > 0;
        }

        private int Peek()
        {
            if (pos >= len && !Fill()) return -1;
            return buf[pos];
        }

        private void SkipWhitespace()
        {
            while (true)
            {
                if (pos >= len && !Fill()) return;
                char c = buf[pos];
                if (c == ' ' || c == '\n' || c == '\r' || c == '\t') pos++;
                else return;
            }
        }

        /// <summary>The first character of the next value (after whitespace), without consuming it.</summary>
        public char PeekValue()
        {
            SkipWhitespace();
            int c = Peek();
            if (c < 0) throw Error("unexpected end of the response");
            return (char)c;
        }

        private void Expect(char c)
        {
            SkipWhitespace();
            int p = Peek();
            if (p != c) throw Error(p < 0 ? $"unexpected end (expected '{c}')" : $"expected '{c}' but found '{(char)p}'");
            pos++;
        }

        public void BeginObject() => Expect('{');

        public void BeginArray() => Expect('[');

        /// <summary>Moves to the next property of the current object; false (and the object consumed) at its end.</summary>
        public bool NextProperty(ref bool first, out string name)
        {
            SkipWhitespace();
            int c = Peek();
            if (c == '}')
            {
                pos++;
                name = null;
                return false;
            }
            if (!first)
            {
                if (c != ',') throw Error(c < 0 ? "unexpected end inside an object" : $"expected ',' or '}}' but found '{(char)c}'");
                pos++;
            }
            first = false;
            SkipWhitespace();
            name = ReadKnownString();
            Expect(':');
            return true;
        }

        /// <summary>Moves to the next element of the current array; false (and the array consumed) at its end.</summary>
        public bool NextElement(ref bool first)
        {
            SkipWhitespace();
            int c = Peek();
            if (c == ']')
            {
                pos++;
                return false;
            }
            if (!first)
            {
                if (c != ',') throw Error(c < 0 ? "unexpected end inside an array" : $"expected ',' or ']' but found '{(char)c}'");
                pos++;
            }
            first = false;
            return true;
        }

        /// <summary>Consumes a null and returns true, or returns false leaving a non-null value in place.</summary>
        public bool TryReadNull()
        {
            if (PeekValue() != 'n') return false;
            ReadWord("null");
            return true;
        }

        public bool ReadBool()
        {
            char c = PeekValue();
            if (c == 't') { ReadWord("true"); return true; }
            if (c == 'f') { ReadWord("false"); return false; }
            throw Error($"expected true or false but found '{c}'");
        }

        private void ReadWord(string word)
        {
            foreach (char w in word)
            {
                if (Peek() != w) throw Error($"invalid literal (expected '{word}')");
                pos++;
            }
        }

        // Property names and value types of Hrana responses: returned without allocating a new string each time.
        private static readonly string[] Known =
        {
            "type", "value", "base64", "integer", "float", "text", "blob", "null", "name", "decltype", "cols", "rows",
            "affected_row_count", "last_insert_rowid", "ok", "error", "response", "result", "execute", "batch", "baton",
            "base_url", "results", "message", "code", "step_results", "step_errors", "replication_index", "rows_read",
            "rows_written", "query_duration_ms", "close",
        };

        /// <summary>Like <see cref="ReadString"/>, but a string from the protocol's vocabulary comes back as the shared instance.</summary>
        public string ReadKnownString()
        {
            SkipWhitespace();
            if (Peek() == '"')
            {
                int start = pos + 1;
                for (int i = start; i < len && i - start <= 18; i++)
                {
                    char c = buf[i];
                    if (c == '\\') break;
                    if (c != '"') continue;
                    int n = i - start;
                    foreach (string k in Known)
                    {
                        if (k.Length != n || k[0] != buf[start]) continue;
                        int j = 1;
                        while (j < n && k[j] == buf[start + j]) j++;
                        if (j == n)
                        {
                            pos = i + 1;
                            return k;
                        }
                    }
                    break;
                }
            }
            return ReadString();
        }

        /// <summary>A string value (the reader must be at its opening quote, whitespace allowed).</summary>
        public string ReadString()
        {
            SkipWhitespace();
            if (Peek() != '"') throw Error("expected a string");
            pos++;
            // Fast path: the whole string, without escapes, inside the buffer.
            for (int i = pos; i < len; i++)
            {
                char c = buf[i];
                if (c == '"')
                {
                    string s = new string(buf, pos, i - pos);
                    pos = i + 1;
                    return s;
                }
                if (c == '\\') break;
            }
            scratch.Clear();
            while (true)
            {
                if (pos >= len && !Fill()) throw Error("unterminated string");
                int start = pos;
                while (pos < len && buf[pos] != '"' && buf[pos] != '\\') pos++;
                scratch.Append(buf, start, pos - start);
                if (pos >= len) continue;
                char c = buf[pos++];
                if (c == '"') return scratch.ToString();
                int e = Peek();
                if (e < 0) throw Error("unterminated escape");
                pos++;
                switch ((char)e)
                {
                    case '"': scratch.Append('"'); break;
                    case '\\': scratch.Append('\\'); break;
                    case '/': scratch.Append('/'); break;
                    case 'b': scratch.Append('\b'); break;
                    case 'f': scratch.Append('\f'); break;
                    case 'n': scratch.Append('\n'); break;
                    case 'r': scratch.Append('\r'); break;
                    case 't': scratch.Append('\t'); break;
                    case 'u':
                        int v = 0;
                        for (int k = 0; k < 4; k++)
                        {
                            int h = Peek();
                            if (h < 0) throw Error("short \\u escape");
                            pos++;
                            int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                            if (d < 0) throw Error("invalid \\u escape");
                            v = (v << 4) | d;
                        }
                        scratch.Append((char)v);
                        break;
                    default:
                        throw Error("invalid escape \\" + (char)e);
                }
            }
        }

        /// <summary>The text of a number value, as written.</summary>
        public string ReadNumberText()
        {
            SkipWhitespace();
            scratch.Clear();
            while (true)
            {
                int c = Peek();
                if (c < 0 || "+-0123456789.eE".IndexOf((char)c) < 0) break;
                scratch.Append((char)c);
                pos++;
            }
            if (scratch.Length == 0) throw Error("expected a number");
            return scratch.ToString();
        }

        /// <summary>A string or a number as text, null for JSON null (for fields servers write either way).</summary>
        public string ReadScalarText()
        {
            char c = PeekValue();
            if (c == '"') return ReadString();
            if (c == 'n') { ReadWord("null"); return null; }
            if (c == 't' || c == 'f') return ReadBool() ? "true" : "false";
            return ReadNumberText();
        }

        public long ReadInt64()
        {
            string t = ReadScalarText();
            if (t != null && long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v)) return v;
            if (t != null && double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && d >= long.MinValue && d <= long.MaxValue) return (long)d;
            throw Error("expected an integer but found " + (t ?? "null"));
        }

        /// <summary>
        /// A 64-bit integer written as a decimal string ("123", the Hrana form) or a number; false when the value
        /// is something else (left consumed as text in <paramref name="text"/>).
        /// </summary>
        public bool TryReadInt64(out long value, out string text)
        {
            SkipWhitespace();
            text = null;
            if (Peek() == '"')
            {
                int start = pos + 1, i = start;
                bool negative = i < len && buf[i] == '-';
                if (negative) i++;
                ulong acc = 0;
                int digits = 0;
                while (i < len && digits <= 19)
                {
                    char c = buf[i];
                    if (c < '0' || c > '9') break;
                    acc = acc * 10 + (ulong)(c - '0');
                    digits++;
                    i++;
                }
                if (i < len && buf[i] == '"' && digits > 0 && digits <= 18)
                {
                    pos = i + 1;
                    value = negative ? -(long)acc : (long)acc;
                    return true;
                }
            }
            text = ReadScalarText();
            value = 0;
            return text != null && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
        }

        /// <summary>Skips one value of any kind.</summary>
        public void SkipValue()
        {
            char c = PeekValue();
            switch (c)
            {
                case '{':
                    {
                        pos++;
                        bool first = true;
                        while (NextProperty(ref first, out _)) SkipValue();
                        return;
                    }
                case '[':
                    {
                        pos++;
                        bool first = true;
                        while (NextElement(ref first)) SkipValue();
                        return;
                    }
                case '"': ReadString(); return;
                case 't': ReadWord("true"); return;
                case 'f': ReadWord("false"); return;
                case 'n': ReadWord("null"); return;
                default: ReadNumberText(); return;
            }
        }

        /// <summary>Whether only whitespace is left.</summary>
        public bool AtEnd()
        {
            SkipWhitespace();
            return Peek() < 0;
        }

        public FormatException Error(string what) => new FormatException($"Invalid JSON at character {Position}: {what}.");
    }
}
