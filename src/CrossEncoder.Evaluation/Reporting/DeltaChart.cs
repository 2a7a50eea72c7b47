using System.Globalization;
using System.Text;

namespace CrossEncoder.Evaluation.Reporting;

/// <summary>
/// Draws the per-query change of a measure (after - before), sorted from largest gain to largest loss, as an SVG bar chart:
/// green bars are queries the reranker helped, red ones it hurt, grey ones (zero height) unchanged. The SVG is written
/// here, without a graphics library (ScottPlot's SVG goes through SkiaSharp's native canvas, 14 platforms of natives in
/// the tool package): any browser opens it, and <c>rsvg-convert</c> or Inkscape turn it into PNG.
/// </summary>
/// <remarks>
/// Each bar is a <c>&lt;rect class="bar"&gt;</c> carrying its 1-based position (<c>data-position</c>) and its change
/// (<c>data-delta</c>, round-trip precision) with a <c>&lt;title&gt;</c> tooltip, so the chart is also machine-readable.
/// </remarks>
public static class DeltaChart
{
    private const string Helped = "#2E8B57", Hurt = "#CD5C5C", Unchanged = "#808080";   // SeaGreen, IndianRed, Gray
    private const double Left = 78, Right = 24, Top = 64, Bottom = 56;

    /// <summary>Writes the chart to <paramref name="path"/>, which must end in .svg.</summary>
    /// <exception cref="ArgumentException">The lists differ in length, a value is not finite, the size is too small, or the
    /// extension is not .svg (PNG needs a rasteriser this library does not carry: convert the SVG).</exception>
    public static void Save(string path, IReadOnlyList<double> before, IReadOnlyList<double> after, string title, string measure = "nDCG@10",
        int width = 900, int height = 500)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!Path.GetExtension(path).Equals(".svg", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"chart file '{path}' must end in .svg (PNG: convert the SVG, e.g. rsvg-convert chart.svg -o chart.png).");
        string svg = Svg(before, after, title, measure, width, height);
        File.WriteAllText(path, svg, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
    }

    /// <summary>The chart as an SVG document.</summary>
    /// <exception cref="ArgumentException">The lists differ in length, a value is not finite, or the size is too small.</exception>
    public static string Svg(IReadOnlyList<double> before, IReadOnlyList<double> after, string title, string measure = "nDCG@10",
        int width = 900, int height = 500)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        ArgumentNullException.ThrowIfNull(title);
        ArgumentNullException.ThrowIfNull(measure);
        if (before.Count != after.Count) throw new ArgumentException("before and after differ in length.");
        if (width < 200 || height < 150) throw new ArgumentException("a chart needs at least 200 x 150 pixels.");
        double[] deltas = before.Zip(after, (b, a) => a - b).OrderDescending().ToArray();
        if (deltas.Any(d => !double.IsFinite(d))) throw new ArgumentException("the measure has a value that is not a finite number.");

        int helped = deltas.Count(d => d > 0), hurt = deltas.Count(d => d < 0);
        double mean = deltas.Length == 0 ? 0 : deltas.Average();
        string summary = $"{helped} queries up, {hurt} down, {deltas.Length - helped - hurt} unchanged; mean change {mean.ToString("+0.000;-0.000;0.000", CultureInfo.InvariantCulture)}";

        // Value axis: always includes 0, padded by 5% as ScottPlot's margins did; ticks at 1, 2 or 5 x 10^k.
        double low = Math.Min(0, deltas.DefaultIfEmpty(0).Min()), high = Math.Max(0, deltas.DefaultIfEmpty(0).Max());
        if (high - low < 1e-12) (low, high) = (-0.1, 0.1);
        double pad = (high - low) * 0.05;
        (low, high) = (low - pad, high + pad);
        double plotWidth = width - Left - Right, plotHeight = height - Top - Bottom;
        double Y(double value) => Top + (high - value) / (high - low) * plotHeight;
        // Position axis: query i (1-based) is centred at i, the axis spans 0.5 .. n + 0.5.
        int n = Math.Max(deltas.Length, 1);
        double slot = plotWidth / n;
        double X(double position) => Left + (position - 0.5) * slot;

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">""").Append('\n');
        svg.Append(CultureInfo.InvariantCulture, $"""<rect width="{width}" height="{height}" fill="white"/>""").Append('\n');
        svg.Append(CultureInfo.InvariantCulture, $"""<text class="title" x="{width / 2.0:0.#}" y="24" text-anchor="middle" font-size="15">{Escape(title)}</text>""").Append('\n');
        svg.Append(CultureInfo.InvariantCulture, $"""<text class="summary" x="{width / 2.0:0.#}" y="44" text-anchor="middle" font-size="13">{Escape(summary)}</text>""").Append('\n');

        double step = NiceStep((high - low) / 6);
        svg.Append("""<g class="y-ticks" stroke="#E0E0E0">""").Append('\n');
        for (long k = (long)Math.Ceiling(low / step); k <= (long)Math.Floor(high / step); k++)
        {
            double value = k * step, y = Y(value);
            svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{Left:0.##}" x2="{Left + plotWidth:0.##}" y1="{y:0.##}" y2="{y:0.##}"/>""");
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{Left - 6:0.##}" y="{y + 4:0.##}" text-anchor="end" stroke="none" fill="black">{Format(value, step)}</text>""").Append('\n');
        }
        svg.Append("</g>\n");

        int positionStep = Math.Max(1, (int)NiceStep(n / 10.0));
        svg.Append("""<g class="x-ticks" fill="black">""").Append('\n');
        for (int position = positionStep == 1 ? 1 : positionStep; position <= deltas.Length; position += positionStep)
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{X(position):0.##}" y="{Top + plotHeight + 16:0.##}" text-anchor="middle">{position}</text>""").Append('\n');
        svg.Append("</g>\n");

        svg.Append("""<g class="bars">""").Append('\n');
        double zero = Y(0), barWidth = slot * 0.8;
        for (int i = 0; i < deltas.Length; i++)
        {
            double d = deltas[i], top = Math.Min(zero, Y(d)), barHeight = Math.Abs(Y(d) - zero);
            string fill = d > 0 ? Helped : d < 0 ? Hurt : Unchanged;
            svg.Append(CultureInfo.InvariantCulture,
                $"""<rect class="bar" data-position="{i + 1}" data-delta="{d.ToString("R", CultureInfo.InvariantCulture)}" x="{X(i + 1) - barWidth / 2:0.###}" y="{top:0.###}" width="{barWidth:0.###}" height="{barHeight:0.###}" fill="{fill}">""");
            svg.Append(CultureInfo.InvariantCulture, $"<title>query {i + 1}: {d.ToString("+0.0000;-0.0000;0.0000", CultureInfo.InvariantCulture)}</title></rect>").Append('\n');
        }
        svg.Append("</g>\n");

        svg.Append(CultureInfo.InvariantCulture, $"""<line class="zero" x1="{Left:0.##}" x2="{Left + plotWidth:0.##}" y1="{zero:0.##}" y2="{zero:0.##}" stroke="black"/>""").Append('\n');
        svg.Append(CultureInfo.InvariantCulture, $"""<rect class="frame" x="{Left:0.##}" y="{Top:0.##}" width="{plotWidth:0.##}" height="{plotHeight:0.##}" fill="none" stroke="black"/>""").Append('\n');
        svg.Append(CultureInfo.InvariantCulture, $"""<text class="x-label" x="{Left + plotWidth / 2:0.##}" y="{height - 14:0.##}" text-anchor="middle" font-size="13">queries, sorted by change</text>""").Append('\n');
        svg.Append(CultureInfo.InvariantCulture, $"""<text class="y-label" transform="translate(18 {Top + plotHeight / 2:0.##}) rotate(-90)" text-anchor="middle" font-size="13">{Escape("change in " + measure)}</text>""").Append('\n');
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    /// <summary>The 1, 2 or 5 x 10^k at or above <paramref name="rough"/>.</summary>
    private static double NiceStep(double rough)
    {
        if (rough <= 0 || !double.IsFinite(rough)) return 1;
        double magnitude = Math.Pow(10, Math.Floor(Math.Log10(rough)));
        double fraction = rough / magnitude;
        return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * magnitude;
    }

    private static string Format(double value, double step)
    {
        int decimals = Math.Clamp((int)Math.Ceiling(-Math.Log10(step)), 0, 6);
        return value.ToString("F" + decimals, CultureInfo.InvariantCulture);
    }

    /// <summary>XML text: markup characters escaped, characters XML 1.0 cannot hold (controls, lone surrogates) replaced by U+FFFD.</summary>
    private static string Escape(string text)
    {
        var escaped = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                escaped.Append(c).Append(text[++i]);
                continue;
            }
            escaped.Append(c switch
            {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                '\t' or '\n' or '\r' => " ",
                _ when c < ' ' || char.IsSurrogate(c) || c is '\uFFFE' or '\uFFFF' => "\uFFFD",
                _ => c.ToString(),
            });
        }
        return escaped.ToString();
    }
}
