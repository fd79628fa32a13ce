using Npgsql;

namespace RoboRl.Cluster;

/// <summary>
/// Orleans' membership schema in a PostgreSQL database (Sql/PostgreSQL-Main.sql, then Sql/PostgreSQL-Clustering.sql,
/// both idempotent): the learner applies it before its silo starts, so a fresh database needs nothing run by hand.
/// </summary>
public static class ClusterDatabase
{
    public static readonly string[] Scripts = ["PostgreSQL-Main.sql", "PostgreSQL-Clustering.sql"];

    /// <summary>The script's text (embedded in this assembly; also copied next to it under Sql/ for psql users).</summary>
    public static string Script(string name)
    {
        using Stream stream = typeof(ClusterDatabase).Assembly.GetManifestResourceStream($"RoboRl.Cluster.Sql.{name}")
            ?? throw new InvalidOperationException($"{name} is not embedded in RoboRl.Cluster");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    public static void EnsureSchema(string connectionString)
    {
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        foreach (string name in Scripts)
        {
            using var command = new NpgsqlCommand(Script(name), connection);
            command.ExecuteNonQuery();
        }
    }
}
