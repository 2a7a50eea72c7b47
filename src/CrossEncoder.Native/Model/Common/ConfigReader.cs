using System.Collections.Immutable;
using System.Text.Json;

namespace CrossEncoder.Native.Model.Common;

/// <summary>Typed access to config.json fields with errors that name the field.</summary>
internal readonly struct ConfigReader(JsonElement root, string path)
{
    /// <summary>The file the fields come from, for error messages.</summary>
    public string Path => path;

    /// <summary>True when the field is present and not null.</summary>
    public bool Has(string name) => root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null;

    public bool Bool(string name, bool fallback)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return fallback;
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new ModelFormatException(path, $"field '{name}' must be true or false, got {value.GetRawText()}."),
        };
    }

    public int Int(string name, int? fallback = null)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            return fallback ?? throw new ModelFormatException(path, $"required field '{name}' is missing.");
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int result))
            throw new ModelFormatException(path, $"field '{name}' must be an integer, got {value.GetRawText()}.");
        return result;
    }

    public double Double(string name, double fallback)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return fallback;
        if (value.ValueKind != JsonValueKind.Number) throw new ModelFormatException(path, $"field '{name}' must be a number, got {value.GetRawText()}.");
        return value.GetDouble();
    }

    public string String(string name, string fallback)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return fallback;
        if (value.ValueKind != JsonValueKind.String) throw new ModelFormatException(path, $"field '{name}' must be a string, got {value.GetRawText()}.");
        return value.GetString()!;
    }

    public ImmutableArray<string> Strings(string name)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return ImmutableArray<string>.Empty;
        if (value.ValueKind != JsonValueKind.Array || value.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
            throw new ModelFormatException(path, $"field '{name}' must be an array of strings, got {value.GetRawText()}.");
        return value.EnumerateArray().Select(e => e.GetString()!).ToImmutableArray();
    }

    /// <summary>Label names by index (<c>id2label</c>), empty when absent.</summary>
    public ImmutableDictionary<int, string> Id2Label()
    {
        if (!root.TryGetProperty("id2label", out var labels) || labels.ValueKind != JsonValueKind.Object) return ImmutableDictionary<int, string>.Empty;
        var builder = ImmutableDictionary.CreateBuilder<int, string>();
        foreach (var label in labels.EnumerateObject())
        {
            if (!int.TryParse(label.Name, out int id) || id < 0)
                throw new ModelFormatException(path, $"id2label key '{label.Name}' is not a non-negative integer.");
            builder[id] = label.Value.ValueKind == JsonValueKind.String ? label.Value.GetString()! : label.Value.ToString();
        }
        return builder.ToImmutable();
    }

    /// <summary>Outputs of a classification head: <c>num_labels</c>, else the size of <c>id2label</c>, else 2 (transformers' default).</summary>
    public int NumLabels(ImmutableDictionary<int, string> id2Label) =>
        Has("num_labels") ? Int("num_labels") : id2Label.Count > 0 ? id2Label.Count : 2;

    /// <summary>A nested object field, or null when absent.</summary>
    public JsonElement? Object(string name)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.Object) throw new ModelFormatException(path, $"field '{name}' must be an object, got {value.GetRawText()}.");
        return value;
    }
}
