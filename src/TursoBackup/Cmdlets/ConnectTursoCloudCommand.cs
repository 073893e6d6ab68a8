using System;
using System.Management.Automation;
using System.Security;
using TursoBackup.Engine.Cloud;
using TursoBackup.Engine.Errors;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>Connects this PowerShell session to the Turso Platform API for one organization and checks the token.</summary>
    [Cmdlet(VerbsCommunications.Connect, "TursoCloud", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(TursoCloudConnection))]
    public sealed class ConnectTursoCloudCommand : TursoCmdlet
    {
        /// <summary>The organization slug (default: $env:TURSO_ORG).</summary>
        [Parameter(Position = 0)]
        [ValidateNotNullOrEmpty]
        public string Organization { get; set; }

        /// <summary>A Platform API token (default: $env:TURSO_API_TOKEN). Plain text is accepted and turned into a SecureString at once.</summary>
        [Parameter]
        [SecretTransformation]
        public SecureString ApiToken { get; set; }

        /// <summary>The API's address (default https://api.turso.tech).</summary>
        [Parameter]
        [ValidateNotNull]
        public Uri BaseUri { get; set; }

        protected override void ProcessRecord()
        {
            string org = Organization ?? Environment.GetEnvironmentVariable("TURSO_ORG");
            string token = ApiToken != null ? Secrets.Reveal(ApiToken) : Environment.GetEnvironmentVariable("TURSO_API_TOKEN");
            if (string.IsNullOrEmpty(org))
            {
                ThrowFailure(new TursoBackupException(FailureKind.InvalidArgument, "No organization: pass -Organization <slug> or set TURSO_ORG.", "Organization") { ErrorId = ErrorIds.NoOrganization });
            }
            if (string.IsNullOrEmpty(token))
            {
                ThrowFailure(new TursoBackupException(FailureKind.InvalidArgument,
                    "No API token: pass -ApiToken or set TURSO_API_TOKEN (create one with `turso auth api-tokens mint <name>`).", "ApiToken") { ErrorId = ErrorIds.NoApiToken });
            }
            if (!ShouldProcessUnattended(org, "Connect this PowerShell session to the Turso Platform API", "Connecting to organization", "connect", "changed")) return;
            TursoCloudClient client = null;
            TursoCloudConnection connection = null;
            try
            {
                client = new TursoCloudClient(org, token, BaseUri) { Log = VerboseFromAnyThread };
                WriteVerbose($"Checking the API token against {client.BaseUri} for organization '{org}'.");
                connection = client.Validate(Cancellation);
            }
            catch (TursoBackupException ex)
            {
                client?.Dispose();
                ThrowFailure(ex);
            }
            CloudSession.Set(client);
            WriteObject(connection);
        }
    }
}
