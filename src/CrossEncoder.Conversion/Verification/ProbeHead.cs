using System.Text.Json.Nodes;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Model.Bert;
using CrossEncoder.Native.Reranking.Verification;
using CrossEncoder.Native.SafeTensors;
using CrossEncoder.Native.Tokenization;

namespace CrossEncoder.Conversion.Verification;

/// <summary>What <see cref="ProbeHead.Build"/> trained: the data it saw and how well the head separates it.</summary>
/// <param name="Folder">The cross-encoder folder written.</param>
/// <param name="TrainingQueries">Held-out queries the head was trained on (none of them is in the gate's set).</param>
/// <param name="TrainingPairs">(query, document) pairs, i.e. examples.</param>
/// <param name="Positives">Pairs judged relevant.</param>
/// <param name="TrainingAccuracy">Balanced accuracy of the trained head on its training pairs (0.5 = chance).</param>
public sealed record ProbeHeadReport(string Folder, int TrainingQueries, int TrainingPairs, int Positives, double TrainingAccuracy);

/// <summary>
/// An honest cross-encoder to gate when no trained one is available offline: a bi-encoder's BERT encoder and pooler with a
/// one-label head (<c>BertForSequenceClassification</c>) trained as a linear probe, logistic regression on the pooled [CLS]
/// of (query, document) pairs read together, label = judged relevant. A random head gives logits that barely differ between
/// candidates, so int8 noise reorders them and the gate measures nothing; a trained head ranks like a (weak) reranker.
/// Training is deterministic (full-batch gradient descent from zero, classes weighted to balance, L2 1e-3) and uses only
/// queries the gate does not (<see cref="IrCollections.Load"/>'s skip).
/// </summary>
public static class ProbeHead
{
    /// <summary>Writes <paramref name="outDirectory"/>: the encoder of <paramref name="biEncoderDirectory"/> with a head
    /// trained on <paramref name="training"/> (pairs cut to <paramref name="maxLength"/> tokens).</summary>
    /// <exception cref="InvalidOperationException">The folder is already a cross-encoder, has no pooler, or the training set
    /// has no relevant or no irrelevant pair.</exception>
    public static ProbeHeadReport Build(string biEncoderDirectory, string outDirectory, IReadOnlyList<RankingQuery> training, int maxLength = 256)
    {
        var source = BertModel.Load(biEncoderDirectory);
        if (source.Kind == ModelKind.CrossEncoder) throw new InvalidOperationException($"'{biEncoderDirectory}' is already a cross-encoder: --probe-head builds one from a bi-encoder folder.");
        if (!source.HasPooler) throw new InvalidOperationException($"'{biEncoderDirectory}' has no BERT pooler to put a classification head on.");
        int h = source.Config.HiddenSize;
        WriteFolder(biEncoderDirectory, outDirectory, new float[h], 0f);   // zero head: the pooled features do not depend on it

        var model = BertModel.Load(outDirectory);
        var tokenizer = TokenizerLoader.FromModelFolder(outDirectory);
        var features = new List<float[]>();
        var labels = new List<bool>();
        foreach (var query in training)
        {
            var encoded = query.Documents.Select(d => tokenizer.EncodePair(query.Query, d, maxLength)).ToList();
            for (int first = 0; first < encoded.Count; first += 16)
            {
                var members = encoded.Skip(first).Take(16).ToList();
                var workspace = model.CreateWorkspace(members.Sum(e => e.Length), members.Count);
                foreach (var e in members) workspace.Batch.Add(e.InputIds, e.TokenTypeIds);
                float[]? pooled = null;
                model.Forward(workspace, (name, values, _, _) => { if (name == ModelTaps.HeadHidden) pooled = values.ToArray(); });
                for (int s = 0; s < members.Count; s++)
                {
                    features.Add(pooled!.AsSpan(s * h, h).ToArray());
                    labels.Add(query.Gains[first + s] > 0);
                }
            }
        }
        int positives = labels.Count(l => l);
        if (positives == 0 || positives == labels.Count) throw new InvalidOperationException("The training queries need both relevant and irrelevant candidates.");
        var (weight, bias) = Fit(features, labels, h);
        WriteFolder(biEncoderDirectory, outDirectory, weight, bias);
        return new ProbeHeadReport(outDirectory, training.Count, labels.Count, positives, BalancedAccuracy(features, labels, weight, bias));
    }

    /// <summary>
    /// Logistic regression, class-weighted, L2 1e-3: 2,000 full-batch gradient steps from zero in double, of size 1/L with
    /// L = max class weight x max |x|^2 / 4 (a bound on the loss's curvature, so the steps cannot diverge).
    /// </summary>
    public static (float[] Weight, float Bias) Fit(IReadOnlyList<float[]> x, IReadOnlyList<bool> y, int h)
    {
        int n = x.Count, positives = y.Count(l => l);
        double wPos = 0.5 * n / positives, wNeg = 0.5 * n / (n - positives);
        double maxNorm = x.Max(v => v.Sum(f => (double)f * f)) + 1;   // + 1 for the bias term
        double rate = 1 / (0.25 * Math.Max(wPos, wNeg) * maxNorm);
        var w = new double[h];
        double b = 0;
        var grad = new double[h];
        for (int step = 0; step < 2000; step++)
        {
            Array.Clear(grad);
            double gb = 0;
            for (int i = 0; i < n; i++)
            {
                double z = b;
                for (int j = 0; j < h; j++) z += w[j] * x[i][j];
                double p = 1 / (1 + Math.Exp(-z));
                double g = (p - (y[i] ? 1 : 0)) * (y[i] ? wPos : wNeg) / n;
                for (int j = 0; j < h; j++) grad[j] += g * x[i][j];
                gb += g;
            }
            for (int j = 0; j < h; j++) w[j] -= rate * (grad[j] + 1e-3 * w[j]);
            b -= rate * gb;
        }
        return (w.Select(v => (float)v).ToArray(), (float)b);
    }

    private static double BalancedAccuracy(IReadOnlyList<float[]> x, IReadOnlyList<bool> y, float[] w, float b)
    {
        int tp = 0, tn = 0, p = 0, n = 0;
        for (int i = 0; i < x.Count; i++)
        {
            double z = b;
            for (int j = 0; j < w.Length; j++) z += w[j] * x[i][j];
            if (y[i]) { p++; if (z > 0) tp++; } else { n++; if (z <= 0) tn++; }
        }
        return 0.5 * ((double)tp / p + (double)tn / n);
    }

    /// <summary>The bi-encoder's tensors under <c>bert.</c>, plus <c>classifier.weight</c> [1, H] and <c>classifier.bias</c> [1];
    /// config.json says BertForSequenceClassification with one label; the tokenizer files are copied.</summary>
    private static void WriteFolder(string from, string to, float[] weight, float bias)
    {
        Directory.CreateDirectory(to);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(from, "config.json")))!.AsObject();
        using (var file = SafeTensorsCheckpoint.OpenFolder(from))
        {
            var tensors = file.Tensors.Values
                .Select(t => new KeyValuePair<string, (long[], float[])>(t.Name.StartsWith("bert.", StringComparison.Ordinal) ? t.Name : "bert." + t.Name, (t.Shape.ToArray(), file.ReadFloat32(t.Name))))
                .ToList();
            tensors.Add(new("classifier.weight", ([1, weight.Length], weight)));
            tensors.Add(new("classifier.bias", ([1], [bias])));
            SafeTensorsWriter.WriteFloat32(Path.Combine(to, "model.safetensors"), tensors);
        }
        config["architectures"] = new JsonArray("BertForSequenceClassification");
        config["id2label"] = new JsonObject { ["0"] = "LABEL_0" };
        config["label2id"] = new JsonObject { ["LABEL_0"] = 0 };
        File.WriteAllText(Path.Combine(to, "config.json"), config.ToJsonString());
        foreach (string name in new[] { "vocab.txt", "tokenizer_config.json", "tokenizer.json", "special_tokens_map.json" })
            if (File.Exists(Path.Combine(from, name))) File.Copy(Path.Combine(from, name), Path.Combine(to, name), overwrite: true);
    }
}
