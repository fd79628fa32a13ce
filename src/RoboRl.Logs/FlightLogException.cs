namespace RoboRl.Logs;

/// <summary>A log that cannot be replayed (names the file and what is wrong).</summary>
public sealed class FlightLogException(string message) : Exception(message);
