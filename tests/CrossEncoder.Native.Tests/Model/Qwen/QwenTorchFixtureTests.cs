using System.Text.Json;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Model.Qwen;
using Xunit;

namespace CrossEncoder.Native.Tests.Model.Qwen;

/// <summary>
/// The engine against PyTorch's own float64 computation of three tiny random Qwen checkpoints (Fixtures/qwen-torch, written
/// once by tools/peers/qwen3_fixture.py from transformers' modeling_qwen3.py / modeling_qwen2.py): every hidden state at every
/// position, the final norm, the two answer logits; and the prefix-cache case. A second reference beside NaiveQwen, written
/// independently in another language.
/// </summary>
public sealed class QwenTorchFixtureTests
{
    private static string Folder(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "qwen-torch", name);

    private static QwenModel Load(string name) =>
        (QwenModel)ModelLoader.Load(Folder(name), Precision.Fp32, new AnswerTokenizer(512), prompt: "qwen3-reranker").Model;   // yes 3, no 7 as the fixture

    private static double[,] Matrix(JsonElement rows)
    {
        int t = rows.GetArrayLength(), h = rows[0].GetArrayLength();
        var m = new double[t, h];
        for (int i = 0; i < t; i++)
            for (int j = 0; j < h; j++) m[i, j] = rows[i][j].GetDouble();
        return m;
    }

    [Theory]
    [InlineData("qwen3-f32")]
    [InlineData("qwen2-f32")]
    [InlineData("qwen3-bf16")]
    public void EveryHiddenStateAndTheAnswerLogitsMatchPyTorchInDouble(string name)
    {
        using var expected = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder(name), "expected.json")));
        var model = Load(name);
        Assert.Equal(expected.RootElement.GetProperty("yes_id").GetInt32(), model.AnswerTokenIds[0]);
        foreach (var sequence in expected.RootElement.GetProperty("sequences").EnumerateArray())
        {
            int[] ids = [.. sequence.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())];
            var taps = QwenModelTests.RunEngine(model, ids);
            var states = sequence.GetProperty("hidden_states");
            Assert.True(ModernBert.ModernBertModelTests.RelativeError(taps[ModelTaps.Embeddings], Matrix(states[0])) < 1e-6, $"{name} T={ids.Length}: embeddings");
            for (int l = 0; l < model.Config.NumHiddenLayers; l++)
            {
                double error = ModernBert.ModernBertModelTests.RelativeError(taps[ModelTaps.Layer(l)], Matrix(states[l + 1]));
                Assert.True(error < 1e-5, $"{name} T={ids.Length}: layer {l}: relative error {error:E2}");
            }
            var final = sequence.GetProperty("final_norm_last");
            var finalRow = new double[1, final.GetArrayLength()];
            for (int j = 0; j < finalRow.Length; j++) finalRow[0, j] = final[j].GetDouble();
            Assert.True(ModernBert.ModernBertModelTests.RelativeError(taps[ModelTaps.HeadHidden], finalRow) < 1e-5, $"{name} T={ids.Length}: final norm");
            double yes = sequence.GetProperty("logit_yes").GetDouble(), no = sequence.GetProperty("logit_no").GetDouble();
            float difference = taps[ModelTaps.Output][0];
            Assert.True(Math.Abs(difference - (yes - no)) <= 1e-5 * Math.Max(1, Math.Abs(yes) + Math.Abs(no)),
                $"{name} T={ids.Length}: logit difference {difference} vs PyTorch {yes - no}");
        }
    }

    [Theory]
    [InlineData("qwen3-f32")]
    [InlineData("qwen2-f32")]
    public void TheCachedPrefixCaseMatchesPyTorchsFullSequences(string name)
    {
        using var expected = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder(name), "expected.json")));
        var cache = expected.RootElement.GetProperty("prefix_cache");
        int[] prefix = [.. cache.GetProperty("prefix").EnumerateArray().Select(e => e.GetInt32())];
        int[][] suffixes = [.. cache.GetProperty("suffixes").EnumerateArray().Select(s => s.EnumerateArray().Select(e => e.GetInt32()).ToArray())];
        double[] differences = [.. cache.GetProperty("logit_diff").EnumerateArray().Select(e => e.GetDouble())];
        var model = Load(name);
        var workspace = model.CreateWorkspace(256, 8, 128);
        model.ComputePrefix(workspace, prefix);
        workspace.Batch.Clear();
        foreach (var suffix in suffixes) workspace.Batch.Add(suffix);
        var output = model.Forward(workspace).ToArray();
        for (int i = 0; i < suffixes.Length; i++)
            Assert.True(Math.Abs(output[i] - differences[i]) <= 1e-5, $"{name} candidate {i}: {output[i]} vs PyTorch {differences[i]}");
    }
}
