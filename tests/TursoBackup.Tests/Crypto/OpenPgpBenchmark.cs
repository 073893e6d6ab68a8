using System.Diagnostics;
using System.Security;
using TursoBackup.Engine.Crypto;
using Xunit.Abstractions;

namespace TursoBackup.Tests.Crypto;

/// <summary>
/// Not a test: throughput of OpenPgp against gpg and a plain copy, 256 MiB of random data, file to file. Runs only with
/// TURSO_BENCH=1 (`TURSO_BENCH=1 dotnet test -c Release --filter "Category=Benchmark"`); the figures go to
/// $TMPDIR/openpgp-bench.txt and the test output.
/// </summary>
public sealed class OpenPgpBenchmark : TempFolderTest
{
    private readonly ITestOutputHelper output;

    public OpenPgpBenchmark(ITestOutputHelper output) { this.output = output; }

    [SkippableFact]
    [Trait("Category", "Benchmark")]
    public void Throughput_256_MiB()
    {
        Skip.IfNot(Environment.GetEnvironmentVariable("TURSO_BENCH") == "1", "benchmark: set TURSO_BENCH=1");
        string gpg = Peers.Require("gpg");
        string home = P("gnupg");
        Directory.CreateDirectory(home);
        File.SetUnixFileMode(home, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var env = new Dictionary<string, string> { ["GNUPGHOME"] = home };
        const string pass = "bench pass";
        var ss = new SecureString();
        foreach (char c in pass) ss.AppendChar(c);
        var data = new byte[256 << 20];
        new Random(1).NextBytes(data);
        File.WriteAllBytes(P("plain"), data);
        var lines = new List<string>();
        double Mb(TimeSpan t) => (256.0 * 1024 * 1024 / 1e6) / t.TotalSeconds;
        void Note(string what, TimeSpan t)
        {
            string l = $"{what,-52} {t.TotalSeconds,6:F2} s  {Mb(t),6:F0} MB/s";
            lines.Add(l);
            output.WriteLine(l);
        }
        TimeSpan Time(Action a) { var sw = Stopwatch.StartNew(); a(); return sw.Elapsed; }

        var keys = new EncryptionKeys { Passphrase = ss };
        keys.Describe();
        var decrypting = new DecryptionKeys { Passphrase = ss };
        // warm-up (JIT, S2K once: it is cached per instance, as in a command)
        void Encrypt(string to)
        {
            using var i = File.OpenRead(P("plain"));
            using var o = File.Create(to);
            using (var e = OpenPgp.Encrypt(o, keys, "plain")) i.CopyTo(e, 1 << 20);
        }
        void Decrypt(string from, string to)
        {
            using var i = File.OpenRead(from);
            using var o = File.Create(to);
            using var d = OpenPgp.Decrypt(i, decrypting, "bench");
            d.CopyTo(o, 1 << 20);
        }
        Encrypt(P("warm.gpg"));
        Decrypt(P("warm.gpg"), P("warm.out"));
        for (int round = 0; round < 2; round++)
        {
            Note("file copy (File.Copy)", Time(() => File.Copy(P("plain"), P("copy"), true)));
            Note("file copy (streams, 1 MiB buffer)", Time(() => { using var i = File.OpenRead(P("plain")); using var o = File.Create(P("copy2")); i.CopyTo(o, 1 << 20); }));
            foreach (bool parallel in new[] { true, false })
            {
                SeipdWriter.ParallelHash = SeipdReader.ParallelHash = parallel;
                Note($"ours encrypt (SHA-1 {(parallel ? "on another thread" : "same thread")})", Time(() => Encrypt(P("ours.gpg"))));
                Note($"ours decrypt (SHA-1 {(parallel ? "on another thread" : "same thread")})", Time(() => Decrypt(P("ours.gpg"), P("ours.out"))));
            }
            SeipdWriter.ParallelHash = SeipdReader.ParallelHash = true;
            Note("gpg --symmetric --cipher-algo AES256 --compress-level 0", Time(() =>
                Assert.Equal(0, Peers.Run(gpg, new[] { "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", pass, "--symmetric", "--cipher-algo", "AES256", "--compress-level", "0", "--output", P("gpg.gpg"), P("plain") }, env: env).Code)));
            Note("gpg --decrypt (gpg's file)", Time(() =>
                Assert.Equal(0, Peers.Run(gpg, new[] { "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", pass, "--output", P("gpg.out"), "--decrypt", P("gpg.gpg") }, env: env).Code)));
            Note("gpg --decrypt (our file)", Time(() =>
                Assert.Equal(0, Peers.Run(gpg, new[] { "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", pass, "--output", P("gpg2.out"), "--decrypt", P("ours.gpg") }, env: env).Code)));
            Note("ours decrypt (gpg's file, S2K included)", Time(() => Decrypt(P("gpg.gpg"), P("ours2.out"))));
            lines.Add("");
        }
        Assert.True(File.ReadAllBytes(P("ours.out")).AsSpan().SequenceEqual(data));
        Assert.True(File.ReadAllBytes(P("gpg2.out")).AsSpan().SequenceEqual(data));
        lines.Insert(0, $"AES CFB on the platform: {AesCfb.PlatformCfbWorks}; {Environment.ProcessorCount} cores");
        File.WriteAllLines(Path.Combine(Path.GetTempPath(), "openpgp-bench.txt"), lines);
    }

    /// <summary>The parts in memory, 256 MiB each: where the time goes (CFB encryption is serial by nature).</summary>
    [SkippableFact]
    [Trait("Category", "Benchmark")]
    public void Parts_in_memory_256_MiB()
    {
        Skip.IfNot(Environment.GetEnvironmentVariable("TURSO_BENCH") == "1", "benchmark: set TURSO_BENCH=1");
        var data = new byte[256 << 20];
        new Random(2).NextBytes(data);
        var outBuf = new byte[(1 << 20) + 32];
        var key = new byte[32];
        var lines = new List<string>();
        void Note(string what, TimeSpan t)
        {
            string l = $"{what,-40} {t.TotalSeconds,6:F3} s  {256.0 * 1024 * 1024 / 1e6 / t.TotalSeconds,6:F0} MB/s";
            lines.Add(l);
            output.WriteLine(l);
        }
        for (int round = 0; round < 2; round++)
        {
            var sw = Stopwatch.StartNew();
            using (var c = new AesCfb(key, true)) for (int o = 0; o < data.Length; o += 1 << 20) c.Encrypt(data, o, outBuf, 0, 1 << 20);
            Note("AES-256-CFB encrypt (platform)", sw.Elapsed);
            sw.Restart();
            using (var c = new AesCfb(key, false)) for (int o = 0; o < data.Length; o += 1 << 20) c.Decrypt(data, o, outBuf, 0, 1 << 20);
            Note("AES-256-CFB decrypt (ECB + XOR)", sw.Elapsed);
            sw.Restart();
            using (var h = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA1))
                for (int o = 0; o < data.Length; o += 1 << 20) h.AppendData(data, o, 1 << 20);
            Note("SHA-1", sw.Elapsed);
            sw.Restart();
            for (int o = 0; o < data.Length; o += 1 << 20) Buffer.BlockCopy(data, o, outBuf, 0, 1 << 20);
            Note("memory copy", sw.Elapsed);
        }
        File.WriteAllLines(Path.Combine(Path.GetTempPath(), "openpgp-parts.txt"), lines);
    }
}
