using System;

namespace TursoBackup
{
    /// <summary>A database of a Turso Cloud organization, as the Platform API describes it (schema <c>Database</c>).</summary>
    public sealed class TursoDatabase
    {
        /// <summary>The database name, unique in its organization.</summary>
        public string Name { get; set; }
        /// <summary>The organization (slug) the database belongs to.</summary>
        public string Organization { get; set; }
        /// <summary>The database's UUID (<c>DbId</c>).</summary>
        public string DbId { get; set; }
        /// <summary>The DNS name clients connect to (<c>Hostname</c>), e.g. <c>main-acme.turso.io</c>.</summary>
        public string Hostname { get; set; }
        /// <summary>
        /// The URL to connect to: <c>libsql://&lt;Hostname&gt;</c>; for a loopback hostname (a local libSQL server standing
        /// in for Turso in tests) <c>http://&lt;Hostname&gt;</c>. See <see cref="Engine.Cloud.TursoCloudClient.DatabaseUrlFor"/>.
        /// </summary>
        public string Url { get; set; }
        /// <summary>The group the database belongs to (its locations and shared tokens).</summary>
        public string Group { get; set; }
        public string PrimaryRegion { get; set; }
        public string[] Regions { get; set; } = new string[0];
        public bool BlockReads { get; set; }
        public bool BlockWrites { get; set; }
        /// <summary>When true, Turso refuses to delete the database.</summary>
        public bool DeleteProtection { get; set; }
        /// <summary>The database this one was branched from (<c>parent.name</c>), else null.</summary>
        public string Parent { get; set; }
        /// <summary>The DbId of the database this one was branched from (<c>parent.id</c>), else null.</summary>
        public string ParentId { get; set; }
        /// <summary>When the database was branched from its parent (<c>parent.branched_at</c>), else null.</summary>
        public DateTimeOffset? BranchedAt { get; set; }

        /// <summary>True when the database was made from another one (it has a parent).</summary>
        public bool IsBranch => Parent != null || ParentId != null;

        public override string ToString() => Name;
    }

    /// <summary>A checked connection to the Turso Platform API for one organization. It never holds the API token.</summary>
    public sealed class TursoCloudConnection
    {
        /// <summary>The organization slug (what the API paths use).</summary>
        public string Organization { get; set; }
        /// <summary>The organization's display name.</summary>
        public string OrganizationName { get; set; }
        /// <summary><c>personal</c> or <c>team</c>.</summary>
        public string OrganizationType { get; set; }
        /// <summary>The organization's plan (<c>plan_id</c>), which sets how far back point-in-time branches can go.</summary>
        public string Plan { get; set; }
        public Uri BaseUri { get; set; }
        /// <summary>When the API token expires; null when it never does.</summary>
        public DateTimeOffset? TokenExpiresAt { get; set; }
        public DateTimeOffset ConnectedAt { get; set; }

        public override string ToString() => Organization + " @ " + BaseUri;
    }
}
