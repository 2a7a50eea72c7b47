using CrossEncoder.Native.Extensions;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.Tests.Model;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Xunit;

namespace CrossEncoder.Native.Tests.Extensions;

/// <summary>AddCrossEncoderReranker: singletons, options validation, logging, and the Microsoft.Extensions.AI embedding generator.</summary>
[Collection("MiniLM")]
public class DependencyInjectionTests(MiniLmFixture minilm)
{
    private static readonly string[] Passages =
    [
        "The stock market fell sharply on Monday after the announcement.",
        "An airfoil deflects the oncoming air downward, and the reaction pushes the wing upward: that force is lift.",
        "Bananas are rich in potassium and easy to digest.",
    ];

    /// <summary>Collects formatted log lines.</summary>
    private sealed class CapturingLogger<T> : ILogger<T>
    {
        public List<string> Lines { get; } = [];
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Lines) Lines.Add($"{logLevel}: {formatter(state, exception)}");
        }
    }

    private static ServiceProvider Build(Action<CrossEncoderRerankerOptions> configure, CapturingLogger<CrossEncoderTextReranker>? logger = null)
    {
        var services = new ServiceCollection();
        if (logger is not null) services.AddSingleton<ILogger<CrossEncoderTextReranker>>(logger);
        services.AddCrossEncoderReranker(configure);
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    [Fact]
    public async Task RerankerAndEmbeddingGeneratorAreOneLoggedSingletonEqualToTheEngine()
    {
        var logger = new CapturingLogger<CrossEncoderTextReranker>();
        await using var provider = Build(o => o.ModelDirectory = minilm.ModelDirectory, logger);
        var reranker = provider.GetRequiredService<ITextReranker>();
        var generator = provider.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();
        Assert.Same(reranker, provider.GetRequiredService<ITextReranker>());
        Assert.Same(provider.GetRequiredService<CrossEncoderTextReranker>(), reranker);
        Assert.Empty(logger.Lines);   // loads on first use

        using var direct = Reranker.Load(minilm.ModelDirectory);
        var expected = direct.Rerank("how do wings produce lift", Passages, topK: 2);
        var actual = await reranker.RerankAsync("how do wings produce lift", Passages, topK: 2);
        Assert.Equal(expected.Select(r => (r.Index, r.Score)), actual.Select(r => (r.Index, r.Score)));
        Assert.Contains(logger.Lines, l => l.StartsWith("Information: Loaded ", StringComparison.Ordinal) && l.Contains("BiEncoder") && l.Contains("float32"));
        Assert.Same(reranker.GetService(typeof(Reranker)), generator.GetService(typeof(Reranker)));

        // The embedding generator returns the engine's Embed vectors (which EmbedTests checks against ONNX Runtime).
        var embeddings = await generator.GenerateAsync(Passages);
        float[][] vectors = direct.Embed(Passages);
        Assert.Equal(Passages.Length, embeddings.Count);
        for (int i = 0; i < Passages.Length; i++)
        {
            Assert.Equal(vectors[i], embeddings[i].Vector.ToArray());
            Assert.Equal("all-MiniLM-L6-v2", embeddings[i].ModelId);
        }
        var metadata = generator.GetService<EmbeddingGeneratorMetadata>();
        Assert.NotNull(metadata);
        Assert.Equal(384, metadata.DefaultModelDimensions);
        Assert.Equal("CrossEncoder.Native", metadata.ProviderName);
        await Assert.ThrowsAsync<NotSupportedException>(() => generator.GenerateAsync(Passages, new EmbeddingGenerationOptions { Dimensions = 128 }));
        Assert.Single(logger.Lines, l => l.Contains("Loaded"));   // one load for both services
    }

    [Fact]
    public async Task TruncationsAreLoggedWithTheirCount()
    {
        var logger = new CapturingLogger<CrossEncoderTextReranker>();
        await using var provider = Build(o => { o.ModelDirectory = minilm.ModelDirectory; o.MaxLength = 8; }, logger);
        var results = await provider.GetRequiredService<ITextReranker>().RerankAsync("lift", ["wing", Passages[1]]);
        Assert.Single(results, r => r.Truncation.Truncated);
        Assert.Contains("Information: rerank: 1 of 2 inputs were cut to 8 tokens", logger.Lines);
        await provider.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>().GenerateAsync(Passages);
        Assert.Contains("Information: embed: 3 of 3 inputs were cut to 8 tokens", logger.Lines);
    }

    [Fact]
    public void InvalidOptionsFailOnFirstUseWithTheOptionNamed()
    {
        using var provider = Build(_ => { });
        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<ITextReranker>());
        Assert.Contains("ModelDirectory is required", error.Message);
        using var negative = Build(o => { o.ModelDirectory = "x"; o.MaxBatchTokens = 0; });
        Assert.Throws<OptionsValidationException>(() => negative.GetRequiredService<ITextReranker>());
    }

    [Fact]
    public async Task ACrossEncoderFolderRerankesButHasNoEmbeddings()
    {
        using var tiny = new TinyBert(classifier: true);
        await using var provider = Build(o => o.ModelDirectory = tiny.Directory);
        var results = await provider.GetRequiredService<ITextReranker>().RerankAsync("wing lift", ["lift", "bananas"]);
        Assert.Equal(2, results.Count);
        var generator = provider.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => generator.GenerateAsync(["lift"]));
        Assert.Contains("cross-encoder", error.Message);
    }
}
