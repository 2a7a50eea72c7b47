using CrossEncoder.Native.Training;

namespace CrossEncoder.Training;

/// <summary>
/// AdamW as <c>torch.optim.AdamW</c> (decoupled weight decay, bias-corrected moments, eps added to the square root), over the
/// parameters of an <see cref="ITrainableModel"/>, with the helpers of a Hugging Face training step: gradient clipping by the
/// global L2 norm (<c>clip_grad_norm_</c>) and the linear warm-up then linear decay schedule
/// (<c>get_linear_schedule_with_warmup</c>). Weight decay skips parameters whose <see cref="TrainableParameter.DecaysWeight"/>
/// is false (biases and LayerNorm), as sentence-transformers' trainer does.
/// </summary>
internal sealed class AdamW
{
    private readonly IReadOnlyList<TrainableParameter> _parameters;

    public AdamW(IReadOnlyList<TrainableParameter> parameters, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8, double weightDecay = 0.01)
    {
        _parameters = parameters;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        WeightDecay = weightDecay;
        FirstMoments = parameters.Select(p => new float[p.Value.Length]).ToArray();
        SecondMoments = parameters.Select(p => new float[p.Value.Length]).ToArray();
    }

    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Epsilon { get; }
    public double WeightDecay { get; }

    /// <summary>Steps taken (t of the bias correction).</summary>
    public int Steps { get; set; }

    /// <summary>m, per parameter (saved and restored by a resumable checkpoint).</summary>
    public float[][] FirstMoments { get; }

    /// <summary>v, per parameter.</summary>
    public float[][] SecondMoments { get; }

    /// <summary>One update at learning rate <paramref name="learningRate"/> from the parameters' gradients:
    /// p -= lr wd p (when it decays); m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).</summary>
    public void Step(double learningRate)
    {
        Steps++;
        double correction1 = 1 - Math.Pow(Beta1, Steps), correction2 = 1 - Math.Pow(Beta2, Steps);
        double stepSize = learningRate / correction1, sqrtCorrection2 = Math.Sqrt(correction2);
        float b1 = (float)Beta1, b2 = (float)Beta2;
        for (int k = 0; k < _parameters.Count; k++)
        {
            var p = _parameters[k];
            float[] value = p.Value, gradient = p.Gradient, m = FirstMoments[k], v = SecondMoments[k];
            float decay = p.DecaysWeight ? (float)(1 - learningRate * WeightDecay) : 1f;
            for (int i = 0; i < value.Length; i++)
            {
                float g = gradient[i];
                value[i] *= decay;
                m[i] = b1 * m[i] + (1 - b1) * g;
                v[i] = b2 * v[i] + (1 - b2) * g * g;
                value[i] -= (float)(stepSize * m[i] / (Math.Sqrt(v[i]) / sqrtCorrection2 + Epsilon));
            }
        }
    }

    /// <summary>Scales every gradient so that their global L2 norm is at most <paramref name="maxNorm"/>; returns the norm
    /// before clipping (as <c>clip_grad_norm_</c>: scale = maxNorm / (norm + 1e-6) when it is below 1). A non-finite norm
    /// is returned as is and the gradients are left alone (the caller stops).</summary>
    public static double ClipGradientNorm(IReadOnlyList<TrainableParameter> parameters, double maxNorm)
    {
        double sum = 0;
        foreach (var p in parameters)
            foreach (float g in p.Gradient) sum += (double)g * g;
        double norm = Math.Sqrt(sum);
        if (!double.IsFinite(norm) || maxNorm <= 0) return norm;
        double scale = maxNorm / (norm + 1e-6);
        if (scale < 1)
            foreach (var p in parameters)
                System.Numerics.Tensors.TensorPrimitives.Multiply(p.Gradient, (float)scale, p.Gradient);
        return norm;
    }

    /// <summary>The learning rate of step <paramref name="step"/> (0-based) of <paramref name="totalSteps"/>: linear warm-up over
    /// <paramref name="warmupSteps"/> from 0 to <paramref name="peak"/>, then linear decay to 0 at the last step.</summary>
    public static double LinearSchedule(int step, int totalSteps, int warmupSteps, double peak)
    {
        if (step < warmupSteps) return peak * step / Math.Max(1, warmupSteps);
        return peak * Math.Max(0.0, (double)(totalSteps - step) / Math.Max(1, totalSteps - warmupSteps));
    }
}
