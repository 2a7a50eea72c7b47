using System.Text.Json;
using CrossEncoder.Native.SafeTensors;
using Xunit;

namespace CrossEncoder.Native.Tests.SafeTensors;

/// <summary>
/// One file or shards behind <see cref="SafeTensorsCheckpoint"/>: the merged view and routed reads, the sharded writer and
/// huggingface_hub's size-based split, and one test per way an index or its shards can be wrong, each a one-line
/// <see cref="SafeTensorsFormatException"/> naming the file.
/// </summary>
public sealed class SafeTensorsCheckpointTests : IDisposable
{
    private const string First = "model-00001-of-00002.safetensors", Second = "model-00002-of-00002.safetensors";
    private readonly SafeTensorsTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    private string NewFolder()
    {
        string folder = Path.Combine(_files.DirectoryPath, Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        return folder;
    }

    /// <summary>Writes one shard holding <paramref name="names"/>, each [2] F32 with values (k, k + 0.5) from its position.</summary>
    private static void WriteShard(string folder, string shard, params string[] names) =>
        SafeTensorsWriter.WriteFloat32(Path.Combine(folder, shard),
            names.Select(n => new KeyValuePair<string, (long[], float[])>(n, ([2], [n[0], n[0] + 0.5f]))));

    private static void WriteIndex(string folder, object weightMap, object? metadata = null) =>
        File.WriteAllText(Path.Combine(folder, SafeTensorsIndex.FileName), JsonSerializer.Serialize(new { metadata = metadata ?? new { total_size = 32 }, weight_map = weightMap }));

    /// <summary>A valid 2-shard folder: a, b in the first shard, c, d in the second.</summary>
    private string TwoShards()
    {
        string folder = NewFolder();
        WriteShard(folder, First, "a", "b");
        WriteShard(folder, Second, "c", "d");
        WriteIndex(folder, new Dictionary<string, string> { ["a"] = First, ["b"] = First, ["c"] = Second, ["d"] = Second });
        return folder;
    }

    private static SafeTensorsFormatException Invalid(string folder)
    {
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsCheckpoint.OpenFolder(folder).Dispose());
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains(e.FilePath, e.Message, StringComparison.Ordinal);
        return e;
    }

    [Fact]
    public void ShardsMergeIntoOneViewAndReadsGoToTheShardThatHoldsTheTensor()
    {
        string folder = TwoShards();
        using var checkpoint = SafeTensorsCheckpoint.OpenFolder(folder);
        Assert.True(checkpoint.IsSharded);
        Assert.Equal(Path.Combine(folder, SafeTensorsIndex.FileName), checkpoint.Location);
        Assert.Equal([First, Second], checkpoint.Files.Select(f => Path.GetFileName(f.FilePath)));
        Assert.Equal(["a", "b", "c", "d"], checkpoint.Tensors.Keys);   // shard by shard
        Assert.Equal(Path.Combine(folder, Second), checkpoint.FilePathOf("c"));
        Assert.Equal([(float)'c', 'c' + 0.5f], checkpoint.ReadFloat32("c"));
        Span<float> into = stackalloc float[2];
        checkpoint.ReadFloat32("b", into);
        Assert.Equal([(float)'b', 'b' + 0.5f], into.ToArray());
        Assert.Equal(8, checkpoint.GetBytes("d").Length);
        Assert.Equal(32, checkpoint.Index!.TotalSize);
        var missing = Assert.Throws<KeyNotFoundException>(() => checkpoint.ReadFloat32("e"));
        Assert.Contains("'e'", missing.Message);
        Assert.Contains(SafeTensorsIndex.FileName, missing.Message);
    }

    [Fact]
    public void DisposeClosesEveryShard()
    {
        var checkpoint = SafeTensorsCheckpoint.OpenFolder(TwoShards());
        checkpoint.Dispose();
        Assert.Throws<ObjectDisposedException>(() => checkpoint.ReadFloat32("a"));
        Assert.Throws<ObjectDisposedException>(() => checkpoint.ReadFloat32("d"));
    }

    [Fact]
    public void ASingleFileIsACheckpointOfOneFile()
    {
        string folder = NewFolder();
        WriteShard(folder, SafeTensorsCheckpoint.SingleFileName, "x", "y");
        using var checkpoint = SafeTensorsCheckpoint.OpenFolder(folder);
        Assert.False(checkpoint.IsSharded);
        Assert.Null(checkpoint.Index);
        Assert.Equal(Path.Combine(folder, SafeTensorsCheckpoint.SingleFileName), checkpoint.Location);
        Assert.Equal(checkpoint.Location, checkpoint.FilePathOf("y"));
        Assert.Equal([(float)'y', 'y' + 0.5f], checkpoint.ReadFloat32("y"));
    }

    [Fact]
    public void WithBothTheSingleFileWinsAsInTransformersEvenOverABrokenIndex()
    {
        string folder = TwoShards();
        WriteShard(folder, SafeTensorsCheckpoint.SingleFileName, "s");
        File.WriteAllText(Path.Combine(folder, SafeTensorsIndex.FileName), "{ not json");
        using var checkpoint = SafeTensorsCheckpoint.OpenFolder(folder);
        Assert.False(checkpoint.IsSharded);
        Assert.Equal(["s"], checkpoint.Tensors.Keys);
    }

    [Fact]
    public void NeitherFileIsFileNotFound()
    {
        string folder = NewFolder();
        var e = Assert.Throws<FileNotFoundException>(() => SafeTensorsCheckpoint.OpenFolder(folder));
        Assert.Contains(SafeTensorsIndex.FileName, e.Message);
        Assert.False(SafeTensorsCheckpoint.ExistsIn(folder));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(1_000_000)]
    public void TotalSizeIsInformationalAsInTransformers(long totalSize)
    {
        string folder = TwoShards();
        WriteIndex(folder, new Dictionary<string, string> { ["a"] = First, ["b"] = First, ["c"] = Second, ["d"] = Second }, new { total_size = totalSize });
        using var checkpoint = SafeTensorsCheckpoint.OpenFolder(folder);   // the shards hold 32 bytes; the index says otherwise
        Assert.Equal(totalSize, checkpoint.Index!.TotalSize);
        Assert.Equal(4, checkpoint.Tensors.Count);
    }

    [Fact]
    public void MetadataMayBeAbsentOrOfAnyShape()
    {
        string folder = TwoShards();
        var map = new Dictionary<string, string> { ["a"] = First, ["b"] = First, ["c"] = Second, ["d"] = Second };
        foreach (string json in new[] { JsonSerializer.Serialize(new { weight_map = map }), JsonSerializer.Serialize(new { metadata = "x", weight_map = map }),
                     JsonSerializer.Serialize(new { metadata = new { total_size = "big" }, weight_map = map }) })
        {
            File.WriteAllText(Path.Combine(folder, SafeTensorsIndex.FileName), json);
            using var checkpoint = SafeTensorsCheckpoint.OpenFolder(folder);
            Assert.Null(checkpoint.Index!.TotalSize);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // The index itself

    [Theory]
    [InlineData("{ \"weight_map\": { \"a\": ", "not valid JSON")]
    [InlineData("", "not valid JSON")]
    [InlineData("{\"weight_map\": {\"a\": \"x\",}}", "not valid JSON")]   // strict, as json.loads
    [InlineData("[1, 2]", "the top level must be a JSON object, found an array")]
    [InlineData("{\"metadata\": {\"total_size\": 8}}", "'weight_map' is missing")]
    [InlineData("{\"weight_map\": [\"model-00001-of-00002.safetensors\"]}", "'weight_map' must be an object of tensor name -> shard file name, found an array")]
    [InlineData("{\"weight_map\": null}", "'weight_map' must be an object of tensor name -> shard file name, found null")]
    [InlineData("{\"weight_map\": {}}", "'weight_map' is empty")]
    public void AMalformedIndexIsNamed(string json, string problem)
    {
        string folder = NewFolder();
        File.WriteAllText(Path.Combine(folder, SafeTensorsIndex.FileName), json);
        var e = Invalid(folder);
        Assert.Equal(Path.Combine(folder, SafeTensorsIndex.FileName), e.FilePath);
        Assert.Contains(problem, e.Problem, StringComparison.Ordinal);
        Assert.StartsWith($"Invalid safetensors index '{e.FilePath}': ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AShardNameThatIsNotAStringIsNamedWithItsTensor()
    {
        string folder = NewFolder();
        File.WriteAllText(Path.Combine(folder, SafeTensorsIndex.FileName), """{"weight_map": {"a": "model-00001-of-00001.safetensors", "b": 7}}""");
        var e = Invalid(folder);
        Assert.Equal("b", e.TensorName);
        Assert.Contains("must be a shard file name (a string), found a number", e.Problem);
    }

    [Fact]
    public void ATensorListedTwiceInTheIndexIsRefused()
    {
        string folder = TwoShards();
        File.WriteAllText(Path.Combine(folder, SafeTensorsIndex.FileName),
            $$$"""{"weight_map": {"a": "{{{First}}}", "b": "{{{First}}}", "c": "{{{Second}}}", "d": "{{{Second}}}", "a": "{{{Second}}}"}}""");
        var e = Invalid(folder);
        Assert.Equal("a", e.TensorName);
        Assert.Contains($"lists the tensor twice (\"{First}\" and \"{Second}\")", e.Problem);
    }

    [Theory]
    [InlineData("../model-00001-of-00002.safetensors")]
    [InlineData("..")]
    [InlineData(".")]
    [InlineData("sub/model-00001-of-00002.safetensors")]
    [InlineData("sub\\model-00001-of-00002.safetensors")]
    [InlineData("/etc/passwd")]
    [InlineData("C:model.safetensors")]
    [InlineData("")]
    public void AShardNameThatCouldLeaveTheFolderIsRefusedBeforeAnyFileIsOpened(string shard)
    {
        string folder = TwoShards();
        // A real file where "../x" points, so only the name check can stop it.
        WriteShard(_files.DirectoryPath, First, "e");
        WriteIndex(folder, new Dictionary<string, string> { ["a"] = First, ["b"] = First, ["c"] = Second, ["d"] = Second, ["e"] = shard });
        var e = Invalid(folder);
        Assert.Equal("e", e.TensorName);
        Assert.Contains($"shard name \"{shard}\" is not a plain file name in the model folder", e.Problem, StringComparison.Ordinal);
        Assert.Contains("refusing to look outside the folder", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void AnIndexLargerThanTheCapIsRefusedUnread()
    {
        string folder = NewFolder();
        string path = Path.Combine(folder, SafeTensorsIndex.FileName);
        using (var stream = File.Create(path)) stream.SetLength(SafeTensorsIndex.MaxLength + 1L);   // sparse: no 100 MB written
        var e = Invalid(folder);
        Assert.Contains($"more than the {SafeTensorsIndex.MaxLength} an index may have", e.Problem);
    }

    // ---------------------------------------------------------------------------------------------
    // The shards against the index

    [Fact]
    public void MissingShardsAreAllNamed()
    {
        string folder = TwoShards();
        File.Delete(Path.Combine(folder, Second));
        var e = Invalid(folder);
        Assert.Equal(Path.Combine(folder, SafeTensorsIndex.FileName), e.FilePath);
        Assert.Contains($"1 of its 2 shard files is missing from {folder}: {Second} ({Second} should hold 2 tensors)", e.Problem);

        File.Delete(Path.Combine(folder, First));
        Assert.Contains($"2 of its 2 shard files are missing from {folder}: {First}, {Second}", Invalid(folder).Problem);
    }

    [Fact]
    public void ATensorTheIndexListsButItsShardLacksIsNamedWithTheShard()
    {
        string folder = TwoShards();
        WriteShard(folder, Second, "c");   // d is gone
        var e = Invalid(folder);
        Assert.Equal(Path.Combine(folder, Second), e.FilePath);
        Assert.Equal("d", e.TensorName);
        Assert.Contains($"{SafeTensorsIndex.FileName} lists the tensor in this shard, but no shard has it.", e.Problem);
    }

    [Fact]
    public void ATensorInAnotherShardThanTheIndexSaysIsNamed()
    {
        string folder = TwoShards();
        WriteShard(folder, First, "a");
        WriteShard(folder, Second, "b", "c", "d");   // b moved, the index still says First
        var e = Invalid(folder);
        Assert.Equal(Path.Combine(folder, First), e.FilePath);
        Assert.Equal("b", e.TensorName);
        Assert.Contains($"lists the tensor in this shard, but it is in {Second}.", e.Problem);
    }

    [Fact]
    public void ATensorInTwoShardsIsRefused()
    {
        string folder = TwoShards();
        WriteShard(folder, Second, "c", "d", "a");   // a in both; the index lists it once
        var e = Invalid(folder);
        Assert.Equal(Path.Combine(folder, Second), e.FilePath);
        Assert.Equal("a", e.TensorName);
        Assert.Contains($"the tensor is also in {First}; a tensor must be in one shard only ({SafeTensorsIndex.FileName} lists it in {First})", e.Problem);
    }

    [Fact]
    public void ATensorInAShardButNotInTheIndexIsRefused()
    {
        // transformers would load it anyway (it reads whole shards); an index that does not describe its shards is stale, so we refuse.
        string folder = TwoShards();
        WriteShard(folder, Second, "c", "d", "extra");
        var e = Invalid(folder);
        Assert.Equal(Path.Combine(folder, Second), e.FilePath);
        Assert.Equal("extra", e.TensorName);
        Assert.Contains($"the shard has a tensor that {SafeTensorsIndex.FileName} does not list", e.Problem);
    }

    [Fact]
    public void AMalformedShardIsTheReadersOwnError()
    {
        string folder = TwoShards();
        File.WriteAllBytes(Path.Combine(folder, Second), new byte[4]);
        var e = Invalid(folder);
        Assert.Equal(Path.Combine(folder, Second), e.FilePath);
        Assert.StartsWith($"Invalid safetensors file '{e.FilePath}'", e.Message);
    }

    // ---------------------------------------------------------------------------------------------
    // Writing shards

    [Fact]
    public void WriteShardedWritesTransformersLayoutAndReadsBack()
    {
        string folder = NewFolder();
        byte[] F32(params float[] v) => SafeTensorsWriter.EncodeFloats(v, SafeTensorDType.F32);
        byte[] Bf16(params float[] v) => SafeTensorsWriter.EncodeFloats(v, SafeTensorDType.BF16);
        var names = SafeTensorsWriter.WriteSharded(folder,
        [
            [("z.weight", SafeTensorDType.BF16, [2], Bf16(1.5f, -3f)), ("a.bias", SafeTensorDType.F32, [1], F32(7f))],
            [("m.ids", SafeTensorDType.I8, [3], [1, 2, 255])],
            [("b.weight", SafeTensorDType.F32, [1, 2], F32(0.25f, 4f))],
        ]);
        Assert.Equal(["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"], names);

        using var index = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, SafeTensorsIndex.FileName)));
        Assert.Equal(4 + 4 + 3 + 8, index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
        Assert.Equal(["a.bias", "b.weight", "m.ids", "z.weight"], index.RootElement.GetProperty("weight_map").EnumerateObject().Select(p => p.Name));
        Assert.Equal(names[0], index.RootElement.GetProperty("weight_map").GetProperty("z.weight").GetString());

        using var checkpoint = SafeTensorsCheckpoint.OpenFolder(folder);
        Assert.Equal("pt", checkpoint.Files[1].Metadata["format"]);
        Assert.Equal([1.5f, -3f], checkpoint.ReadFloat32("z.weight"));
        Assert.Equal(SafeTensorDType.BF16, checkpoint.Tensors["z.weight"].DType);
        Assert.Equal([0.25f, 4f], checkpoint.ReadFloat32("b.weight"));
        Assert.Equal([1, 2, 255], checkpoint.GetBytes("m.ids").ToArray());
        Assert.Equal(Path.Combine(folder, names[1]), checkpoint.FilePathOf("m.ids"));
        Assert.Equal(4, Directory.GetFiles(folder).Length);   // 3 shards + index, no temp files
    }

    [Fact]
    public void WriteShardedRefusesWhatWouldNotLoad()
    {
        string folder = NewFolder();
        byte[] one = SafeTensorsWriter.EncodeFloats([1f], SafeTensorDType.F32);
        Assert.Contains("in model-00001-of-00002.safetensors and model-00002-of-00002.safetensors",
            Assert.Throws<ArgumentException>(() => SafeTensorsWriter.WriteSharded(folder, [[("w", SafeTensorDType.F32, [1], one)], [("w", SafeTensorDType.F32, [1], one)]])).Message);
        Assert.Contains("Shard 2 of 2 has no tensor", Assert.Throws<ArgumentException>(() => SafeTensorsWriter.WriteSharded(folder, [[("w", SafeTensorDType.F32, [1], one)], []])).Message);
        Assert.False(File.Exists(Path.Combine(folder, SafeTensorsIndex.FileName)));   // the index comes last: no half checkpoint looks complete

        WriteShard(folder, SafeTensorsCheckpoint.SingleFileName, "s");
        Assert.Contains("already has model.safetensors", Assert.Throws<IOException>(() => SafeTensorsWriter.WriteSharded(folder, [[("w", SafeTensorDType.F32, [1], one)]])).Message);
    }

    [Fact]
    public void SplitBySizeFollowsHuggingFaceHub()
    {
        // split_torch_state_dict_into_shards: in order; a tensor that would tip the shard over starts a new one; one larger
        // than the limit gets its own shard while the current one stays open.
        (string, SafeTensorDType, long[], byte[]) T(string name, int bytes) => (name, SafeTensorDType.U8, [bytes], new byte[bytes]);
        var shards = SafeTensorsWriter.SplitBySize([T("a", 4), T("b", 5), T("c", 2), T("big", 20), T("d", 3), T("e", 10)], maxShardBytes: 10);
        Assert.Equal([["a", "b"], ["big"], ["c", "d"], ["e"]], shards.Select(s => s.Select(t => t.Name).ToArray()).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => SafeTensorsWriter.SplitBySize([T("a", 1)], 0));
    }
}
