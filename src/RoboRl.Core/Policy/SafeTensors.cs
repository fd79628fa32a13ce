using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace RoboRl.Core.Policy;

/// <summary>One tensor of a safetensors file: name, dtype string ("F32", ...), shape, raw little-endian bytes.</summary>
public sealed record SafeTensor(string Name, string DType, long[] Shape, byte[] Data)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// The safetensors container (huggingface/safetensors, docs "safetensors format"; read, not copied):
/// <code>
///   u64 little-endian N | N bytes of UTF-8 JSON header | byte buffer
///   header = { "__metadata__": { string: string, ... },
///              "name": { "dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end] }, ... }
/// </code>
/// Offsets are relative to the byte buffer. The reference implementation refuses headers over 100 MB,
/// headers not starting with '{', byte ranges that do not match dtype × shape, and buffers with holes or
/// overlaps (sorted ranges must tile the buffer exactly). Its writer pads the header with spaces so the
/// buffer starts 8-byte aligned. This class writes and checks exactly that, so Python's
/// <c>safetensors.safe_open(path, "np")</c> reads our files and we read theirs (F32 only is needed here).
/// </summary>
public static class SafeTensors
{
    /// <summary>The reference implementation's limit on the header length (safetensors MAX_HEADER_SIZE).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>Our own cap on the byte buffer: a policy is kilobytes to a few megabytes.</summary>
    public const long MaxDataBytes = 1L << 30;

    public const string MetadataKey = "__metadata__";

    static readonly Dictionary<string, int> DTypeSizes = new()
    {
        ["BOOL"] = 1,
        ["U8"] = 1,
        ["I8"] = 1,
        ["F8_E5M2"] = 1,
        ["F8_E4M3"] = 1,
        ["I16"] = 2,
        ["U16"] = 2,
        ["F16"] = 2,
        ["BF16"] = 2,
        ["I32"] = 4,
        ["U32"] = 4,
        ["F32"] = 4,
        ["I64"] = 8,
        ["U64"] = 8,
        ["F64"] = 8,
    };

    /// <summary>Writes metadata and tensors (in the given order) as one safetensors file.</summary>
    public static void Write(Stream stream, IReadOnlyDictionary<string, string> metadata, IReadOnlyList<SafeTensor> tensors)
    {
        var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            json.WriteStartObject(MetadataKey);
            foreach (var (key, value) in metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
                json.WriteString(key, value);
            json.WriteEndObject();
            long offset = 0;
            foreach (SafeTensor tensor in tensors)
            {
                if (!DTypeSizes.TryGetValue(tensor.DType, out int size) || tensor.ElementCount * size != tensor.Data.Length)
                    throw new ArgumentException($"tensor '{tensor.Name}': {tensor.Data.Length} bytes do not hold {tensor.DType} of shape [{string.Join(", ", tensor.Shape)}]");
                json.WriteStartObject(tensor.Name);
                json.WriteString("dtype", tensor.DType);
                json.WriteStartArray("shape");
                foreach (long dim in tensor.Shape) json.WriteNumberValue(dim);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + tensor.Data.Length);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += tensor.Data.Length;
            }
            json.WriteEndObject();
        }
        // Pad with spaces so the buffer starts 8-byte aligned, as the reference writer does.
        int padding = (int)((8 - (8 + header.Length) % 8) % 8);
        for (int i = 0; i < padding; i++) header.WriteByte((byte)' ');

        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        stream.Write(length);
        header.Position = 0;
        header.CopyTo(stream);
        foreach (SafeTensor tensor in tensors) stream.Write(tensor.Data);
    }

    /// <summary>
    /// Reads a whole safetensors file from <paramref name="stream"/>. Every defect becomes a
    /// <see cref="PolicyBundleException"/> naming <paramref name="source"/> and the field.
    /// </summary>
    public static (Dictionary<string, string> Metadata, Dictionary<string, SafeTensor> Tensors) Read(Stream stream, string source)
    {
        byte[] lengthBytes = ReadExactly(stream, 8, source, "header length", "file ends inside the 8-byte header length");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > MaxHeaderBytes)
            throw new PolicyBundleException(source, "header length", $"{headerLength} bytes is absurd (limit {MaxHeaderBytes})");
        if (stream.CanSeek && (long)headerLength > stream.Length - stream.Position)
            throw new PolicyBundleException(source, "header length", $"says {headerLength} bytes but only {stream.Length - stream.Position} follow (truncated file?)");
        byte[] header = ReadExactly(stream, (int)headerLength, source, "header", $"file ends inside the {headerLength}-byte JSON header (truncated)");
        byte[] data = ReadRest(stream, source);

        if (!System.Text.Unicode.Utf8.IsValid(header))
            throw new PolicyBundleException(source, "header", "is not valid UTF-8");
        if (header.Length == 0 || header[0] != (byte)'{')
            throw new PolicyBundleException(source, "header", "does not start with '{' (not a safetensors JSON header)");

        JsonDocument document;
        try
        {
            // Strict UTF-8 and JSON; trailing spaces (the padding) are allowed by JSON itself.
            document = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new PolicyBundleException(source, "header", $"is not valid JSON ({e.Message})", e);
        }
        catch (ArgumentException e)
        {
            throw new PolicyBundleException(source, "header", $"is not valid UTF-8 JSON ({e.Message})", e);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new PolicyBundleException(source, "header", "is not a JSON object");

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var tensors = new Dictionary<string, SafeTensor>(StringComparer.Ordinal);
            var ranges = new List<(long Begin, long End, string Name)>();
            bool sawMetadata = false;
            foreach (JsonProperty entry in document.RootElement.EnumerateObject())
            {
                if (entry.Name == MetadataKey)
                {
                    if (sawMetadata) throw new PolicyBundleException(source, MetadataKey, "appears twice");
                    sawMetadata = true;
                    if (entry.Value.ValueKind != JsonValueKind.Object)
                        throw new PolicyBundleException(source, MetadataKey, "must be an object of strings");
                    foreach (JsonProperty item in entry.Value.EnumerateObject())
                    {
                        if (item.Value.ValueKind != JsonValueKind.String)
                            throw new PolicyBundleException(source, item.Name, $"metadata values must be strings, found {item.Value.ValueKind}");
                        if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
                            throw new PolicyBundleException(source, item.Name, "metadata key appears twice");
                    }
                    continue;
                }
                if (tensors.ContainsKey(entry.Name))
                    throw new PolicyBundleException(source, entry.Name, "tensor appears twice in the header");
                SafeTensor tensor = ReadTensorEntry(entry, data, source, out long begin, out long end);
                tensors.Add(entry.Name, tensor);
                ranges.Add((begin, end, entry.Name));
            }

            // The byte ranges must tile the buffer exactly: no holes, no overlaps, nothing after.
            long expected = 0;
            foreach (var (begin, end, name) in ranges.OrderBy(r => r.Begin).ThenBy(r => r.End))
            {
                if (begin != expected)
                    throw new PolicyBundleException(source, name, $"data_offsets begin at {begin}, expected {expected} (hole or overlap in the byte buffer)");
                expected = end;
            }
            if (expected != data.Length)
                throw new PolicyBundleException(source, "byte buffer", $"holds {data.Length} bytes but the tensors cover {expected}");
            return (metadata, tensors);
        }
    }

    static SafeTensor ReadTensorEntry(JsonProperty entry, byte[] data, string source, out long begin, out long end)
    {
        string name = entry.Name;
        if (entry.Value.ValueKind != JsonValueKind.Object)
            throw new PolicyBundleException(source, name, "tensor entry must be an object with dtype, shape, data_offsets");
        string? dtype = null;
        long[]? shape = null;
        long[]? offsets = null;
        foreach (JsonProperty field in entry.Value.EnumerateObject())
        {
            switch (field.Name)
            {
                case "dtype" when dtype is null:
                    if (field.Value.ValueKind != JsonValueKind.String)
                        throw new PolicyBundleException(source, name + ".dtype", "must be a string");
                    dtype = field.Value.GetString()!;
                    break;
                case "shape" when shape is null:
                    shape = ReadIntegers(field.Value, source, name + ".shape", maxCount: 8);
                    break;
                case "data_offsets" when offsets is null:
                    offsets = ReadIntegers(field.Value, source, name + ".data_offsets", maxCount: 2);
                    if (offsets.Length != 2) throw new PolicyBundleException(source, name + ".data_offsets", "must hold two numbers [begin, end]");
                    break;
                default:
                    throw new PolicyBundleException(source, name + "." + field.Name, "unexpected or repeated key in a tensor entry");
            }
        }
        if (dtype is null) throw new PolicyBundleException(source, name + ".dtype", "missing");
        if (shape is null) throw new PolicyBundleException(source, name + ".shape", "missing");
        if (offsets is null) throw new PolicyBundleException(source, name + ".data_offsets", "missing");
        if (!DTypeSizes.TryGetValue(dtype, out int elementSize))
            throw new PolicyBundleException(source, name + ".dtype", $"'{dtype}' is not a safetensors dtype");

        begin = offsets[0];
        end = offsets[1];
        if (begin > end || end > data.Length)
            throw new PolicyBundleException(source, name + ".data_offsets", $"[{begin}, {end}] does not lie inside the {data.Length}-byte buffer");
        long bytes = elementSize;
        foreach (long dim in shape)
        {
            // Checked before multiplying, so a hostile shape cannot overflow the product.
            if (dim != 0 && bytes > data.Length / dim)
                throw new PolicyBundleException(source, name + ".shape", $"[{string.Join(", ", shape)}] of {dtype} needs more bytes than the buffer holds");
            bytes *= dim;
        }
        if (bytes != end - begin)
            throw new PolicyBundleException(source, name + ".data_offsets", $"cover {end - begin} bytes but {dtype} [{string.Join(", ", shape)}] needs {bytes}");
        return new SafeTensor(name, dtype, shape, data.AsSpan((int)begin, (int)(end - begin)).ToArray());
    }

    static long[] ReadIntegers(JsonElement array, string source, string field, int maxCount)
    {
        if (array.ValueKind != JsonValueKind.Array)
            throw new PolicyBundleException(source, field, "must be an array of non-negative integers");
        int count = array.GetArrayLength();
        if (count > maxCount) throw new PolicyBundleException(source, field, $"has {count} numbers, at most {maxCount} expected");
        var values = new long[count];
        int i = 0;
        foreach (JsonElement item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long value) || value < 0 || value > 1L << 40)
                throw new PolicyBundleException(source, field, $"element {i} must be a non-negative integer below 2^40, found {item.GetRawText()}");
            values[i++] = value;
        }
        return values;
    }

    static byte[] ReadExactly(Stream stream, int count, string source, string field, string truncated)
    {
        var buffer = new byte[count];
        int read = 0;
        while (read < count)
        {
            int n = stream.Read(buffer, read, count - read);
            if (n == 0) throw new PolicyBundleException(source, field, truncated);
            read += n;
        }
        return buffer;
    }

    static byte[] ReadRest(Stream stream, string source)
    {
        if (stream.CanSeek)
        {
            long remaining = stream.Length - stream.Position;
            if (remaining > MaxDataBytes)
                throw new PolicyBundleException(source, "byte buffer", $"{remaining} bytes exceed the {MaxDataBytes}-byte limit for a policy");
            return ReadExactly(stream, (int)remaining, source, "byte buffer", "file ended while reading the tensor data");
        }
        var rest = new MemoryStream();
        var chunk = new byte[81920];
        int n;
        while ((n = stream.Read(chunk, 0, chunk.Length)) > 0)
        {
            rest.Write(chunk, 0, n);
            if (rest.Length > MaxDataBytes)
                throw new PolicyBundleException(source, "byte buffer", $"exceeds the {MaxDataBytes}-byte limit for a policy");
        }
        return rest.ToArray();
    }

    /// <summary>F32 values as little-endian bytes.</summary>
    public static byte[] FloatBytes(ReadOnlySpan<float> values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        return bytes;
    }

    /// <summary>Little-endian F32 bytes as values.</summary>
    public static float[] Floats(ReadOnlySpan<byte> bytes)
    {
        var values = new float[bytes.Length / 4];
        for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(i * 4)..]);
        return values;
    }

}
