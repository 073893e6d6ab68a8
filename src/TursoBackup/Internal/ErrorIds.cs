namespace TursoBackup.Internal
{
    /// <summary>
    /// The stable error IDs the cmdlets give (the first part of an ErrorRecord's FullyQualifiedErrorId; PowerShell adds
    /// ",TursoBackup.Cmdlets.&lt;Cmdlet&gt;Command"). The engine sets its own on TursoBackupException.ErrorId
    /// (TimestampTooOld, TimestampInFuture, TimestampFormat, RestoreGap, NoWalArchive, DatabaseExists, DestinationIsFolder,
    /// BranchExists, NotWalMode, ArchiverRunning, VaultNotFound, NotAVault, BackupNotFound); a failure without one is
    /// named by its FailureKind (NotFound, InvalidData, …).
    /// </summary>
    internal static class ErrorIds
    {
        public const string BackupNotFound = "BackupNotFound";
        public const string OnlyEmergencyBackups = "OnlyEmergencyBackups";
        public const string ConfirmationRequired = "ConfirmationRequired";
        public const string PathNotFound = "PathNotFound";
        public const string ItemNotFound = "ItemNotFound";
        public const string AmbiguousPath = "AmbiguousPath";
        public const string NotFileSystemPath = "NotFileSystemPath";
        public const string FileExists = "FileExists";
        public const string NoWalArchive = "NoWalArchive";
        public const string InvalidSyncInterval = "InvalidSyncInterval";
        public const string NoOrganization = "NoOrganization";
        public const string NoApiToken = "NoApiToken";
        public const string UnexpectedInput = "UnexpectedInput";
        public const string Unexpected = "Unexpected";
    }

    /// <summary>Parameter-set names shared by several cmdlets.</summary>
    internal static class ParameterSets
    {
        public const string Path = "Path";
        public const string LiteralPath = "LiteralPath";
        public const string Url = "Url";
    }
}
