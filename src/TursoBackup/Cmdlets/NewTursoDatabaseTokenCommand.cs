using System;
using System.Management.Automation;
using TursoBackup.Engine.Cloud;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>Mints a database token (JWT) for a Turso Cloud database; the token is returned as a SecureString.</summary>
    [Cmdlet(VerbsCommon.New, "TursoDatabaseToken", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(TursoDatabaseToken))]
    public sealed class NewTursoDatabaseTokenCommand : TursoCmdlet
    {
        /// <summary>The database (a TursoDatabase or TursoBranch binds by its Name).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("Name")]
        [ValidateNotNullOrEmpty]
        public string Database { get; set; }

        /// <summary>How long the token is valid (default: 1 day; TimeSpan.Zero: never expires).</summary>
        [Parameter]
        public TimeSpan Expiration { get; set; } = TimeSpan.FromDays(1);

        /// <summary>A token that can only read.</summary>
        [Parameter]
        public SwitchParameter ReadOnly { get; set; }

        protected override void ProcessRecord()
        {
            string expiration = null;
            try
            {
                expiration = TursoCloudClient.FormatExpiration(Expiration == TimeSpan.Zero ? (TimeSpan?)null : Expiration);
            }
            catch (Engine.Errors.TursoBackupException ex)
            {
                ThrowFailure(ex);
            }
            if (!ShouldProcess(Database, $"Create a {(ReadOnly ? "read-only" : "full-access")} database token expiring '{expiration}'")) return;
            TryRun(() =>
            {
                var client = CloudSession.Require(VerboseFromAnyThread);
                var db = client.GetDatabase(Database, Cancellation);
                string token = client.CreateDatabaseToken(Database, expiration, ReadOnly, Cancellation);
                WriteObject(new TursoDatabaseToken
                {
                    Database = db.Name, Organization = client.Organization, Url = db.Url, AuthToken = Secrets.Protect(token),
                    ReadOnly = ReadOnly, Expiration = expiration, CreatedAt = DateTimeOffset.UtcNow,
                });
            }, Database);
        }
    }
}
