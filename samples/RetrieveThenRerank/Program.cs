// Retrieve-then-rerank with CrossEncoder.Native through dependency injection:
// 1. embed the documents (IEmbeddingGenerator from Microsoft.Extensions.AI), 2. keep the nearest by cosine,
// 3. rerank those candidates (ITextReranker). With a bi-encoder folder both stages use the same model; pass a
// cross-encoder folder (e.g. ms-marco-MiniLM-L-6-v2) to a second registration in a real app for stage 3.
using System.Numerics.Tensors;
using CrossEncoder.Native.Extensions;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

string model = args.Length > 0 ? args[0] : "weights/all-MiniLM-L6-v2";   // the repository's offline default model
string query = args.Length > 1 ? args[1] : "how do wings produce lift";
if (!File.Exists(Path.Combine(model, "model.safetensors")) && !File.Exists(Path.Combine(model, "model.safetensors.index.json")))
{
    Console.Error.WriteLine($"error: no model in '{model}': run 'crossencoder rerank --query q d' once, or pass a model folder.");
    return 1;
}

await using var services = new ServiceCollection()
    .AddCrossEncoderReranker(options => options.ModelDirectory = model)
    .BuildServiceProvider();
var embedder = services.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();
var reranker = services.GetRequiredService<ITextReranker>();

string[] documents =
[
    "An airfoil deflects the oncoming air downward; the reaction pushes the wing up.",
    "Bananas are rich in potassium and easy to digest.",
    "Lift grows with the square of airspeed and with the angle of attack, until the wing stalls.",
    "The stock market fell sharply on Monday after the announcement.",
    "Bernoulli's principle relates the faster flow over the wing to lower pressure above it.",
    "A good espresso needs finely ground coffee and water just below boiling.",
];

// Stage 1: embed once, retrieve the 3 nearest documents by cosine similarity.
var documentVectors = await embedder.GenerateAsync(documents);
var queryVector = await embedder.GenerateVectorAsync(query);
var candidates = documents
    .Select((text, i) => (text, cosine: TensorPrimitives.CosineSimilarity(queryVector.Span, documentVectors[i].Vector.Span)))
    .OrderByDescending(d => d.cosine).Take(3).Select(d => d.text).ToList();

// Stage 2: rerank the candidates, best first.
Console.WriteLine($"query: {query}");
foreach (var hit in await reranker.RerankAsync(query, candidates))
    Console.WriteLine($"{hit.Score,7:F3}  {candidates[hit.Index]}");
return 0;
