using System;
using System.Linq.Expressions;
using System.Management.Automation.Host;
using System.Reflection;
using System.Threading;

namespace TursoBackup.Internal
{
    /// <summary>
    /// SIGTERM for a cmdlet that must end cleanly when its process is asked to stop (Start-TursoWalArchive under
    /// systemd, docker stop, Kubernetes). pwsh 7.6 on .NET 10 installs no SIGTERM handler, so without one the process
    /// dies at once (exit 143) and the cmdlet never finishes; with one, the cmdlet stops its own loop, finishes its work
    /// and returns, and the script goes on. The module targets netstandard2.0, so PosixSignalRegistration (.NET 6+) is
    /// reached by reflection; where it does not exist the registration is simply not made.
    /// </summary>
    internal static class TerminationSignal
    {
        /// <summary>
        /// Calls <paramref name="onFirst"/> (on a signal thread) at the first SIGTERM and keeps the process alive; a
        /// second SIGTERM is left to its default (the process ends). Dispose the result to unregister; null when unsupported.
        /// </summary>
        public static IDisposable OnSigterm(Action onFirst)
        {
            try
            {
                var registration = Type.GetType("System.Runtime.InteropServices.PosixSignalRegistration, System.Runtime.InteropServices", false);
                var signalType = Type.GetType("System.Runtime.InteropServices.PosixSignal, System.Runtime.InteropServices", false);
                var contextType = Type.GetType("System.Runtime.InteropServices.PosixSignalContext, System.Runtime.InteropServices", false);
                if (registration == null || signalType == null || contextType == null) return null;
                var handlerType = typeof(Action<>).MakeGenericType(contextType);
                var create = registration.GetMethod("Create", new[] { signalType, handlerType });
                if (create == null) return null;
                int seen = 0;
                Func<bool> handle = () =>
                {
                    if (Interlocked.Increment(ref seen) > 1) return false;
                    onFirst();
                    return true;
                };
                // context => context.Cancel = handle()
                var context = Expression.Parameter(contextType, "context");
                var body = Expression.Assign(Expression.Property(context, "Cancel"), Expression.Invoke(Expression.Constant(handle)));
                var handler = Expression.Lambda(handlerType, body, context).Compile();
                return (IDisposable)create.Invoke(null, new object[] { Enum.Parse(signalType, "SIGTERM"), handler });
            }
            catch (Exception ex) when (ex is PlatformNotSupportedException || ex is System.Reflection.TargetInvocationException || ex is ArgumentException || ex is InvalidOperationException)
            {
                return null;
            }
        }
    
        /// <summary>
        /// After a cmdlet finished its work cleanly in spite of a stop request (Ctrl+C, SIGINT), tells a non-interactive
        /// pwsh to exit 0: `pwsh -Command` exits 1 when its pipeline was stopped, which systemd records as a failed stop
        /// of a unit with KillSignal=SIGINT. An interactive shell is left alone (SetShouldExit would close it), and so is
        /// any host that is not pwsh's console host (its own rules stand). pwsh says whether it is interactive only
        /// through an internal property; where that is not found nothing is done. Returns whether it asked.
        /// </summary>
        public static bool ExitCleanlyIfNonInteractive(PSHost host)
        {
            try
            {
                var consoleHost = Type.GetType("Microsoft.PowerShell.ConsoleHost, Microsoft.PowerShell.ConsoleHost", false);
                var instance = consoleHost?.GetProperty("SingletonInstance", BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)?.GetValue(null);
                var interactive = consoleHost?.GetProperty("IsInteractive", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public);
                if (instance == null || interactive == null || host == null) return false;
                if (host.InstanceId != ((PSHost)instance).InstanceId) return false; // a runspace of another host in the same process
                if ((bool)interactive.GetValue(instance)) return false;
                host.SetShouldExit(0);
                return true;
            }
            catch (Exception ex) when (ex is TargetInvocationException || ex is InvalidCastException || ex is MemberAccessException || ex is NotSupportedException)
            {
                return false;
            }
        }
    }
}
