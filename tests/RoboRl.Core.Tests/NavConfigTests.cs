using System.Text.Json.Nodes;
using RoboRl.Core.Configs;
using RoboRl.Core.DiffDrive;
using RoboRl.Core.Tasks;

namespace RoboRl.Core.Tests;

public class NavConfigTests
{
    private static string RobotFile => RepoFiles.Path("configs/robots/diffbot.json");
    private static string TaskFile => RepoFiles.Path("configs/tasks/diffbot-nav.json");

    [Test]
    public void DiffbotLoadsTheTurtleBot3BurgerFigures()
    {
        DiffDriveConfig robot = DiffDriveConfig.Load(RobotFile);
        Assert.That(robot.WheelRadius, Is.EqualTo(0.033f));
        Assert.That(robot.TrackWidth, Is.EqualTo(0.160f));
        Assert.That(robot.MaxLinearVelocity, Is.EqualTo(0.22f));
        Assert.That(robot.MaxAngularVelocity, Is.EqualTo(2.84f));
        Assert.That(robot.Lidar, Is.EqualTo(new LidarConfig(360, 0.12f, 3.5f, 0.01f, 0.01f, 0.01f)));
        Assert.That(robot.Lidar.AngleIncrement, Is.EqualTo(MathF.PI / 180).Within(1e-7f));
        Assert.That(robot.Sources.Keys, Does.Contain("lidar").And.Contain("max_linear_velocity"));
    }

    [Test]
    public void NavigationTaskLoadsWithItsRobot()
    {
        NavTaskConfig task = NavTaskConfig.Load(TaskFile);
        Assert.That(task.Robot.Name, Is.EqualTo("diffbot"));
        Assert.That(task.ScanBins, Is.EqualTo(36));
        Assert.That(task.ActorObservationSize, Is.EqualTo(43));
        Assert.That(task.ControlDt, Is.EqualTo(0.1f));
        Assert.That(task.Map.Size, Is.EqualTo(5f));
        Assert.That(task.Reward, Is.EqualTo(new NavReward(10, 10, 30, 0.01f, Proximity: 1, ProximityMarginM: 0.2f, Reverse: 0.2f)));
        Assert.That(task.RobotConfigJson, Does.Contain("\"diff_drive\""));
        Assert.That(NavTaskConfig.IsNavigationTask(ConfigNode.LoadFile(TaskFile)), Is.True);
        Assert.That(NavTaskConfig.IsNavigationTask(ConfigNode.LoadFile(RepoFiles.TaskFile)), Is.False, "the hover task");
    }

    private static ConfigException TaskError(Action<JsonObject> edit)
    {
        string file = RepoFiles.EditedCopy(TaskFile, edit);
        var e = Assert.Throws<ConfigException>(() => NavTaskConfig.Load(file))!;
        Assert.That(e.File, Is.EqualTo(file));
        return e;
    }

    private static ConfigException RobotError(Action<JsonObject> edit)
    {
        string file = RepoFiles.EditedCopy(RobotFile, edit);
        var e = Assert.Throws<ConfigException>(() => DiffDriveConfig.Load(file))!;
        Assert.That(e.File, Is.EqualTo(file));
        return e;
    }

    [Test]
    public void BadTaskValuesNameTheFieldAndTheRange()
    {
        Assert.That(TaskError(o => o["scan_bins"] = 7).JsonPath, Is.EqualTo("$.scan_bins"));
        Assert.That(TaskError(o => o["scan_bins"] = 7).Problem, Does.Contain("360"));
        ConfigException unknown = TaskError(o => o["map"]!["walls"] = 4);
        Assert.That(unknown.JsonPath, Is.EqualTo("$.map.walls"));
        Assert.That(unknown.Problem, Does.Contain("unknown key").And.Contain("circle_radius"));
        Assert.That(TaskError(o => o["map"]!["clearance"] = 0.05).Problem, Does.Contain("robot radius"));
        Assert.That(TaskError(o => o["map"]!["start_goal_distance"] = new JsonArray(1, 9)).JsonPath, Is.EqualTo("$.map.start_goal_distance"));
        Assert.That(TaskError(o => o["map"]!["circles"] = new JsonArray(5, 2)).Problem, Does.Contain("low <= high"));
        Assert.That(TaskError(o => o["reward"]!["goal"] = -1).Problem, Does.Contain("out of range"));
        ConfigException margin = TaskError(o => o["reward"]!.AsObject().Remove("proximity_margin_m"));
        Assert.That(margin.JsonPath, Is.EqualTo("$.reward.proximity_margin_m"));
        Assert.That(margin.Problem, Does.Contain("required when $.reward.proximity"));
        Assert.That(TaskError(o => o["reward"]!["reverse"] = -0.1).JsonPath, Is.EqualTo("$.reward.reverse"));
        Assert.That(TaskError(o => o["reward"]!["proximity_margin_m"] = 0).JsonPath, Is.EqualTo("$.reward.proximity_margin_m"));
        Assert.That(TaskError(o => o["task"] = "hover").JsonPath, Is.EqualTo("$.task"));
        Assert.That(TaskError(o => o.Remove("goal_radius")).Problem, Is.EqualTo("missing required key"));
    }

    [Test]
    public void BadRobotValuesNameTheFieldAndTheRange()
    {
        Assert.That(RobotError(o => o["lidar"]!["range_min"] = 5).JsonPath, Is.EqualTo("$.lidar.range_min"));
        Assert.That(RobotError(o => o["lidar"]!["beams"] = 2).Problem, Does.Contain("[8, 4096]"));
        Assert.That(RobotError(o => o["robot_radius"] = 0.05).Problem, Does.Contain("track_width"));
        Assert.That(RobotError(o => o["kind"] = "quadrotor").Problem, Does.Contain("diff_drive"));
        ConfigException source = RobotError(o => o["sources"]!.AsObject().Remove("slip_noise_std"));
        Assert.That(source.JsonPath, Is.EqualTo("$.sources"));
        Assert.That(source.Problem, Does.Contain("slip_noise_std"));
        Assert.That(RobotError(o => o["sources"]!["colour"] = "x").JsonPath, Is.EqualTo("$.sources.colour"));
    }

    [Test]
    public void PoolScanTakesSectorMinimaWithRep117Values()
    {
        var ranges = new float[12];
        Array.Fill(ranges, 2f);
        ranges[1] = 1f;                       // sector 0 minimum
        ranges[4] = float.PositiveInfinity;   // no return: range_max, not a minimum
        ranges[5] = float.NaN;                // dropout: ignored like no return
        ranges[9] = float.NegativeInfinity;   // too close: range_min
        ranges[10] = 0.5f;
        var bins = new float[4];
        NavObservation.PoolScan(ranges, 0.12f, 3.5f, bins);
        Assert.That(bins, Is.EqualTo(new[] { 1f / 3.5f, 2f / 3.5f, 2f / 3.5f, 0.12f / 3.5f }).Within(1e-7f));
        Array.Fill(ranges, float.PositiveInfinity);
        NavObservation.PoolScan(ranges, 0.12f, 3.5f, bins);
        Assert.That(bins, Is.All.EqualTo(1f));
        Assert.Throws<ArgumentException>(() => NavObservation.PoolScan(ranges, 0.12f, 3.5f, new float[5]));
    }

    [Test]
    public void GoalIsWrittenInTheRobotFrame()
    {
        var row = new float[NavObservation.ActorSize(4)];
        // Robot at (1, 1) facing +y (yaw 90°); goal at (0, 1): 1 m straight to its left.
        NavObservation.WriteState(4, 1, 1, MathF.PI / 2, 0, 1, 0.11f, -1.42f, 0.22f, 2.84f, 0.5f, -0.25f, row);
        Assert.That(row[4..], Is.EqualTo(new[] { 1f, 1f, 0f, 0.5f, -0.5f, 0.5f, -0.25f }).Within(1e-6f));
    }
}
