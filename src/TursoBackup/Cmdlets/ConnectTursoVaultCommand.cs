using System;
using System.IO;
using System.Linq;
using System.Management.Automation;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Offsite;
using TursoBackup.Engine.Vault;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>
    /// Connects this session to an offsite vault (Azure Blob, S3, SFTP) with the credentials given, checks them, and
    /// mirrors its manifests: later commands given the same -Vault address use this connection.
    /// </summary>
    [Cmdlet(VerbsCommunications.Connect, "TursoVault", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(OffsiteVaultConnection))]
    public sealed class ConnectTursoVaultCommand : OffsiteCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Vault { get; set; }

        protected override void ProcessRecord()
        {
            OffsiteAddress address;
            try
            {
                address = OffsiteAddress.Parse(Vault);
            }
            catch (TursoBackupException ex)
            {
                WriteFailure(ex);
                return;
            }
            if (!address.IsRemote)
            {
                WriteFailure(new TursoBackupException(FailureKind.InvalidArgument,
                    $"'{Vault}' is a folder: it needs no connection; give it to -Vault as it is. Connect-TursoVault takes https://<account>.blob.core.windows.net/<container>, s3://bucket/prefix or sftp://user@host/path.", Vault) { ErrorId = "NotARemoteVault" });
                return;
            }
            if (!ShouldProcessUnattended(address.DisplayName, "Connect this session to the offsite vault", "Connecting to", "connect", "changed")) return;
            TryRun(() =>
            {
                var offsite = ConnectOffsite(address, GivenOffsiteOptions() ?? DefaultOffsiteOptions());
                var result = new OffsiteVaultConnection { Vault = address.DisplayName, Kind = address.Kind.ToString(), Mirror = offsite.CacheRoot };
                try
                {
                    RunWithProgress(() => { offsite.Refresh(Cancellation); return 0; }, null);
                    var vault = BackupVault.OpenExisting(offsite.CacheRoot);
                    result.Databases = vault.DatabaseNames()
                        .Union(Directory.Exists(Path.Combine(offsite.CacheRoot, Engine.Wal.WalArchiveLayout.Folder))
                            ? Directory.GetDirectories(Path.Combine(offsite.CacheRoot, Engine.Wal.WalArchiveLayout.Folder)).Select(Path.GetFileName) : Enumerable.Empty<string>())
                        .Where(BackupVault.IsPlainName).Distinct().OrderBy(n => n, StringComparer.Ordinal).ToArray();
                    result.Backups = vault.List().Count;
                }
                catch (TursoBackupException ex) when (ex.Kind == FailureKind.NotFound)
                {
                    WriteVerbose($"{address.DisplayName} holds no vault yet ({ex.Message}) Sync-TursoVault or Copy-TursoBackup makes one there.");
                }
                WriteObject(result);
            }, address.DisplayName);
        }
    }
}
