using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace TursoBackup.Engine.IO
{
    /// <summary>Append-only JSON-lines logs in the vault (verifications, gaps): one compact object per line, fsynced.</summary>
    public static class JsonLines
    {
        public static void Append(string path, Dictionary<string, object> record)
        {
            var bytes = new UTF8Encoding(false).GetBytes(Json.WriteCompact(record) + "\n");
            using (var fs = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite))
            {
                OwnerOnly.File(path);
                fs.Write(bytes, 0, bytes.Length);
                fs.Flush(true);
            }
        }

        /// <summary>Every readable line as an object; a torn last line (a crash mid-append) or a hand edit is skipped.</summary>
        public static IEnumerable<Dictionary<string, object>> Read(string path)
        {
            if (!File.Exists(path)) yield break;
            foreach (var line in File.ReadAllLines(path))
            {
                if (string.IsNullOrWhiteSpace(line)) continue;
                Dictionary<string, object> record = null;
                try { record = Json.Parse(line) as Dictionary<string, object>; }
                catch (FormatException) { }
                if (record != null) yield return record;
            }
        }
    }
}
