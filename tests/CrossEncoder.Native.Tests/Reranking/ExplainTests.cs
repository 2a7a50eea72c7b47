using CrossEncoder.Native.Model;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.Tests.Model;
using CrossEncoder.Native.Tests.Model.Qwen;
using CrossEncoder.Native.Tests.Verification;
using Xunit;

namespace CrossEncoder.Native.Tests.Reranking;

/// <summary>Segmentation of the original text into words and sentences with exact spans, and the text with a span removed.</summary>
public sealed class TextSegmentationTests
{
    [Fact]
    public void WordsAreExactSpansOfTheOriginalTextIncludingAccentsCjkAndEmoji()
    {
        // A decomposed é (e + U+0301), a ZWJ family emoji, a flag (two regional indicators), a skin-tone modifier.
        const string text = "Café nai\u0308ve — 東京タワー is 333 m tall! 👩‍👩‍👧 family, 🇫🇷 don't 3.14 built-in 👍🏽ok e\u0301t\u00e9";
        string[] expected = ["Café", "nai\u0308ve", "東", "京", "タワー", "is", "333", "m", "tall", "👩‍👩‍👧", "family", "🇫🇷", "don't", "3.14", "built-in", "👍🏽", "ok", "e\u0301t\u00e9"];
        var words = TextSegmentation.Words(text);
        Assert.Equal(expected, words.Select(w => text.Substring(w.Start, w.Length)));
        for (int i = 1; i < words.Count; i++) Assert.True(words[i].Start >= words[i - 1].Start + words[i - 1].Length);
    }

    [Fact]
    public void PunctuationAndWhitespaceAreNotWordsAndLoneSurrogatesDoNotThrow()
    {
        Assert.Empty(TextSegmentation.Words(""));
        Assert.Empty(TextSegmentation.Words("  ... !? -- \n\t"));
        const string broken = "a\ud800b \udc00 c";
        var words = TextSegmentation.Words(broken);
        Assert.Equal(["a", "b", "c"], words.Select(w => broken.Substring(w.Start, w.Length)));
    }

    [Fact]
    public void SentencesEndAtTerminatorsFollowedBySpaceAtFullWidthStopsAndAtLineBreaks()
    {
        const string text = "  Lift is a force. Is it \"upward?\" Yes!\nA new line 3.5 m long。次の文です。 Last one";
        string[] expected = ["Lift is a force.", "Is it \"upward?\"", "Yes!", "A new line 3.5 m long。", "次の文です。", "Last one"];
        var sentences = TextSegmentation.Sentences(text);
        Assert.Equal(expected, sentences.Select(s => text.Substring(s.Start, s.Length)));
    }

    [Theory]
    [InlineData("a foo b", 2, 3, "a b")]
    [InlineData("foo b", 0, 3, "b")]
    [InlineData("a foo", 2, 3, "a")]
    [InlineData("a foo, b", 2, 3, "a, b")]
    [InlineData("x中y", 1, 1, "xy")]
    [InlineData("foo", 0, 3, "")]
    public void RemovingASpanLeavesNoDoubleSpace(string text, int start, int length, string expected) =>
        Assert.Equal(expected, TextSegmentation.Remove(text, start, length));
}

/// <summary>
/// <see cref="Reranker.Explain"/> on real weights (the offline all-MiniLM-L6-v2, a bi-encoder, with real passages of the committed
/// IR sample), a random cross-encoder and a random decoder reranker with Qwen's real tokenizer: the reference is each occluded
/// text scored on its own through <see cref="Reranker.Rerank"/>.
/// </summary>
[Collection("MiniLM")]
public sealed class ExplainTests(MiniLmFixture minilm) : IDisposable
{
    private readonly TinyBert _tiny = new(classifier: true);

    public void Dispose() => _tiny.Dispose();

    private static IReadOnlyList<IrSample> Sample => IrSample.Load();

    /// <summary>The variant a test builds itself for a word that is a whole space-separated token: the other tokens joined.</summary>
    private static string WithoutToken(string text, int start)
    {
        var tokens = text.Split(' ');
        int offset = 0;
        var kept = new List<string>();
        foreach (string token in tokens)
        {
            if (offset != start) kept.Add(token);
            offset += token.Length + 1;
        }
        return string.Join(' ', kept);
    }

    private static bool IsWholeToken(string text, AttributedSpan word) =>
        (word.Start == 0 || text[word.Start - 1] == ' ') && (word.Start + word.Length == text.Length || text[word.Start + word.Length] == ' ');

    private static void AssertOcclusionEqualsRerankOneByOne(Reranker reranker, string query, string document, double tolerance)
    {
        var explanation = reranker.Explain(query, document);
        var whole = reranker.Rerank(query, [document])[0];
        Assert.Equal(whole.Score, explanation.Score);
        Assert.Equal(whole.Logit, explanation.Logit);
        Assert.False(explanation.Truncation.Truncated);
        Assert.Equal(explanation.Score, explanation.BaselineScore);
        int checkedWords = 0;
        foreach (var word in explanation.DocumentWords.Where(w => IsWholeToken(document, w)))
        {
            var variant = reranker.Rerank(query, [WithoutToken(document, word.Start)])[0];
            Assert.Equal(whole.Score - variant.Score, word.Attribution!.Value, tolerance);
            Assert.Equal(whole.Logit - variant.Logit, word.LogitAttribution!.Value, tolerance);
            checkedWords++;
        }
        foreach (var word in explanation.QueryWords.Where(w => IsWholeToken(query, w)))
        {
            var variant = reranker.Rerank(WithoutToken(query, word.Start), [document])[0];
            Assert.Equal(whole.Score - variant.Score, word.Attribution!.Value, tolerance);
            checkedWords++;
        }
        Assert.True(checkedWords >= 5, $"{checkedWords} words checked");
        // Sentences: the document without the sentence (and the space after it), scored alone.
        foreach (var sentence in explanation.DocumentSentences)
        {
            int end = Math.Min(document.Length, sentence.Start + sentence.Length + 1);
            string without = (document[..sentence.Start] + document[end..]).TrimEnd();
            if (sentence.Start + sentence.Length == document.Length) without = document[..sentence.Start].TrimEnd();
            Assert.Equal(whole.Score - reranker.Rerank(query, [without])[0].Score, sentence.Attribution!.Value, tolerance);
        }
    }

    [Fact]
    public void OcclusionEqualsScoringEachOccludedTextThroughRerankOnTheRealBiEncoder()
    {
        using var reranker = Reranker.Load(minilm.ModelDirectory);
        Assert.Equal(ModelKind.BiEncoder, reranker.Kind);
        var pair = Sample.First(s => s.Collection == "cisi" && s.Relevant);
        string document = string.Join(' ', pair.Document.Split(' ').Take(60));
        AssertOcclusionEqualsRerankOneByOne(reranker, pair.Query, document, 2e-5);
    }

    [Fact]
    public void OcclusionEqualsScoringEachOccludedTextThroughRerankOnACrossEncoder()
    {
        using var reranker = Reranker.Load(_tiny.Directory);
        Assert.Equal(ModelKind.CrossEncoder, reranker.Kind);
        AssertOcclusionEqualsRerankOneByOne(reranker, "wing lift", "the wing lift in high speed flow . the heat of the plate", 1e-5);
    }

    [Fact]
    public void OcclusionEqualsScoringEachOccludedTextThroughRerankOnADecoderReranker()
    {
        using var reranker = Reranker.Load(QwenFolders.Qwen3RerankerWithTokenizer);
        Assert.NotNull(reranker.Description.Prompt);
        var pair = Sample.First(s => s.Collection == "medline" && s.Relevant);
        string document = string.Join(' ', pair.Document.Split(' ').Take(40));
        AssertOcclusionEqualsRerankOneByOne(reranker, pair.Query, document, 1e-5);
    }

    [Fact]
    public void OcclusionEqualsScoringEachOccludedTextThroughRerankOnModernBertAndXlmRoberta()
    {
        // ModernBERT with its real byte-level BPE tokenizer; XLM-RoBERTa with a SentencePiece Unigram tokenizer.json (Metaspace),
        // where a removed word must not leave a stray "▁".
        var pair = Sample.First(s => s.Collection == "cisi" && s.Relevant);
        string document = string.Join(' ', pair.Document.Split(' ').Take(30));
        string modernBert = Model.ModernBert.ModernBertFolders.CreateRerankerFolder();
        using var tiny = new TinyEncoder("xlm-roberta", maxPositions: 514, vocab: 3002);
        File.Copy(Tokenization.PipelineFixtures.UnigramTokenizerJson, Path.Combine(tiny.Directory, "tokenizer.json"));
        File.WriteAllText(Path.Combine(tiny.Directory, "tokenizer_config.json"), """{"model_max_length": 512, "tokenizer_class": "XLMRobertaTokenizer"}""");
        try
        {
            using (var reranker = Reranker.Load(modernBert)) AssertOcclusionEqualsRerankOneByOne(reranker, pair.Query, document, 1e-5);
            using (var reranker = Reranker.Load(tiny.Directory)) AssertOcclusionEqualsRerankOneByOne(reranker, pair.Query, document, 1e-5);
        }
        finally
        {
            Directory.Delete(modernBert, recursive: true);
        }
    }

    [Fact]
    public void AllVariantsRunInOneBatchedCall()
    {
        using var reranker = Reranker.Load(minilm.ModelDirectory, new RerankerOptions { MaxBatchTokens = 1024 });   // several forward passes, one call
        var pair = Sample.First(s => s.Collection == "cranfield" && s.Relevant);
        long before = reranker.BatchedRuns;
        var explanation = reranker.Explain(pair.Query, pair.Document);
        Assert.Equal(before + 1, reranker.BatchedRuns);
        int variants = explanation.DocumentWords.Count + explanation.DocumentSentences.Count + explanation.QueryWords.Count;
        int baseline = explanation.Truncation.Truncated ? 2 : 0;
        Assert.Equal(2 + baseline + variants - explanation.DocumentWords.Count(w => w.BeyondTruncation) - explanation.DocumentSentences.Count(s => s.BeyondTruncation),
            explanation.SequencesScored);

        // The split steps give the same explanation, and their sequences are the pair's Rerank inputs first.
        var inputs = reranker.EncodeExplanation(pair.Query, pair.Document);
        var outputs = new float[inputs.Inputs.Sequences.Count * reranker.OutputSize];
        reranker.Forward(inputs.Inputs.Sequences, outputs);
        var split = reranker.ScoreExplanation(inputs, outputs);
        Assert.Equal(explanation.DocumentWords, split.DocumentWords);
        Assert.Equal(reranker.Rerank(pair.Query, [pair.Document])[0].Score, reranker.Score(inputs.Inputs, outputs)[0].Score);
    }

    [Fact]
    public void AnInsertedAnswerSentenceCarriesTheLargestSentenceAttribution()
    {
        using var reranker = Reranker.Load(minilm.ModelDirectory);
        // Real queries, each against a real passage of another collection with one answering sentence put in after its first sentence.
        (string Query, string Answer, string Collection)[] cases =
        [
            ("the crystalline lens in vertebrates, including humans.", "The crystalline lens of vertebrates, humans included, is a clear body that focuses light on the retina.", "cranfield"),
            ("What is information science? Give definitions where possible.", "Information science is the study of how information is collected, organized, stored, retrieved and used.", "medline"),
            ("what similarity laws must be obeyed when constructing aeroelastic models of heated high speed aircraft .", "Aeroelastic models of heated high speed aircraft must obey similarity laws for heat conduction and thermal stress .", "cisi"),
        ];
        foreach (var (query, answer, collection) in cases)
        {
            string passage = Sample.First(s => s.Collection == collection && s.Relevant).Document;
            int firstEnd = TextSegmentation.Sentences(passage)[0] is var (s, l) ? s + l : 0;
            string document = passage[..firstEnd] + " " + answer + passage[firstEnd..];
            var explanation = reranker.Explain(query, document);
            var best = explanation.DocumentSentences.Where(x => !x.BeyondTruncation).MaxBy(x => x.Attribution!.Value)!;
            Assert.Equal(answer, best.Text);
            Assert.Equal(document.IndexOf(answer, StringComparison.Ordinal), best.Start);
            Assert.True(best.Attribution > 0, $"the answer's attribution {best.Attribution}");
        }
    }

    [Fact]
    public void AttributionsAreDeterministicAcrossCallsAndInstances()
    {
        var pair = Sample.First(s => s.Collection == "medline" && s.Relevant);
        using var first = Reranker.Load(minilm.ModelDirectory);
        using var second = Reranker.Load(minilm.ModelDirectory);
        var a = first.Explain(pair.Query, pair.Document);
        var b = first.Explain(pair.Query, pair.Document);
        var c = second.Explain(pair.Query, pair.Document);
        Assert.Equal(a.DocumentWords, b.DocumentWords);
        Assert.Equal(a.DocumentSentences, b.DocumentSentences);
        Assert.Equal(a.QueryWords, b.QueryWords);
        Assert.Equal(a.DocumentWords, c.DocumentWords);
        Assert.Equal(a.Score, c.Score);
    }

    [Fact]
    public void WordsOfTheExplanationMapBackToTheirExactSubstrings()
    {
        using var reranker = Reranker.Load(minilm.ModelDirectory);
        const string query = "东京塔 height 🗼?";
        const string document = "Der Tōkyō-Turm (東京タワー) ist 333 m hoch 🗼👩‍🔬 — «très» grand! Ça va, naïve café.";
        var explanation = reranker.Explain(query, document);
        Assert.Equal(["Der", "Tōkyō-Turm", "東", "京", "タワー", "ist", "333", "m", "hoch", "🗼", "👩‍🔬", "très", "grand", "Ça", "va", "naïve", "café"],
            explanation.DocumentWords.Select(w => w.Text));
        Assert.Equal(["东", "京", "塔", "height", "🗼"], explanation.QueryWords.Select(w => w.Text));
        foreach (var word in explanation.DocumentWords) Assert.Equal(document.Substring(word.Start, word.Length), word.Text);
        foreach (var word in explanation.QueryWords) Assert.Equal(query.Substring(word.Start, word.Length), word.Text);
        Assert.All(explanation.DocumentWords, w => Assert.NotNull(w.Attribution));
    }

    [Fact]
    public void WordsPastTheTruncationPointGetNoAttributionAndTheRestAreMeasuredFromTheCutText()
    {
        using var reranker = Reranker.Load(_tiny.Directory);   // 40 positions
        const string query = "wing lift";
        string document = string.Join(' ', Enumerable.Repeat("the wing lift in high speed flow .", 8));
        var explanation = reranker.Explain(query, document);
        Assert.True(explanation.Truncation.Truncated);
        var seen = explanation.DocumentWords.TakeWhile(w => !w.BeyondTruncation).ToList();
        Assert.NotEmpty(seen);
        Assert.True(explanation.DocumentWords.Skip(seen.Count).All(w => w.BeyondTruncation), "only a tail of words is unread");
        Assert.Contains(explanation.DocumentWords, w => w.BeyondTruncation);

        // The seen prefix fits whole; one more word would not.
        string prefix = document[..(seen[^1].Start + seen[^1].Length)];
        var next = explanation.DocumentWords[seen.Count];
        Assert.False(reranker.Tokenizer.EncodePair(query, prefix, reranker.ModelMaxLength).Truncation.Truncated);
        Assert.True(reranker.Tokenizer.EncodePair(query, document[..(next.Start + next.Length)], reranker.ModelMaxLength).Truncation.Truncated);
        Assert.Equal(reranker.Rerank(query, [document])[0].Score, explanation.Score);
        Assert.Equal(reranker.Rerank(query, [prefix])[0].Score, explanation.BaselineScore, 1e-6);
        foreach (var word in seen.Where(w => IsWholeToken(prefix, w)))
            Assert.Equal(explanation.BaselineScore - reranker.Rerank(query, [WithoutToken(prefix, word.Start)])[0].Score, word.Attribution!.Value, 1e-5);
        Assert.All(explanation.DocumentSentences.Where(s => s.Start > prefix.Length), s => Assert.True(s.BeyondTruncation));
    }

    [Fact]
    public void TheClsAttentionOfACrossEncoderEqualsTheNaiveReferenceAndTokensCarryTheirWordsSpans()
    {
        using var reranker = Reranker.Load(_tiny.Directory);
        const string query = "wing lift";
        const string document = "the wing , in high speed flow";
        var explanation = reranker.Explain(query, document, new ExplainOptions { Attention = true });
        var attention = explanation.Attention!;
        var pair = reranker.Tokenizer.EncodePair(query, document, reranker.ModelMaxLength);
        Assert.Equal(pair.Tokens, attention.Tokens.Select(t => t.Text));
        Assert.Equal((TinyBert.Layers, TinyBert.Heads, 0), (attention.Layers, attention.Heads, attention.ScoringPosition));
        var naive = new NaiveBert(_tiny.Tensors, TinyBert.Hidden, TinyBert.Heads, TinyBert.Layers, 1e-12);
        naive.Encode(pair.InputIds, pair.TokenTypeIds);
        int t = pair.Length;
        for (int l = 0; l < attention.Layers; l++)
            for (int h = 0; h < attention.Heads; h++)
                for (int j = 0; j < t; j++) Assert.Equal(naive.Probabilities[l][h * t, j], attention.Weight(l, h, j), 1e-5);
        Assert.Equal(explanation.Score, reranker.Explain(query, document).Score);   // the attention pass changes no score

        // [CLS] wing lift [SEP] the wing , in high speed flow [SEP]: specials, query words, document words (the comma has no word).
        var tokens = attention.Tokens;
        Assert.Equal([TokenSource.Special, TokenSource.Query, TokenSource.Query, TokenSource.Special], new[] { tokens[0], tokens[1], tokens[2], tokens[3] }.Select(x => x.Source));
        Assert.Equal((0, 4), (tokens[1].Start, tokens[1].Length));
        Assert.Equal((5, 4), (tokens[2].Start, tokens[2].Length));
        foreach (var token in tokens.Where(x => x.Source == TokenSource.Document && x.Start is not null))
            Assert.Equal(token.Text.Replace("##", ""), document.Substring(token.Start!.Value, token.Length!.Value));
        var comma = tokens.Single(x => x.Text == ",");
        Assert.Equal((TokenSource.Document, (int?)null), (comma.Source, comma.Start));
        Assert.Equal(TokenSource.Special, tokens[^1].Source);
    }

    [Fact]
    public void TheLastTokensAttentionOfADecoderRerankerEqualsTheNaiveReference()
    {
        using var reranker = Reranker.Load(QwenFolders.Qwen3RerankerWithTokenizer);
        const string query = "what is lift";
        const string document = "Lift is the upward force on a wing.";
        var explanation = reranker.Explain(query, document, new ExplainOptions { Attention = true });
        var attention = explanation.Attention!;
        var ids = reranker.Encode(query, [document]).Sequences[0].InputIds;
        int t = ids.Length;
        Assert.Equal(t - 1, attention.ScoringPosition);
        var naive = new NaiveQwen(QwenFolders.Qwen3RerankerWithTokenizer);
        naive.LastLogits(ids, 0);
        for (int l = 0; l < attention.Layers; l++)
            for (int h = 0; h < attention.Heads; h++)
            {
                double sum = 0;
                for (int j = 0; j < t; j++) { Assert.Equal(naive.Probabilities[l][h * t + t - 1, j], attention.Weight(l, h, j), 1e-4); sum += attention.Weight(l, h, j); }
                Assert.Equal(1, sum, 1e-4);
            }
        // The document's tokens (byte-level: Ġ is a space) lie in the words they are marked with; the template is special.
        var documentTokens = attention.Tokens.Where(x => x.Source == TokenSource.Document && x.Start is not null).ToList();
        Assert.Equal(8, documentTokens.Select(x => x.Start).Distinct().Count());   // Lift is the upward force on a wing
        foreach (var token in documentTokens)
            Assert.Contains(token.Text.Replace('Ġ', ' ').Trim(), document.Substring(token.Start!.Value, token.Length!.Value));
        Assert.Equal(TokenSource.Special, attention.Tokens[0].Source);
        Assert.Equal(TokenSource.Special, attention.Tokens[^1].Source);
    }

    [Fact]
    public void TheRealBiEncodersAttentionRowsAreDistributionsOverTheDocumentsOwnTokens()
    {
        using var reranker = Reranker.Load(minilm.ModelDirectory);
        const string document = "Wings are shaped, producing lift.";
        var attention = reranker.Explain("how do wings lift", document, new ExplainOptions { Attention = true }).Attention!;
        Assert.Equal((6, 12), (attention.Layers, attention.Heads));
        Assert.Equal(reranker.Tokenizer.EncodeSingle(document, 512).Tokens, attention.Tokens.Select(x => x.Text));
        for (int l = 0; l < 6; l++)
            for (int h = 0; h < 12; h++)
            {
                float sum = 0;
                foreach (float w in attention.Row(l, h)) { Assert.InRange(w, 0f, 1f); sum += w; }
                Assert.Equal(1f, sum, 1e-4f);
            }
        Assert.Equal(["[CLS]", "wings", "are", "shaped", ",", "producing", "lift", ".", "[SEP]"], attention.Tokens.Select(x => x.Text));
        Assert.Equal(["", "Wings", "are", "shaped", "", "producing", "lift", "", ""],
            attention.Tokens.Select(x => x.Start is { } s ? document.Substring(s, x.Length!.Value) : ""));
    }

    [Fact]
    public void AHugeDocumentIsExplainedUpToItsTruncationPoint()
    {
        using var reranker = Reranker.Load(_tiny.Directory);   // 40 positions: a few words are read, 60,000 are not
        string document = string.Concat(Enumerable.Repeat("the wing lift . ", 20_000));
        var explanation = reranker.Explain("wing", document);
        Assert.Equal(60_000, explanation.DocumentWords.Count);
        Assert.Equal(20_000, explanation.DocumentSentences.Count);
        int seen = explanation.DocumentWords.Count(w => !w.BeyondTruncation);
        Assert.InRange(seen, 20, 36);
        Assert.Equal(seen / 3, explanation.DocumentSentences.Count(s => !s.BeyondTruncation));
        Assert.Equal(2 + seen + seen / 3 + 1, explanation.SequencesScored);   // the pair, its cut baseline, the read words and sentences, the query word
    }

    [Fact]
    public void BadInputGetsAnErrorNamingTheProblem()
    {
        using var reranker = Reranker.Load(_tiny.Directory);
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => reranker.Explain("wing", "")).Message);
        Assert.Contains("no words", Assert.Throws<ArgumentException>(() => reranker.Explain("wing", " ... ?! ")).Message);
        Assert.Throws<ArgumentNullException>(() => reranker.Explain(null!, "wing"));
        Assert.Throws<ArgumentNullException>(() => reranker.Explain("wing", null!));
        Assert.Throws<ArgumentOutOfRangeException>(() => reranker.Explain("wing", "the wing", new ExplainOptions { MaxLength = 1000 }));
        Assert.Throws<OperationCanceledException>(() => reranker.Explain("wing", "the wing", cancellationToken: new CancellationToken(true)));
    }
}
