using CrossEncoder.Tools.Bench;

namespace CrossEncoder.Cli.Commands;

/// <summary>
/// <c>bench --suite</c>: the FMA peak, GEMM on the model's shapes, and every case of <see cref="BenchCases"/> (padded
/// batches, a real rerank workload, interactive latency), ours vs ONNX Runtime in one process; then the ModernBERT cases
/// (ours vs PyTorch in a child process). The decoder reranker cases (<c>--cases qwen</c>, ours vs PyTorch) run only when
/// selected. The measuring lives in tools/CrossEncoder.Tools/Bench; this file only reads options and prints.
/// </summary>
internal static class BenchSuiteCommand
{

    public static int Run(string modelDirectory, string? onnx, int threads, int seconds, string? docs, string? query, bool json, TextWriter stdout, TextWriter stderr, bool int8 = false,
        string? only = null, string? modernBert = null, string? qwen = null)
    {
        if (modernBert is not null && !File.Exists(Path.Combine(modernBert, "config.json")))
            throw new CliException($"--modernbert '{modernBert}' is not a model folder (no config.json).");
        if (qwen is not null && !File.Exists(Path.Combine(qwen, "config.json")))
            throw new CliException($"--qwen '{qwen}' is not a model folder (no config.json).");
        if (onnx is null) throw new UsageException("--suite compares with ONNX Runtime: give --onnx <file> (or use the default model).");
        List<BenchCase>? cases = null;
        if (only is not null)
        {
            var all = BenchCases.Selectable(int8);
            cases = [.. all.Where(c => c.Name.Contains(only, StringComparison.Ordinal))];
            if (cases.Count == 0) throw new UsageException($"--cases '{only}' matches no case (cases: {string.Join(", ", all.Select(c => c.Name))}).");
        }
        string[] documents;
        if (docs is null) (query, documents) = BenchContext.DefaultWorkload();
        else
        {
            if (!File.Exists(docs)) throw new CliException($"documents file '{docs}' not found.");
            documents = File.ReadLines(docs).Where(l => l.Trim().Length > 0 && !l.StartsWith('#')).ToArray();
            if (documents.Length == 0) throw new CliException($"documents file '{docs}' has no documents (one per line).");
            if (string.IsNullOrWhiteSpace(query)) throw new UsageException("--query is empty.");
        }
        var report = BenchSuite.Run(modelDirectory, onnx, new BenchSettings(threads, seconds, query!, documents, int8, modernBert, QwenDirectory: qwen), line => stderr.WriteLine(line), cases);
        stdout.WriteLine(json ? report.ToJson() : report.ToTable());
        return 0;
    }
}
