using System.CommandLine;
using System.Text.Json.Nodes;
using RoboRl.Core.Configs;
using RoboRl.Mqtt;

namespace RoboRl.Cli.Commands;

/// <summary>`roborl mqtt …`: tools for the MQTT transport.</summary>
public static class MqttCommands
{
    public static Command CreateGroup()
    {
        var group = new Command("mqtt", "MQTT transport tools: mosquitto-config, hash-password.");
        group.Subcommands.Add(CreateMosquittoConfig());
        group.Subcommands.Add(CreateHashPassword());
        return group;
    }

    private static Command CreateMosquittoConfig()
    {
        var config = new Argument<string>("NODE_CONFIG") { Description = "Node config (JSON) with an \"mqtt\" section" };
        var output = new OutputOption("Directory for passwd, acl and mosquitto.conf (created if missing)");
        output.Option.Required = true;
        var json = new Option<bool>("--json") { Description = "Print what was written as one JSON object" };
        var command = new Command("mosquitto-config",
            "Generate a Mosquitto password file, ACL file and config fragment from the node's user list. Clear passwords come from "
            + "environment variables ROBORL_MQTT_PASSWORD_<USER> (checked against the config's hashes).")
        {
            config, json,
        };
        output.AddTo(command);
        command.SetAction(parse => RunMosquittoConfig(parse.GetValue(config)!, output.Get(parse)!, Environment.GetEnvironmentVariable,
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, parse.GetValue(json)));
        return command;
    }

    public static int RunMosquittoConfig(string configFile, string directory, Func<string, string?> environment, TextWriter output, TextWriter errors,
        bool json = false)
    {
        var io = new CommandIo("mqtt mosquitto-config", output, errors, json);
        return io.Run(() =>
        {
            PathArguments.InputFile(configFile, "NODE_CONFIG", "a node config with an \"mqtt\" section");
            ConfigNode root = ConfigNode.LoadFile(configFile);
            if (!root.Has("mqtt")) throw CliException.BadInput($"{configFile}: $.mqtt: missing required key");
            MqttTransportOptions options = MqttTransportOptions.Read(root.Object("mqtt"));
            PathArguments.OutputDirectory(directory, "--output");

            var passwords = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (MqttUser user in options.Users)
                if (environment(MosquittoConfig.PasswordVariable(user.Name)) is { Length: > 0 } p) passwords[user.Name] = p;
            IReadOnlyList<string> missing;
            try { missing = MosquittoConfig.Write(options, passwords, directory); }
            catch (ArgumentException e) { throw CliException.BadInput(e.Message); }
            foreach (string name in missing)
                io.Note($"no password for \"{name}\" (set {MosquittoConfig.PasswordVariable(name)}); left out of the password file, the broker will refuse it");
            int written = passwords.Count + (options.Username is not null && options.Password is not null ? 1 : 0);
            io.Text.WriteLine($"mqtt mosquitto-config: wrote passwd ({written} users), acl, mosquitto.conf to {directory}");
            return io.Result(new JsonObject
            {
                ["directory"] = directory,
                ["users_written"] = written,
                ["users_without_password"] = new JsonArray(missing.Select(m => (JsonNode)m).ToArray()),
                ["files"] = new JsonArray("passwd", "acl", "mosquitto.conf"),
            });
        });
    }

    private static Command CreateHashPassword()
    {
        var salt = new Option<string>("--salt") { Description = "Optional salt (goes into the user's \"salt\" key)", DefaultValueFactory = _ => "" };
        var json = new Option<bool>("--json") { Description = "Print {\"password_sha256\": …} as one JSON object" };
        var command = new Command("hash-password", "Read a password from standard input; print its password_sha256 for the node config's user list") { salt, json };
        command.SetAction(parse =>
        {
            var io = new CommandIo("mqtt hash-password", parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, parse.GetValue(json));
            string password = (Console.In.ReadLine() ?? "").TrimEnd('\r', '\n');
            if (password.Length == 0) return io.Fail(ExitCodes.BadInput, "empty password on standard input");
            string hash = MqttUser.HashPassword(password, parse.GetValue(salt) ?? "");
            if (!io.Json) io.Output.WriteLine(hash);
            return io.Result(new JsonObject { ["password_sha256"] = hash, ["salt"] = parse.GetValue(salt) ?? "" });
        });
        return command;
    }
}
