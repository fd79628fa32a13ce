using System.Data.Common;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Configuration;

namespace RoboRl.Cluster;

/// <summary>
/// Where the cluster's membership lives, from the CLI's CONN: <c>localhost[:GATEWAY_PORT]</c> (one machine: the
/// learner's silo is the primary and only silo, workers connect to its gateway) or a PostgreSQL connection string
/// (<c>Host=…;Database=…;Username=…;Password=…</c>: Orleans' ADO.NET membership table, machines find each other there).
/// </summary>
public sealed record ClusterConnection(string? PostgresConnectionString, int GatewayPort)
{
    public const int DefaultGatewayPort = 30000;
    public const int DefaultSiloPort = 11111;
    public const string ClusterId = "roborl";
    public const string ServiceId = "roborl";
    /// <summary>ADO.NET invariant name of the PostgreSQL provider (Npgsql) that Orleans looks up.</summary>
    public const string PostgresInvariant = "Npgsql";

    public bool IsLocalhost => PostgresConnectionString is null;

    /// <summary>Parses CONN; a <see cref="FormatException"/> says what was expected.</summary>
    public static ClusterConnection Parse(string text, int? gatewayPort = null)
    {
        text = text.Trim();
        if (text.Contains('='))
        {
            try { _ = new NpgsqlConnectionStringBuilder(text); }
            catch (ArgumentException e) { throw new FormatException($"--cluster: not a PostgreSQL connection string ({e.Message}); expected e.g. Host=db;Database=roborl;Username=roborl;Password=…"); }
            return new ClusterConnection(text, gatewayPort ?? DefaultGatewayPort);
        }
        if (text == "localhost") return new ClusterConnection(null, gatewayPort ?? DefaultGatewayPort);
        if (text.StartsWith("localhost:", StringComparison.Ordinal) && int.TryParse(text["localhost:".Length..], out int port) && port is > 0 and < 65536)
            return new ClusterConnection(null, port);
        throw new FormatException($"--cluster '{text}': expected localhost, localhost:PORT (the learner's gateway port) or a PostgreSQL connection string (Host=…;Database=…;Username=…;Password=…)");
    }

    /// <summary>The learner's silo: it hosts the run's coordinator grain and the gateway workers connect to.</summary>
    public IHost BuildSilo(int? siloPort = null, IPAddress? advertisedAddress = null)
    {
        int silo = siloPort ?? (IsLocalhost ? FreeTcpPort() : DefaultSiloPort);
        var builder = Host.CreateDefaultBuilder([]);
        builder.ConfigureLogging(logging => logging.ClearProviders().AddFilter("Orleans", LogLevel.Warning));
        builder.UseOrleans(s =>
        {
            if (IsLocalhost) s.UseLocalhostClustering(silo, GatewayPort);
            else
            {
                RegisterNpgsql();
                s.UseAdoNetClustering(o =>
                {
                    o.Invariant = PostgresInvariant;
                    o.ConnectionString = PostgresConnectionString;
                });
                s.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (ClusterId, ServiceId));
                if (advertisedAddress is not null) s.ConfigureEndpoints(advertisedAddress, silo, GatewayPort, listenOnAnyHostAddress: true);
                else s.ConfigureEndpoints(silo, GatewayPort, listenOnAnyHostAddress: true);
            }
            // Fragments of big shards are megabytes; weights are small. Orleans' limit is 100 MB by default: say so.
            s.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(60));
        });
        return builder.Build();
    }

    /// <summary>A worker's connection: an Orleans client of the learner's gateway.</summary>
    public IHost BuildClient()
    {
        var builder = Host.CreateDefaultBuilder([]);
        builder.ConfigureLogging(logging => logging.ClearProviders().AddFilter("Orleans", LogLevel.Error));
        builder.UseOrleansClient(c =>
        {
            if (IsLocalhost) c.UseLocalhostClustering(GatewayPort);
            else
            {
                RegisterNpgsql();
                c.UseAdoNetClustering(o =>
                {
                    o.Invariant = PostgresInvariant;
                    o.ConnectionString = PostgresConnectionString;
                });
                c.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (ClusterId, ServiceId));
            }
            // Every call is a short grain turn; a longer wait means the learner is gone (the worker then waits for it to come back).
            c.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(5));
            c.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(5));
        });
        return builder.Build();
    }

    static void RegisterNpgsql()
    {
        if (!DbProviderFactories.TryGetFactory(PostgresInvariant, out _)) DbProviderFactories.RegisterFactory(PostgresInvariant, NpgsqlFactory.Instance);
    }

    /// <summary>A TCP port free right now on loopback (the OS picks it).</summary>
    public static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
