using System;

namespace TursoBackup.Engine.Errors
{
    /// <summary>What kind of failure an engine operation met. The cmdlets map it to an ErrorCategory in one place.</summary>
    public enum FailureKind
    {
        NotFound,
        InvalidData,
        InvalidArgument,
        PermissionDenied,
        AlreadyExists,
        Busy,
        WriteFailed,
        NotEnabled,
        OperationStopped,
        /// <summary>The operation cannot run in this state (e.g. a confirmation that a non-interactive session cannot give).</summary>
        InvalidOperation,
        /// <summary>A destination (server, storage account, SFTP host) that did not answer: refused, timed out, no such host.</summary>
        Unreachable,
        /// <summary>A destination that refused the credentials (wrong key, expired SAS, wrong password or private key).</summary>
        AuthenticationFailed,
        /// <summary>A destination that is full or over its quota.</summary>
        QuotaExceeded,
        /// <summary>A destination whose identity is not the one pinned (an SSH host key that changed).</summary>
        SecurityError,
    }

    /// <summary>
    /// An engine failure with a message written for the admin: what happened and what to do next.
    /// </summary>
    public sealed class TursoBackupException : Exception
    {
        public TursoBackupException(FailureKind kind, string message, object target = null, Exception inner = null)
            : base(message, inner)
        {
            Kind = kind;
            Target = target;
        }

        public FailureKind Kind { get; }

        /// <summary>The object the failure is about (a path, a backup id), for the error record.</summary>
        public object Target { get; }

        /// <summary>
        /// The failure's stable name (TimestampTooOld, DatabaseExists, …): the cmdlets make it the first part of the
        /// ErrorRecord's FullyQualifiedErrorId, so scripts can tell failures apart without parsing messages. Null: the
        /// cmdlets use <see cref="Kind"/>'s name.
        /// </summary>
        public string ErrorId { get; set; }
    }
}
