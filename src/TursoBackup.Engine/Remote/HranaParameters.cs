using System;
using System.Collections.Generic;
using TursoBackup.Engine.Errors;

namespace TursoBackup.Engine.Remote
{
    /// <summary>
    /// Binds named arguments on the client: the statement's parameters are numbered the way SQLite numbers them
    /// (<c>?</c> takes the next number, <c>?NNN</c> is NNN, a name takes the next number the first time it appears and
    /// the same number after that) and every argument is sent by position. tursodb --sync-server ignores Hrana's
    /// <c>named_args</c> (0.7.0 binds positional arguments only), and every Hrana server binds positional ones, so
    /// this works the same everywhere.
    /// </summary>
    internal static class HranaParameters
    {
        private static readonly char[] Prefixes = { ':', '@', '$' };

        /// <summary>The positional argument list for <paramref name="sql"/> with <paramref name="named"/> folded in.</summary>
        public static IReadOnlyList<object> Bind(string sql, IReadOnlyList<object> args, IReadOnlyDictionary<string, object> named)
        {
            if (named == null || named.Count == 0) return args;
            var names = new Dictionary<string, int>(StringComparer.Ordinal);
            int count = Scan(sql, names);
            int positional = args?.Count ?? 0;
            if (positional > count)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"The statement has {count} parameter(s) but {positional} positional argument(s) were given with named ones. Give each parameter one value.");
            }
            var values = new object[count];
            var bound = new bool[count];
            for (int i = 0; i < positional; i++)
            {
                values[i] = args[i];
                bound[i] = true;
            }
            foreach (var kv in named)
            {
                string key = kv.Key ?? string.Empty;
                int index = -1;
                if (key.Length > 0 && Array.IndexOf(Prefixes, key[0]) >= 0)
                {
                    if (names.TryGetValue(key, out int found)) index = found;
                }
                else
                {
                    foreach (char p in Prefixes)
                    {
                        if (names.TryGetValue(p + key, out int found))
                        {
                            index = found;
                            break;
                        }
                    }
                }
                if (index < 0)
                {
                    throw new TursoBackupException(FailureKind.InvalidArgument,
                        $"The named argument '{key}' matches no parameter of the statement (its parameters: {Describe(names)}). Check the name.");
                }
                values[index - 1] = kv.Value;
                bound[index - 1] = true;
            }
            foreach (var kv in names)
            {
                if (!bound[kv.Value - 1] && kv.Key[0] != '?')
                {
                    throw new TursoBackupException(FailureKind.InvalidArgument,
                        $"The parameter {kv.Key} of the statement has no value. Add it to the named arguments.");
                }
            }
            return values;
        }

        private static string Describe(Dictionary<string, int> names)
        {
            var list = new List<string>();
            foreach (var kv in names) if (kv.Key[0] != '?') list.Add(kv.Key);
            return list.Count == 0 ? "none with a name" : string.Join(", ", list);
        }

        /// <summary>Numbers the parameters of <paramref name="sql"/>; returns the highest number (the parameter count).</summary>
        internal static int Scan(string sql, Dictionary<string, int> names)
        {
            int max = 0;
            int i = 0, n = sql.Length;
            while (i < n)
            {
                char c = sql[i];
                if (c == '\'' || c == '"' || c == '`')
                {
                    i++;
                    while (i < n)
                    {
                        if (sql[i] == c)
                        {
                            if (i + 1 < n && sql[i + 1] == c) { i += 2; continue; }
                            break;
                        }
                        i++;
                    }
                    i++;
                }
                else if (c == '[')
                {
                    while (i < n && sql[i] != ']') i++;
                    i++;
                }
                else if (c == '-' && i + 1 < n && sql[i + 1] == '-')
                {
                    while (i < n && sql[i] != '\n') i++;
                }
                else if (c == '/' && i + 1 < n && sql[i + 1] == '*')
                {
                    int end = sql.IndexOf("*/", i + 2, StringComparison.Ordinal);
                    i = end < 0 ? n : end + 2;
                }
                else if (c == '?')
                {
                    int j = i + 1;
                    while (j < n && sql[j] >= '0' && sql[j] <= '9') j++;
                    if (j > i + 1 && int.TryParse(sql.Substring(i + 1, j - i - 1), out int number) && number > 0)
                    {
                        string key = sql.Substring(i, j - i);
                        if (!names.ContainsKey(key)) names[key] = number;
                        if (number > max) max = number;
                    }
                    else
                    {
                        max++;
                    }
                    i = j;
                }
                else if (c == ':' || c == '@' || c == '$')
                {
                    int j = i + 1;
                    while (j < n && IsWordChar(sql[j])) j++;
                    if (j > i + 1)
                    {
                        string key = sql.Substring(i, j - i);
                        if (!names.ContainsKey(key)) names[key] = ++max;
                    }
                    i = Math.Max(j, i + 1);
                }
                else if (IsWordChar(c))
                {
                    while (i < n && IsWordChar(sql[i])) i++;
                }
                else
                {
                    i++;
                }
            }
            return max;
        }

        private static bool IsWordChar(char c) =>
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$' || c >= 0x80;
    }
}
