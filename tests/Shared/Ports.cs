using System;
using System.Net;
using System.Net.Sockets;

namespace TursoBackup.TestSupport;

/// <summary>Loopback ports for the tests' servers, and for "nothing listens here" tests.</summary>
public static class Ports
{
    /// <summary>True when something accepts a TCP connection on 127.0.0.1:<paramref name="port"/> now.</summary>
    public static bool Accepts(int port)
    {
        try
        {
            using var c = new TcpClient();
            c.Connect("127.0.0.1", port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>A TCP port on 127.0.0.1 that was free a moment ago (bound and released: nothing listens on it now).</summary>
    public static int Free()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    /// <summary>
    /// An <see cref="HttpListener"/> started on http://127.0.0.1:&lt;free port&gt;/, and its base URL (no trailing slash).
    /// Another process may take the port between the probe and Start (tests start servers in parallel): then it tries another.
    /// </summary>
    public static (HttpListener Listener, Uri BaseUri) StartHttpListener()
    {
        for (int attempt = 0; ; attempt++)
        {
            int port = Free();
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                listener.Start();
                return (listener, new Uri($"http://127.0.0.1:{port}"));
            }
            catch (HttpListenerException) when (attempt < 10)
            {
                // Closing a listener that never started may itself throw on Linux: nothing to release then.
                try { listener.Close(); } catch (HttpListenerException) { } catch (ObjectDisposedException) { }
            }
        }
    }
}
