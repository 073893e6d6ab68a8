using System.Text;
using TursoBackup.Engine.Recovery;

namespace TursoBackup.Tests.Recovery;

public class RecoveryJournalTests : TempFolderTest
{
    private static RecoveryLogEntry Entry(string db, int n) => new RecoveryLogEntry
    {
        Action = "RowRecovery", Database = db, Target = "/x/" + db + ".db", Source = "/x/branch.db", Result = "Succeeded",
        Reason = "test " + n, Rows = n, Tables = new[] { "customers", "orders" },
    };

    [Fact]
    public void Entries_round_trip_oldest_first_and_filter_by_database()
    {
        string vault = P("vault");
        RecoveryJournal.Append(vault, Entry("prod", 1));
        RecoveryJournal.Append(vault, new RecoveryLogEntry { Action = "PointInTimeRestore", Database = "other", PointInTime = DateTimeOffset.Parse("2025-01-02T03:04:05Z"), Result = "Failed: boom", Bytes = 42 });
        RecoveryJournal.Append(vault, Entry("prod", 3));
        var all = RecoveryJournal.Read(vault).ToList();
        Assert.Equal(3, all.Count);
        Assert.Equal(new[] { "test 1", null, "test 3" }, all.Select(e => e.Reason));
        Assert.All(all, e => Assert.Contains("@", e.User));
        Assert.All(all, e => Assert.False(string.IsNullOrEmpty(e.Id)));
        Assert.Equal(DateTimeOffset.Parse("2025-01-02T03:04:05Z"), all[1].PointInTime);
        Assert.Equal(42, all[1].Bytes);
        Assert.Equal(new[] { "customers", "orders" }, all[0].Tables);
        Assert.Equal(2, RecoveryJournal.Read(vault, "PROD").Count());
        Assert.True(all[0].At <= all[2].At);
    }

    [Fact]
    public void A_torn_last_line_is_skipped_and_the_next_append_starts_a_new_line()
    {
        string vault = P("vault");
        RecoveryJournal.Append(vault, Entry("prod", 1));
        RecoveryJournal.Append(vault, Entry("prod", 2));
        string path = RecoveryJournal.PathOf(vault);
        var bytes = File.ReadAllBytes(path);
        // Cut the second line in the middle (a crash mid-append).
        int secondStart = Array.IndexOf(bytes, (byte)'\n') + 1;
        File.WriteAllBytes(path, bytes.Take(secondStart + 20).ToArray());
        Assert.Single(RecoveryJournal.Read(vault));
        RecoveryJournal.Append(vault, Entry("prod", 3));
        var entries = RecoveryJournal.Read(vault).ToList();
        Assert.Equal(new long?[] { 1, 3 }, entries.Select(e => e.Rows));
        Assert.EndsWith("\n", File.ReadAllText(path));
    }

    [Fact]
    public void Two_threads_appending_a_thousand_entries_each_never_interleave()
    {
        string vault = P("vault");
        RecoveryJournal.Append(vault, Entry("seed", 0));
        var threads = new[] { "a", "b" }.Select(db => new Thread(() =>
        {
            for (int i = 1; i <= 1000; i++) RecoveryJournal.Append(vault, Entry(db, i));
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        var lines = File.ReadAllLines(RecoveryJournal.PathOf(vault));
        Assert.Equal(2001, lines.Length);
        var entries = RecoveryJournal.Read(vault).ToList();
        Assert.Equal(2001, entries.Count);
        foreach (var db in new[] { "a", "b" })
            Assert.Equal(Enumerable.Range(1, 1000).Select(i => (long?)i), entries.Where(e => e.Database == db).Select(e => e.Rows));
    }

    [SkippableFact]
    public void A_writer_killed_mid_line_leaves_a_journal_that_reads_and_appends()
    {
        string bash = Peers.Require("bash");
        string vault = P("vault");
        RecoveryJournal.Append(vault, Entry("prod", 1));
        string path = RecoveryJournal.PathOf(vault);
        // A process that writes half a line, then is killed -9 before it can finish it.
        var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(bash,
            new[] { "-c", $"printf '%s' '{{\"id\":\"torn\",\"at\":\"2025-01-01T00:00:00Z\",\"act' >> '{path}'; kill -9 $$" }) { UseShellExecute = false });
        p.WaitForExit();
        Assert.Equal(137, p.ExitCode);
        Assert.False(File.ReadAllText(path).EndsWith("\n"));
        Assert.Single(RecoveryJournal.Read(vault));
        RecoveryJournal.Append(vault, Entry("prod", 2));
        Assert.Equal(new long?[] { 1, 2 }, RecoveryJournal.Read(vault).Select(e => e.Rows));
    }

    [Fact]
    public void Reading_a_vault_without_a_journal_gives_nothing()
    {
        string vault = P("vault");
        Engine.Vault.BackupVault.OpenOrCreate(vault);
        Assert.Empty(RecoveryJournal.Read(vault));
    }
}
