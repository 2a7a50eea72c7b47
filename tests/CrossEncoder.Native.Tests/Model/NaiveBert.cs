namespace CrossEncoder.Native.Tests.Model;

/// <summary>
/// An independent, deliberately plain BERT forward pass in double precision, written from modeling_bert.py for one sequence
/// at a time (equivalent to a padded batch with an attention mask). It shares no code with the engine: not its kernels, not
/// its weight loading, not its erf. Tests use it as the reference on small random models.
/// </summary>
/// <remarks>RoBERTa and ELECTRA (from modeling_roberta.py / modeling_electra.py): <paramref name="robertaPaddingIdx"/> switches
/// to RoBERTa's position ids, <paramref name="embeddingSize"/> != hidden adds ELECTRA's embeddings_project, and
/// <see cref="Head"/> is their two-layer classification head.</remarks>
internal sealed class NaiveBert(Dictionary<string, (long[] Shape, float[] Data)> tensors, int hidden, int heads, int layers, double eps, string prefix = "",
    int? robertaPaddingIdx = null, int embeddingSize = 0)
{
    private double[] W(string name) => tensors[prefix + name].Data.Select(x => (double)x).ToArray();

    /// <summary>Per-layer hidden states ("embeddings", "layer.i", and the sublayers' "layer.i.attention.out",
    /// "layer.i.attention.residual", "layer.i.ffn.output"), each [T, H].</summary>
    public Dictionary<string, double[,]> States { get; } = new();

    /// <summary>Layer i's attention probabilities [nH*T, T] of the last sequence encoded (row h*T + i: head h, query i).</summary>
    public Dictionary<int, double[,]> Probabilities { get; } = new();

    /// <summary>Runs one sequence; returns the last hidden state [T, H].</summary>
    public double[,] Encode(int[] ids, int[] types)
    {
        int t = ids.Length, h = hidden, e = embeddingSize > 0 ? embeddingSize : hidden;
        // Position ids: arange(T) for BERT; RoBERTa's create_position_ids_from_input_ids is
        // mask = ids != padding_idx; cumsum(mask) * mask + padding_idx.
        var positions = Enumerable.Range(0, t).ToArray();
        if (robertaPaddingIdx is int padIdx)
        {
            int cumsum = 0;
            for (int i = 0; i < t; i++)
            {
                int mask = ids[i] != padIdx ? 1 : 0;
                cumsum += mask;
                positions[i] = cumsum * mask + padIdx;
            }
        }
        var x = new double[t, e];
        double[] word = W("embeddings.word_embeddings.weight"), pos = W("embeddings.position_embeddings.weight"), typ = W("embeddings.token_type_embeddings.weight");
        for (int i = 0; i < t; i++)
            for (int j = 0; j < e; j++)
                x[i, j] = word[ids[i] * e + j] + typ[types[i] * e + j] + pos[positions[i] * e + j];
        x = LayerNorm(x, "embeddings.LayerNorm");
        if (e != h) x = Linear(x, "embeddings_project");   // ELECTRA: [T, E] -> [T, H]
        States["embeddings"] = x;
        for (int l = 0; l < layers; l++)
        {
            string p = $"encoder.layer.{l}.";
            var q = Linear(x, p + "attention.self.query");
            var k = Linear(x, p + "attention.self.key");
            var v = Linear(x, p + "attention.self.value");
            int dh = h / heads;
            var context = new double[t, h];
            var probabilities = Probabilities[l] = new double[heads * t, t];
            for (int head = 0; head < heads; head++)
            {
                for (int i = 0; i < t; i++)
                {
                    var scores = new double[t];
                    for (int j = 0; j < t; j++)
                    {
                        double dot = 0;
                        for (int d = 0; d < dh; d++) dot += q[i, head * dh + d] * k[j, head * dh + d];
                        scores[j] = dot / Math.Sqrt(dh);
                    }
                    double max = scores.Max(), sum = scores.Sum(s => Math.Exp(s - max));
                    for (int j = 0; j < t; j++) probabilities[head * t + i, j] = Math.Exp(scores[j] - max) / sum;
                    for (int d = 0; d < dh; d++)
                    {
                        double acc = 0;
                        for (int j = 0; j < t; j++) acc += Math.Exp(scores[j] - max) / sum * v[j, head * dh + d];
                        context[i, head * dh + d] = acc;
                    }
                }
            }
            var attentionOutput = States[$"layer.{l}.attention.out"] = Linear(context, p + "attention.output.dense");
            x = States[$"layer.{l}.attention.residual"] = LayerNorm(Add(attentionOutput, x), p + "attention.output.LayerNorm");
            var inter = Linear(x, p + "intermediate.dense");
            for (int i = 0; i < inter.GetLength(0); i++)
                for (int j = 0; j < inter.GetLength(1); j++)
                    inter[i, j] = 0.5 * inter[i, j] * (1 + Erf(inter[i, j] / Math.Sqrt(2)));
            var ffnOutput = States[$"layer.{l}.ffn.output"] = Linear(inter, p + "output.dense");
            x = LayerNorm(Add(ffnOutput, x), p + "output.LayerNorm");
            States[$"layer.{l}"] = x;
        }
        return x;
    }

    /// <summary>tanh(dense(h[CLS])).</summary>
    public double[] Pool(double[,] last)
    {
        var cls = new double[1, hidden];
        for (int j = 0; j < hidden; j++) cls[0, j] = last[0, j];
        var pooled = Linear(cls, "pooler.dense");
        return Enumerable.Range(0, hidden).Select(j => Math.Tanh(pooled[0, j])).ToArray();
    }

    /// <summary>The classifier logit on the pooled vector (the classifier lives outside any "bert." prefix).</summary>
    public double Classify(double[] pooled)
    {
        var w = tensors["classifier.weight"].Data;
        double logit = tensors["classifier.bias"].Data[0];
        for (int j = 0; j < hidden; j++) logit += w[j] * pooled[j];
        return logit;
    }

    /// <summary>RoBERTa's (tanh) or ELECTRA's (GELU) head: out_proj(act(dense(h[0]))), outside the model prefix.</summary>
    public double[] Head(double[,] last, bool gelu)
    {
        var first = new double[1, hidden];
        for (int j = 0; j < hidden; j++) first[0, j] = last[0, j];
        var dense = Linear(first, "classifier.dense", withPrefix: false);
        for (int j = 0; j < hidden; j++) dense[0, j] = gelu ? 0.5 * dense[0, j] * (1 + Erf(dense[0, j] / Math.Sqrt(2))) : Math.Tanh(dense[0, j]);
        var logits = Linear(dense, "classifier.out_proj", withPrefix: false);
        return Enumerable.Range(0, logits.GetLength(1)).Select(j => logits[0, j]).ToArray();
    }

    private double[,] Linear(double[,] x, string module, bool withPrefix = true)
    {
        string name = (withPrefix ? prefix : "") + module;
        var (shape, _) = tensors[name + ".weight"];
        int outFeatures = (int)shape[0], inFeatures = (int)shape[1];
        double[] w = tensors[name + ".weight"].Data.Select(v => (double)v).ToArray(), b = tensors[name + ".bias"].Data.Select(v => (double)v).ToArray();
        int rows = x.GetLength(0);
        var y = new double[rows, outFeatures];
        for (int i = 0; i < rows; i++)
            for (int o = 0; o < outFeatures; o++)
            {
                double acc = b[o];
                for (int c = 0; c < inFeatures; c++) acc += x[i, c] * w[o * inFeatures + c];
                y[i, o] = acc;
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

    private double[,] LayerNorm(double[,] x, string module)
    {
        double[] g = W(module + ".weight"), b = W(module + ".bias");
        int rows = x.GetLength(0), n = x.GetLength(1);
        var y = new double[rows, n];
        for (int i = 0; i < rows; i++)
        {
            double mean = 0, variance = 0;
            for (int j = 0; j < n; j++) mean += x[i, j] / n;
            for (int j = 0; j < n; j++) variance += (x[i, j] - mean) * (x[i, j] - mean) / n;
            for (int j = 0; j < n; j++) y[i, j] = (x[i, j] - mean) / Math.Sqrt(variance + eps) * g[j] + b[j];
        }
        return y;
    }

    /// <summary>erf by its Maclaurin series for |z| &lt; 4 (the largest term is ~4e6, so cancellation leaves ~1e-9 absolute
    /// accuracy) and the asymptotic expansion of erfc beyond (16 terms; the smallest term is ~2e-7 of erfc(4) = 1.5e-8).</summary>
    internal static double Erf(double z)
    {
        double a = Math.Abs(z);
        if (a < 4)
        {
            double sum = 0, term = z;   // term_n = (-1)^n z^(2n+1) / n!
            for (int n = 0; n < 200; n++)
            {
                sum += term / (2 * n + 1);
                term *= -z * z / (n + 1);
                if (Math.Abs(term) < 1e-17) break;
            }
            return 2 / Math.Sqrt(Math.PI) * sum;
        }
        double inv = 1 / (2 * a * a), series = 1, t = 1;
        for (int n = 1; n <= 16; n++) { t *= -(2 * n - 1) * inv; series += t; }
        double erfc = Math.Exp(-a * a) / (a * Math.Sqrt(Math.PI)) * series;
        return Math.Sign(z) * (1 - erfc);
    }
}
