@{
    # The build (dotnet build TursoBackup.sln) stamps ModuleVersion from Directory.Build.props into out/TursoBackup/.
    RootModule           = 'TursoBackup.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '6f0c9a52-3c1e-4d5b-9a8e-2b7d4f1e9c30'
    Author               = 'TursoBackup contributors'
    CompanyName          = 'TursoBackup'
    Copyright            = '(c) TursoBackup contributors. MIT licence.'
    Description          = 'Verified backup and recovery for Turso, libSQL and SQLite databases: consistent snapshots into a checksummed vault, restores that never overwrite without an emergency backup, and Test-Backup that proves each backup by restoring it.'
    PowerShellVersion    = '5.1'
    CompatiblePSEditions = @('Desktop', 'Core')
    DotNetFrameworkVersion = '4.7.2'
    # Imported before RootModule: makes dependencies/ (the engine, Microsoft.Data.Sqlite, SQLitePCLRaw ...) reachable for the
    # cmdlet dll alone — pwsh 7: the module's own AssemblyLoadContext; Windows PowerShell: an AssemblyResolve handler.
    NestedModules        = @('dependencies/TursoBackup.Init.dll')
    FormatsToProcess     = @('TursoBackup.Format.ps1xml')
    CmdletsToExport      = @(
        'Backup-TursoDatabase'
        'Compare-TursoDatabase'
        'Connect-TursoCloud'
        'Connect-TursoVault'
        'Copy-TursoBackup'
        'Export-TursoDatabase'
        'Get-TursoBackup'
        'Get-TursoBackupHealth'
        'Get-TursoBranch'
        'Get-TursoDatabase'
        'Get-TursoRecoveryHistory'
        'Get-TursoRestorePoint'
        'Import-TursoCloudDatabase'
        'Import-TursoDatabase'
        'Invoke-TursoBackupRetention'
        'New-TursoBranch'
        'New-TursoDatabaseToken'
        'Remove-TursoBackup'
        'Remove-TursoBranch'
        'Restore-TursoBackup'
        'Restore-TursoPointInTime'
        'Restore-TursoRow'
        'Restore-TursoTable'
        'Send-TursoBackupAlert'
        'Set-TursoVault'
        'Start-TursoWalArchive'
        'Sync-TursoVault'
        'Sync-TursoWalArchive'
        'Test-Backup'
        'Undo-TursoRecovery'
        'Update-TursoBackupKey'
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @('Test-TursoBackup')
    PrivateData          = @{
        PSData = @{
            Tags         = @('Turso', 'libSQL', 'SQLite', 'Backup', 'Restore', 'Recovery', 'DisasterRecovery', 'PSEdition_Desktop', 'PSEdition_Core', 'Windows', 'Linux', 'MacOS')
            LicenseUri   = 'https://github.com/tursobackup/TursoBackup/blob/main/LICENSE'
            ProjectUri   = 'https://github.com/tursobackup/TursoBackup'
            ReleaseNotes = 'https://github.com/tursobackup/TursoBackup/blob/main/CHANGELOG.md'
        }
    }
}
