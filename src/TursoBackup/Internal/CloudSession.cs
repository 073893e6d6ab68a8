using System;
using System.Collections.Concurrent;
using System.Management.Automation.Runspaces;
using System.Runtime.InteropServices;
using System.Security;
using TursoBackup.Engine.Cloud;
using TursoBackup.Engine.Errors;

namespace TursoBackup.Internal
{
    /// <summary>
    /// The Turso Cloud connection of a PowerShell session (one per runspace): set by Connect-TursoCloud, used by the
    /// cloud parameter sets. Without Connect-TursoCloud, TURSO_API_TOKEN and TURSO_ORG connect on first use, so a
    /// scheduled task needs no extra line. The API token lives only inside the client, never in a variable.
    /// </summary>
    internal static class CloudSession
    {
        private static readonly ConcurrentDictionary<Guid, TursoCloudClient> Clients = new ConcurrentDictionary<Guid, TursoCloudClient>();

        private static Guid Key => Runspace.DefaultRunspace?.InstanceId ?? Guid.Empty;

        public static void Set(TursoCloudClient client)
        {
            Clients.AddOrUpdate(Key, client, (_, old) =>
            {
                if (!ReferenceEquals(old, client)) old.Dispose();
                return client;
            });
        }

        public static TursoCloudClient Require(Action<string> log)
        {
            if (Clients.TryGetValue(Key, out var client))
            {
                client.Log = log;
                return client;
            }
            string token = Environment.GetEnvironmentVariable("TURSO_API_TOKEN");
            string org = Environment.GetEnvironmentVariable("TURSO_ORG");
            if (!string.IsNullOrEmpty(token) && !string.IsNullOrEmpty(org))
            {
                client = new TursoCloudClient(org, token) { Log = log };
                Set(client);
                return client;
            }
            throw new TursoBackupException(FailureKind.NotEnabled,
                "Not connected to Turso Cloud. Run Connect-TursoCloud -Organization <slug> (the API token from -ApiToken or $env:TURSO_API_TOKEN), or set TURSO_API_TOKEN and TURSO_ORG.");
        }
    }

    /// <summary>-AuthToken for remote databases: the parameter, else TURSO_AUTH_TOKEN, else none (an open local server).</summary>
    internal static class RemoteAuth
    {
        public static string Token(SecureString given) =>
            given != null ? Secrets.Reveal(given) : (Environment.GetEnvironmentVariable("TURSO_AUTH_TOKEN") is string env && env.Length > 0 ? env : null);
    }

    /// <summary>Secrets as SecureString in parameters and objects, plain text only at the moment they are sent.</summary>
    internal static class Secrets
    {
        public static SecureString Protect(string plain)
        {
            if (plain == null) return null;
            var s = new SecureString();
            foreach (char c in plain) s.AppendChar(c);
            s.MakeReadOnly();
            return s;
        }

        public static string Reveal(SecureString secret)
        {
            if (secret == null) return null;
            IntPtr p = Marshal.SecureStringToGlobalAllocUnicode(secret);
            try
            {
                return Marshal.PtrToStringUni(p);
            }
            finally
            {
                Marshal.ZeroFreeGlobalAllocUnicode(p);
            }
        }
    }

    /// <summary>Lets a SecureString parameter take plain text too (an environment variable, a vault lookup).</summary>
    [AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
    internal sealed class SecretTransformationAttribute : System.Management.Automation.ArgumentTransformationAttribute
    {
        public override object Transform(System.Management.Automation.EngineIntrinsics engineIntrinsics, object inputData)
        {
            object value = inputData is System.Management.Automation.PSObject pso ? pso.BaseObject : inputData;
            return value is string text ? Secrets.Protect(text) : value;
        }
    }
}
