namespace CrossEncoder.Native.Kernels;

// STUB: the kernels helper replaces Erf with a double-precision implementation accurate to ~1e-15 (e.g. W. J. Cody's
// rational approximations), documented in the header. This placeholder is Abramowitz & Stegun 7.1.26 (|err| < 1.5e-7).

/// <summary>Special functions .NET does not provide.</summary>
public static class SpecialFunctions
{
    /// <summary>The error function erf(x).</summary>
    public static double Erf(double x)
    {
        double sign = Math.Sign(x);
        x = Math.Abs(x);
        double t = 1.0 / (1.0 + 0.3275911 * x);
        double y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.Exp(-x * x);
        return sign * y;
    }
}
