using System.Diagnostics;
using System.Net.Http.Json;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Tools.Verification;
using CrossEncoder.Conversion.Verification;
using CrossEncoder.Native.Reranking.Verification;
using Xunit;
using Xunit.Abstractions;

namespace CrossEncoder.Server.Tests;

/// <summary>
/// A bounded load test on 127.0.0.1: 64 concurrent clients send a fixed set of requests of varied sizes (1-4 real passages, cut to 160 characters,
/// from the bundled IR sample) to the cross-encoder server, against the same requests scored one after another by a
/// single caller of <see cref="Reranker"/> in the same process. Rounds are interleaved (single, server, single, server) and the
/// best round of each is compared, so a noisy neighbour on the shared machine hurts both sides alike.
/// It runs alone (its own collection, not in parallel with the other test classes): the heap bound is read process-wide,
/// and a concurrent test's models and workspaces showed up as growth (+123 MB in one CI run; +1 MB when run alone).
/// </summary>
[Collection(LoadCollection.Name)]
public sealed class LoadTests(ITestOutputHelper output)
{
    private const int Clients = 64, Requests = 128, Rounds = 2;
    /// <summary>Stated bound on the growth of the process's managed heap (after a full GC) from before the load (both models
    /// loaded and warmed: packed weights ~90 MB and one 8192-token workspace ~125 MB each) to after it: nothing may grow with
    /// the number of clients or requests.</summary>
    private const long HeapGrowthBoundBytes = 64L << 20;

    [Fact]
    public async Task SixtyFourClientsGetNo5xxAtTheSingleCallerThroughputWithBoundedMemory()
    {
        var pairs = FidelityCheck.DefaultPairs();
        var passages = pairs.Select(p => p.Document.Length > 160 ? p.Document[..160] : p.Document).Distinct().ToArray();
        var requests = Enumerable.Range(0, Requests).Select(r =>
            (Query: pairs[r % pairs.Count].Query, Texts: Enumerable.Range(0, 1 + r * 5 % 4).Select(k => passages[(r * 3 + k * 11) % passages.Length]).ToArray())).ToArray();
        int documents = requests.Sum(r => r.Texts.Length);

        await using var server = await RunningServer.StartAsync(new ServerOptions { ModelDirectory = TestModels.CrossEncoder });
        using var single = Reranker.Load(TestModels.CrossEncoder);
        int tokens = requests.Sum(r => single.Encode(r.Query, r.Texts).TokenCount);
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Clients }) { BaseAddress = server.Client.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
        await http.PostAsJsonAsync("/rerank", new { query = "warm up", texts = new[] { "a" } });
        single.Rerank("warm up", ["a"]);

        long heapBefore = FullGcHeap();
        double bestSingle = double.MaxValue, bestServer = double.MaxValue;
        var latencies = new List<double>();
        int fivexx = 0, other = 0;
        for (int round = 0; round < Rounds; round++)
        {
            var clock = Stopwatch.StartNew();
            foreach (var (query, texts) in requests) single.Rerank(query, texts);
            bestSingle = Math.Min(bestSingle, clock.Elapsed.TotalSeconds);

            var roundLatencies = new double[Requests];
            int next = -1;
            clock.Restart();
            await Task.WhenAll(Enumerable.Range(0, Clients).Select(async _ =>
            {
                for (int r; (r = Interlocked.Increment(ref next)) < Requests;)
                {
                    long started = Stopwatch.GetTimestamp();
                    using var response = await http.PostAsJsonAsync("/rerank", new { query = requests[r].Query, texts = requests[r].Texts, truncate = true });
                    roundLatencies[r] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                    if ((int)response.StatusCode >= 500) Interlocked.Increment(ref fivexx);
                    else if (!response.IsSuccessStatusCode) Interlocked.Increment(ref other);
                }
            }));
            bestServer = Math.Min(bestServer, clock.Elapsed.TotalSeconds);
            latencies = roundLatencies.Order().ToList();
        }

        long heap = FullGcHeap();
        long workingSet = Process.GetCurrentProcess().WorkingSet64;
        double serverRate = documents / bestServer, singleRate = documents / bestSingle, ratio = serverRate / singleRate;
        string report = $"load: {Clients} clients, {Requests} requests, {documents} documents, {tokens} tokens per round, best of {Rounds} interleaved rounds\n" +
            $"  server: {serverRate:F1} docs/s ({Requests / bestServer:F1} req/s, {tokens / bestServer:F0} tokens/s), p50 {latencies[Requests / 2]:F0} ms, p99 {latencies[(int)(Requests * 0.99)]:F0} ms, 5xx {fivexx}, other non-2xx {other}\n" +
            $"  single-caller Reranker: {singleRate:F1} docs/s; server/single = {ratio:F2}\n" +
            $"  memory at end: managed heap {heap >> 20} MB, {(heap - heapBefore) >> 20:+0;-0} MB since before the load (bound +{HeapGrowthBoundBytes >> 20} MB), working set {workingSet >> 20} MB";
        output.WriteLine(report);
        File.WriteAllText(Path.Combine(AppContext.BaseDirectory, "load-test.txt"), report + "\n");

        Assert.Equal(0, fivexx);
        Assert.Equal(0, other);
        Assert.True(heap - heapBefore < HeapGrowthBoundBytes, $"the managed heap grew {(heap - heapBefore) >> 20} MB under load\n{report}");
        Assert.True(ratio >= 0.85, $"server throughput is {ratio:P0} of the single caller's (needs >= 85%)\n{report}");
    }

    private static long FullGcHeap()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}

/// <summary>Test classes that measure the whole process (heap, throughput) and must not share it with other tests.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LoadCollection
{
    public const string Name = "Load, alone";
}
