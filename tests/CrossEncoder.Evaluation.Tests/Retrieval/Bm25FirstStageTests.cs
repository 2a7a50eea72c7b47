using CrossEncoder.Evaluation.Data;
using CrossEncoder.Evaluation.Retrieval;
using Xunit;

namespace CrossEncoder.Evaluation.Tests.Retrieval;

public sealed class Bm25FirstStageTests
{
    /// <summary>
    /// Lucene 4.8's BM25 by hand: score = idf * (k1 + 1) * tf / (tf + k1 * (1 - b + b * dl / avgdl)),
    /// idf = ln(1 + (N - n + 0.5) / (n + 0.5)). Every document has 4 terms after analysis, so Lucene's one-byte length
    /// encoding (1/sqrt(4) = 0.5, exact) loses nothing and dl = avgdl = 4.
    /// </summary>
    [Fact]
    public void Scores_match_the_bm25_formula_by_hand()
    {
        BeirDocument[] corpus =
        [
            new("d1", "", "wing wing wing lift"),
            new("d2", "", "wing flow drag heat"),
            new("d3", "", "boundary layer shock heat"),
        ];
        var options = new Bm25Options { K1 = 1.2f, B = 0.75f };
        var bm25 = new Bm25FirstStage(corpus, Fixture.TemporaryDirectory(), options);
        var run = bm25.Retrieve([new BeirQuery("q", "wings")], 10, null, default).Run;   // "wings" -> stem "wing"

        double idf = Math.Log(1 + (3 - 2 + 0.5) / (2 + 0.5));   // "wing" is in 2 of 3 documents
        double Score(int tf) => idf * (1.2 + 1) * tf / (tf + 1.2 * (1 - 0.75 + 0.75 * 4 / 4.0));
        var hits = run.For("q");
        Assert.Equal(["d1", "d2"], hits.Select(h => h.DocumentId));
        Assert.Equal(Score(3), hits[0].Score, 1e-5);
        Assert.Equal(Score(1), hits[1].Score, 1e-5);
    }

    [Fact]
    public void English_analysis_stems_and_drops_stop_words_over_title_and_text()
    {
        BeirDocument[] corpus =
        [
            new("title-only", "Heated wings", "measurements"),
            new("stop-words", "", "the of and is which"),
        ];
        var run = new Bm25FirstStage(corpus, Fixture.TemporaryDirectory()).Retrieve(
            [new BeirQuery("stem", "heating of a wing"), new BeirQuery("stop", "the and of")], 10, null, default).Run;
        Assert.Equal(["title-only"], run.For("stem").Select(h => h.DocumentId));   // heating/heated -> heat, wing/wings -> wing
        Assert.Empty(run.For("stop"));                                              // nothing left after stop words
    }

    [Fact]
    public void The_index_is_built_once_per_corpus_and_reused()
    {
        var data = BeirDataset.Load(Fixture.Beir);
        string cache = Fixture.TemporaryDirectory();
        var queries = data.Queries.Take(3).ToList();
        var first = new Bm25FirstStage(data.Corpus, cache).Retrieve(queries, 100, null, default);
        var second = new Bm25FirstStage(data.Corpus, cache).Retrieve(queries, 100, null, default);
        Assert.False(first.IndexFromCache);
        Assert.True(second.IndexFromCache);
        foreach (var q in queries) Assert.Equal(first.Run.For(q.Id), second.Run.For(q.Id));
        Assert.Single(Directory.GetDirectories(cache));

        // Other content, other key: a changed document gets its own index.
        var changed = data.Corpus.Select((d, i) => i == 0 ? d with { Text = d.Text + " extra" } : d).ToList();
        Assert.False(new Bm25FirstStage(changed, cache).Retrieve(queries, 100, null, default).IndexFromCache);
        Assert.Equal(2, Directory.GetDirectories(cache).Length);
    }

    [Fact]
    public void K1_and_b_change_scores_but_not_the_index()
    {
        var data = BeirDataset.Load(Fixture.Beir);
        string cache = Fixture.TemporaryDirectory();
        var query = data.Queries.Take(1).ToList();
        var defaults = new Bm25FirstStage(data.Corpus, cache).Retrieve(query, 5, null, default);
        var lucene = new Bm25FirstStage(data.Corpus, cache, new Bm25Options { K1 = 1.2f, B = 0.75f }).Retrieve(query, 5, null, default);
        Assert.True(lucene.IndexFromCache);
        Assert.NotEqual(defaults.Run.For("3")[0].Score, lucene.Run.For("3")[0].Score);
        Assert.Equal((0.9f, 0.4f), (new Bm25Options().K1, new Bm25Options().B));   // documented defaults (Anserini/Pyserini)
    }

    [Fact]
    public void Depth_limits_the_candidates()
    {
        var data = BeirDataset.Load(Fixture.Beir);
        var run = new Bm25FirstStage(data.Corpus, Fixture.TemporaryDirectory()).Retrieve(data.Queries, 7, null, default).Run;
        Assert.All(data.Queries, q => Assert.True(run.For(q.Id).Count <= 7));
        Assert.Equal(7, run.For("3").Count);
    }
}
