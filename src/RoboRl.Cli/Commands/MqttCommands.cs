using System.CommandLine;
using RoboRl.Core.Configs;
using RoboRl.Mqtt;

namespace RoboRl.Cli.Commands;

/// <summary>`roborl mqtt …`: tools for the MQTT transport.</summary>
public static class MqttCommands
{
    public static Command CreateGroup()
    {
        var group = new Command("mqtt", "MQTT transport tools");
        group.Subcommands.Add(CreateMosquittoConfig());
        group.Subcommands.Add(CreateHashPassword());
        return group;
    }

    private static Command CreateMosquittoConfig()
    {
        var config = new Argument<string>("NODE_CONFIG") { Description = "Node config (JSON) with an \"mqtt\" section" };
        var output = new Option<string>("--output", "-o") { Description = "Directory for passwd, acl and mosquitto.conf", Required = true };
        var command = new Command("mosquitto-config",
            "Generate a Mosquitto password file, ACL file and config fragment from the node's user list. Clear passwords come from "
            + "environment variables ROBORL_MQTT_PASSWORD_<USER> (checked against the config's hashes).")
        {
            config, output,
        };
        command.SetAction(parse => RunMosquittoConfig(parse.GetValue(config)!, parse.GetValue(output)!, Environment.GetEnvironmentVariable, Console.Out, Console.Error));
        return command;
    }

    public static int RunMosquittoConfig(string configFile, string directory, Func<string, string?> environment, TextWriter output, TextWriter errors)
    {
        MqttTransportOptions options;
        try
        {
            ConfigNode root = ConfigNode.LoadFile(configFile);
            if (!root.Has("mqtt")) { errors.WriteLine($"{configFile}: $.mqtt: missing required key"); return 2; }
            options = MqttTransportOptions.Read(root.Object("mqtt"));
        }
        catch (ConfigException e) { errors.WriteLine(e.Message); return 2; }

        var passwords = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (MqttUser user in options.Users)
            if (environment(MosquittoConfig.PasswordVariable(user.Name)) is { Length: > 0 } p) passwords[user.Name] = p;
        IReadOnlyList<string> missing;
        try { missing = MosquittoConfig.Write(options, passwords, directory); }
        catch (ArgumentException e) { errors.WriteLine($"mqtt mosquitto-config: {e.Message}"); return 2; }
        foreach (string name in missing)
            errors.WriteLine($"mqtt mosquitto-config: no password for \"{name}\" (set {MosquittoConfig.PasswordVariable(name)}); left out of the password file, the broker will refuse it");
        int written = passwords.Count + (options.Username is not null && options.Password is not null ? 1 : 0);
        output.WriteLine($"mqtt mosquitto-config: wrote passwd ({written} users), acl, mosquitto.conf to {directory}");
        return 0;
    }

    private static Command CreateHashPassword()
    {
        var salt = new Option<string>("--salt") { Description = "Optional salt (goes into the user's \"salt\" key)", DefaultValueFactory = _ => "" };
        var command = new Command("hash-password", "Read a password from standard input; print its password_sha256 for the node config's user list") { salt };
        command.SetAction(parse =>
        {
            string password = (Console.In.ReadLine() ?? "").TrimEnd('\r', '\n');
            if (password.Length == 0) { Console.Error.WriteLine("mqtt hash-password: empty password"); return 2; }
            Console.Out.WriteLine(MqttUser.HashPassword(password, parse.GetValue(salt) ?? ""));
            return 0;
        });
        return command;
    }
}
