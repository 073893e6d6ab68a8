using System;
using System.Management.Automation;
using TursoBackup.Engine.Errors;

namespace TursoBackup.Internal
{
    /// <summary>
    /// -Timestamp as the contract reads it, in one place: a DateTimeOffset, a DateTime (Unspecified kind = UTC), or ISO
    /// 8601 text (full, offsets allowed, or a date alone = the start of that day, UTC) becomes a UTC DateTimeOffset at
    /// parameter binding (Engine.Wal.Timestamps.Parse). Anything else fails binding — a terminating error before the
    /// cmdlet runs, so nothing is written — with the contract's message ("Invalid timestamp format: use ISO 8601 …");
    /// the binding error's cause is the TursoBackupException with ErrorId TimestampFormat.
    /// </summary>
    [AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
    internal sealed class TimestampTransformationAttribute : ArgumentTransformationAttribute
    {
        public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
        {
            object value = inputData is PSObject pso ? pso.BaseObject : inputData;
            if (value == null) return null;
            try
            {
                return Engine.Wal.Timestamps.Parse(value);
            }
            catch (TursoBackupException ex)
            {
                throw new ArgumentTransformationMetadataException(ex.Message, ex);
            }
        }
    }
}
