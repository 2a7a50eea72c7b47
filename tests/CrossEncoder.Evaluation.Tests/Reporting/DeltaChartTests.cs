using System.Globalization;
using System.Xml.Linq;
using CrossEncoder.Evaluation.Reporting;
using Xunit;

namespace CrossEncoder.Evaluation.Tests.Reporting;

/// <summary>The SVG chart of eval --chart, written without a graphics library: well-formed, and holding the data.</summary>
public sealed class DeltaChartTests
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    private static XElement[] Bars(XDocument svg) => svg.Descendants(Svg + "rect").Where(e => (string?)e.Attribute("class") == "bar").ToArray();

    private static double Number(XElement e, string attribute) => double.Parse((string)e.Attribute(attribute)!, CultureInfo.InvariantCulture);

    [Fact]
    public void Bars_are_the_changes_sorted_from_largest_gain_coloured_by_sign_and_drawn_from_zero()
    {
        double[] before = [0.5, 0.2, 0.9, 0.4, 0.3], after = [0.75, 0.2, 0.3, 0.4, 0.35];   // +0.25, 0, -0.6, 0, +0.05
        var svg = XDocument.Parse(DeltaChart.Svg(before, after, "cranfield: bm25 -> rerank-fp32"));
        Assert.Equal(Svg + "svg", svg.Root!.Name);
        Assert.Equal("900", (string?)svg.Root.Attribute("width"));

        XElement[] bars = Bars(svg);
        Assert.Equal([0.25, 0.05, 0, 0, -0.6], bars.Select(b => Math.Round(Number(b, "data-delta"), 12)));
        Assert.Equal(["1", "2", "3", "4", "5"], bars.Select(b => (string)b.Attribute("data-position")!));
        Assert.Equal(["#2E8B57", "#2E8B57", "#808080", "#808080", "#CD5C5C"], bars.Select(b => (string)b.Attribute("fill")!));

        // Heights are proportional to the change; gains stand on the zero line, losses hang from it.
        double zero = Number(svg.Descendants(Svg + "line").Single(l => (string?)l.Attribute("class") == "zero"), "y1");
        double perUnit = Number(bars[0], "height") / 0.25;
        Assert.Equal(0.05 * perUnit, Number(bars[1], "height"), 2);
        Assert.Equal(0.6 * perUnit, Number(bars[4], "height"), 2);
        Assert.Equal(0, Number(bars[2], "height"));
        Assert.Equal(zero, Number(bars[0], "y") + Number(bars[0], "height"), 2);
        Assert.Equal(zero, Number(bars[4], "y"), 2);
        // Left to right, inside the frame.
        var frame = svg.Descendants(Svg + "rect").Single(e => (string?)e.Attribute("class") == "frame");
        double[] xs = bars.Select(b => Number(b, "x")).ToArray();
        Assert.Equal(xs.Order(), xs);
        Assert.True(xs[0] > Number(frame, "x") && xs[^1] + Number(bars[^1], "width") < Number(frame, "x") + Number(frame, "width"));

        string summary = svg.Descendants(Svg + "text").Single(t => (string?)t.Attribute("class") == "summary").Value;
        Assert.Equal("2 queries up, 1 down, 2 unchanged; mean change -0.060", summary);
        Assert.Equal("change in nDCG@10", svg.Descendants(Svg + "text").Single(t => (string?)t.Attribute("class") == "y-label").Value);
        Assert.Equal("query 5: -0.6000", bars[4].Element(Svg + "title")!.Value);
    }

    [Fact]
    public void The_value_axis_has_round_ticks_around_zero()
    {
        var svg = XDocument.Parse(DeltaChart.Svg([0, 0, 0], [0.4, -0.1, 0.2], "t"));
        string[] ticks = svg.Descendants(Svg + "g").Single(g => (string?)g.Attribute("class") == "y-ticks").Elements(Svg + "text").Select(t => t.Value).ToArray();
        Assert.Equal(["-0.1", "0.0", "0.1", "0.2", "0.3", "0.4"], ticks);
    }

    [Fact]
    public void A_title_with_markup_and_control_characters_stays_well_formed_XML()
    {
        string title = "a&b <c> \"d\" \u001b[31m\ud800 \U0001F600";
        var svg = XDocument.Parse(DeltaChart.Svg([0.1], [0.2], title));
        Assert.Equal("a&b <c> \"d\" \uFFFD[31m\uFFFD \U0001F600", svg.Descendants(Svg + "text").Single(t => (string?)t.Attribute("class") == "title").Value);
    }

    [Fact]
    public void No_queries_or_no_change_still_draw_an_axis()
    {
        var empty = XDocument.Parse(DeltaChart.Svg([], [], "empty"));
        Assert.Empty(Bars(empty));
        Assert.Contains("0 queries up, 0 down, 0 unchanged; mean change 0.000", empty.ToString());

        var flat = XDocument.Parse(DeltaChart.Svg([0.3, 0.3], [0.3, 0.3], "flat"));
        Assert.All(Bars(flat), b => Assert.Equal(0, Number(b, "height")));
        Assert.NotEmpty(flat.Descendants(Svg + "g").Single(g => (string?)g.Attribute("class") == "y-ticks").Elements(Svg + "text"));
    }

    [Fact]
    public void Save_writes_svg_and_refuses_png_naming_the_conversion()
    {
        string dir = Directory.CreateTempSubdirectory("delta-chart-").FullName;
        try
        {
            string path = Path.Combine(dir, "delta.svg");
            DeltaChart.Save(path, [0.1, 0.5], [0.3, 0.4], "t");
            Assert.Equal(2, Bars(XDocument.Load(path)).Length);
            Assert.StartsWith("<svg", File.ReadAllText(path));   // no byte-order mark

            var png = Assert.Throws<ArgumentException>(() => DeltaChart.Save(Path.Combine(dir, "delta.png"), [0.1], [0.2], "t"));
            Assert.Contains(".svg", png.Message);
            Assert.Contains("rsvg-convert", png.Message);
            Assert.False(File.Exists(Path.Combine(dir, "delta.png")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Bad_data_is_refused()
    {
        Assert.Throws<ArgumentException>(() => DeltaChart.Svg([0.1, 0.2], [0.3], "t"));
        Assert.Throws<ArgumentException>(() => DeltaChart.Svg([double.NaN], [0.3], "t"));
        Assert.Throws<ArgumentException>(() => DeltaChart.Svg([0.1], [0.3], "t", width: 10));
    }
}
