using System;
using System.Linq;
using System.Threading;
using TursoBackup.Engine.Errors;
using System.Management.Automation;
using System.Security;
using TursoBackup.Engine.Offsite;

namespace TursoBackup.Internal
{
    /// <summary>
    /// A cmdlet that reaches an offsite vault with credentials of its own: the parameters every such cmdlet takes
    /// (Connect-TursoVault, Sync-TursoVault, Copy-TursoBackup). Without any of them, the session's connection
    /// (Connect-TursoVault) or the environment's credentials are used.
    /// </summary>
    public abstract class OffsiteCmdlet : TursoCmdlet
    {
        /// <summary>Azure: account name and key; S3: access key id and secret; SFTP: user and password.</summary>
        [Parameter]
        [Credential]
        public PSCredential Credential { get; set; }

        /// <summary>Azure: a shared access signature.</summary>
        [Parameter]
        [SecretTransformation]
        public SecureString SasToken { get; set; }

        /// <summary>S3: the service URL of an S3-compatible store (default: env AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL; none: AWS).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Endpoint { get; set; }

        /// <summary>S3: the region (default: env AWS_REGION, else us-east-1).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Region { get; set; }

        /// <summary>SFTP: the private key file.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string KeyFile { get; set; }

        /// <summary>SFTP: the passphrase of -KeyFile, when it has one.</summary>
        [Parameter]
        [SecretTransformation]
        public SecureString KeyPassphrase { get; set; }

        /// <summary>SFTP: the host key the server must present ("SHA256:…" as ssh-keygen -lf prints it).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string HostKeyFingerprint { get; set; }

        /// <summary>Options from this cmdlet's parameters; null when none was given (then the session's or the environment's).</summary>
        protected OffsiteOptions GivenOffsiteOptions()
        {
            if (Credential == null && SasToken == null && Endpoint == null && Region == null && KeyFile == null && KeyPassphrase == null && HostKeyFingerprint == null) return null;
            var o = DefaultOffsiteOptions();
            if (Credential != null)
            {
                o.UserName = Credential.UserName;
                o.Password = Credential.Password;
            }
            o.SasToken = SasToken;
            if (Endpoint != null) o.Endpoint = Endpoint;
            o.Region = Region;
            o.KeyFile = KeyFile == null ? null : ResolveNewPath(KeyFile);
            o.KeyPassphrase = KeyPassphrase;
            o.HostKeyFingerprint = HostKeyFingerprint;
            return o;
        }

        /// <summary>The store a -Source or -Destination names: a folder, or the session's connection to a remote vault.</summary>
        protected IObjectStore StoreFor(string vault, out OffsiteVault offsite)
        {
            offsite = null;
            var address = OffsiteAddress.Parse(vault);
            if (!address.IsRemote) return new DirectoryStore(ResolveNewPath(vault));
            offsite = ConnectOffsite(address, GivenOffsiteOptions());
            return offsite.Store;
        }
    
        /// <summary>True under -WhatIf (or $WhatIfPreference).</summary>
        protected bool WhatIfMode =>
            (MyInvocation.BoundParameters.TryGetValue("WhatIf", out var w) && w is SwitchParameter sw && sw.IsPresent)
            || (!MyInvocation.BoundParameters.ContainsKey("WhatIf") && LanguagePrimitives.IsTrue(SessionState.PSVariable.GetValue("WhatIfPreference")));

        /// <summary>
        /// Runs a <see cref="VaultSync"/> from <paramref name="source"/> to <paramref name="target"/> with progress, asking
        /// ShouldProcess first (unless <paramref name="confirmed"/>); under -WhatIf lists each object that would be copied.
        /// Each object that failed is an error naming it and the destination; a failure of the destination itself
        /// (unreachable, refused credentials, no such container) is one error, and null is returned.
        /// </summary>
        /// <param name="encrypt">Encrypts the plain units of a local source on the way (see <see cref="EncryptingView"/>).</param>
        protected VaultSyncResult RunSync(IObjectStore source, IObjectStore target, Func<string, bool> filter, int transfers, string activity, bool confirmed = false,
            Engine.Crypto.EncryptionKeys encrypt = null)
        {
            EncryptingView view = null;
            if (encrypt != null)
            {
                if (!(source is DirectoryStore local))
                {
                    WriteFailure(new TursoBackupException(FailureKind.InvalidArgument,
                        $"Encrypting on the way (-Passphrase, -Recipient) needs a local source vault; {source.DisplayName} is remote. Sync from the local vault, or encrypt the backups when they are made (Backup-TursoDatabase -Passphrase).", source.DisplayName)
                    { ErrorId = "EncryptNeedsLocalSource" });
                    return null;
                }
                if (!WhatIfMode)
                {
                    view = new EncryptingView(local, target.DisplayName, encrypt) { Log = VerboseFromAnyThread };
                    try
                    {
                        RunWithProgress(() => { view.Prepare(filter, Cancellation); return true; }, () => ShowProgress(ActivityId, activity, "Encrypting plain backups for the destination", -1));
                    }
                    catch (OperationCanceledException)
                    {
                        throw new PipelineStoppedException();
                    }
                    foreach (var p in view.Problems)
                    {
                        WriteError(new ErrorRecord(new TursoBackupException(FailureKind.InvalidData, $"{p.Key} was not copied to {target.DisplayName}: {p.Value}.", p.Key),
                            "SourceDamaged", ErrorCategory.InvalidData, p.Key));
                    }
                }
            }
            var sync = new VaultSync((IObjectStore)view ?? source, target) { Filter = filter, Transfers = transfers, Log = VerboseFromAnyThread };
            long done = 0, total = 0;
            string current = null;
            sync.Progress = (d, t, k) =>
            {
                Interlocked.Exchange(ref done, d);
                Interlocked.Exchange(ref total, t);
                Volatile.Write(ref current, k);
            };
            bool whatIf = WhatIfMode;
            if (whatIf) sync.WhatIf = true;
            else if (!confirmed && !ShouldProcessUnattended(target.DisplayName, "Copy what is missing from " + source.DisplayName, "Syncing to", "sync", "copied", terminating: false)) return null;
            int id = NewActivityId();
            VaultSyncResult result;
            try
            {
                result = RunWithProgress(() => sync.Run(Cancellation), () =>
                {
                    long t = Interlocked.Read(ref total);
                    if (t > 0) ShowProgress(id, activity, $"{Interlocked.Read(ref done) / 1048576.0:N1} of {t / 1048576.0:N1} MiB: {Volatile.Read(ref current)}", (int)(Interlocked.Read(ref done) * 100 / t));
                });
            }
            catch (OperationCanceledException)
            {
                throw new PipelineStoppedException();
            }
            catch (Exception ex) when (IsFailure(ex))
            {
                CompleteProgress(id, activity);
                var failure = AsFailure(ex, target.DisplayName);
                // Recorded before the error is written: under -ErrorAction Stop writing it ends the command.
                if (source is DirectoryStore from && !whatIf && System.IO.File.Exists(System.IO.Path.Combine(from.Root, Engine.Vault.BackupVault.MarkerFile)))
                {
                    try { OffsiteLog.RecordFailure(from.Root, target.DisplayName, failure.Message); }
                    catch (Exception rex) when (rex is System.IO.IOException || rex is UnauthorizedAccessException) { }
                }
                WriteFailure(failure);
                return null;
            }
            CompleteProgress(id, activity);
            if (whatIf)
            {
                foreach (var item in result.Items.Where(i => i.Action == VaultSyncAction.WouldCopy)) ShouldProcess($"{item.Key} ({item.Bytes:N0} bytes)", "Copy to " + target.DisplayName);
                return result;
            }
            OffsiteRecorded(source, target, result); // first: under -ErrorAction Stop the first error below ends the command
            WriteVerbose($"{result}: {result.Bytes:N0} bytes in {result.Duration.TotalSeconds:N1} s.");
            foreach (var item in result.FailedItems)
            {
                WriteError(new ErrorRecord(new TursoBackupException(FailureKind.WriteFailed, $"{item.Key} was not copied to {target.DisplayName}: {item.Reason}", item.Key),
                    item.ErrorId ?? "OffsiteCopyFailed", item.ErrorId == "SourceDamaged" || item.ErrorId == "ChecksumMismatch" ? ErrorCategory.InvalidData : ErrorCategory.WriteError, item.Key));
            }
            return result;
        }

        /// <summary>Records a sync from a local vault in that vault (for Get-TursoBackupHealth): never fails the sync.</summary>
        private void OffsiteRecorded(IObjectStore source, IObjectStore target, VaultSyncResult result)
        {
            if (!(source is DirectoryStore local) || result.WhatIf) return;
            try
            {
                OffsiteLog.Record(local.Root, target, result, Cancellation);
            }
            catch (Exception ex) when (ex is TursoBackupException || ex is System.IO.IOException || ex is UnauthorizedAccessException)
            {
                WriteWarning($"The sync to {target.DisplayName} could not be recorded in '{local.Root}' ({ex.Message}): Get-TursoBackupHealth will not see it.");
            }
        }
    }
}
