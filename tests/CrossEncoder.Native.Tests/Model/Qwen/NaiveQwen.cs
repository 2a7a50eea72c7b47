using CrossEncoder.Native.SafeTensors;

namespace CrossEncoder.Native.Tests.Model.Qwen;

/// <summary>Deliberate mistakes the reference can make, to show that the tests notice each one.</summary>
public enum QwenMutation
{
    None,
    /// <summary>Query head h reads key/value head h % nKV (interleaved groups) instead of h / (nH / nKV).</summary>
    InterleavedGroups,
    /// <summary>Qwen3's q_norm / k_norm applied after rotary instead of before.</summary>
    NormAfterRotary,
    /// <summary>GPT-J's interleaved rotary pairs (x[2j], x[2j+1]) instead of rotate-half (x[j], x[j + dH/2]).</summary>
    InterleavedRotary,
    /// <summary>No causal mask: every token sees the tokens after it too.</summary>
    Bidirectional,
}

/// <summary>
/// An independent, deliberately plain Qwen2 / Qwen3 forward pass in double precision, written from transformers'
/// modeling_qwen3.py and modeling_qwen2.py (eager attention, one sequence at a time, no cache): embed_tokens; per layer
/// h += o_proj(attn(input_layernorm(h))), h += down(silu(gate x) * up x) with x = post_attention_layernorm(h); model.norm;
/// logits of the requested LM-head rows at the last position. It shares no code with the engine.
/// </summary>
internal sealed class NaiveQwen
{
    private readonly Dictionary<string, float[]> _tensors;
    private readonly string _prefix;
    private readonly bool _qwen3, _tied;
    private readonly int _hidden, _heads, _kvHeads, _headDim, _layers, _inter;
    private readonly double _eps, _theta;
    private readonly QwenMutation _mutation;

    public NaiveQwen(string folder, QwenMutation mutation = QwenMutation.None)
    {
        using var config = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "config.json")));
        var c = config.RootElement;
        _qwen3 = c.GetProperty("model_type").GetString() == "qwen3";
        _hidden = c.GetProperty("hidden_size").GetInt32();
        _heads = c.GetProperty("num_attention_heads").GetInt32();
        _kvHeads = c.GetProperty("num_key_value_heads").GetInt32();
        _headDim = c.TryGetProperty("head_dim", out var hd) ? hd.GetInt32() : _hidden / _heads;
        _layers = c.GetProperty("num_hidden_layers").GetInt32();
        _inter = c.GetProperty("intermediate_size").GetInt32();
        _eps = c.GetProperty("rms_norm_eps").GetDouble();
        _theta = c.GetProperty("rope_theta").GetDouble();
        _tied = c.TryGetProperty("tie_word_embeddings", out var tie) && tie.GetBoolean();
        _mutation = mutation;
        using var file = SafeTensorsCheckpoint.OpenFolder(folder);
        _tensors = file.Tensors.Keys.ToDictionary(k => k, k => file.ReadFloat32(k));
        _prefix = _tensors.ContainsKey("model.norm.weight") ? "model." : "";
    }

    /// <summary>"embeddings", "layer.i" (the residual stream after layer i) [T, H], and "final" (model.norm of the last token) [1, H].</summary>
    public Dictionary<string, double[,]> States { get; } = new();

    /// <summary>Layer i's attention probabilities [nH*T, T] of the last sequence run (row h*T + i: head h, query i; the keys
    /// after i are 0).</summary>
    public Dictionary<int, double[,]> Probabilities { get; } = new();

    private float[] W(string name) => _tensors.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException(name);

    /// <summary>logit(row) at the last position for each requested LM-head row.</summary>
    public double[] LastLogits(int[] ids, params int[] rows)
    {
        int t = ids.Length, h = _hidden, dh = _headDim, group = _heads / _kvHeads;
        float[] table = W(_prefix + "embed_tokens.weight");
        var x = new double[t, h];
        for (int i = 0; i < t; i++)
            for (int j = 0; j < h; j++) x[i, j] = table[(long)ids[i] * h + j];
        States["embeddings"] = x;
        for (int l = 0; l < _layers; l++)
        {
            string p = $"{_prefix}layers.{l}.";
            var normed = RmsNorm(x, W(p + "input_layernorm.weight"));
            var q = Linear(normed, p + "self_attn.q_proj");   // [T, nH dH]
            var k = Linear(normed, p + "self_attn.k_proj");   // [T, nKV dH]
            var v = Linear(normed, p + "self_attn.v_proj");
            bool normFirst = _mutation != QwenMutation.NormAfterRotary;
            if (_qwen3 && normFirst) { q = HeadNorm(q, _heads, W(p + "self_attn.q_norm.weight")); k = HeadNorm(k, _kvHeads, W(p + "self_attn.k_norm.weight")); }
            q = Rotate(q, _heads);
            k = Rotate(k, _kvHeads);
            if (_qwen3 && !normFirst) { q = HeadNorm(q, _heads, W(p + "self_attn.q_norm.weight")); k = HeadNorm(k, _kvHeads, W(p + "self_attn.k_norm.weight")); }
            var context = new double[t, _heads * dh];
            var probabilities = Probabilities[l] = new double[_heads * t, t];
            for (int head = 0; head < _heads; head++)
            {
                int g = _mutation == QwenMutation.InterleavedGroups ? head % _kvHeads : head / group;   // repeat_kv
                for (int i = 0; i < t; i++)
                {
                    int visible = _mutation == QwenMutation.Bidirectional ? t : i + 1;
                    var scores = new double[visible];
                    double max = double.NegativeInfinity;
                    for (int j = 0; j < visible; j++)
                    {
                        double dot = 0;
                        for (int d = 0; d < dh; d++) dot += q[i, head * dh + d] * k[j, g * dh + d];
                        scores[j] = dot / Math.Sqrt(dh);
                        max = Math.Max(max, scores[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < visible; j++) sum += scores[j] = Math.Exp(scores[j] - max);
                    for (int j = 0; j < visible; j++) probabilities[head * t + i, j] = scores[j] / sum;
                    for (int d = 0; d < dh; d++)
                    {
                        double acc = 0;
                        for (int j = 0; j < visible; j++) acc += scores[j] / sum * v[j, g * dh + d];
                        context[i, head * dh + d] = acc;
                    }
                }
            }
            var attentionOutput = States[$"layer.{l}.attention.out"] = Linear(context, p + "self_attn.o_proj");
            x = States[$"layer.{l}.attention.residual"] = Add(x, attentionOutput);
            var m = RmsNorm(x, W(p + "post_attention_layernorm.weight"));
            var gate = Linear(m, p + "mlp.gate_proj");
            var up = Linear(m, p + "mlp.up_proj");
            var gated = new double[t, _inter];
            for (int i = 0; i < t; i++)
                for (int j = 0; j < _inter; j++) gated[i, j] = gate[i, j] / (1 + Math.Exp(-gate[i, j])) * up[i, j];   // silu(gate) * up
            var ffnOutput = States[$"layer.{l}.ffn.output"] = Linear(gated, p + "mlp.down_proj");
            x = Add(x, ffnOutput);
            States[$"layer.{l}"] = x;
        }
        var lastRow = new double[1, h];
        for (int j = 0; j < h; j++) lastRow[0, j] = x[t - 1, j];
        var final = RmsNorm(lastRow, W(_prefix + "norm.weight"));
        States["final"] = final;
        float[] head2 = _tied ? table : W("lm_head.weight");
        var logits = new double[rows.Length];
        for (int r = 0; r < rows.Length; r++)
            for (int j = 0; j < h; j++) logits[r] += final[0, j] * head2[(long)rows[r] * h + j];
        return logits;
    }

    private double[,] Linear(double[,] x, string module)
    {
        float[] w = W(module + ".weight");
        _tensors.TryGetValue(module + ".bias", out var b);
        int rows = x.GetLength(0), inFeatures = x.GetLength(1), outFeatures = w.Length / inFeatures;
        var y = new double[rows, outFeatures];
        for (int i = 0; i < rows; i++)
            for (int o = 0; o < outFeatures; o++)
            {
                double acc = b is null ? 0 : b[o];
                for (int c = 0; c < inFeatures; c++) acc += x[i, c] * w[(long)o * inFeatures + c];
                y[i, o] = acc;
            }
        return y;
    }

    private double[,] RmsNorm(double[,] x, float[] weight)
    {
        int rows = x.GetLength(0), n = x.GetLength(1);
        var y = new double[rows, n];
        for (int i = 0; i < rows; i++)
        {
            double ms = 0;
            for (int j = 0; j < n; j++) ms += x[i, j] * x[i, j];
            double inv = 1 / Math.Sqrt(ms / n + _eps);
            for (int j = 0; j < n; j++) y[i, j] = x[i, j] * inv * weight[j];
        }
        return y;
    }

    /// <summary>RMSNorm over each head's dH values with one weight [dH].</summary>
    private double[,] HeadNorm(double[,] x, int heads, float[] weight)
    {
        int rows = x.GetLength(0), dh = _headDim;
        var y = new double[rows, heads * dh];
        for (int i = 0; i < rows; i++)
            for (int head = 0; head < heads; head++)
            {
                double ms = 0;
                for (int d = 0; d < dh; d++) ms += x[i, head * dh + d] * x[i, head * dh + d];
                double inv = 1 / Math.Sqrt(ms / dh + _eps);
                for (int d = 0; d < dh; d++) y[i, head * dh + d] = x[i, head * dh + d] * inv * weight[d];
            }
        return y;
    }

    /// <summary>Rotate-half rotary at positions 0..T-1, angles as transformers computes them: float32 inv_freq times float32 position.</summary>
    private double[,] Rotate(double[,] x, int heads)
    {
        int rows = x.GetLength(0), dh = _headDim, half = dh / 2;
        var y = (double[,])x.Clone();
        for (int i = 0; i < rows; i++)
            for (int head = 0; head < heads; head++)
                for (int j = 0; j < half; j++)
                {
                    float invFreq = 1f / (float)Math.Pow((float)_theta, (float)(2 * j) / dh);
                    double angle = invFreq * (float)i;
                    int a = head * dh + j, b = a + half;
                    if (_mutation == QwenMutation.InterleavedRotary) { a = head * dh + 2 * j; b = a + 1; }
                    double x1 = x[i, a], x2 = x[i, b];
                    y[i, a] = x1 * Math.Cos(angle) - x2 * Math.Sin(angle);
                    y[i, b] = x2 * Math.Cos(angle) + x1 * Math.Sin(angle);
                }
        return y;
    }

    private static double[,] Add(double[,] a, double[,] b)
    {
        var y = (double[,])a.Clone();
        for (int i = 0; i < a.GetLength(0); i++)
            for (int j = 0; j < a.GetLength(1); j++) y[i, j] += b[i, j];
        return y;
    }
}
