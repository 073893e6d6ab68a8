using System;

namespace TursoBackup
{
    /// <summary>What to do with a row that exists in the destination with other values than in the source.</summary>
    public enum ConflictAction
    {
        /// <summary>The whole recovery is rolled back with an error naming the first conflicting key.</summary>
        Abort,
        /// <summary>The destination's row is kept (counted as Skipped).</summary>
        Ignore,
        /// <summary>The destination's row is overwritten with the source's values (counted as Replaced).</summary>
        Replace,
    }

    /// <summary>What a row recovery did to one table (Restore-TursoRow).</summary>
    public sealed class RowRecoveryResult
    {
        /// <summary>The recovery's id: its journal entry and its undo data (Undo-TursoRecovery -Id).</summary>
        public string Id { get; set; }
        public string Table { get; set; }
        /// <summary>Rows of the source that matched the predicate.</summary>
        public long Matched { get; set; }
        /// <summary>Matched rows whose key was not in the destination: inserted.</summary>
        public long Inserted { get; set; }
        /// <summary>Matched rows whose key was in the destination with other values: overwritten (ConflictAction Replace).</summary>
        public long Replaced { get; set; }
        /// <summary>Matched rows not written: identical in the destination, or a conflict under ConflictAction Ignore.</summary>
        public long Skipped { get; set; }
        public string Source { get; set; }
        public string Destination { get; set; }
        public TimeSpan Duration { get; set; }
        /// <summary>Whether undo data was recorded (false when nothing was written).</summary>
        public bool UndoAvailable { get; set; }
    }

    /// <summary>What a row recovery WOULD do to one table (-WhatIf): nothing is written.</summary>
    public sealed class RowRecoveryPlan
    {
        public string Table { get; set; }
        public long Matched { get; set; }
        public long WouldInsert { get; set; }
        public long WouldReplace { get; set; }
        public long WouldSkip { get; set; }
        /// <summary>Matched rows present in the destination with other values (whatever the ConflictAction).</summary>
        public long Conflicts { get; set; }
        /// <summary>With ConflictAction Abort and conflicts: the first conflicting key (the recovery would fail), else null.</summary>
        public string FirstConflict { get; set; }
        /// <summary>Up to 5 of the statements it would run, values as SQL literals.</summary>
        public string[] Sample { get; set; } = new string[0];
    }

    /// <summary>What a table recovery did (Restore-TursoTable).</summary>
    public sealed class TableRecoveryResult
    {
        public string Id { get; set; }
        /// <summary>The table in the source.</summary>
        public string Table { get; set; }
        /// <summary>The name it was written under in the destination (the table's own name unless -NewName).</summary>
        public string NewName { get; set; }
        public long Rows { get; set; }
        public int Indexes { get; set; }
        public int Triggers { get; set; }
        /// <summary>True when a table of that name in the destination was replaced (its old content is in the undo data).</summary>
        public bool Replaced { get; set; }
        public string Source { get; set; }
        public string Destination { get; set; }
        public TimeSpan Duration { get; set; }
    }

    /// <summary>One line of a vault's recovery journal (Get-TursoRecoveryHistory).</summary>
    public sealed class RecoveryLogEntry
    {
        public string Id { get; set; }
        public DateTimeOffset At { get; set; }
        /// <summary>Restore, PointInTimeRestore, Branch, RowRecovery, TableRecovery, Undo …</summary>
        public string Action { get; set; }
        /// <summary>The database the action is about (the destination's name).</summary>
        public string Database { get; set; }
        public DateTimeOffset? PointInTime { get; set; }
        /// <summary>What was changed (a path, a URL, a database name).</summary>
        public string Target { get; set; }
        /// <summary>Where the data came from (a branch, a backup id, a path).</summary>
        public string Source { get; set; }
        /// <summary>The tables concerned, when the action is about tables.</summary>
        public string[] Tables { get; set; }
        /// <summary>"Succeeded" or "Failed: &lt;error&gt;".</summary>
        public string Result { get; set; }
        /// <summary>user@machine.</summary>
        public string User { get; set; }
        public string Reason { get; set; }
        /// <summary>Rows written (inserted + replaced, or deleted + restored by an undo).</summary>
        public long? Rows { get; set; }
        public long? Bytes { get; set; }
        /// <summary>The undo data's id (a row/table recovery: its own id; an Undo: the recovery it undid).</summary>
        public string UndoId { get; set; }

        public bool Succeeded => Result == "Succeeded";

        /// <summary>Environment.UserName@MachineName.</summary>
        public static string CurrentUser()
        {
            string user, machine;
            try { user = Environment.UserName; } catch (Exception) { user = "?"; }
            try { machine = Environment.MachineName; } catch (Exception) { machine = "?"; }
            return user + "@" + machine;
        }
    }
}
