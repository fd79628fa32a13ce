using System.Globalization;
using System.Net;

namespace RoboRl.Foxglove;

/// <summary>Where the Foxglove server listens: `--foxglove [ADDR:]PORT` (loopback unless an address is given).</summary>
public sealed record FoxgloveEndpoint(IPAddress Address, int Port, string? Token)
{
    /// <summary>
    /// Parses `[ADDR:]PORT` (an IPv6 address in brackets: `[::1]:8765`; `localhost` is loopback). A PORT alone listens on
    /// 127.0.0.1. An address other than loopback needs <paramref name="token"/>: a viewer on the network must show it
    /// (`ws://HOST:PORT/?token=…`), or anyone who can reach the port could watch the robot. Throws
    /// <see cref="FormatException"/> with a message that names <paramref name="flag"/>.
    /// </summary>
    public static FoxgloveEndpoint Parse(string value, string? token, string flag = "--foxglove")
    {
        string host = "127.0.0.1", port = value.Trim();
        int colon = port.LastIndexOf(':');
        if (colon >= 0)
        {
            host = port[..colon];
            port = port[(colon + 1)..];
            if (host.StartsWith('[') && host.EndsWith(']')) host = host[1..^1];
        }
        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int p) || p > 65535)
            throw new FormatException($"{flag} {value}: '{port}' is not a port; expected [ADDR:]PORT (PORT 0-65535, 0 picks a free one)");
        IPAddress address;
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) address = IPAddress.Loopback;
        else if (!IPAddress.TryParse(host, out address!))
            throw new FormatException($"{flag} {value}: '{host}' is not an IP address; expected [ADDR:]PORT, e.g. 8765, 127.0.0.1:8765 or 0.0.0.0:8765");
        if (token is not null && token.Length == 0) throw new FormatException($"{flag}-token: empty; expected a secret viewers add as ?token=…");
        if (!IPAddress.IsLoopback(address) && token is null)
            throw new FormatException($"{flag} {value}: listening beyond this computer (address {address}) needs {flag}-token TOKEN " +
                "(viewers connect to ws://HOST:PORT/?token=TOKEN); without an address it listens on 127.0.0.1 only");
        return new FoxgloveEndpoint(address, p, token);
    }
}
