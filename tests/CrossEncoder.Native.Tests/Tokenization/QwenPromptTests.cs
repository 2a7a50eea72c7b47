using System.Diagnostics;
using System.Text.Json;
using CrossEncoder.Native.Tokenization;
using Xunit;

namespace CrossEncoder.Native.Tests.Tokenization;

/// <summary>
/// What the decoder rerankers build on Qwen's tokenizer: the Qwen3-Reranker body can be encoded as a fixed head plus the
/// document, mxbai-rerank-v2's prompt is pieces encoded one by one, and long inputs stay linear.
/// </summary>
public class QwenPromptTests
{
    private static readonly Lazy<string[]> Queries = new(() =>
        File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Fixtures", "ir-sample.jsonl"))
            .Select(line => JsonDocument.Parse(line).RootElement.GetProperty("query").GetString()!).Distinct().ToArray());

    private static string Escape(string s) => string.Concat(s.Take(80).Select(c => c < 0x20 || c > 0x7E ? $"\\u{(int)c:X4}" : c.ToString()));

    /// <summary>The Qwen3-Reranker body up to and including "&lt;Document&gt;:", without the space before the document.</summary>
    private static string BodyHead(string query) => $"<Instruct>: {QwenFixtures.Qwen3Instruction}\n<Query>: {query}\n<Document>:";

    /// <summary>
    /// Encode(head) ++ Encode(" " + D) == Encode(head + " " + D) for every fixture text D (and the empty one), on the body
    /// alone and, for every 4th, after the system prefix. Why it holds for any D: the head ends in ">:", a match of <c> ?[^\s\p{L}\p{N}]+[\r\n]*</c> that stops at
    /// the space (a space is neither punctuation nor a line break); no alternative of the pattern looks behind, so the matches
    /// from the space on are those of " " + D alone; NFC never joins a space to what precedes it; and no added token contains
    /// ": ". A failure lists the documents where it breaks.
    /// </summary>
    [Fact]
    public void Reranker_body_encodes_as_its_head_then_the_space_and_document_for_every_fixture_text()
    {
        PipelineTokenizer tokenizer = QwenFixtures.Tokenizer;
        var failures = new List<string>();
        string[] documents = ["", .. QwenFixtures.Cases.Select(c => c.Text)];
        for (int i = 0; i < documents.Length; i++)
        {
            string document = documents[i];
            string head = BodyHead(Queries.Value[i % Queries.Value.Length]);
            foreach (string prefix in i % 4 == 0 ? ["", QwenFixtures.Qwen3Prefix] : (string[])[""])   // the system prefix on every 4th: time
            {
                int[] whole = tokenizer.EncodeToIds(prefix + head + " " + document);
                int[] split = [.. tokenizer.EncodeToIds(prefix + head), .. tokenizer.EncodeToIds(" " + document)];
                if (!whole.SequenceEqual(split)) failures.Add($"[{i}] prefix {prefix.Length > 0}: {Escape(document)}");
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} documents break the split:\n" + string.Join("\n", failures.Take(10)));
    }

    [Fact]
    public void Hugging_faces_own_ids_of_the_reranker_prompts_split_the_same_way()
    {
        // Fixture prompts: prefix + head + " " + document + suffix, with the head and the tail also encoded alone by the oracle.
        int checkedPrompts = 0;
        foreach (var (text, ids) in QwenFixtures.Cases.Where(c => c.Text.StartsWith(QwenFixtures.Qwen3Prefix) && c.Text.EndsWith(QwenFixtures.Qwen3Suffix)))
        {
            int cut = text.IndexOf("\n<Document>:", StringComparison.Ordinal) + "\n<Document>:".Length;
            string head = text[..cut], tail = text[cut..];
            Assert.True(QwenFixtures.HasOracleIds(head) && QwenFixtures.HasOracleIds(tail), Escape(text));
            Assert.Equal(ids, (int[])[.. QwenFixtures.OracleIds(head), .. QwenFixtures.OracleIds(tail)]);
            checkedPrompts++;
        }
        Assert.True(checkedPrompts >= 32, $"{checkedPrompts} prompts");
    }

    [Fact]
    public void Mxbai_prompts_are_built_from_pieces_encoded_one_by_one()
    {
        // mxbai_rerank_v2.py: prefix + ids("query: q") + ids("\n") + ids("document: d") + ids("\n") + ids(task) + ids(suffix).
        const string prefix = "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\n";
        const string suffix = "<|im_end|>\n<|im_start|>assistant\n";
        string task = QwenFixtures.Cases.Select(c => c.Text).Single(t => t.StartsWith("You are a search relevance expert") && t.EndsWith("Relevance:"));
        int prompts = 0, wholeStringDiffers = 0;
        foreach (var (text, ids) in QwenFixtures.Cases.Where(c => c.Text.StartsWith(prefix) && c.Text.EndsWith(suffix)))
        {
            string body = text[prefix.Length..^(task.Length + 1 + suffix.Length)];   // "query: q\ndocument: d"
            int cut = body.IndexOf("\ndocument: ", StringComparison.Ordinal);
            string query = body[..cut], document = body[(cut + 1)..];
            int[] pieces = [.. QwenFixtures.OracleIds(prefix), .. QwenFixtures.OracleIds(query), .. QwenFixtures.OracleIds("\n"),
                .. QwenFixtures.OracleIds(document), .. QwenFixtures.OracleIds("\n"), .. QwenFixtures.OracleIds(task), .. QwenFixtures.OracleIds(suffix)];
            PipelineTokenizer ours = QwenFixtures.Tokenizer;
            int[] ourPieces = [.. ours.EncodeToIds(prefix), .. ours.EncodeToIds(query), .. ours.EncodeToIds("\n"),
                .. ours.EncodeToIds(document), .. ours.EncodeToIds("\n"), .. ours.EncodeToIds(task), .. ours.EncodeToIds(suffix)];
            Assert.Equal(pieces, ourPieces);
            if (!pieces.SequenceEqual(ids)) wholeStringDiffers++;   // e.g. "aircraft .\n" is one ".\n" token in the whole string
            prompts++;
        }
        Assert.True(prompts >= 16, $"{prompts} prompts");
        Assert.True(wholeStringDiffers > 0, "the whole string should tokenize differently from the pieces where a piece ends in punctuation");
    }

    [Fact]
    public void A_200000_character_word_encodes_in_linear_time_and_decodes_back()
    {
        // The fixture's 20,000-letter word (checked against Hugging Face there) ten times over: quadratic merging would take hours.
        string word = string.Concat(Enumerable.Repeat(QwenFixtures.Cases.First(c => c.Text.Length == 20_000).Text, 10));
        PipelineTokenizer tokenizer = QwenFixtures.Tokenizer;
        var clock = Stopwatch.StartNew();
        int[] ids = tokenizer.EncodeToIds(word);
        clock.Stop();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"{clock.ElapsedMilliseconds} ms for {ids.Length} ids");
        Assert.Equal(word, ByteLevel.Decode(ids.Select(tokenizer.IdToToken)));
    }

    [Fact]
    public void Loading_the_folder_takes_well_under_a_second_of_work()
    {
        TokenizerLoader.FromModelFolder(QwenFixtures.ModelFolder);   // warm: JIT and file cache
        var clock = Stopwatch.StartNew();
        ITextPairTokenizer tokenizer = TokenizerLoader.FromModelFolder(QwenFixtures.ModelFolder);
        clock.Stop();
        Assert.Equal(151669, tokenizer.VocabularySize);
        // About 0.2 s on one core; the bound leaves room for a loaded CI machine and still catches a quadratic loader.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"{clock.ElapsedMilliseconds} ms");
    }
}
