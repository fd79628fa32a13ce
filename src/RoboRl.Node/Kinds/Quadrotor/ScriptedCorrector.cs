using System.Numerics;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Robots;

namespace RoboRl.Node;

/// <summary>
/// A scripted human for human-in-the-loop experiments (`roborl bench hil`): it watches the robot like a pilot with a
/// joystick and, whenever the position error passes <see cref="EngageErrorM"/> (or, before the safety supervisor's limits
/// would end the flight, the tilt passes <see cref="EngageTiltDeg"/> or the body rate <see cref="EngageRateRadS"/>),
/// holds the dead-man and flies the robot
/// back to the setpoint with the <see cref="QuadrotorFallbackController"/> (a teleop <see cref="TeleopKind.TakeOver"/>);
/// it lets go once the robot is back within <see cref="ReleaseErrorM"/> and slower than <see cref="ReleaseSpeedMS"/>.
/// The node sees it as any other <see cref="ITeleopSource"/>, so its corrections are recorded as interventions with
/// the human's and the policy's actions. Call <see cref="Update"/> with the sample the node will read, before each tick.
/// Allocation-free.
/// </summary>
public sealed class ScriptedCorrector : ITeleopSource
{
    private readonly QuadrotorFallbackController _pilot;
    private readonly float[] _action = new float[4];
    private TeleopSample _latest;
    private bool _has, _holding;
    private readonly float _cosEngageTilt;

    /// <param name="robot">The robot the node flies (the pilot's model of it).</param>
    public ScriptedCorrector(QuadrotorConfig robot, float engageErrorM = 0.15f, float releaseErrorM = 0.05f, float releaseSpeedMS = 0.2f,
        float engageTiltDeg = 20f, float engageRateRadS = 4f)
    {
        EngageRateRadS = engageRateRadS;
        EngageTiltDeg = engageTiltDeg;
        _cosEngageTilt = MathF.Cos(engageTiltDeg * MathF.PI / 180f);
        // A pilot does not land on its own: hold as long as it takes.
        _pilot = new QuadrotorFallbackController(robot, new FallbackConfig { HoldS = 1e6f, LandingSpeedMS = 0.3f, LandedHeightM = 0.03f });
        EngageErrorM = engageErrorM;
        ReleaseErrorM = releaseErrorM;
        ReleaseSpeedMS = releaseSpeedMS;
    }

    public float EngageErrorM { get; }
    public float EngageTiltDeg { get; }
    public float EngageRateRadS { get; }
    public float ReleaseErrorM { get; }
    public float ReleaseSpeedMS { get; }
    /// <summary>True while the dead-man is held.</summary>
    public bool Holding => _holding;
    /// <summary>Take-overs so far.</summary>
    public int Interventions { get; private set; }

    /// <summary>Looks at <paramref name="state"/> and decides; while holding, computes the correcting action.</summary>
    public void Update(in RobotStateSample state, Vector3 setpoint, long nowNs)
    {
        float error = Vector3.Distance(state.Position, setpoint);
        Quaternion q = state.Orientation;
        float cosTilt = 1 - 2 * (q.X * q.X + q.Y * q.Y); // body z · world z
        if (!_holding && (error > EngageErrorM || cosTilt < _cosEngageTilt || state.AngularVelocityBody.Length() > EngageRateRadS))
        {
            _pilot.EngageAt(in state, setpoint, nowNs);
            _holding = true;
            Interventions++;
        }
        else if (_holding && error < ReleaseErrorM && state.VelocityWorld.Length() < ReleaseSpeedMS) _holding = false;

        if (_holding)
        {
            _pilot.Compute(in state, nowNs, _action);
            _latest = new TeleopSample { TimestampNs = nowNs, Kind = TeleopKind.TakeOver, Action = new Vector4(_action[0], _action[1], _action[2], _action[3]) };
        }
        else _latest = new TeleopSample { TimestampNs = nowNs, Kind = TeleopKind.None };
        _has = true;
    }

    public bool TryGetLatest(out TeleopSample sample)
    {
        sample = _latest;
        return _has;
    }
}
