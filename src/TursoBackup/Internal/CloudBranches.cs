using System;
using TursoBackup.Engine.Errors;

namespace TursoBackup.Internal
{
    /// <summary>New-TursoBranch -Database and Restore-TursoPointInTime -NewDatabase: one Platform API branch, one token to pipe on.</summary>
    internal static class CloudBranches
    {
        /// <summary>Read-only tokens attached to new branches last this long (enough for a recovery drill).</summary>
        public static readonly TimeSpan TokenLifetime = TimeSpan.FromDays(1);

        public static void Create(TursoCmdlet cmdlet, string database, string name, DateTimeOffset? at, string group)
        {
            Engine.Cloud.TursoCloudClient client = null;
            try
            {
                client = CloudSession.Require(cmdlet.VerboseFromAnyThread);
            }
            catch (TursoBackupException ex)
            {
                cmdlet.ThrowFailure(ex);
            }
            string shown = name ?? Engine.Cloud.TursoCloudClient.DefaultBranchName(at, DateTimeOffset.UtcNow);
            if (!cmdlet.ShouldProcessUnattended($"{client.Organization}/{shown}",
                    at.HasValue ? $"Create branch '{shown}' of Turso database '{database}' as of {at:yyyy-MM-ddTHH:mm:ssZ}" : $"Create branch '{shown}' of Turso database '{database}' as of now", "Creating Turso database", "create it", "created")) return;
            TursoBranch branch = null;
            try
            {
                branch = client.CreateBranch(database, name, at, group, cmdlet.Cancellation);
                cmdlet.WriteVerbose($"Branch '{branch.Name}' of '{database}' is at {branch.Url}; minting a read-only token valid for {TokenLifetime.TotalHours:0} h so it can be piped on.");
                branch.AuthToken = Secrets.Protect(client.CreateDatabaseToken(branch.Name, Engine.Cloud.TursoCloudClient.FormatExpiration(TokenLifetime), true, cmdlet.Cancellation));
            }
            catch (TursoBackupException ex)
            {
                // Timestamp errors (too old, future, format) and API refusals are terminating: nothing was created.
                if (branch == null) cmdlet.ThrowFailure(ex);
                cmdlet.WriteFailure(ex);
            }
            cmdlet.WriteObject(branch);
        }
    }
}
