using System;
using System.IO;
using System.Management.Automation;

namespace TursoBackup
{
    /// <summary>
    /// What a recovery command reads from (-Reference, -Difference, -Source): a database path, a FileInfo, a TursoBranch,
    /// a BackupInfo or a libsql:// / https:// URL. Parameters of this type take any of those as they are.
    /// </summary>
    public sealed class DatabaseSource
    {
        public DatabaseSource(object value)
        {
            Value = value ?? throw new ArgumentNullException(nameof(value));
        }

        /// <summary>The path, FileInfo, TursoBranch, BackupInfo or URL given.</summary>
        public object Value { get; }

        public override string ToString() => Value.ToString();
    }
}

namespace TursoBackup.Internal
{
    /// <summary>
    /// Binds a path, FileInfo, TursoBranch, BackupInfo or URL to a <see cref="DatabaseSource"/> parameter; anything else
    /// fails binding (before the command runs) with a message that says what to give.
    /// </summary>
    [AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
    internal sealed class DatabaseSourceTransformationAttribute : ArgumentTransformationAttribute
    {
        public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
        {
            object value = inputData is PSObject pso ? pso.BaseObject : inputData;
            switch (value)
            {
                case null: return null;
                case DatabaseSource _: return value;
                case string _:
                case FileInfo _:
                case TursoBranch _:
                case BackupInfo _:
                    return new DatabaseSource(value);
                default:
                    throw new ArgumentTransformationMetadataException(
                        $"A {value.GetType().Name} is not a database to read: give a database path, a TursoBranch (New-TursoBranch), a BackupInfo (Get-TursoBackup) or a libsql:// URL.");
            }
        }
    }
}
