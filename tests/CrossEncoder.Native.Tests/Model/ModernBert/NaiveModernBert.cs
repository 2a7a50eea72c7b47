using CrossEncoder.Native.SafeTensors;

namespace CrossEncoder.Native.Tests.Model.ModernBert;

/// <summary>Deliberate mistakes the reference can make, to show that the tests notice each one.</summary>
public enum ModernBertMutation
{
    None,
    /// <summary>GPT-J's interleaved rotary pairs (x[2j], x[2j+1]) instead of rotate-half (x[j], x[j + dH/2]).</summary>
    InterleavedRotary,
    /// <summary>The window as |i - j| &lt; radius instead of &lt;= radius.</summary>
    NarrowWindow,
    /// <summary>A plain LayerNorm (gamma 1, beta 0) on layer 0's attention input instead of the identity.</summary>
    NormOnLayerZero,
    /// <summary>The other classifier pooling (cls for mean, mean for cls).</summary>
    OtherPooling,
    /// <summary>Rotary angles in double instead of transformers' float32 products.</summary>
    DoubleAngles,
}

/// <summary>
/// An independent, deliberately plain ModernBERT forward pass in double precision, written from transformers'
/// modeling_modernbert.py (eager attention: a padded sequence with the sliding-window mask), one sequence at a time.
/// It shares no code with the engine: not its kernels, weight loading, rotary table or erf.
/// </summary>
internal sealed class NaiveModernBert
{
    private readonly Dictionary<string, (long[] Shape, float[] Data)> _tensors;
    private readonly string _prefix;
    private readonly int _hidden, _heads, _layers, _inter, _localAttention, _globalEvery;
    private readonly double _eps, _globalTheta, _localTheta;
    private readonly bool _meanPooling;
    private readonly string _classifierActivation;
    private readonly ModernBertMutation _mutation;

    public NaiveModernBert(string folder, ModernBertMutation mutation = ModernBertMutation.None)
    {
        using var config = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "config.json")));
        var c = config.RootElement;
        _hidden = c.GetProperty("hidden_size").GetInt32();
        _heads = c.GetProperty("num_attention_heads").GetInt32();
        _layers = c.GetProperty("num_hidden_layers").GetInt32();
        _inter = c.GetProperty("intermediate_size").GetInt32();
        _localAttention = c.GetProperty("local_attention").GetInt32();
        _globalEvery = c.GetProperty("global_attn_every_n_layers").GetInt32();
        _eps = c.GetProperty("norm_eps").GetDouble();
        _globalTheta = c.GetProperty("global_rope_theta").GetDouble();
        _localTheta = c.GetProperty("local_rope_theta").GetDouble();
        _meanPooling = c.TryGetProperty("classifier_pooling", out var p) && p.GetString() == "mean";
        _classifierActivation = c.TryGetProperty("classifier_activation", out var a) ? a.GetString()! : "gelu";
        _mutation = mutation;
        using var file = SafeTensorsFile.Open(Path.Combine(folder, "model.safetensors"));
        _tensors = file.Tensors.Keys.ToDictionary(k => k, k => (file.Tensors[k].Shape.ToArray(), file.ReadFloat32(k)));
        _prefix = _tensors.ContainsKey("model.final_norm.weight") ? "model." : "";
    }

    /// <summary>"embeddings", "layer.i" (the residual stream after layer i) and "final_norm", each [T, H].</summary>
    public Dictionary<string, double[,]> States { get; } = new();

    /// <summary>Layer i's attention probabilities [nH*T, T] of the last sequence encoded (row h*T + i: head h, query i;
    /// keys outside the window 0).</summary>
    public Dictionary<int, double[,]> Probabilities { get; } = new();

    private double[]? Maybe(string name) => _tensors.TryGetValue(name, out var t) ? t.Data.Select(x => (double)x).ToArray() : null;
    private double[] W(string name) => Maybe(name) ?? throw new KeyNotFoundException(name);

    /// <summary>The last hidden state [T, H] (after final_norm) of one sequence.</summary>
    public double[,] Encode(int[] ids)
    {
        int t = ids.Length, h = _hidden, dh = h / _heads;
        double[] table = W(_prefix + "embeddings.tok_embeddings.weight");
        var x = new double[t, h];
        for (int i = 0; i < t; i++)
            for (int j = 0; j < h; j++) x[i, j] = table[ids[i] * h + j];
        x = LayerNorm(x, _prefix + "embeddings.norm");
        States["embeddings"] = x;
        for (int l = 0; l < _layers; l++)
        {
            string p = $"{_prefix}layers.{l}.";
            bool global = l % _globalEvery == 0;
            double[,] normed = l == 0 ? (_mutation == ModernBertMutation.NormOnLayerZero ? LayerNorm(x, null) : x) : LayerNorm(x, p + "attn_norm");
            var qkv = Linear(normed, p + "attn.Wqkv");                    // [T, 3H] viewed as [T, 3, nH, dH]
            var context = new double[t, h];
            var probabilities = Probabilities[l] = new double[_heads * t, t];
            double theta = global ? _globalTheta : _localTheta;
            for (int head = 0; head < _heads; head++)
            {
                var q = new double[t, dh];
                var k = new double[t, dh];
                for (int i = 0; i < t; i++)
                    for (int d = 0; d < dh; d++) { q[i, d] = qkv[i, head * dh + d]; k[i, d] = qkv[i, h + head * dh + d]; }
                q = Rotate(q, theta);
                k = Rotate(k, theta);
                for (int i = 0; i < t; i++)
                {
                    var scores = new double[t];
                    double max = double.NegativeInfinity;
                    for (int j = 0; j < t; j++)
                    {
                        int distance = Math.Abs(i - j);
                        bool inWindow = global || (_mutation == ModernBertMutation.NarrowWindow ? distance < _localAttention / 2 : distance <= _localAttention / 2);
                        if (!inWindow) { scores[j] = double.NegativeInfinity; continue; }
                        double dot = 0;
                        for (int d = 0; d < dh; d++) dot += q[i, d] * k[j, d];
                        scores[j] = dot / Math.Sqrt(dh);
                        max = Math.Max(max, scores[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < t; j++) { scores[j] = double.IsNegativeInfinity(scores[j]) ? 0 : Math.Exp(scores[j] - max); sum += scores[j]; }
                    for (int j = 0; j < t; j++) probabilities[head * t + i, j] = scores[j] / sum;
                    for (int d = 0; d < dh; d++)
                    {
                        double acc = 0;
                        for (int j = 0; j < t; j++) acc += scores[j] / sum * qkv[j, 2 * h + head * dh + d];
                        context[i, head * dh + d] = acc;
                    }
                }
            }
            var attentionOutput = States[$"layer.{l}.attention.out"] = Linear(context, p + "attn.Wo");
            x = States[$"layer.{l}.attention.residual"] = Add(x, attentionOutput);
            var wi = Linear(LayerNorm(x, p + "mlp_norm"), p + "mlp.Wi");       // [T, 2I]
            var gated = new double[t, _inter];
            for (int i = 0; i < t; i++)
                for (int j = 0; j < _inter; j++) gated[i, j] = Gelu(wi[i, j]) * wi[i, _inter + j];   // act(input) * gate
            var ffnOutput = States[$"layer.{l}.ffn.output"] = Linear(gated, p + "mlp.Wo");
            x = Add(x, ffnOutput);
            States[$"layer.{l}"] = x;
        }
        x = LayerNorm(x, _prefix + "final_norm");
        States["final_norm"] = x;
        return x;
    }

    /// <summary>ModernBertForSequenceClassification's logits for one sequence.</summary>
    public double[] Classify(int[] ids, out double[] headHidden)
    {
        var last = Encode(ids);
        int t = ids.Length, h = _hidden;
        bool mean = _mutation == ModernBertMutation.OtherPooling ? !_meanPooling : _meanPooling;
        var pooled = new double[1, h];
        for (int j = 0; j < h; j++)
        {
            if (!mean) { pooled[0, j] = last[0, j]; continue; }
            double sum = 0;
            for (int i = 0; i < t; i++) sum += last[i, j];
            pooled[0, j] = sum / t;
        }
        var dense = Linear(pooled, "head.dense");
        for (int j = 0; j < h; j++)
            dense[0, j] = _classifierActivation switch { "gelu" => Gelu(dense[0, j]), "tanh" => Math.Tanh(dense[0, j]), _ => dense[0, j] };
        var normed = LayerNorm(dense, "head.norm");
        headHidden = Enumerable.Range(0, h).Select(j => normed[0, j]).ToArray();
        var logits = Linear(normed, "classifier");
        return Enumerable.Range(0, logits.GetLength(1)).Select(j => logits[0, j]).ToArray();
    }

    /// <summary>apply_rotary_pos_emb: x * cos + rotate_half(x) * sin, cos/sin = cat(freqs, freqs), position = row index.</summary>
    private double[,] Rotate(double[,] x, double theta)
    {
        int t = x.GetLength(0), dh = x.GetLength(1), half = dh / 2;
        var y = new double[t, dh];
        for (int pos = 0; pos < t; pos++)
            for (int j = 0; j < half; j++)
            {
                // transformers: inv_freq = 1 / base ** (arange(0, dim, 2).float() / dim) in float32; freqs = inv_freq @ pos in float32.
                float invFreq = 1f / MathF.Pow((float)theta, (float)(2 * j) / dh);
                double angle = _mutation == ModernBertMutation.DoubleAngles ? Math.Pow(theta, -2.0 * j / dh) * pos : (double)(invFreq * (float)pos);
                double cos = Math.Cos(angle), sin = Math.Sin(angle);
                if (_mutation == ModernBertMutation.InterleavedRotary)
                {
                    double a = x[pos, 2 * j], b = x[pos, 2 * j + 1];
                    y[pos, 2 * j] = a * cos - b * sin;
                    y[pos, 2 * j + 1] = b * cos + a * sin;
                }
                else
                {
                    double x1 = x[pos, j], x2 = x[pos, j + half];
                    y[pos, j] = x1 * cos - x2 * sin;          // x1 cos + (-x2) sin
                    y[pos, j + half] = x2 * cos + x1 * sin;   // x2 cos + x1 sin
                }
            }
        return y;
    }

    private double[,] Linear(double[,] x, string module)
    {
        var (shape, data) = _tensors[module + ".weight"];
        int outF = (int)shape[0], inF = (int)shape[1], t = x.GetLength(0);
        double[]? bias = Maybe(module + ".bias");
        var y = new double[t, outF];
        for (int i = 0; i < t; i++)
            for (int o = 0; o < outF; o++)
            {
                double acc = bias?[o] ?? 0;
                for (int k = 0; k < inF; k++) acc += x[i, k] * data[(long)o * inF + k];
                y[i, o] = acc;
            }
        return y;
    }

    /// <summary>nn.LayerNorm with the module's weight and optional bias; <paramref name="module"/> null: gamma 1, beta 0.</summary>
    private double[,] LayerNorm(double[,] x, string? module)
    {
        int t = x.GetLength(0), h = x.GetLength(1);
        double[]? gamma = module is null ? null : W(module + ".weight"), beta = module is null ? null : Maybe(module + ".bias");
        var y = new double[t, h];
        for (int i = 0; i < t; i++)
        {
            double mean = 0, variance = 0;
            for (int j = 0; j < h; j++) mean += x[i, j];
            mean /= h;
            for (int j = 0; j < h; j++) variance += (x[i, j] - mean) * (x[i, j] - mean);
            variance /= h;
            for (int j = 0; j < h; j++) y[i, j] = (x[i, j] - mean) / Math.Sqrt(variance + _eps) * (gamma?[j] ?? 1) + (beta?[j] ?? 0);
        }
        return y;
    }

    private static double[,] Add(double[,] a, double[,] b)
    {
        var y = new double[a.GetLength(0), a.GetLength(1)];
        for (int i = 0; i < a.GetLength(0); i++)
            for (int j = 0; j < a.GetLength(1); j++) y[i, j] = a[i, j] + b[i, j];
        return y;
    }

    /// <summary>Exact GELU, x Phi(x), with erf from its Taylor series / continued fraction (independent of the engine's erf).</summary>
    private static double Gelu(double x) => 0.5 * x * (1 + Erf(x / Math.Sqrt(2)));

    private static double Erf(double x)
    {
        // Abramowitz-Stegun 7.1.26 is only 1e-7; use the series for |x| < 3 and the asymptotic complement beyond (1e-15).
        double ax = Math.Abs(x);
        if (ax < 3)
        {
            double sum = 0, term = ax;
            for (int n = 0; n < 200; n++)
            {
                sum += term / (2 * n + 1);
                term *= -ax * ax / (n + 1);
                if (Math.Abs(term) < 1e-17) break;
            }
            return Math.Sign(x) * 2 / Math.Sqrt(Math.PI) * sum;
        }
        // erfc(x) by its continued fraction (Lentz), accurate for x >= 3.
        double f = ax, c = ax, d = 0;
        for (int n = 1; n < 200; n++)
        {
            double an = n / 2.0;
            d = ax + an * d; d = 1 / d;
            c = ax + an / c;
            double delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1) < 1e-16) break;
        }
        double erfc = Math.Exp(-ax * ax) / Math.Sqrt(Math.PI) / f;
        return Math.Sign(x) * (1 - erfc);
    }
}
