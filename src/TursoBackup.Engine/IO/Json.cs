using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace TursoBackup.Engine.IO
{
    /// <summary>
    /// A small JSON reader and writer for manifests. The module carries no JSON library so that it loads the same
    /// in Windows PowerShell 5.1 and pwsh 7 without binding redirects (docs/decisions.md).
    /// Objects are Dictionary&lt;string, object&gt; (insertion-ordered writes), arrays List&lt;object&gt;,
    /// numbers long or double, plus string, bool and null.
    /// </summary>
    public static class Json
    {
        public static string Write(object value)
        {
            var sb = new StringBuilder();
            WriteValue(sb, value, 0);
            sb.Append('\n');
            return sb.ToString();
        }

        /// <summary>One compact line (no indentation, no newline), for JSON-lines logs.</summary>
        public static string WriteCompact(object value)
        {
            var sb = new StringBuilder();
            WriteValue(sb, value, -1);
            return sb.ToString();
        }

        /// <param name="indent">Nesting depth for pretty output; negative for compact output.</param>
        private static void WriteValue(StringBuilder sb, object value, int indent)
        {
            switch (value)
            {
                case null: sb.Append("null"); break;
                case string s: WriteString(sb, s); break;
                case bool b: sb.Append(b ? "true" : "false"); break;
                case int i: sb.Append(i.ToString(CultureInfo.InvariantCulture)); break;
                case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
                case double d: sb.Append(d.ToString("R", CultureInfo.InvariantCulture)); break;
                case IEnumerable<KeyValuePair<string, object>> obj:
                    {
                        sb.Append('{');
                        bool first = true;
                        bool pretty = indent >= 0;
                        foreach (var kv in obj)
                        {
                            sb.Append(first ? (pretty ? "\n" : "") : (pretty ? ",\n" : ","));
                            first = false;
                            if (pretty) sb.Append(' ', (indent + 1) * 2);
                            WriteString(sb, kv.Key);
                            sb.Append(pretty ? ": " : ":");
                            WriteValue(sb, kv.Value, pretty ? indent + 1 : indent);
                        }
                        if (!first && pretty) { sb.Append('\n'); sb.Append(' ', indent * 2); }
                        sb.Append('}');
                        break;
                    }
                case System.Collections.IEnumerable list:
                    {
                        sb.Append('[');
                        bool first = true;
                        foreach (var item in list)
                        {
                            sb.Append(first ? "" : indent >= 0 ? ", " : ",");
                            first = false;
                            WriteValue(sb, item, indent >= 0 ? indent + 1 : indent);
                        }
                        sb.Append(']');
                        break;
                    }
                default:
                    throw new ArgumentException("Json.Write cannot write a " + value.GetType().Name);
            }
        }

        /// <summary>A JSON string literal (quotes and backslashes escaped, control characters as \n, \r, \t or \uXXXX), runs copied whole.</summary>
        internal static void WriteString(StringBuilder sb, string s)
        {
            sb.Append('"');
            int start = 0;
            for (int i = 0; i < s.Length; i++)
            {
                char c = s[i];
                if (c >= 0x20 && c != '"' && c != '\\') continue;
                sb.Append(s, start, i - start);
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    default: sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture)); break;
                }
                start = i + 1;
            }
            sb.Append(s, start, s.Length - start);
            sb.Append('"');
        }

        public static object Parse(string text)
        {
            int pos = 0;
            var value = ParseValue(text, ref pos);
            SkipWhitespace(text, ref pos);
            if (pos != text.Length) throw Error(text, pos, "unexpected text after the value");
            return value;
        }

        private static object ParseValue(string t, ref int p)
        {
            SkipWhitespace(t, ref p);
            if (p >= t.Length) throw Error(t, p, "unexpected end");
            char c = t[p];
            if (c == '{')
            {
                p++;
                var obj = new Dictionary<string, object>(StringComparer.Ordinal);
                SkipWhitespace(t, ref p);
                if (p < t.Length && t[p] == '}') { p++; return obj; }
                while (true)
                {
                    SkipWhitespace(t, ref p);
                    if (p >= t.Length || t[p] != '"') throw Error(t, p, "expected a property name");
                    string key = ParseString(t, ref p);
                    SkipWhitespace(t, ref p);
                    if (p >= t.Length || t[p] != ':') throw Error(t, p, "expected ':'");
                    p++;
                    obj[key] = ParseValue(t, ref p);
                    SkipWhitespace(t, ref p);
                    if (p < t.Length && t[p] == ',') { p++; continue; }
                    if (p < t.Length && t[p] == '}') { p++; return obj; }
                    throw Error(t, p, "expected ',' or '}'");
                }
            }
            if (c == '[')
            {
                p++;
                var list = new List<object>();
                SkipWhitespace(t, ref p);
                if (p < t.Length && t[p] == ']') { p++; return list; }
                while (true)
                {
                    list.Add(ParseValue(t, ref p));
                    SkipWhitespace(t, ref p);
                    if (p < t.Length && t[p] == ',') { p++; continue; }
                    if (p < t.Length && t[p] == ']') { p++; return list; }
                    throw Error(t, p, "expected ',' or ']'");
                }
            }
            if (c == '"') return ParseString(t, ref p);
            if (Match(t, ref p, "true")) return true;
            if (Match(t, ref p, "false")) return false;
            if (Match(t, ref p, "null")) return null;
            int start = p;
            while (p < t.Length && "+-0123456789.eE".IndexOf(t[p]) >= 0) p++;
            if (start == p) throw Error(t, p, "unexpected character '" + c + "'");
            string num = t.Substring(start, p - start);
            if (long.TryParse(num, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l;
            if (double.TryParse(num, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)) return d;
            throw Error(t, start, "invalid number '" + num + "'");
        }

        private static bool Match(string t, ref int p, string word)
        {
            if (string.CompareOrdinal(t, p, word, 0, word.Length) == 0) { p += word.Length; return true; }
            return false;
        }

        private static string ParseString(string t, ref int p)
        {
            p++; // opening quote
            var sb = new StringBuilder();
            while (p < t.Length)
            {
                char c = t[p++];
                if (c == '"') return sb.ToString();
                if (c != '\\') { sb.Append(c); continue; }
                if (p >= t.Length) break;
                char e = t[p++];
                switch (e)
                {
                    case '"': sb.Append('"'); break;
                    case '\\': sb.Append('\\'); break;
                    case '/': sb.Append('/'); break;
                    case 'b': sb.Append('\b'); break;
                    case 'f': sb.Append('\f'); break;
                    case 'n': sb.Append('\n'); break;
                    case 'r': sb.Append('\r'); break;
                    case 't': sb.Append('\t'); break;
                    case 'u':
                        if (p + 4 > t.Length) throw Error(t, p, "short \\u escape");
                        sb.Append((char)int.Parse(t.Substring(p, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                        p += 4;
                        break;
                    default: throw Error(t, p, "invalid escape");
                }
            }
            throw Error(t, p, "unterminated string");
        }

        private static void SkipWhitespace(string t, ref int p)
        {
            while (p < t.Length && char.IsWhiteSpace(t[p])) p++;
        }

        private static FormatException Error(string t, int p, string what) =>
            new FormatException("Invalid JSON at character " + p + ": " + what + ".");
    }
}
