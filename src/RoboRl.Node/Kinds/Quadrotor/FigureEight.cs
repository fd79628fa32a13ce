using System.Numerics;
using RoboRl.Core.Robots;

namespace RoboRl.Node;

/// <summary>
/// Setpoints along a figure-eight (lemniscate of Gerono: x = A·sin ωt, y = A/2·sin 2ωt around the centre) sent to
/// the node as Setpoint commands at 50 Hz — the same path a ground station or an MQTT client would use. Called on the
/// node's tick thread; allocation-free.
/// </summary>
public sealed class FigureEight(Vector3 centre, float amplitude, float periodS) : ICommandSource
{
    private long _startNs = -1, _nextNs, _endNs = long.MaxValue;
    private const long EveryNs = 20_000_000;
    private Func<bool> _started = () => true;
    private bool _landSent;

    /// <summary>
    /// A flight as a user flies one: setpoints only once <paramref name="policyFlies"/> (after the take-off), for
    /// <paramref name="seconds"/>, then one Land command.
    /// </summary>
    public FigureEight(Vector3 centre, float amplitude, float periodS, Func<bool> policyFlies, double seconds) : this(centre, amplitude, periodS)
    {
        _started = policyFlies;
        _endNs = (long)(seconds * 1e9);
    }

    /// <summary>The figure-eight is done and the Land command was sent.</summary>
    public bool LandSent => _landSent;

    public float Amplitude => amplitude;
    public float PeriodS => periodS;

    public Vector3 At(double seconds)
    {
        double w = 2 * Math.PI / periodS;
        return centre + new Vector3((float)(amplitude * Math.Sin(w * seconds)), (float)(amplitude / 2 * Math.Sin(2 * w * seconds)), 0);
    }

    public bool TryDequeue(out NodeCommand command)
    {
        long now = NodeClock.NowNs;
        command = default;
        if (_landSent) return false;
        if (_startNs < 0)
        {
            if (!_started()) return false;
            _startNs = now; _nextNs = now;
        }
        if (now - _startNs >= _endNs)
        {
            _landSent = true;
            command = new NodeCommand(NodeCommandKind.Land, default, 0, "quickstart", now);
            return true;
        }
        if (now < _nextNs) return false;
        _nextNs += EveryNs;
        command = new NodeCommand(NodeCommandKind.Setpoint, At((now - _startNs) * 1e-9), 0, "quickstart", now);
        return true;
    }
}
