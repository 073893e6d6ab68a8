using System;
using System.Management.Automation;
using System.Security;
using TursoBackup.Engine.Cloud;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>Mints a database token (JWT) for a Turso Cloud database, returned as a SecureString (or, with -AsPlainText, a string).</summary>
    [Cmdlet(VerbsCommon.New, "TursoDatabaseToken", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(SecureString))]
    [OutputType(typeof(string))]
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

        /// <summary>Returns the token as plain text (for another program); it is then visible to whatever prints it.</summary>
        [Parameter]
        public SwitchParameter AsPlainText { get; set; }

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
            if (!ShouldProcessUnattended(Database, $"Create a {(ReadOnly ? "read-only" : "full-access")} database token expiring '{expiration}'", "Creating a token for", "create it", "created")) return;
            TryRun(() =>
            {
                var client = CloudSession.Require(VerboseFromAnyThread);
                string token = client.CreateDatabaseToken(Database, expiration, ReadOnly, Cancellation);
                if (AsPlainText) WriteObject(token);
                else WriteObject(Secrets.Protect(token));
            }, Database);
        }
    }
}
