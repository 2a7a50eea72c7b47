using System.Text.Json.Nodes;

namespace CrossEncoder.Conversion.Checkpoints;

/// <summary>What the random checkpoint writers share: Gaussian weights from a seeded generator and config.json access.</summary>
internal static class RandomWeights
{
    /// <summary><paramref name="count"/> values from N(<paramref name="mean"/>, <paramref name="std"/>^2) (Box-Muller).</summary>
    public static float[] Normal(System.Random random, long count, double std, double mean = 0)
    {
        var values = new float[count];
        for (long i = 0; i < count; i++)
        {
            double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
            values[i] = (float)(mean + std * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return values;
    }

    /// <summary>A required integer field of config.json.</summary>
    public static int Int(JsonObject config, string name) =>
        config[name]?.GetValue<int>() ?? throw new InvalidDataException($"config.json needs '{name}' to write a checkpoint.");

    /// <summary>Reads a config.json file as a mutable JSON object.</summary>
    public static JsonObject ReadConfig(string path) =>
        JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path}: config.json must be a JSON object.");
}
