using System;
using System.IO;
using System.Management.Automation;
using System.Security;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Recovery;

namespace TursoBackup.Internal
{
    /// <summary>
    /// A recovery cmdlet: its sources (-Reference, -Difference, -Source) may be a local path or FileInfo, a TursoBranch
    /// (local file or cloud database), a BackupInfo (restored into scratch space, decrypted with -Passphrase/-KeyFile
    /// when encrypted) or a libSQL URL (read as a dump into scratch space, with -AuthToken). Every source is only read.
    /// </summary>
    public abstract class RecoveryCmdlet : DecryptingCmdlet
    {
        /// <summary>The token of a remote source or destination given as a URL (default: $env:TURSO_AUTH_TOKEN; a TursoBranch brings its own).</summary>
        [Parameter]
        [SecretTransformation]
        public SecureString AuthToken { get; set; }

        /// <summary>A local file for <paramref name="input"/>, or a scratch copy of what it names (dispose it after).</summary>
        /// <param name="role">The parameter it came from, for messages ("-Reference").</param>
        protected SourceDatabase OpenSource(object input, string role)
        {
            object value = input is PSObject pso ? pso.BaseObject : input;
            if (value is DatabaseSource source) value = source.Value;
            switch (value)
            {
                case null:
                    throw new TursoBackupException(FailureKind.InvalidArgument, $"{role} is empty. Give a database path, a TursoBranch, a BackupInfo or a libsql:// URL.") { ErrorId = "SourceRequired" };
                case BackupInfo backup:
                    WriteVerbose($"{role}: restoring {Engine.Restore.BackupMaterializer.Describe(backup)} into scratch space.");
                    return RecoverySources.FromBackup(ReloadBackup(backup), Keys, null, null, Cancellation);
                case TursoBranch branch:
                    if (branch.IsCloud)
                    {
                        WriteVerbose($"{role}: reading the cloud branch '{branch.Name}' ({branch.Url}) into scratch space.");
                        return RecoverySources.FromRemote(branch.Url, RemoteAuth.Token(branch.AuthToken ?? AuthToken), null, VerboseFromAnyThread, Cancellation);
                    }
                    return RecoverySources.Local(branch.Location);
                case FileInfo file:
                    return RecoverySources.Local(file.FullName);
                case string text when IsUrl(text):
                    WriteVerbose($"{role}: reading '{text}' over the libSQL remote protocol into scratch space.");
                    return RecoverySources.FromRemote(text, RemoteAuth.Token(AuthToken), null, VerboseFromAnyThread, Cancellation);
                case string path:
                    return RecoverySources.Local(ResolveExistingFile(path, role));
                default:
                    throw new TursoBackupException(FailureKind.InvalidArgument,
                        $"{role} is a {value.GetType().Name}; give a database path, a TursoBranch, a BackupInfo (Get-TursoBackup) or a libsql:// URL.") { ErrorId = "SourceType" };
            }
        }

        /// <summary>True for a libsql://, https:// or http:// address.</summary>
        protected static bool IsUrl(string text) =>
            text.StartsWith("libsql://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
            || text.StartsWith("http://", StringComparison.OrdinalIgnoreCase);

        /// <summary>A path through the provider (relative to the current location), which must be an existing file.</summary>
        protected string ResolveExistingFile(string path, string role)
        {
            string full = ResolveNewPath(path);
            if (!File.Exists(full))
            {
                throw new TursoBackupException(FailureKind.NotFound, $"{role} '{full}' does not exist. Check the path.", full) { ErrorId = "DatabaseNotFound" };
            }
            return full;
        }
    }
}
