using System.Text.Json;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Model.Bert;
using CrossEncoder.Native.Model.Common;
using CrossEncoder.Native.Tokenization;
using CrossEncoder.Tools.Reference;

namespace CrossEncoder.Tools.Verification;

/// <summary>One (query, document) pair to verify, cut to at most <paramref name="MaxLength"/> tokens.</summary>
public sealed record FidelityPair(string Query, string Document, int MaxLength);

/// <summary>How far one output of this engine is from ONNX Runtime's, over the real (unpadded) positions.</summary>
/// <param name="Name">Stable name: embeddings, layer.{i}, last_hidden_state, pooler_output, sentence_embedding, logits.</param>
/// <param name="MaxAbsDiff">Largest absolute difference.</param>
/// <param name="MeanAbsDiff">Mean absolute difference.</param>
/// <param name="Tolerance">The budget <see cref="MaxAbsDiff"/> must not exceed.</param>
/// <param name="Values">How many values were compared.</param>
public sealed record OutputDiff(string Name, double MaxAbsDiff, double MeanAbsDiff, double Tolerance, long Values)
{
    /// <summary>True when within budget (and nothing was NaN).</summary>
    public bool Pass => MaxAbsDiff <= Tolerance;
}

/// <summary>The result of <see cref="FidelityCheck.Run"/>.</summary>
public sealed record FidelityReport(IReadOnlyList<OutputDiff> Outputs, int Pairs, int MinTokens, int MaxTokens, string ModelKind)
{
    /// <summary>True when every output is within its budget.</summary>
    public bool Pass => Outputs.Count > 0 && Outputs.All(o => o.Pass);

    /// <summary>The first output (in forward order) that is over budget, if any: where to start looking.</summary>
    public OutputDiff? FirstFailure => Outputs.FirstOrDefault(o => !o.Pass);
}

/// <summary>
/// Runs this engine (on a converted model folder) and ONNX Runtime (on the original ONNX file) on the same tokenized pairs and
/// compares every layer's hidden state, the pooler output and the head's output. Used by <c>crossencoder verify</c> and the tests.
/// </summary>
public static class FidelityCheck
{
    /// <summary>Budget for hidden states (embeddings, every layer): max |diff| over all real tokens.</summary>
    public const double HiddenStateTolerance = 1e-4;

    /// <summary>Budget for pooled outputs (BERT pooler, mean-pooled normalised sentence embedding, logits).</summary>
    public const double PooledTolerance = 1e-5;

    /// <summary>Tokenizes the pairs with the model folder's tokenizer, runs both engines in batches, and compares.</summary>
    public static FidelityReport Run(string modelDirectory, string onnxPath, IReadOnlyList<FidelityPair> pairs, int batchSize = 16, int onnxThreads = 0)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        if (pairs.Count == 0) throw new ArgumentException("No pairs to verify.", nameof(pairs));
        var model = BertModel.Load(modelDirectory);
        var tokenizer = BertTokenizer.FromModelFolder(modelDirectory);
        var encoded = pairs.Select(p => tokenizer.EncodePair(p.Query, p.Document, Math.Min(p.MaxLength, model.Config.MaxPositionEmbeddings))).ToArray();
        using var reference = new OnnxReference(onnxPath, new OnnxReferenceOptions { IntraOpThreads = onnxThreads > 0 ? onnxThreads : Environment.ProcessorCount });
        if (reference.HiddenSize != model.Config.HiddenSize || reference.LayerCount != model.Config.NumHiddenLayers)
            throw new InvalidDataException($"The ONNX model ({reference.LayerCount} layers x {reference.HiddenSize}) is not the model in '{modelDirectory}' ({model.Config.NumHiddenLayers} x {model.Config.HiddenSize}).");

        var accumulators = new Dictionary<string, Accumulator>(StringComparer.Ordinal);
        void Compare(string name, double tolerance, double ours, double theirs) =>
            (accumulators.TryGetValue(name, out var a) ? a : accumulators[name] = new Accumulator(tolerance)).Add(ours, theirs);

        // Similar lengths share a batch so ONNX Runtime's padding stays small.
        int[] order = Enumerable.Range(0, encoded.Length).OrderBy(i => encoded[i].Length).ToArray();
        int h = model.Config.HiddenSize;
        for (int first = 0; first < order.Length; first += batchSize)
        {
            int[] members = order.Skip(first).Take(batchSize).ToArray();
            int b = members.Length, t = members.Max(i => encoded[i].Length);

            // This engine: packed rows, every intermediate captured by name.
            var workspace = model.CreateWorkspace(members.Sum(i => encoded[i].Length), b);
            foreach (int i in members) workspace.Batch.Add(encoded[i].InputIds, encoded[i].TokenTypeIds);
            var ours = new Dictionary<string, float[]>(StringComparer.Ordinal);
            float[] output = model.Forward(workspace, (name, values, _, _) => ours[name] = values.ToArray()).ToArray();

            // ONNX Runtime: the same ids, right-padded to [b, t] with an attention mask.
            long[] ids = new long[b * t], mask = new long[b * t], types = new long[b * t];
            for (int s = 0; s < b; s++)
            {
                var e = encoded[members[s]];
                for (int j = 0; j < e.Length; j++) { ids[s * t + j] = e.InputIds[j]; types[s * t + j] = e.TokenTypeIds[j]; mask[s * t + j] = 1; }
            }
            var theirs = reference.Run(ids, mask, types, b, t);

            int row = 0;
            for (int s = 0; s < b; s++)
            {
                int length = encoded[members[s]].Length;
                foreach (var (name, tensor) in theirs)
                {
                    if (tensor.Shape.Length != 3) continue;
                    string ourName = name == OnnxReference.LastHiddenState ? $"layer.{model.Config.NumHiddenLayers - 1}" : name;
                    if (!ours.TryGetValue(ourName, out var mine)) continue;
                    for (int j = 0; j < length; j++)
                        for (int k = 0; k < h; k++)
                            Compare(name, HiddenStateTolerance, mine[(row + j) * h + k], tensor.Data[(s * t + j) * h + k]);
                }
                if (theirs.TryGetValue(OnnxReference.PoolerOutput, out var pooler) && ours.TryGetValue("pooler", out var ourPooler))
                    for (int k = 0; k < h; k++) Compare(OnnxReference.PoolerOutput, PooledTolerance, ourPooler[s * h + k], pooler.Data[s * h + k]);
                row += length;
            }
            if (model.Kind == ModelKind.BiEncoder && model.SentenceHead is { Pooling.Mode: PoolingMode.Mean, Modules: [SentenceNormalize] })
            {
                double[] expected = OnnxReference.MeanPoolNormalize(theirs[OnnxReference.LastHiddenState].Data, mask, b, t, h);
                for (int k = 0; k < b * h; k++) Compare("sentence_embedding", PooledTolerance, output[k], expected[k]);
            }
        }

        var order2 = new List<string> { OnnxReference.Embeddings };
        order2.AddRange(Enumerable.Range(0, model.Config.NumHiddenLayers).Select(OnnxReference.Layer));
        order2.AddRange([OnnxReference.LastHiddenState, OnnxReference.PoolerOutput, "sentence_embedding"]);
        var outputs = order2.Where(accumulators.ContainsKey).Select(n => accumulators[n].Result(n)).ToList();
        return new FidelityReport(outputs, pairs.Count, encoded.Min(e => e.Length), encoded.Max(e => e.Length),
            model.Kind == ModelKind.CrossEncoder ? "cross-encoder" : "bi-encoder");
    }

    /// <summary>
    /// 64 real pairs from the bundled IR sample (Cranfield, MEDLINE, CISI; see tools/fixtures/make_ir_sample.py), 8 to 512 tokens:
    /// odd pairs are a query with one judged document at their natural length; even pairs join three documents and are cut
    /// to a length that steps evenly from 8 to 512, so truncation (query side included, at the short end) is exercised too.
    /// </summary>
    public static IReadOnlyList<FidelityPair> DefaultPairs()
    {
        using var stream = typeof(FidelityCheck).Assembly.GetManifestResourceStream("ir-sample.jsonl")
            ?? throw new InvalidOperationException("The bundled IR sample is missing from the tools assembly.");
        using var reader = new StreamReader(stream);
        var rows = new List<(string Query, string Document)>();
        while (reader.ReadLine() is { } line)
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            using var json = JsonDocument.Parse(line);
            rows.Add((json.RootElement.GetProperty("query").GetString()!, json.RootElement.GetProperty("doc").GetString()!));
        }
        var pairs = new List<FidelityPair>();
        int evens = (rows.Count + 1) / 2;
        for (int i = 0; i < rows.Count; i++)
        {
            if (i % 2 == 1) { pairs.Add(new FidelityPair(rows[i].Query, rows[i].Document, 512)); continue; }
            int step = i / 2;
            int maxLength = 8 + (512 - 8) * step / Math.Max(1, evens - 1);
            string joined = string.Join(" ", rows[i].Document, rows[(i + 1) % rows.Count].Document, rows[(i + 2) % rows.Count].Document);
            pairs.Add(new FidelityPair(rows[i].Query, joined, maxLength));
        }
        return pairs;
    }

    /// <summary>Reads pairs from a file: one pair per line, <c>query TAB document [TAB max_length]</c>; blank lines and lines starting with # are skipped.</summary>
    /// <exception cref="FormatException">A line is malformed (the message gives the line number).</exception>
    public static IReadOnlyList<FidelityPair> ReadPairs(string path, int defaultMaxLength = 512)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"pairs file '{path}' not found.", path);
        var pairs = new List<FidelityPair>();
        int number = 0;
        foreach (string line in File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line) || line.StartsWith('#')) continue;
            string[] fields = line.Split('\t');
            if (fields.Length is < 2 or > 3) throw new FormatException($"{path}:{number}: expected 'query<TAB>document[<TAB>max_length]', found {fields.Length} tab-separated fields.");
            int maxLength = defaultMaxLength;
            if (fields.Length == 3 && (!int.TryParse(fields[2], out maxLength) || maxLength < 3))
                throw new FormatException($"{path}:{number}: max_length '{fields[2]}' is not an integer >= 3.");
            pairs.Add(new FidelityPair(fields[0], fields[1], maxLength));
        }
        if (pairs.Count == 0) throw new FormatException($"{path}: no pairs (expected lines of 'query<TAB>document').");
        return pairs;
    }

    private sealed class Accumulator(double tolerance)
    {
        private double _max, _sum;
        private long _count;
        private bool _nan;

        public void Add(double ours, double theirs)
        {
            double d = Math.Abs(ours - theirs);
            if (double.IsNaN(d)) _nan = true;
            else { _max = Math.Max(_max, d); _sum += d; }
            _count++;
        }

        public OutputDiff Result(string name) => new(name, _nan ? double.NaN : _max, _count == 0 ? 0 : _sum / _count, tolerance, _count);
    }
}
