using System.Management.Automation;
using TursoBackup.Engine.Errors;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>
    /// Creates a Turso Cloud database from a local SQLite file (seed type database_upload): the file is checked and, on a
    /// copy, converted to what Turso takes (WAL, 4096-byte pages, no auto-vacuum, checkpointed); the original is never
    /// changed. A database created by a failed upload is deleted again.
    /// </summary>
    [Cmdlet(VerbsData.Import, "TursoCloudDatabase", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(TursoDatabase))]
    public sealed class ImportTursoCloudDatabaseCommand : TursoCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("FullName")]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; }

        /// <summary>The new database's name (lowercase letters, digits and dashes, at most 64).</summary>
        [Parameter(Mandatory = true, Position = 1)]
        [ValidateNotNullOrEmpty]
        public string Name { get; set; }

        /// <summary>The group to create it in (default: "default").</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Group { get; set; }

        protected override void ProcessRecord()
        {
            string path = ResolveNewPath(Path);
            if (!ShouldProcessUnattended(Name, $"Create the Turso Cloud database '{Name}' from '{path}'", "Creating the cloud database", "create it", "created")) return;
            TursoDatabase db = null;
            if (TryRun(() => db = UploadToCloud(path, Name, Group, $"Uploading '{path}' as '{Name}'"), Name)) WriteObject(db);
        }
    }
}
