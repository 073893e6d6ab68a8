using System.Diagnostics;
using System.Security;
using System.Text;
using TursoBackup.Engine.Backup;
using TursoBackup.Engine.Crypto;
using TursoBackup.Engine.Restore;

namespace TursoBackup.Benchmarks
{
    /// <summary>
    /// What encryption costs (issue 14): the default snapshot backup (zstd) of the benchmark database plain, with a
    /// passphrase and for a public key, and its restore plain and encrypted — interleaved in one run on the same files —
    /// beside gpg's own time to encrypt and decrypt the same artifact (AES-256, no compression, the same S2K count), and
    /// our OpenPGP layer alone on that artifact. Best of --runs after a warm-up.
    ///   dotnet run -c Release --project tests/TursoBackup.Benchmarks -- --encrypt [--size 256] [--runs 3] [--write-doc]
    /// </summary>
    public static class EncryptBench
    {
        private const string Pass = "benchmark passphrase, not a secret";

        public static int Start(string[] args)
        {
            int sizeMiB = 256, runs = 3;
            bool writeDoc = false;
            string docPath = null, dir = Path.Combine(Path.GetTempPath(), "tursobackup-bench");
            for (int i = 1; i < args.Length; i++)
            {
                switch (args[i])
                {
                    case "--size": sizeMiB = int.Parse(args[++i]); break;
                    case "--runs": runs = int.Parse(args[++i]); break;
                    case "--dir": dir = Path.GetFullPath(args[++i]); break;
                    case "--write-doc": writeDoc = true; break;
                    case "--doc": docPath = Path.GetFullPath(args[++i]); writeDoc = true; break;
                    default: Console.Error.WriteLine("usage: --encrypt [--size 256] [--runs 3] [--dir PATH] [--write-doc] [--doc PATH]"); return 2;
                }
            }
            var total = Stopwatch.StartNew();
            Directory.CreateDirectory(dir);
            string work = Path.Combine(dir, "encrypt");
            if (Directory.Exists(work)) Directory.Delete(work, true);
            Directory.CreateDirectory(work);
            string db = Workload.Ensure(dir, sizeMiB, false);
            string gnupg = Path.Combine(work, "gnupg");
            Directory.CreateDirectory(gnupg);
            File.SetUnixFileMode(gnupg, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            string pub = MakeKey(gnupg, work);

            var samples = new Dictionary<string, List<double>>();
            void Add(string k, double s) { if (!samples.TryGetValue(k, out var l)) samples[k] = l = new List<double>(); l.Add(s); }
            BackupInfo plainBackup = null, passBackup = null;
            for (int i = 0; i <= runs; i++)
            {
                // One of each per round, in a rotating order, so drift (page cache, the other tenants) spreads evenly.
                var order = new List<string> { "plain", "passphrase", "recipient" };
                for (int r = 0; r < i % 3; r++) { order.Add(order[0]); order.RemoveAt(0); }
                foreach (var what in order)
                {
                    string vault = Path.Combine(work, "vault-" + what + "-" + i);
                    var keys = what == "plain" ? null : what == "passphrase" ? new EncryptionKeys { Passphrase = Secure(Pass) } : new EncryptionKeys { Recipients = { pub } };
                    Tools.SyncAll();
                    var w = Stopwatch.StartNew();
                    var b = new SnapshotBackup().Run(new BackupRequest { SourcePath = db, VaultPath = vault, Encryption = keys });
                    double t = w.Elapsed.TotalSeconds;
                    Console.Error.WriteLine($"  [{i}] backup {what}: {t:F2} s ({b.StoredBytes:N0} bytes stored)");
                    if (i > 0) Add("backup " + what, t);
                    if (what == "plain") plainBackup = b;
                    if (what == "passphrase") passBackup = b;
                    if (i < runs && what != "plain" && what != "passphrase") Directory.Delete(vault, true);
                }
                foreach (var what in i % 2 == 0 ? new[] { "plain", "passphrase" } : new[] { "passphrase", "plain" })
                {
                    string target = Path.Combine(work, "restored-" + what + ".db");
                    if (File.Exists(target)) File.Delete(target);
                    Tools.SyncAll();
                    var w = Stopwatch.StartNew();
                    new BackupRestore { Keys = what == "plain" ? null : new DecryptionKeys { Passphrase = Secure(Pass) } }
                        .Restore(what == "plain" ? plainBackup : passBackup, target, false, null);
                    double t = w.Elapsed.TotalSeconds;
                    Console.Error.WriteLine($"  [{i}] restore {what}: {t:F2} s");
                    if (i > 0) Add("restore " + what, t);
                }
                // The same artifact through gpg and through our OpenPGP layer alone, file to file.
                string artifact = plainBackup.Location;
                string g = Path.Combine(work, "gpg.zst.gpg"), ours = Path.Combine(work, "ours.zst.gpg"), back = Path.Combine(work, "back.zst");
                foreach (var f in new[] { g, ours, back }) if (File.Exists(f)) File.Delete(f);
                Tools.SyncAll();
                double ge = Gpg(gnupg, "--symmetric", "--cipher-algo", "AES256", "--compress-level", "0", "--s2k-digest-algo", "SHA256", "--s2k-count", "65011712", "--passphrase", Pass, "--output", g, artifact);
                Tools.SyncAll();
                double gd = Gpg(gnupg, "--passphrase", Pass, "--output", back, "--decrypt", g);
                File.Delete(back);
                Tools.SyncAll();
                var sw = Stopwatch.StartNew();
                using (var input = File.OpenRead(artifact))
                using (var output = new FileStream(ours, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
                {
                    using (var enc = OpenPgp.Encrypt(output, new EncryptionKeys { Passphrase = Secure(Pass) }, Path.GetFileName(artifact))) input.CopyTo(enc, 1 << 20);
                    output.Flush(true);
                }
                double oe = sw.Elapsed.TotalSeconds;
                Tools.SyncAll();
                sw.Restart();
                using (var input = File.OpenRead(ours))
                using (var output = new FileStream(back, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
                {
                    using (var dec = OpenPgp.Decrypt(input, new DecryptionKeys { Passphrase = Secure(Pass) }, "the benchmark artifact")) dec.CopyTo(output, 1 << 20);
                    output.Flush(true);
                }
                double od = sw.Elapsed.TotalSeconds;
                File.Delete(back);
                Console.Error.WriteLine($"  [{i}] artifact {new FileInfo(artifact).Length / 1048576.0:F0} MiB: gpg encrypt {ge:F2} s, decrypt {gd:F2} s; ours {oe:F2} s, {od:F2} s");
                if (i > 0) { Add("gpg encrypt", ge); Add("gpg decrypt", gd); Add("ours encrypt", oe); Add("ours decrypt", od); }
                if (i < runs)
                {
                    foreach (var v in Directory.GetDirectories(work, "vault-*-" + i)) Directory.Delete(v, true);
                }
            }

            double Best(string k) => samples[k].Min();
            double Median(string k) => samples[k].OrderBy(x => x).ElementAt(samples[k].Count / 2);
            long artifactBytes = new FileInfo(plainBackup.Location).Length;
            var sb = new StringBuilder();
            sb.AppendLine("## Encryption at rest (OpenPGP AES-256) against no encryption and against gpg").AppendLine();
            sb.AppendLine($"The {plainBackup.SourceBytes / 1048576.0:F0} MiB benchmark database (WAL mode), in one run: the default snapshot backup " +
                          "(zstd level 1) plain, with `-Passphrase` and with `-Recipient` (an RSA-2048 key gpg made), and its restore to a new file plain and " +
                          "with the passphrase; interleaved, best of the runs after a warm-up, `sync` before each. Beside them, on the plain backup's " +
                          $"artifact ({artifactBytes / 1048576.0:F1} MiB of zstd): `gpg --symmetric --cipher-algo AES256 --compress-level 0` " +
                          "(the same S2K: SHA-256, 65,011,712 bytes) and `gpg --decrypt`, file to file, and our OpenPGP layer alone on the same file " +
                          $"(written and fsynced). {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {total.Elapsed.TotalMinutes:F1} minutes, {Environment.ProcessorCount} logical processors.").AppendLine();
            sb.AppendLine("```sh").AppendLine($"dotnet run -c Release --project tests/TursoBackup.Benchmarks -- --encrypt{(sizeMiB != 256 ? " --size " + sizeMiB : "")}{(runs != 3 ? " --runs " + runs : "")} --write-doc").AppendLine("```").AppendLine();
            sb.AppendLine("| what | best | median | × plain |");
            sb.AppendLine("|---|---:|---:|---:|");
            foreach (var k in new[] { "backup plain", "backup passphrase", "backup recipient" })
                sb.AppendLine($"| {k.Replace("backup ", "snapshot backup, ")} | {Best(k):F2} s | {Median(k):F2} s | {Best(k) / Best("backup plain"):F2} |");
            foreach (var k in new[] { "restore plain", "restore passphrase" })
                sb.AppendLine($"| {k.Replace("restore ", "restore, ")} | {Best(k):F2} s | {Median(k):F2} s | {Best(k) / Best("restore plain"):F2} |");
            sb.AppendLine();
            sb.AppendLine("| the artifact alone | encrypt | decrypt |");
            sb.AppendLine("|---|---:|---:|");
            sb.AppendLine($"| gpg 2.2 | {Best("gpg encrypt"):F2} s | {Best("gpg decrypt"):F2} s |");
            sb.AppendLine($"| ours (`Crypto/OpenPgp`) | {Best("ours encrypt"):F2} s ({Best("ours encrypt") / Best("gpg encrypt"):F2}× gpg) | {Best("ours decrypt"):F2} s ({Best("ours decrypt") / Best("gpg decrypt"):F2}× gpg) |");
            sb.AppendLine();
            double be = Best("backup passphrase") / Best("backup plain") - 1, br = Best("backup recipient") / Best("backup plain") - 1, rd = Best("restore passphrase") / Best("restore plain") - 1;
            sb.AppendLine($"Against the aim (at most 15 % added): encryption adds {be * 100:F0} % (passphrase) and {br * 100:F0} % (public key) to the backup — " +
                          (Math.Max(be, br) <= 0.15 ? "met" : "**missed**") + $"; decryption adds {rd * 100:F0} % to the restore — " + (rd <= 0.15 ? "met" : "**missed**") +
                          $". What encryption costs is CPU: our OpenPGP layer alone takes {Best("ours encrypt"):F2} s to encrypt this artifact (AES-256-CFB is serial, " +
                          "one block after the other, at the speed of AES-NI's latency; SHA-1 for the integrity check beside it) and the plaintext SHA-256 the manifest records " +
                          $"adds a hash of the same bytes, while the plain backup ({Best("backup plain"):F2} s) already keeps every core of this machine busy " +
                          "(page copy, zstd on two workers, the stored SHA-256, the scratch copy): encryption runs on a thread of its own, which hides it only where a core is free. " +
                          "Decryption (an ECB keystream, fully pipelined) runs ahead of the decompressor on its own thread; the passphrase is stretched once per command (S2K), " +
                          "part of each encrypted time here.");
            Console.WriteLine(sb.ToString());
            if (writeDoc) DocSections.Replace(docPath ?? Path.Combine(Report.RepoRoot(), "docs", "benchmarks.md"), "encrypt", sb.ToString());
            Directory.Delete(work, true);
            return 0;
        }

        private static SecureString Secure(string s)
        {
            var ss = new SecureString();
            foreach (char c in s) ss.AppendChar(c);
            ss.MakeReadOnly();
            return ss;
        }

        private static double Gpg(string home, params string[] args)
        {
            var psi = new ProcessStartInfo("/usr/bin/gpg") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var a in new[] { "--batch", "--yes", "--no-tty", "--pinentry-mode", "loopback" }.Concat(args)) psi.ArgumentList.Add(a);
            psi.Environment["GNUPGHOME"] = home;
            var w = Stopwatch.StartNew();
            using var p = Process.Start(psi)!;
            string err = p.StandardError.ReadToEnd();
            p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0) throw new InvalidOperationException("gpg " + string.Join(' ', args) + " failed: " + err);
            return w.Elapsed.TotalSeconds;
        }

        private static string MakeKey(string home, string work)
        {
            Gpg(home, "--passphrase", "", "--quick-generate-key", "Bench <bench@example.com>", "rsa2048", "default", "never");
            var psi = new ProcessStartInfo("/usr/bin/gpg") { UseShellExecute = false, RedirectStandardOutput = true };
            foreach (var a in new[] { "--batch", "--with-colons", "--list-keys", "bench@example.com" }) psi.ArgumentList.Add(a);
            psi.Environment["GNUPGHOME"] = home;
            string fpr;
            using (var p = Process.Start(psi)!)
            {
                fpr = p.StandardOutput.ReadToEnd().Split('\n').First(l => l.StartsWith("fpr:")).Split(':')[9];
                p.WaitForExit();
            }
            Gpg(home, "--passphrase", "", "--quick-add-key", fpr, "rsa2048", "encr", "never");
            string pub = Path.Combine(work, "bench.pub.asc");
            Gpg(home, "--armor", "--output", pub, "--export", "bench@example.com");
            return pub;
        }
    }
}
