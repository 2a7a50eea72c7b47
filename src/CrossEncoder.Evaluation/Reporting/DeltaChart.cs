using ScottPlot;

namespace CrossEncoder.Evaluation.Reporting;

/// <summary>
/// Draws the per-query change of a measure (after - before), sorted from largest gain to largest loss, as a bar chart with
/// ScottPlot: green bars are queries the reranker helped, red ones it hurt. PNG or SVG by the file's extension.
/// </summary>
public static class DeltaChart
{
    /// <summary>Writes the chart to <paramref name="path"/> (.png or .svg).</summary>
    /// <exception cref="ArgumentException">The extension is neither .png nor .svg.</exception>
    public static void Save(string path, IReadOnlyList<double> before, IReadOnlyList<double> after, string title, string measure = "nDCG@10",
        int width = 900, int height = 500)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (before.Count != after.Count) throw new ArgumentException("before and after differ in length.");
        string extension = Path.GetExtension(path).ToLowerInvariant();
        if (extension is not (".png" or ".svg")) throw new ArgumentException($"chart file '{path}' must end in .png or .svg.");

        double[] deltas = before.Zip(after, (b, a) => a - b).OrderDescending().ToArray();
        var plot = new Plot();
        var bars = deltas.Select((d, i) => new Bar
        {
            Position = i + 1,
            Value = d,
            FillColor = d > 0 ? Colors.SeaGreen : d < 0 ? Colors.IndianRed : Colors.Gray,
            LineWidth = 0,
            Size = 0.8,
        }).ToList();
        plot.Add.Bars(bars);
        plot.Add.HorizontalLine(0, 1, Colors.Black);
        int helped = deltas.Count(d => d > 0), hurt = deltas.Count(d => d < 0);
        plot.Title($"{title}\n{helped} queries up, {hurt} down, {deltas.Length - helped - hurt} unchanged; mean change {(deltas.Length == 0 ? 0 : deltas.Average()):+0.000;-0.000;0.000}");
        plot.XLabel("queries, sorted by change");
        plot.YLabel($"change in {measure}");
        plot.Axes.Margins(bottom: 0.05, top: 0.05);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };   // query positions

        if (extension == ".png") plot.SavePng(path, width, height);
        else plot.SaveSvg(path, width, height);
    }
}
