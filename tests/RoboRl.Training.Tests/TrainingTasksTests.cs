using RoboRl.Core.Configs;
using RoboRl.Core.Tasks;

namespace RoboRl.Training.Tests;

/// <summary>Task files name their kind with "kind"; `roborl train` finds its trainer by that name (issue 17, items 1–2).</summary>
public class TrainingTasksTests
{
    [TestCase("configs/tasks/crazyflie-hover.json", "hover")]
    [TestCase("configs/tasks/crazyflie-brushless-hover.json", "hover")]
    [TestCase("configs/tasks/crazyflie-hover-wide.json", "hover")]
    [TestCase("configs/tasks/diffbot-nav.json", "navigation")]
    [TestCase("configs/swarm/crazyflie-swarm8.json", "swarm")]
    [TestCase("configs/swarm/crazyflie-swarm8-open.json", "swarm")]
    public void EveryShippedTaskNamesAKindWithATrainer(string file, string kind)
    {
        Assert.That(ConfigNode.LoadFile(RepoFiles.Path(file)).Has("kind"), Is.True, file + " names its kind");
        Assert.That(TrainingTasks.For(RepoFiles.Path(file)).Name, Is.EqualTo(kind));
    }

    [Test]
    public void TheWideHoverTaskTrainsAcrossTheJudgedEnvelopeWithTheActionsInFlight()
    {
        HoverTaskConfig wide = HoverTaskConfig.Load(RepoFiles.Path("configs/tasks/crazyflie-hover-wide.json"));
        DomainRandomizationConfig dr = wide.DomainRandomization;
        Assert.That(dr.Mass.Low, Is.LessThanOrEqualTo(0.6f)); Assert.That(dr.Mass.High, Is.GreaterThanOrEqualTo(1.5f));
        Assert.That(dr.MotorTimeConstant.Low, Is.LessThanOrEqualTo(0.5f)); Assert.That(dr.MotorTimeConstant.High, Is.GreaterThanOrEqualTo(3f));
        Assert.That(dr.LatencySteps.High, Is.EqualTo(3));
        Assert.That(wide.CriticActionsInFlight, Is.EqualTo(3));
        Assert.That(HoverTaskConfig.Load(RepoFiles.TaskFile).CriticActionsInFlight, Is.EqualTo(0), "the default keeps the 32-value critic");
    }

    [Test]
    public void AHoverFileWithoutTheKeyIsStillAHoverTask()
    {
        string file = RepoFiles.EditedCopy(RepoFiles.TaskFile, root => root.Remove("kind"));
        Assert.That(TrainingTasks.For(file).Name, Is.EqualTo(TaskKinds.Hover));
        Assert.DoesNotThrow(() => HoverTaskConfig.Load(file));
    }

    [Test]
    public void AnUnknownKindNamesTheFileTheKeyAndTheKnownKinds()
    {
        string file = RepoFiles.EditedCopy(RepoFiles.TaskFile, root => root["kind"] = "juggling");
        var e = Assert.Throws<ConfigException>(() => TrainingTasks.For(file))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.kind"));
        Assert.That(e.Message, Does.Contain(file).And.Contain("juggling").And.Contain("hover, navigation"));
    }

    [Test]
    public void TheOldNavigationDiscriminatorIsRefusedWithTheFix()
    {
        string file = RepoFiles.EditedCopy(RepoFiles.Path("configs/tasks/diffbot-nav.json"), root => { root.Remove("kind"); root["task"] = "navigation"; });
        var e = Assert.Throws<ConfigException>(() => TrainingTasks.For(file))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.task"));
        Assert.That(e.Message, Does.Contain("\"kind\": \"navigation\""));
    }

    [Test]
    public void AFileOfAnotherKindIsRefusedByEachReader()
    {
        var e = Assert.Throws<ConfigException>(() => NavTaskConfig.Load(RepoFiles.TaskFile))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.kind"));
        Assert.That(e.Message, Does.Contain("navigation"));
        e = Assert.Throws<ConfigException>(() => HoverTaskConfig.Load(RepoFiles.Path("configs/tasks/diffbot-nav.json")))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.kind"));
        Assert.That(e.Message, Does.Contain("hover"));
    }
}
