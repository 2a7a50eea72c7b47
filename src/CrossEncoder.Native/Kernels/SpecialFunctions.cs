namespace CrossEncoder.Native.Kernels;

// Error function in double precision, after the Sun fdlibm s_erf.c method (J. T. Coonen / SunPro, 1993), which is also what
// glibc, musl and FreeBSD ship. The coefficients below are fdlibm's published minimax constants; the code is our own.
//
//   erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt,   erf(-x) = -erf(x),   erf(+-inf) = +-1,   erf(NaN) = NaN.
//
//   |x| <  2^-28          erf(x) = x + x * (2/sqrt(pi) - 1)                    (the next Taylor term is below 1 ulp)
//   |x| <  0.84375        erf(x) = x + x * P(x^2) / Q(x^2)                     |P/Q - (erf(x) - x)/x| < 2^-57.9
//   |x| <  1.25           erf(x) = c + P1(s) / Q1(s),  s = |x| - 1,  c = 0.84506291151 rounded to float
//   |x| <  1/0.35         erf(x) = 1 - exp(-x^2 - 0.5625 + R1(1/x^2) / S1(1/x^2)) / x
//   |x| <  6              erf(x) = 1 - exp(-x^2 - 0.5625 + R2(1/x^2) / S2(1/x^2)) / x
//   |x| >= 6              erf(x) = 1 (to double precision: erfc(6) = 2.2e-17)
//
// In the erfc regions exp(-x^2) is evaluated as exp(-z^2) * exp((z - x)(z + x)) with z = x truncated to 21 significant bits,
// so that z^2 is exact and the cancellation in -x^2 costs no accuracy. fdlibm documents the result as < 1 ulp in error.

/// <summary>Special functions .NET does not provide.</summary>
internal static class SpecialFunctions
{
    private const double Erx = 8.45062911510467529297e-01;
    private const double Efx = 1.28379167095512586316e-01; // 2/sqrt(pi) - 1

    // erf on [0, 0.84375]: (erf(x) - x) / x = P(z) / Q(z), z = x^2.
    private const double Pp0 = 1.28379167095512558561e-01, Pp1 = -3.25042107247001499370e-01, Pp2 = -2.84817495755985104766e-02,
        Pp3 = -5.77027029648944159157e-03, Pp4 = -2.37630166566501626084e-05;
    private const double Qq1 = 3.97917223959155352819e-01, Qq2 = 6.50222499887672944485e-02, Qq3 = 5.08130628187576562776e-03,
        Qq4 = 1.32494738004321644526e-04, Qq5 = -3.96022827877536812320e-06;

    // erf on [0.84375, 1.25]: erf(1 + s) - c = P1(s) / Q1(s).
    private const double Pa0 = -2.36211856075265944077e-03, Pa1 = 4.14856118683748331666e-01, Pa2 = -3.72207876035701323847e-01,
        Pa3 = 3.18346619901161753674e-01, Pa4 = -1.10894694282396677476e-01, Pa5 = 3.54783043256182359371e-02, Pa6 = -2.16637559486879084300e-03;
    private const double Qa1 = 1.06420880400844228286e-01, Qa2 = 5.40397917702171048937e-01, Qa3 = 7.18286544141962662868e-02,
        Qa4 = 1.26171219808761642112e-01, Qa5 = 1.36370839120290507362e-02, Qa6 = 1.19844998467991074170e-02;

    // erfc on [1.25, 1/0.35]: log(x * erfc(x)) + x^2 + 0.5625 = R1(s) / S1(s), s = 1/x^2.
    private const double Ra0 = -9.86494403484714822705e-03, Ra1 = -6.93858572707181764372e-01, Ra2 = -1.05586262253232909814e+01,
        Ra3 = -6.23753324503260060396e+01, Ra4 = -1.62396669462573470355e+02, Ra5 = -1.84605092906711035994e+02,
        Ra6 = -8.12874355063065934246e+01, Ra7 = -9.81432934416914548592e+00;
    private const double Sa1 = 1.96512716674392571292e+01, Sa2 = 1.37657754143519042600e+02, Sa3 = 4.34565877475229228821e+02,
        Sa4 = 6.45387271733267880336e+02, Sa5 = 4.29008140027567833386e+02, Sa6 = 1.08635005541779435134e+02,
        Sa7 = 6.57024977031928170135e+00, Sa8 = -6.04244152148580987438e-02;

    // erfc on [1/0.35, 6]: same form, R2(s) / S2(s).
    private const double Rb0 = -9.86494292470009928597e-03, Rb1 = -7.99283237680523006574e-01, Rb2 = -1.77579549177547519889e+01,
        Rb3 = -1.60636384855821916062e+02, Rb4 = -6.37566443368389627722e+02, Rb5 = -1.02509513161107724954e+03, Rb6 = -4.83519191608651397019e+02;
    private const double Sb1 = 3.03380607434824582924e+01, Sb2 = 3.25792512996573918826e+02, Sb3 = 1.53672958608443695994e+03,
        Sb4 = 3.19985821950859553908e+03, Sb5 = 2.55305040643316442583e+03, Sb6 = 4.74528541206955367215e+02, Sb7 = -2.24409524465858183362e+01;

    /// <summary>The error function erf(x), accurate to about 1 ulp (fdlibm's s_erf method; see the file header).</summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        double ax = Math.Abs(x);
        double result;
        if (ax < 0.84375)
        {
            if (ax < 3.725290298461914e-9) return x + Efx * x; // 2^-28
            double z = x * x;
            double p = Pp0 + z * (Pp1 + z * (Pp2 + z * (Pp3 + z * Pp4)));
            double q = 1.0 + z * (Qq1 + z * (Qq2 + z * (Qq3 + z * (Qq4 + z * Qq5))));
            return x + x * (p / q);
        }
        if (ax < 1.25)
        {
            double s = ax - 1.0;
            double p = Pa0 + s * (Pa1 + s * (Pa2 + s * (Pa3 + s * (Pa4 + s * (Pa5 + s * Pa6)))));
            double q = 1.0 + s * (Qa1 + s * (Qa2 + s * (Qa3 + s * (Qa4 + s * (Qa5 + s * Qa6)))));
            result = Erx + p / q;
        }
        else if (ax >= 6.0)
        {
            result = 1.0;
        }
        else
        {
            double s = 1.0 / (ax * ax);
            double r, t;
            if (ax < 1.0 / 0.35)
            {
                r = Ra0 + s * (Ra1 + s * (Ra2 + s * (Ra3 + s * (Ra4 + s * (Ra5 + s * (Ra6 + s * Ra7))))));
                t = 1.0 + s * (Sa1 + s * (Sa2 + s * (Sa3 + s * (Sa4 + s * (Sa5 + s * (Sa6 + s * (Sa7 + s * Sa8)))))));
            }
            else
            {
                r = Rb0 + s * (Rb1 + s * (Rb2 + s * (Rb3 + s * (Rb4 + s * (Rb5 + s * Rb6)))));
                t = 1.0 + s * (Sb1 + s * (Sb2 + s * (Sb3 + s * (Sb4 + s * (Sb5 + s * (Sb6 + s * Sb7))))));
            }
            // z = ax with the low 32 bits cleared: z*z is exact, and (z - ax)(z + ax) carries the rest of -ax^2 accurately.
            double z = BitConverter.Int64BitsToDouble(BitConverter.DoubleToInt64Bits(ax) & unchecked((long)0xFFFFFFFF00000000UL));
            double erfc = Math.Exp(-z * z - 0.5625) * Math.Exp((z - ax) * (z + ax) + r / t) / ax;
            result = 1.0 - erfc;
        }
        return x < 0 ? -result : result;
    }
}
