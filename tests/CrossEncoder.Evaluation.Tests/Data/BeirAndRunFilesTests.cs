using CrossEncoder.Evaluation.Data;
using Xunit;

namespace CrossEncoder.Evaluation.Tests.Data;

public sealed class BeirAndRunFilesTests
{
    [Fact]
    public void Loads_the_beir_fixture()
    {
        var data = BeirDataset.Load(Fixture.Beir);
        Assert.Equal(50, data.Corpus.Count);
        Assert.Equal(["3", "10", "12", "1"], data.Queries.Select(q => q.Id));
        Assert.Equal(24, data.Qrels.Count);
        Assert.Equal(8, data.Qrels.RelevantCount("3"));
        Assert.Equal(0, data.Qrels.RelevantCount("1"));
        var doc5 = data.Corpus.Single(d => d.Id == "5");
        Assert.Equal(doc5.Title + " " + doc5.Text, doc5.FullText);   // title + " " + text, as BEIR
    }

    [Fact]
    public void Save_then_load_gives_the_same_dataset()
    {
        var data = BeirDataset.Load(Fixture.Beir);
        string dir = Fixture.TemporaryDirectory();
        data.Save(dir);
        var again = BeirDataset.Load(dir);
        Assert.Equal(data.Corpus, again.Corpus);
        Assert.Equal(data.Queries, again.Queries);
        foreach (string q in data.Qrels.QueryIds) Assert.Equal(data.Qrels.For(q), again.Qrels.For(q));
        Assert.Equal(File.ReadAllBytes(Path.Combine(Fixture.Beir, "corpus.jsonl")), File.ReadAllBytes(Path.Combine(dir, "corpus.jsonl")));
    }

    [Fact]
    public void Full_text_without_a_title_is_the_text()
    {
        Assert.Equal("body", new BeirDocument("1", "", "body").FullText);
        Assert.Equal("head", new BeirDocument("1", "head", "").FullText);
    }

    [Fact]
    public void Malformed_beir_files_give_errors_naming_file_and_line()
    {
        string dir = Fixture.TemporaryDirectory();
        Directory.CreateDirectory(Path.Combine(dir, "qrels"));
        File.WriteAllText(Path.Combine(dir, "corpus.jsonl"), "{\"_id\":\"1\",\"text\":\"a\"}\n{\"title\":\"no id\"}\n");
        File.WriteAllText(Path.Combine(dir, "queries.jsonl"), "{\"_id\":\"q\",\"text\":\"a\"}\n");
        File.WriteAllText(Path.Combine(dir, "qrels", "test.tsv"), "query-id\tcorpus-id\tscore\nq\t1\t1\n");
        var e = Assert.Throws<FormatException>(() => BeirDataset.Load(dir));
        Assert.Contains("corpus.jsonl line 2", e.Message);
        Assert.Contains("_id", e.Message);

        File.WriteAllText(Path.Combine(dir, "corpus.jsonl"), "{\"_id\":\"1\",\"text\":\"a\"}\nnot json\n");
        Assert.Contains("corpus.jsonl line 2", Assert.Throws<FormatException>(() => BeirDataset.Load(dir)).Message);

        File.WriteAllText(Path.Combine(dir, "corpus.jsonl"), "{\"_id\":\"1\",\"text\":\"a\"}\n{\"_id\":\"1\",\"text\":\"b\"}\n");
        Assert.Contains("appears twice", Assert.Throws<FormatException>(() => BeirDataset.Load(dir)).Message);

        File.WriteAllText(Path.Combine(dir, "corpus.jsonl"), "{\"_id\":\"1\",\"text\":\"a\"}\n");
        File.WriteAllText(Path.Combine(dir, "qrels", "test.tsv"), "query-id\tcorpus-id\tscore\nq\t1\thigh\n");
        Assert.Contains("test.tsv line 2", Assert.Throws<FormatException>(() => BeirDataset.Load(dir)).Message);

        File.Delete(Path.Combine(dir, "queries.jsonl"));
        Assert.Contains("queries.jsonl", Assert.Throws<FileNotFoundException>(() => BeirDataset.Load(dir)).Message);
        Assert.Throws<DirectoryNotFoundException>(() => BeirDataset.Load(Path.Combine(dir, "missing")));
    }

    [Fact]
    public void Run_files_round_trip_in_trec_eval_order_with_exact_scores()
    {
        var run = new TrecRun();
        run.Set("q1", [new("b", 0.1f), new("a", 0.1f), new("c", 0.30000001192092896)]);
        string path = Path.Combine(Fixture.TemporaryDirectory(), "run.trec");
        run.Write(path, "test");
        Assert.Equal(["q1 Q0 c 1 0.30000001192092896 test", "q1 Q0 b 2 0.10000000149011612 test", "q1 Q0 a 3 0.10000000149011612 test"], File.ReadAllLines(path));
        var again = TrecRun.Read(path);
        Assert.Equal(run.For("q1"), again.For("q1"));
    }

    [Fact]
    public void Malformed_run_files_give_errors_naming_the_line()
    {
        string path = Path.Combine(Fixture.TemporaryDirectory(), "run.trec");
        File.WriteAllLines(path, ["q1 Q0 a 1 2.5 tag", "q1 Q0 b 2"]);
        Assert.Contains("line 2", Assert.Throws<FormatException>(() => TrecRun.Read(path)).Message);
        File.WriteAllLines(path, ["q1 Q0 a 1 high tag"]);
        Assert.Contains("line 1", Assert.Throws<FormatException>(() => TrecRun.Read(path)).Message);
        File.WriteAllLines(path, ["q1 Q0 a 1 2 tag", "q1 Q0 a 2 1 tag"]);
        Assert.Contains("ranked twice", Assert.Throws<FormatException>(() => TrecRun.Read(path)).Message);
        Assert.Throws<FileNotFoundException>(() => TrecRun.Read(path + ".missing"));
    }
}
