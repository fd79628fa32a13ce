using System.Numerics;
using System.Text.Json.Nodes;
using RoboRl.Core.Configs;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Tasks;

namespace RoboRl.Core.Tests;

public class RobotConfigTests
{
    [Test]
    public void Crazyflie21LoadsTheLearningToFlyConstantsAndTheFirmwaresActuator()
    {
        QuadrotorConfig robot = QuadrotorConfig.Load(RepoFiles.RobotFile);
        Assert.That(robot.Mass, Is.EqualTo(0.027f));
        Assert.That(robot.Gravity, Is.EqualTo(9.81f));
        Assert.That(robot.InertiaDiagonal, Is.EqualTo(new Vector3(3.85e-6f, 3.85e-6f, 5.9675e-6f)));
        Assert.That(robot.ThrustPolynomial, Is.EqualTo(new Vector3(0, 0, 3.16e-10f)));
        Assert.That(robot.YawTorquePerThrust, Is.EqualTo(0.0069928948992470565f), "THRUST2TORQUE of the 2.1+ propellers");
        Assert.That(robot.MotorTimeConstant, Is.EqualTo(0.15f));
        Assert.That(robot.RpmMax, Is.EqualTo(21702f));
        Assert.That(robot.Rotors.Select(r => r.YawTorqueSign), Is.EqualTo(new[] { -1f, 1f, -1f, 1f }));
        Assert.That(robot.Rotors[0].Position, Is.EqualTo(new Vector3(0.028f, -0.028f, 0)));
        Assert.That(robot.Rotors[3].Position, Is.EqualTo(new Vector3(0.028f, 0.028f, 0)));
        Assert.That(robot.Sources.Keys, Does.Contain("mass").And.Contain("rotors").And.Contain("actuation"));
        Assert.That(robot.Actuator.Propellers, Is.EqualTo("crazyflie-2.1-plus"));
        Assert.That(robot.Actuator.BatteryCompensation, Is.True);
        Assert.That(robot.Actuator.ThrustMaxN, Is.EqualTo(0.12f));
    }

    [Test]
    public void HoverRpmCarriesTheWeight()
    {
        QuadrotorConfig robot = QuadrotorConfig.Load(RepoFiles.RobotFile);
        float hover = robot.HoverRpm();
        // sqrt(0.027·9.81/4 / 3.16e-10) = 14475.8 rpm; RLtools' file says hovering_throttle 14475.809.
        Assert.That(hover, Is.EqualTo(14475.809f).Within(0.05f));
        Assert.That(4 * robot.Thrust(hover), Is.EqualTo(robot.Mass * robot.Gravity).Within(1e-6f));
        // The action is a force: (a + 1)/2 · 0.12 N = 0.027 · 9.81 / 4 at a = 0.1036 (L2F's rpm mapping had 0.334).
        Assert.That(robot.HoverAction(), Is.EqualTo(2 * 0.027f * 9.81f / 4 / 0.12f - 1).Within(1e-5f));
        Assert.That(robot.RpmFromAction(robot.HoverAction()), Is.EqualTo(hover).Within(0.5f));
        Assert.That(robot.RpmFromAction(robot.ActionFromRpm(12345f)), Is.EqualTo(12345f).Within(0.05f));
        Assert.That(robot.RpmFromAction(-1), Is.EqualTo(0f));
        // A full command is THRUST_MAX, 0.12 N: sqrt(0.12 / 3.16e-10) = 19487 rpm, below the motors' 21702.
        Assert.That(robot.RpmFromAction(1), Is.EqualTo(MathF.Sqrt(0.12f / 3.16e-10f)).Within(0.5f));
        Assert.That(robot.Thrust(robot.RpmFromAction(1)), Is.EqualTo(0.12f).Within(1e-6f));
    }

    [Test]
    public void GeneralThrustPolynomialHoverSolvesTheQuadratic()
    {
        string file = RepoFiles.EditedCopy(RepoFiles.RobotFile, o => o["thrust_polynomial"] = new JsonArray(0.01, 2e-6, 2e-10));
        QuadrotorConfig robot = QuadrotorConfig.Load(file);
        Assert.That(4 * robot.Thrust(robot.HoverRpm()), Is.EqualTo(robot.Mass * robot.Gravity).Within(1e-5f));
    }

    [Test]
    public void UnknownKeyIsNamedWithFileAndAllowedKeys()
    {
        string file = RepoFiles.EditedCopy(RepoFiles.RobotFile, o => o["colour"] = "blue");
        var e = Assert.Throws<ConfigException>(() => QuadrotorConfig.Load(file))!;
        Assert.That(e.File, Is.EqualTo(file));
        Assert.That(e.JsonPath, Is.EqualTo("$.colour"));
        Assert.That(e.Message, Does.Contain(file).And.Contain("unknown key").And.Contain("mass"));
    }

    [Test]
    public void MissingKeyIsNamed()
    {
        string file = RepoFiles.EditedCopy(RepoFiles.RobotFile, o => o.Remove("motor_time_constant"));
        var e = Assert.Throws<ConfigException>(() => QuadrotorConfig.Load(file))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.motor_time_constant"));
        Assert.That(e.Message, Does.Contain("missing required key"));
    }

    [Test]
    public void AMisspeltOptionalKeyIsUnknownWithASuggestion()
    {
        ConfigNode node = ConfigNode.Parse("""{ "rate_hz": 100, "telemetry_hzz": 10 }""", "node.json");
        node.Number("rate_hz", 1, 1000);
        node.Number("telemetry_hz", 0.1, 1000, 10);
        var e = Assert.Throws<ConfigException>(() => node.EnsureNoUnknownKeys())!;
        Assert.That(e.JsonPath, Is.EqualTo("$.telemetry_hzz"));
        Assert.That(e.Problem, Does.StartWith("unknown key; did you mean \"telemetry_hz\"?").And.Contain("allowed keys here: rate_hz, telemetry_hz"));

        // Far from every known key: no guess, only the list.
        node = ConfigNode.Parse("""{ "rate_hz": 100, "colour": "red" }""", "node.json");
        node.Number("rate_hz", 1, 1000);
        e = Assert.Throws<ConfigException>(() => node.EnsureNoUnknownKeys())!;
        Assert.That(e.Problem, Does.Not.Contain("did you mean"));
    }

    [Test]
    public void AMisspeltRequiredKeyNamesTheTypoNextToTheMissingKey()
    {
        string file = RepoFiles.EditedCopy(RepoFiles.RobotFile, o => { o["motor_time_constnat"] = o["motor_time_constant"]!.DeepClone(); o.Remove("motor_time_constant"); });
        var e = Assert.Throws<ConfigException>(() => QuadrotorConfig.Load(file))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.motor_time_constant"));
        Assert.That(e.Message, Does.Contain("missing required key; the file has the unknown key \"motor_time_constnat\" here: did you mean \"motor_time_constant\"?"));
    }

    [Test]
    public void ADiffDriveRobotIsNamedAsOneWhereAQuadrotorIsNeeded()
    {
        var e = Assert.Throws<ConfigException>(() => QuadrotorConfig.Load(RepoFiles.Path("configs/robots/diffbot.json")))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.kind"));
        Assert.That(e.Problem, Does.Contain("a differential-drive robot").And.Contain("quadrotor"));
    }

    [Test]
    public void ADirectoryOrAPipeIsNamedForWhatItIsAndNeverBlocks()
    {
        string dir = Directory.CreateTempSubdirectory("roborl-config-").FullName;
        try
        {
            var e = Assert.Throws<ConfigException>(() => ConfigNode.LoadFile(dir))!;
            Assert.That(e.Problem, Is.EqualTo("is a directory, not a file"));
            Assert.That(InputFiles.Kind(dir), Is.EqualTo(PathKind.Directory));

            // A named pipe with no writer: opening it would wait forever; it is refused before any open.
            string fifo = Path.Combine(dir, "pipe.json");
            using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", fifo)) mkfifo.WaitForExit();
            Assert.That(InputFiles.Kind(fifo), Is.EqualTo(PathKind.NamedPipe));
            var read = Task.Run(() => Assert.Throws<ConfigException>(() => ConfigNode.LoadFile(fifo))!);
            Assert.That(read.Wait(TimeSpan.FromSeconds(30)), Is.True, "reading a FIFO must not block");
            Assert.That(read.Result.Problem, Does.Contain("named pipe"));

            Assert.That(InputFiles.WhyNotReadable(Path.Combine(dir, "absent.json")), Is.EqualTo("no such file"));
            Assert.That(InputFiles.WhyNotReadable(RepoFiles.RobotFile), Is.Null);
            Assert.That(InputFiles.Kind(RepoFiles.RobotFile), Is.EqualTo(PathKind.RegularFile));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Test]
    public void OutOfRangeValueNamesTheAllowedRange()
    {
        string file = RepoFiles.EditedCopy(RepoFiles.RobotFile, o => o["mass"] = -1);
        var e = Assert.Throws<ConfigException>(() => QuadrotorConfig.Load(file))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.mass"));
        Assert.That(e.Message, Does.Contain("out of range").And.Contain("[0.001, 100]"));
    }

    [Test]
    public void NestedErrorsCarryTheFullJsonPath()
    {
        string file = RepoFiles.EditedCopy(RepoFiles.RobotFile, o => o["rotors"]![2]!["position"]![1] = 50);
        var e = Assert.Throws<ConfigException>(() => QuadrotorConfig.Load(file))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.rotors[2].position[1]"));
        Assert.That(e.Message, Does.Contain("[-10, 10]"));

        file = RepoFiles.EditedCopy(RepoFiles.RobotFile, o => o["rotors"]!.AsArray().RemoveAt(3));
        e = Assert.Throws<ConfigException>(() => QuadrotorConfig.Load(file))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.rotors"));
        Assert.That(e.Message, Does.Contain("expected 4 elements, found 3"));

        file = RepoFiles.EditedCopy(RepoFiles.RobotFile, o => o["rotors"]![1]!["yaw_torque_sign"] = 0);
        e = Assert.Throws<ConfigException>(() => QuadrotorConfig.Load(file))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.rotors[1].yaw_torque_sign"));
    }

    [Test]
    public void WrongTypeIsNamed()
    {
        string file = RepoFiles.EditedCopy(RepoFiles.RobotFile, o => o["gravity"] = "9.81");
        var e = Assert.Throws<ConfigException>(() => QuadrotorConfig.Load(file))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.gravity"));
        Assert.That(e.Message, Does.Contain("expected a number"));
    }

    [Test]
    public void EveryValueNeedsASource()
    {
        string file = RepoFiles.EditedCopy(RepoFiles.RobotFile, o => o["sources"]!.AsObject().Remove("inertia_diagonal"));
        var e = Assert.Throws<ConfigException>(() => QuadrotorConfig.Load(file))!;
        Assert.That(e.Message, Does.Contain("no source given for \"inertia_diagonal\""));

        file = RepoFiles.EditedCopy(RepoFiles.RobotFile, o => o["sources"]!["wingspan"] = "a book");
        e = Assert.Throws<ConfigException>(() => QuadrotorConfig.Load(file))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.sources.wingspan"));
    }

    [Test]
    public void RobotThatCannotHoverIsRejected()
    {
        string file = RepoFiles.EditedCopy(RepoFiles.RobotFile, o => o["rpm_max"] = 10000);
        var e = Assert.Throws<ConfigException>(() => QuadrotorConfig.Load(file))!;
        Assert.That(e.Message, Does.Contain("cannot hover"));
    }

    [Test]
    public void InvalidJsonAndMissingFileAreConfigErrors()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigNode.Parse("{ \"a\": ", "broken.json"))!;
        Assert.That(e.Message, Does.StartWith("broken.json: $: not valid JSON"));
        e = Assert.Throws<ConfigException>(() => QuadrotorConfig.Load("no/such/robot.json"))!;
        Assert.That(e.Message, Does.Contain("no/such/robot.json").And.Contain("no such file"));
    }

    [Test]
    public void ADuplicateKeyIsAnErrorNamingItsPath()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigNode.Parse("""{"training": {"td3": {"batch_size": 128, "batch_size": 256}}}""", "task.json"))!;
        Assert.That(e.File, Is.EqualTo("task.json"));
        Assert.That(e.JsonPath, Is.EqualTo("$.training.td3.batch_size"));
        Assert.That(e.Message, Does.Contain("twice"));
        e = Assert.Throws<ConfigException>(() => ConfigNode.Parse("""{"users": [{"name": "a"}, {"name": "b", "name": "c"}]}""", "n.json"))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.users[1].name"));
        Assert.DoesNotThrow(() => ConfigNode.Parse("""{"a": {"x": 1}, "b": {"x": 2}}""", "ok.json"), "the same key in two objects is fine");
    }
}

public class TaskConfigTests
{
    [Test]
    public void HoverTaskLoadsWithItsRobot()
    {
        HoverTaskConfig task = HoverTaskConfig.Load(RepoFiles.TaskFile);
        Assert.That(task.Robot.Name, Is.EqualTo("crazyflie21"));
        Assert.That(task.ControlFrequencyHz, Is.EqualTo(100));
        Assert.That(task.EpisodeSteps, Is.EqualTo(500));
        Assert.That(task.ActionHistoryLength, Is.EqualTo(32));
        Assert.That(HoverObservation.ActorSize(task.ActionHistoryLength), Is.EqualTo(149));
        Assert.That(HoverObservation.CriticSize, Is.EqualTo(32));
        Assert.That(task.TargetPosition, Is.EqualTo(new Vector3(0, 0, 1)));
        Assert.That(task.PositionErrorLimit, Is.EqualTo(0.6f));
        Assert.That(task.InitialState.RestFraction, Is.EqualTo(0.1f));
        Assert.That(task.ObservationNoise, Is.EqualTo(new ObservationNoise(0.001f, 0.001f, 0.002f, 0.002f)));
        // Training: twice L2F's disturbance force and wider vehicles; judged under L2F's disturbance (docs/experiments.md, fifth round).
        Assert.That(task.DisturbanceForceStd, Is.EqualTo(0.02648f));
        Assert.That(task.DisturbanceTorqueStd, Is.EqualTo(2.65e-5f));
        Assert.That(task.Evaluation!.DisturbanceForceStd, Is.EqualTo(0.01324f));
        Assert.That(task.Evaluation!.DisturbanceTorqueStd, Is.EqualTo(2.65e-5f));
        Assert.That(task.DomainRandomization.Mass, Is.EqualTo((0.7f, 1.4f)));
        Assert.That(task.DomainRandomization.ThrustCoefficient, Is.EqualTo((0.85f, 1.15f)));
        Assert.That(task.DomainRandomization.LatencySteps, Is.EqualTo((0, 1)));
    }

    [Test]
    public void CurriculumIsPiecewiseConstantInTheGlobalStep()
    {
        HoverTaskConfig task = HoverTaskConfig.Load(RepoFiles.TaskFile);
        // The shipped curriculum (tuned in training; the config's comments say why it differs from L2F's 5 → 40).
        Assert.That(task.WeightsAt(0), Is.EqualTo(new HoverRewardWeights(10, 5, 0.05f, 0.05f)));
        Assert.That(task.WeightsAt(99_999), Is.EqualTo(new HoverRewardWeights(10, 5, 0.05f, 0.05f)));
        Assert.That(task.WeightsAt(100_000), Is.EqualTo(new HoverRewardWeights(20, 5, 0.2f, 0.2f, 0, 4)));
        Assert.That(task.WeightsAt(200_000), Is.EqualTo(new HoverRewardWeights(30, 5, 0.5f, 0.5f, 0, 4)));
        Assert.That(task.WeightsAt(10_000_000), Is.EqualTo(new HoverRewardWeights(30, 5, 0.5f, 0.5f, 0, 4)));
    }

    [Test]
    public void DomainRandomizationSectionLoadsOnItsOwnOrFromATaskFile()
    {
        DomainRandomizationConfig fromTask = DomainRandomizationConfig.Load(RepoFiles.TaskFile);
        Assert.That(fromTask.MotorTimeConstant, Is.EqualTo((0.7f, 1.3f)));
        string bare = Path.Combine(Path.GetTempPath(), $"roborl-dr-{Guid.NewGuid():N}.json");
        File.WriteAllText(bare, """{"mass": [1, 1], "inertia": [1, 1.5], "thrust_coefficient": [0.95, 1.05], "motor_time_constant": [1, 1], "latency_steps": [2, 3]}""");
        DomainRandomizationConfig alone = DomainRandomizationConfig.Load(bare);
        Assert.That(alone.Inertia, Is.EqualTo((1f, 1.5f)));
        Assert.That(alone.LatencySteps, Is.EqualTo((2, 3)));
    }

    [Test]
    public void DomainRandomizationWidensFromItsStartRangesOverTheGivenSteps()
    {
        string file = Path.Combine(Path.GetTempPath(), $"roborl-dr-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, """
            {"mass": [0.6, 1.6], "inertia": [1, 1], "thrust_coefficient": [1, 1], "motor_time_constant": [0.5, 3], "latency_steps": [0, 3],
             "start": {"mass": [0.8, 1.2], "inertia": [1, 1], "thrust_coefficient": [1, 1], "motor_time_constant": [1, 1], "latency_steps": [0, 1]},
             "widen_steps": [100000, 200000]}
            """);
        DomainRandomizationConfig dr = DomainRandomizationConfig.Load(file);
        Assert.That(dr.At(0).Mass, Is.EqualTo((0.8f, 1.2f)));
        Assert.That(dr.At(100_000).LatencySteps, Is.EqualTo((0, 1)));
        DomainRandomizationRanges half = dr.At(150_000);
        Assert.That(half.Mass.Low, Is.EqualTo(0.7f).Within(1e-6f));
        Assert.That(half.Mass.High, Is.EqualTo(1.4f).Within(1e-6f));
        Assert.That(half.MotorTimeConstant.High, Is.EqualTo(2f).Within(1e-6f));
        Assert.That(half.LatencySteps, Is.EqualTo((0, 2)));
        Assert.That(dr.At(200_000), Is.EqualTo(dr.At(long.MaxValue)));
        Assert.That(dr.At(long.MaxValue).MotorTimeConstant, Is.EqualTo((0.5f, 3f)), "evaluation (step = max) uses the section's own ranges");

        File.WriteAllText(file, """
            {"mass": [1, 1], "inertia": [1, 1], "thrust_coefficient": [1, 1], "motor_time_constant": [1, 1], "latency_steps": [0, 0],
             "widen_steps": [0, 10]}
            """);
        var e = Assert.Throws<ConfigException>(() => DomainRandomizationConfig.Load(file))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.start"));
        Assert.That(e.Message, Does.Contain("go together"));
    }

    [Test]
    public void DomainRandomizationErrorsNameTheKey()
    {
        string file = RepoFiles.EditedCopy(RepoFiles.TaskFile, o => o["domain_randomization"]!["masss"] = new JsonArray(1, 1));
        var e = Assert.Throws<ConfigException>(() => HoverTaskConfig.Load(file))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.domain_randomization.masss"));

        file = RepoFiles.EditedCopy(RepoFiles.TaskFile, o => o["domain_randomization"]!["mass"] = new JsonArray(1.2, 0.8));
        e = Assert.Throws<ConfigException>(() => HoverTaskConfig.Load(file))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.domain_randomization.mass"));
        Assert.That(e.Message, Does.Contain("low <= high"));

        file = RepoFiles.EditedCopy(RepoFiles.TaskFile, o => o["domain_randomization"]!["latency_steps"] = new JsonArray(0, 1.5));
        e = Assert.Throws<ConfigException>(() => HoverTaskConfig.Load(file))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.domain_randomization.latency_steps[1]"));
        Assert.That(e.Message, Does.Contain("expected an integer"));

        file = RepoFiles.EditedCopy(RepoFiles.TaskFile, o => { o["action_history_length"] = 4; o["domain_randomization"]!["latency_steps"] = new JsonArray(0, 5); });
        e = Assert.Throws<ConfigException>(() => HoverTaskConfig.Load(file))!;
        Assert.That(e.Message, Does.Contain("allowed [0, 3]"));
    }

    [Test]
    public void TerminationPenaltyAndEvaluationDisturbanceAreReadAndChecked()
    {
        string file = RepoFiles.EditedCopy(RepoFiles.TaskFile, o =>
        {
            o["reward"]!["termination_penalty"] = 25;
            o["evaluation"]!["disturbance"] = new JsonObject { ["force_std"] = 0.005, ["torque_std"] = 1e-6 };
        });
        HoverTaskConfig task = HoverTaskConfig.Load(file);
        Assert.That(task.TerminationPenalty, Is.EqualTo(25f));
        Assert.That(task.Evaluation!.DisturbanceForceStd, Is.EqualTo(0.005f));
        Assert.That(task.Evaluation!.DisturbanceTorqueStd, Is.EqualTo(1e-6f));

        file = RepoFiles.EditedCopy(RepoFiles.TaskFile, o => { o["reward"]!["termination_penalty"] = -1; });
        var e = Assert.Throws<ConfigException>(() => HoverTaskConfig.Load(file))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.reward.termination_penalty"));

        file = RepoFiles.EditedCopy(RepoFiles.TaskFile, o => o["evaluation"]!["disturbance"] = new JsonObject { ["force_std"] = 0.01, ["torque"] = 0 });
        e = Assert.Throws<ConfigException>(() => HoverTaskConfig.Load(file))!;
        Assert.That(e.JsonPath, Does.StartWith("$.evaluation.disturbance."), e.Message);
    }

    [Test]
    public void EvaluationSectionIsReadAndChecked()
    {
        HoverTaskConfig task = HoverTaskConfig.Load(RepoFiles.TaskFile);
        Assert.That(task.Evaluation, Is.Not.Null);
        Assert.That(task.Evaluation!.InitialState.MaxTiltDeg, Is.EqualTo(30));
        Assert.That(task.Evaluation!.InitialState.MaxYawDeg, Is.EqualTo(30));
        Assert.That(task.InitialState.MaxYawDeg, Is.EqualTo(180));
        Assert.That(task.Evaluation.SuccessRadius, Is.EqualTo(0.1f));
        Assert.That(task.Training, Is.Not.Null, "the training section is kept (unread) for the trainer");

        string file = RepoFiles.EditedCopy(RepoFiles.TaskFile, o => o["evaluation"]!["settle_seconds"] = 6);
        var e = Assert.Throws<ConfigException>(() => HoverTaskConfig.Load(file))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.evaluation.settle_seconds"));
        Assert.That(e.Message, Does.Contain("episode_seconds"));

        file = RepoFiles.EditedCopy(RepoFiles.TaskFile, o => o["evaluation"]!["initial_state"]!["tilt"] = 3);
        e = Assert.Throws<ConfigException>(() => HoverTaskConfig.Load(file))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.evaluation.initial_state.tilt"));

        file = RepoFiles.EditedCopy(RepoFiles.TaskFile, o => o.Remove("evaluation"));
        Assert.That(HoverTaskConfig.Load(file).Evaluation, Is.Null);
    }

    [Test]
    public void ChoiceAndIntegersNameTheAllowedValues()
    {
        ConfigNode node = ConfigNode.Parse("""{"algo": "ppo", "sizes": [64, 0], "ok": [1, 2]}""", "t.json");
        var e = Assert.Throws<ConfigException>(() => node.Choice("algo", "td3", "sac"))!;
        Assert.That(e.Message, Does.Contain("t.json").And.Contain("$.algo").And.Contain("td3, sac"));
        e = Assert.Throws<ConfigException>(() => node.Integers("sizes", 1, 4, 1, 4096))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.sizes[1]"));
        Assert.That(node.Integers("ok", 1, 4, 1, 10), Is.EqualTo(new[] { 1, 2 }));
    }

    [Test]
    public void TaskErrorsNameTheKey()
    {
        string file = RepoFiles.EditedCopy(RepoFiles.TaskFile, o => o["initial_state"]!["rest_fraction"] = 1.5);
        var e = Assert.Throws<ConfigException>(() => HoverTaskConfig.Load(file))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.initial_state.rest_fraction"));
        Assert.That(e.Message, Does.Contain("[0, 1]"));

        file = RepoFiles.EditedCopy(RepoFiles.TaskFile, o => o["reward"]!["curriculum"]![1]!["weights"]!.AsObject().Remove("action"));
        e = Assert.Throws<ConfigException>(() => HoverTaskConfig.Load(file))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.reward.curriculum[1].weights.action"));

        file = RepoFiles.EditedCopy(RepoFiles.TaskFile, o => o["reward"]!["curriculum"]![2]!["from_step"] = 50_000);
        e = Assert.Throws<ConfigException>(() => HoverTaskConfig.Load(file))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.reward.curriculum[2].from_step"));

        file = RepoFiles.EditedCopy(RepoFiles.TaskFile, o => o["target_position"] = new JsonArray(0, 0, 0.1));
        e = Assert.Throws<ConfigException>(() => HoverTaskConfig.Load(file))!;
        Assert.That(e.Message, Does.Contain("above the floor"));

        file = RepoFiles.EditedCopy(RepoFiles.TaskFile, o => o["robot"] = "missing-robot.json");
        e = Assert.Throws<ConfigException>(() => HoverTaskConfig.Load(file))!;
        Assert.That(e.Message, Does.Contain("missing-robot.json"));
    }
}

public class ConfigNodeStringsTests
{
    [Test]
    public void StringArrayIsReadAndEachElementChecked()
    {
        ConfigNode node = ConfigNode.Parse("""{"rights": ["arm", "kill"], "bad": ["arm", 3], "odd": ["fly"], "notArray": "arm"}""", "n.json");
        Assert.That(node.Strings("rights", ["arm", "kill", "land"]), Is.EqualTo(new[] { "arm", "kill" }));
        var e = Assert.Throws<ConfigException>(() => node.Strings("bad"))!;
        Assert.That((e.JsonPath, e.Problem), Is.EqualTo(("$.bad[1]", "expected a non-empty string, found the number 3")));
        e = Assert.Throws<ConfigException>(() => node.Strings("odd", ["arm", "kill"]))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.odd[0]"));
        Assert.That(e.Problem, Does.Contain("[arm, kill]").And.Contain("\"fly\""));
        e = Assert.Throws<ConfigException>(() => node.Strings("notArray"))!;
        Assert.That(e.Problem, Does.StartWith("expected an array of strings"));
    }
}
