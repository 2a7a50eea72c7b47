#:package Tokenizers.DotNet@1.4.1
#:package Tokenizers.DotNet.runtime.linux-x64@1.4.1
#:property ManagePackageVersionsCentrally=false
#:property TreatWarningsAsErrors=false
// Hugging Face's Rust tokenizers (through Tokenizers.DotNet) as the oracle for the byte-level BPE fixtures: writes the ids
// (special tokens included) of every text of bpe-texts.json under a tokenizer.json. Run from the repo root:
//     dotnet run tools/bpe/make_oracle_ids.cs -- ../shared/models/answerdotai--ModernBERT-base/tokenizer.json \
//         tests/CrossEncoder.Native.Tests/Fixtures/tokenization/bpe-texts.json tests/CrossEncoder.Native.Tests/Fixtures/tokenization/bpe-modernbert-ids.json
// tools/bpe/make_fixtures.sh runs it with the texts of make_texts.py.
using System.Text.Json;

string tokenizerJson = args[0], textsPath = args[1], outPath = args[2];
string[] texts = JsonDocument.Parse(File.ReadAllText(textsPath)).RootElement.GetProperty("texts").EnumerateArray().Select(e => e.GetString()!).ToArray();
using var tokenizer = new Tokenizers.DotNet.Tokenizer(tokenizerJson);
var cases = texts.Select(t => new { text = t, ids = tokenizer.Encode(t).Select(i => (int)i).ToArray() }).ToArray();
using (var stream = File.Create(outPath))
using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = true }))
{
    writer.WriteStartObject();
    writer.WriteString("comment", $"Hugging Face tokenizers' ids (Tokenizers.DotNet 1.4.1, special tokens included) of every text of {Path.GetFileName(textsPath)} under {Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(tokenizerJson)))}/tokenizer.json; made by tools/bpe/make_oracle_ids.cs.");
    writer.WriteStartArray("cases");
    foreach (var c in cases)
    {
        writer.WriteStartObject();
        writer.WriteString("text", c.text);
        writer.WriteString("ids", string.Join(' ', c.ids));   // space-separated: one line per case
        writer.WriteEndObject();
    }
    writer.WriteEndArray();
    writer.WriteEndObject();
}
Console.WriteLine($"{cases.Length} texts, {cases.Sum(c => c.ids.Length)} ids -> {outPath}");
