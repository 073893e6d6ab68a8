namespace TursoBackup
{
    /// <summary>What Connect-TursoVault returns: an offsite vault this session reads and writes, and its local mirror.</summary>
    public sealed class OffsiteVaultConnection
    {
        /// <summary>The vault's address without any secret.</summary>
        public string Vault { get; set; }
        public string Kind { get; set; }
        /// <summary>The local folder its manifests (and fetched artifacts) are mirrored into.</summary>
        public string Mirror { get; set; }
        public string[] Databases { get; set; } = new string[0];
        public int Backups { get; set; }

        public override string ToString() => Vault;
    }
}
