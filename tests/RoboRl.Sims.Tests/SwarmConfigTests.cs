using System.Text.Json.Nodes;
using RoboRl.Core.Configs;
using RoboRl.Core.Swarm;

namespace RoboRl.Sims.Tests;

/// <summary>The swarm task and scenario configs: the repository's load, bad input is refused naming file and field.</summary>
public class SwarmConfigTests
{
    [Test]
    public void RepositoryTasksLoadWithQuadSwarmsLayout()
    {
        SwarmTaskConfig task = SwarmTaskConfig.Load(SwarmTestFiles.TaskFile);
        Assert.That(task.Quads, Is.EqualTo(8));
        Assert.That(task.Neighbours, Is.EqualTo(2));
        Assert.That(SwarmObservation.Size(task.Neighbours), Is.EqualTo(40));
        Assert.That(SwarmObservation.Names(task.Neighbours), Has.Length.EqualTo(40));
        Assert.That(task.EpisodeSteps, Is.EqualTo(1500));
        Assert.That(task.Obstacles.ColumnCount, Is.EqualTo(13)); // round(0.2 · 64)
        Assert.That(task.Scenarios.Select(s => s.Scenario.Kind), Is.EquivalentTo(new[]
        {
            SwarmScenarioKind.StaticSameGoal, SwarmScenarioKind.StaticDifferentGoals, SwarmScenarioKind.SwapGoals,
            SwarmScenarioKind.DynamicGoals, SwarmScenarioKind.RandomBezier, SwarmScenarioKind.ObstaclesRandom,
        }));
        Assert.That(task.HeldOutScenarios.Select(s => s.Scenario.Kind), Is.EquivalentTo(new[] { SwarmScenarioKind.SwapGoals, SwarmScenarioKind.PursuitEvasion }));
        Assert.That(SwarmTaskConfig.Load(SwarmTestFiles.OpenTaskFile).Obstacles.ColumnCount, Is.EqualTo(0));
    }

    [Test]
    public void HeldOutSeedsAreRefusedForTraining()
    {
        SwarmTaskConfig task = SwarmTaskConfig.Load(SwarmTestFiles.TaskFile);
        Assert.DoesNotThrow(() => task.CheckTrainingSeed(1));
        var e = Assert.Throws<ConfigException>(() => task.CheckTrainingSeed(task.HeldOutSeeds.First + 3))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.held_out.seeds"));
    }

    [Test]
    public void UnknownKeyIsRefusedNamingFileAndField()
    {
        string path = SwarmTestFiles.EditedTask(root => root["obstacles"]!["densty"] = 0.2);
        var e = Assert.Throws<ConfigException>(() => SwarmTaskConfig.Load(path))!;
        Assert.That(e.File, Is.EqualTo(path));
        Assert.That(e.Message, Does.Contain("densty"));
    }

    [Test]
    public void OverlappingStartsAreRefused()
    {
        string scenario = SwarmTestFiles.EditedScenario("swap-goals", root => root["start_separation_m"] = 0.05);
        string task = SwarmTestFiles.EditedTask(root => root["scenarios"]![2]!["file"] = scenario);
        var e = Assert.Throws<ConfigException>(() => SwarmTaskConfig.Load(task))!;
        Assert.That(e.File, Is.EqualTo(scenario));
        Assert.That(e.JsonPath, Is.EqualTo("$.start_separation_m"));
        Assert.That(e.Problem, Does.Contain("overlapping starts"));
    }

    [Test]
    public void GoalsWhereAColumnMayStandAreRefusedOnlyWithColumns()
    {
        string scenario = SwarmTestFiles.EditedScenario("static-same-goal", root => root["goal_area"]!["center"] = new JsonArray(0.5, 0.5, 1.5));
        string withColumns = SwarmTestFiles.EditedTask(root => root["scenarios"]![0]!["file"] = scenario);
        var e = Assert.Throws<ConfigException>(() => SwarmTaskConfig.Load(withColumns))!;
        Assert.That(e.File, Is.EqualTo(scenario));
        Assert.That(e.JsonPath, Is.EqualTo("$.goal_area"));
        Assert.That(e.Problem, Does.Contain("unreachable"));
        // The same goal in the empty room is fine.
        string open = SwarmTestFiles.EditedTask(root => root["scenarios"]![0]!["file"] = scenario, SwarmTestFiles.OpenTaskFile);
        Assert.DoesNotThrow(() => SwarmTaskConfig.Load(open));
    }

    [Test]
    public void GoalsOutsideTheRoomAreRefused()
    {
        string scenario = SwarmTestFiles.EditedScenario("dynamic-goals", root => root["goal_area"]!["center"] = new JsonArray(0.0, 4.4, 9.9));
        string task = SwarmTestFiles.EditedTask(root => root["scenarios"]![3]!["file"] = scenario);
        var e = Assert.Throws<ConfigException>(() => SwarmTaskConfig.Load(task))!;
        Assert.That((e.File, e.JsonPath), Is.EqualTo((scenario, "$.goal_area")));
        Assert.That(e.Problem, Does.Contain("outside the room"));
    }

    [Test]
    public void MoreQuadsThanTheStartAreaHoldsAreRefused()
    {
        string scenario = SwarmTestFiles.EditedScenario("random-bezier", root => root["start_area"]!["half_extent"] = new JsonArray(0.25, 0.25, 0.0));
        string task = SwarmTestFiles.EditedTask(root => root["scenarios"]![4]!["file"] = scenario);
        var e = Assert.Throws<ConfigException>(() => SwarmTaskConfig.Load(task))!;
        Assert.That((e.File, e.JsonPath), Is.EqualTo((scenario, "$.start_area")));
        Assert.That(e.Problem, Does.Contain("holds only 4 quads")); // 2 × 2 × 1 slots 0.5 m apart, 8 quads
    }

    [Test]
    public void MoreNeighboursThanOtherQuadsAreRefused()
    {
        string task = SwarmTestFiles.EditedTask(root => { root["quads"] = 2; root["neighbours"] = 2; });
        var e = Assert.Throws<ConfigException>(() => SwarmTaskConfig.Load(task))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.neighbours"));
    }

    [Test]
    public void ATaskOfAnotherKindIsRefused()
    {
        string task = SwarmTestFiles.EditedTask(root => root["kind"] = "quadrotor");
        var e = Assert.Throws<ConfigException>(() => SwarmTaskConfig.Load(task))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.kind"));
    }
}
