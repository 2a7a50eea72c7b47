using CrossEncoder.Native.Model.Bert;
using CrossEncoder.Native.Model.Common;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.SafeTensors;
using CrossEncoder.Native.Tests.Conversion;
using CrossEncoder.Native.Tokenization;
using CrossEncoder.Tools.Verification;
using CrossEncoder.Conversion.Verification;
using CrossEncoder.Native.Reranking.Verification;
using Xunit;

namespace CrossEncoder.Native.Tests.Verification;

[Collection("MiniLM")]
public class ProbeHeadTests(MiniLmFixture minilm)
{
    [Fact]
    public void TheFitSeparatesLinearlySeparableData()
    {
        // 200 points in 8 dimensions, labelled by the side of a fixed hyperplane (with a margin), 1 in 5 positive: the class
        // weighting must keep the rare class, and the weights must point along the true normal.
        var random = new Random(3);
        double[] normal = [1, -2, 0.5, 0, 0, 1, 0, -1];
        var x = new List<float[]>();
        var y = new List<bool>();
        while (x.Count < 200)
        {
            var v = Enumerable.Range(0, 8).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
            double side = v.Select((f, j) => f * normal[j]).Sum() - 1.2;
            if (Math.Abs(side) < 0.2) continue;
            x.Add(v);
            y.Add(side > 0);
        }
        Assert.InRange(y.Count(l => l), 10, 80);
        var (w, b) = ProbeHead.Fit(x, y, 8);
        int correct = x.Select((v, i) => (v.Select((f, j) => f * w[j]).Sum() + b > 0) == y[i]).Count(ok => ok);
        Assert.True(correct >= 190, $"{correct} of 200 classified correctly");
        double cosine = w.Select((f, j) => f * normal[j]).Sum() / Math.Sqrt(w.Sum(f => (double)f * f) * normal.Sum(n => n * n));
        Assert.True(cosine > 0.9, $"cosine with the true normal {cosine}");
    }

    [Fact]
    public void BuildWritesACrossEncoderWhoseLogitIsTheTrainedProbeOnHeldOutQueries()
    {
        string directory = Path.Combine(Path.GetTempPath(), "minilm-probe-" + Guid.NewGuid().ToString("N"));
        try
        {
            var gate = IrCollections.FromSample(queries: 6, candidates: 16);
            var training = IrCollections.FromSample(queries: 6, candidates: 16, skip: 8);
            Assert.Empty(gate.Select(q => q.Query).Intersect(training.Select(q => q.Query)));
            var report = ProbeHead.Build(minilm.ModelDirectory, directory, training, maxLength: 128);
            Assert.Equal(96, report.TrainingPairs);
            Assert.True(report.TrainingAccuracy > 0.6, $"balanced accuracy {report.TrainingAccuracy}");

            // The folder is a cross-encoder whose logit is w . pooled[CLS] + b with the written head.
            var model = BertModel.Load(directory);
            Assert.Equal(ModelKind.CrossEncoder, model.Kind);
            float[] w;
            float b;
            using (var file = SafeTensorsFile.Open(Path.Combine(directory, "model.safetensors")))
            {
                w = file.ReadFloat32("classifier.weight");
                b = file.ReadFloat32("classifier.bias")[0];
            }
            Assert.Contains(w, v => v != 0);
            var tokenizer = BertTokenizer.FromModelFolder(directory);
            var pair = tokenizer.EncodePair(training[0].Query, training[0].Documents[0], 128);
            var workspace = model.CreateWorkspace(pair.Length, 1);
            workspace.Batch.Add(pair.InputIds, pair.TokenTypeIds);
            float[]? pooled = null;
            float logit = model.Forward(workspace, (name, values, _, _) => { if (name == "pooler") pooled = values.ToArray(); })[0];
            double expected = b + pooled!.Select((p, j) => (double)p * w[j]).Sum();
            Assert.Equal(expected, logit, 4);
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void BuildRefusesACrossEncoderFolder()
    {
        string first = Path.Combine(Path.GetTempPath(), "minilm-probe-" + Guid.NewGuid().ToString("N"));
        string second = first + "-again";
        try
        {
            ProbeHead.Build(minilm.ModelDirectory, first, IrCollections.FromSample(queries: 2, candidates: 8, skip: 8), maxLength: 64);
            var error = Assert.Throws<InvalidOperationException>(() => ProbeHead.Build(first, second, IrCollections.FromSample(queries: 2, candidates: 8), maxLength: 64));
            Assert.Contains("already a cross-encoder", error.Message);
        }
        finally
        {
            foreach (var d in new[] { first, second }) if (Directory.Exists(d)) Directory.Delete(d, recursive: true);
        }
    }
}
