using CrossEncoder.Evaluation.Data;
using Xunit;

namespace CrossEncoder.Evaluation.Tests.Data;

/// <summary>The readers on the first records of each collection's raw files (bytes as distributed, CRLF where the originals have it).</summary>
public sealed class ClassicCollectionsTests
{
    [Fact]
    public void Cranfield_numbers_queries_by_position_and_maps_grades_to_gains()
    {
        var data = ClassicCollections.Read(ClassicCollection.Cranfield, Fixture.Raw("cranfield"));
        Assert.Equal(["1", "2", "3", "471"], data.Corpus.Select(d => d.Id));
        var first = data.Corpus[0];
        Assert.Equal("experimental investigation of the aerodynamics of a wing in a slipstream .", first.Title);
        Assert.StartsWith("experimental investigation of the aerodynamics of a wing in a slipstream . an experimental study", first.Text);
        Assert.DoesNotContain("brenckman", first.Text);   // .A and .B are not text
        Assert.Equal(("", ""), (data.Corpus[3].Title, data.Corpus[3].Text));   // document 471 is empty in the original

        // cran.qry's .I values are 001, 002, 004, 008; cranqrel calls them 1, 2, 3, 4.
        Assert.Equal(["1", "2", "3", "4"], data.Queries.Select(q => q.Id));
        Assert.Equal("what problems of heat conduction in composite slabs have been solved so far .", data.Queries[2].Text);   // .I 004, CRLF stripped
        // Grade 3 -> gain 2; grade -1 -> 0 (judged non-relevant).
        Assert.Equal(2, data.Qrels.For("3")["5"]);
        Assert.Equal(0, data.Qrels.For("3")["485"]);
        Assert.Equal(8, data.Qrels.RelevantCount("3"));
        Assert.Equal(12, data.Qrels.Count);
    }

    [Fact]
    public void Cisi_reads_crlf_files_and_takes_W_as_the_query_text()
    {
        var data = ClassicCollections.Read(ClassicCollection.Cisi, Fixture.Raw("cisi"));
        Assert.Equal(3, data.Corpus.Count);
        Assert.Equal("18 Editions of the Dewey Decimal Classifications", data.Corpus[0].Title);
        Assert.StartsWith("The present study is a history of the DEWEY Decimal Classification.", data.Corpus[0].Text);
        Assert.EndsWith("librarianship in this country and abroad.", data.Corpus[0].Text);   // .X (citations) is not text
        Assert.Equal("Use Made of Technical Libraries", data.Corpus[1].Title);          // ".T " with a trailing space is still a tag
        Assert.Equal(["1", "2", "58"], data.Queries.Select(q => q.Id));
        Assert.StartsWith("Bibliographic control before and after MARC", data.Queries[2].Text);   // query 58 has .T/.A/.B too
        Assert.DoesNotContain("Directions in Library Networking", data.Queries[2].Text);
        Assert.Equal(1, data.Qrels.For("1")["28"]);
        Assert.Equal(5, data.Qrels.Count);
    }

    [Fact]
    public void Medline_reads_trec_style_qrels()
    {
        var data = ClassicCollections.Read(ClassicCollection.Medline, Fixture.Raw("medline"));
        Assert.Equal(["1", "2", "3"], data.Corpus.Select(d => d.Id));
        Assert.Equal("", data.Corpus[0].Title);
        Assert.StartsWith("correlation between maternal and fetal plasma levels of glucose and free fatty acids .", data.Corpus[0].Text);
        Assert.Equal("the crystalline lens in vertebrates, including humans.", data.Queries[0].Text);
        Assert.Equal(1, data.Qrels.For("1")["13"]);   // "1 0 13 1"
        Assert.Equal(5, data.Qrels.Count);
    }

    [Fact]
    public void Npl_reads_slash_separated_records_and_the_unclosed_last_qrels_record()
    {
        var data = ClassicCollections.Read(ClassicCollection.Npl, Fixture.Raw("npl"));
        Assert.Equal(["1", "2", "3"], data.Corpus.Select(d => d.Id));
        Assert.Equal("compact memories have flexible capacities a digital data storage system with capacity up to bits and random and or sequential access is described", data.Corpus[0].Text);
        Assert.Equal("MEASUREMENT OF DIELECTRIC CONSTANT OF LIQUIDS BY THE USE OF MICROWAVE TECHNIQUES", data.Queries[0].Text);
        Assert.Equal(19, data.Qrels.RelevantCount("1"));
        Assert.Equal(46, data.Qrels.RelevantCount("93"));   // the file's last record has no closing "/"
        Assert.Equal(1, data.Qrels.For("93")["11318"]);
    }

    [Theory]
    [InlineData("cranfield", ClassicCollection.Cranfield)]
    [InlineData("cisi", ClassicCollection.Cisi)]
    [InlineData("medline", ClassicCollection.Medline)]
    [InlineData("npl", ClassicCollection.Npl)]
    public void Detect_recognises_each_collection_by_its_file_names(string folder, ClassicCollection expected) =>
        Assert.Equal(expected, ClassicCollections.Detect(Fixture.Raw(folder)));

    [Fact]
    public void Malformed_files_give_errors_naming_file_and_line()
    {
        string dir = Fixture.TemporaryDirectory();
        File.WriteAllText(Path.Combine(dir, "MED.ALL"), ".I 1\n.W\ntext\n");
        File.WriteAllText(Path.Combine(dir, "MED.QRY"), "stray text\n.I 1\n.W\nq\n");
        File.WriteAllText(Path.Combine(dir, "MED.REL"), "1 0 1 1\n");
        var e = Assert.Throws<FormatException>(() => ClassicCollections.ReadMedline(dir));
        Assert.Contains("MED.QRY line 1", e.Message);

        File.WriteAllText(Path.Combine(dir, "MED.QRY"), ".I 1\n.W\nq\n");
        File.WriteAllText(Path.Combine(dir, "MED.REL"), "1 0 1 yes\n");
        e = Assert.Throws<FormatException>(() => ClassicCollections.ReadMedline(dir));
        Assert.Contains("MED.REL line 1", e.Message);

        File.Delete(Path.Combine(dir, "MED.REL"));
        Assert.Throws<FileNotFoundException>(() => ClassicCollections.ReadMedline(dir));
    }

    /// <summary>The full collections, when ../shared/ir is present (CI): the counts their SOURCES.md states.</summary>
    [Fact]
    public void Full_collections_have_the_documented_counts_when_available()
    {
        string? root = FindSharedIr();
        if (root is null) return;   // a fresh clone has no ../shared; the committed excerpts above cover the formats
        var expected = new (ClassicCollection Collection, string Folder, int Docs, int Queries, int Judged, int Relevant)[]
        {
            (ClassicCollection.Cranfield, "cranfield", 1400, 225, 225, 1612),
            (ClassicCollection.Cisi, "cisi", 1460, 112, 76, 3114),
            (ClassicCollection.Medline, "medline", 1033, 30, 30, 696),
            (ClassicCollection.Npl, "npl", 11429, 93, 93, 2083),
        };
        foreach (var e in expected)
        {
            var data = ClassicCollections.Read(e.Collection, Path.Combine(root, e.Folder));
            Assert.Equal(e.Docs, data.Corpus.Count);
            Assert.Equal(e.Queries, data.Queries.Count);
            Assert.Equal(e.Judged, data.Queries.Count(q => data.Qrels.RelevantCount(q.Id) > 0));
            Assert.Equal(e.Relevant, data.Qrels.QueryIds.Sum(data.Qrels.RelevantCount));
        }
    }

    private static string? FindSharedIr()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "shared", "ir");
            if (Directory.Exists(Path.Combine(candidate, "cranfield"))) return candidate;
        }
        return null;
    }
}
