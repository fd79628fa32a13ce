using System.Globalization;
using System.Numerics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace RoboRl.Core.Robots;

/// <summary>
/// One value per actuator (a rotor, a wheel), up to <see cref="Capacity"/>, held inline: a struct that copies into the
/// recorder's ring and across transports without touching the heap, so a tick that fills one allocates nothing.
/// <see cref="Count"/> says how many are in use; reading past it throws. A quadrotor's four values convert from and to a
/// <see cref="Vector4"/> (motor order M1..M4).
/// </summary>
public struct ActuatorValues : IEquatable<ActuatorValues>
{
    /// <summary>Most actuators one command carries (an octocopter; a quadrotor uses 4, a differential drive 2).</summary>
    public const int Capacity = 8;

    [InlineArray(Capacity)]
    private struct Buffer { private float _element; }

    private Buffer _values;
    private int _count;

    /// <summary><paramref name="count"/> values, all zero.</summary>
    public ActuatorValues(int count)
    {
        if ((uint)count > Capacity) throw new ArgumentOutOfRangeException(nameof(count), count, $"at most {Capacity} actuators");
        _count = count;
    }

    public readonly int Count => _count;

    public float this[int index]
    {
        readonly get
        {
            if ((uint)index >= (uint)_count) throw new IndexOutOfRangeException($"actuator {index} of {_count}");
            return _values[index];
        }
        set
        {
            if ((uint)index >= (uint)_count) throw new IndexOutOfRangeException($"actuator {index} of {_count}");
            _values[index] = value;
        }
    }

    /// <summary>The values in use, as a span over this struct's own storage (no copy).</summary>
    [UnscopedRef]
    public Span<float> AsSpan() => ((Span<float>)_values)[.._count];

    /// <summary>Copies the values in use into <paramref name="destination"/> (at least <see cref="Count"/> long).</summary>
    public readonly void CopyTo(Span<float> destination) => ((ReadOnlySpan<float>)_values)[.._count].CopyTo(destination);

    /// <summary>The values of <paramref name="values"/> (at most <see cref="Capacity"/>).</summary>
    public static ActuatorValues From(ReadOnlySpan<float> values)
    {
        var result = new ActuatorValues(values.Length);
        values.CopyTo(result._values);
        return result;
    }

    /// <summary><paramref name="count"/> values, each <paramref name="value"/>.</summary>
    public static ActuatorValues Fill(int count, float value)
    {
        var result = new ActuatorValues(count);
        result.AsSpan().Fill(value);
        return result;
    }

    /// <summary>Four values (a quadrotor's motors M1..M4).</summary>
    public static implicit operator ActuatorValues(Vector4 v)
    {
        var result = new ActuatorValues(4);
        result._values[0] = v.X; result._values[1] = v.Y; result._values[2] = v.Z; result._values[3] = v.W;
        return result;
    }

    /// <summary>The first four values (missing ones 0): a quadrotor's motors M1..M4.</summary>
    public readonly Vector4 AsVector4() => new(At(0), At(1), At(2), At(3));

    private readonly float At(int i) => i < _count ? _values[i] : 0f;

    /// <summary>True when every value in use is finite.</summary>
    public readonly bool AllFinite()
    {
        for (int i = 0; i < _count; i++) if (!float.IsFinite(_values[i])) return false;
        return true;
    }

    public readonly bool Equals(ActuatorValues other)
    {
        if (other._count != _count) return false;
        for (int i = 0; i < _count; i++)
            if (!_values[i].Equals(other._values[i])) return false;
        return true;
    }

    public override readonly bool Equals(object? obj) => obj is ActuatorValues other && Equals(other);

    public override readonly int GetHashCode()
    {
        var hash = new HashCode();
        for (int i = 0; i < _count; i++) hash.Add(_values[i]);
        return hash.ToHashCode();
    }

    public static bool operator ==(ActuatorValues a, ActuatorValues b) => a.Equals(b);
    public static bool operator !=(ActuatorValues a, ActuatorValues b) => !a.Equals(b);

    public override readonly string ToString()
    {
        var parts = new string[_count];
        for (int i = 0; i < _count; i++) parts[i] = _values[i].ToString("G6", CultureInfo.InvariantCulture);
        return $"[{string.Join(", ", parts)}]";
    }
}
