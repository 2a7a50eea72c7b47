using CrossEncoder.Conversion.Checkpoints;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.SafeTensors;
using CrossEncoder.Native.Tests.Model.ModernBert;
using Xunit;

namespace CrossEncoder.Native.Tests.Model;

/// <summary>
/// The same random model in the layouts checkpoints ship in, through the whole loader: (a) one F32 model.safetensors,
/// (b) BF16, (c) three shards + model.safetensors.index.json. (c) gives (a)'s logits bit for bit; (b) gives, bit for bit,
/// the logits of an F32 folder holding (a)'s weights rounded to BF16 (and differs from (a)); quantize reads a sharded
/// folder and writes one file that loads. For a BERT (TinyBert) and a ModernBERT (ModernBertFolders).
/// </summary>
public sealed class CheckpointLayoutTests : IDisposable
{
    private static readonly CheckpointLayout Bf16 = new(CheckpointDType.BFloat16), ThreeShards = new(Shards: 3), ThreeBf16Shards = new(CheckpointDType.BFloat16, 3);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "checkpoint-layouts-" + Guid.NewGuid().ToString("N"));

    public CheckpointLayoutTests() => Directory.CreateDirectory(_root);

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }

    private string Rewrite(string source, string name, CheckpointLayout layout)
    {
        string destination = Path.Combine(_root, name);
        CheckpointWriter.Rewrite(source, destination, layout);
        return destination;
    }

    /// <summary>A copy of <paramref name="source"/> whose every float tensor is rounded to BF16 here (<see cref="BFloat16.Round"/>)
    /// and stored as F32: what a BF16 checkpoint must load as.</summary>
    private string RoundedToBf16AsF32(string source, string name)
    {
        string destination = Rewrite(source, name, CheckpointLayout.SingleFloat32);
        var rounded = new List<KeyValuePair<string, (long[], float[])>>();
        using (var checkpoint = SafeTensorsCheckpoint.OpenFolder(source))
            foreach (var (tensor, info) in checkpoint.Tensors)
                rounded.Add(new(tensor, (info.Shape.ToArray(), checkpoint.ReadFloat32(tensor).Select(BFloat16.Round).ToArray())));
        SafeTensorsWriter.WriteFloat32(Path.Combine(destination, SafeTensorsCheckpoint.SingleFileName), rounded);
        return destination;
    }

    /// <summary>[B, labels] logits of a batch of three sequences of different lengths.</summary>
    private static float[] Logits(string folder, Func<int, int[]> ids, Precision precision = Precision.Fp32)
    {
        var (model, _) = ModelLoader.Load(folder, precision);
        int[][] batch = [ids(7), ids(12), ids(3)];
        var workspace = model.CreateWorkspace(batch.Sum(s => s.Length), batch.Length, batch.Max(s => s.Length));
        workspace.Batch.Clear();
        foreach (var sequence in batch) workspace.Batch.Add(sequence, new int[sequence.Length]);
        return model.Forward(workspace).ToArray();
    }

    private static int[] TinyBertIds(int length) => Enumerable.Range(0, length).Select(i => 104 + (i * 7 + length) % (TinyBert.Vocabulary.Length - 104)).ToArray();

    private static int[] ModernBertIds(int length) => ModernBertFolders.Ids(length, seed: length);

    public static TheoryData<string> Families => ["bert", "modernbert"];

    /// <summary>The family's (a) folder and its token ids. The BERT folder is created under the test's root; the ModernBERT one
    /// is the run's shared folder (read only).</summary>
    private (string Folder, Func<int, int[]> Ids) Model(string family)
    {
        if (family == "modernbert") return (ModernBertFolders.GteReranker, ModernBertIds);
        using var tiny = new TinyBert(classifier: true);
        return (Rewrite(tiny.Directory, "bert-f32", CheckpointLayout.SingleFloat32), TinyBertIds);
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void ThreeShardsGiveTheSingleFilesLogitsBitForBit(string family)
    {
        var (single, ids) = Model(family);
        string sharded = Rewrite(single, family + "-shards", ThreeShards);
        Assert.False(File.Exists(Path.Combine(sharded, SafeTensorsCheckpoint.SingleFileName)));
        using (var checkpoint = SafeTensorsCheckpoint.OpenFolder(sharded))
            Assert.Equal(3, checkpoint.Files.Count);

        Assert.Equal(Logits(single, ids), Logits(sharded, ids));
        Assert.Equal(Logits(single, ids, Precision.Int8), Logits(sharded, ids, Precision.Int8));
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Bf16GivesTheLogitsOfTheBf16RoundedWeightsBitForBit(string family)
    {
        var (single, ids) = Model(family);
        string bf16 = Rewrite(single, family + "-bf16", Bf16);
        string rounded = RoundedToBf16AsF32(single, family + "-rounded");
        using (var checkpoint = SafeTensorsCheckpoint.OpenFolder(bf16))
            Assert.All(checkpoint.Tensors.Values, t => Assert.Equal(SafeTensorDType.BF16, t.DType));
        Assert.True(new FileInfo(Path.Combine(bf16, "model.safetensors")).Length < 0.6 * new FileInfo(Path.Combine(single, "model.safetensors")).Length);

        float[] fromBf16 = Logits(bf16, ids);
        Assert.Equal(Logits(rounded, ids), fromBf16);
        Assert.NotEqual(Logits(single, ids), fromBf16);   // the rounding is real, so the equality above says something
        Assert.Equal(Logits(bf16, ids), Logits(Rewrite(bf16, family + "-bf16-shards", ThreeBf16Shards), ids));
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void QuantizeReadsShardsAndWritesOneFileThatLoads(string family)
    {
        var (single, ids) = Model(family);
        string sharded = Rewrite(single, family + "-shards", ThreeShards);
        string fromSingle = Path.Combine(_root, family + "-int8-from-single"), fromShards = Path.Combine(_root, family + "-int8-from-shards");
        ModelQuantization.WriteQuantizedFolder(single, fromSingle);
        ModelQuantization.WriteQuantizedFolder(sharded, fromShards, CancellationToken.None);

        // One model.safetensors, no index or shard copied, byte for byte what the single file quantizes to.
        Assert.Empty(Directory.GetFiles(fromShards, "model-*"));
        Assert.False(File.Exists(Path.Combine(fromShards, SafeTensorsIndex.FileName)));
        Assert.Equal(File.ReadAllBytes(Path.Combine(fromSingle, "model.safetensors")), File.ReadAllBytes(Path.Combine(fromShards, "model.safetensors")));
        Assert.Equal(Logits(single, ids, Precision.Int8), Logits(fromShards, ids, Precision.Int8));

        // A BF16 sharded folder quantizes too (its other tensors written as F32).
        string bf16Int8 = Path.Combine(_root, family + "-int8-from-bf16-shards");
        ModelQuantization.WriteQuantizedFolder(Rewrite(single, family + "-bf16-shards", ThreeBf16Shards), bf16Int8);
        Assert.Equal(Logits(Rewrite(single, family + "-bf16", Bf16), ids, Precision.Int8), Logits(bf16Int8, ids, Precision.Int8));
    }

    [Fact]
    public void TestModelsWriteAnyLayoutDirectly()
    {
        // What other families' tests use: TinyBert(layout: ...) and ModernBertCheckpoint.Write(..., layout) give the same
        // checkpoint as rewriting the F32 one.
        using var f32 = new TinyBert(classifier: true);
        using var direct = new TinyBert(classifier: true, layout: ThreeBf16Shards);
        using (var checkpoint = SafeTensorsCheckpoint.OpenFolder(direct.Directory))
            Assert.Equal((3, SafeTensorDType.BF16), (checkpoint.Files.Count, checkpoint.Tensors["classifier.weight"].DType));
        Assert.Equal(Logits(Rewrite(f32.Directory, "bert-rewritten", ThreeBf16Shards), TinyBertIds), Logits(direct.Directory, TinyBertIds));

        string modernBert = Path.Combine(_root, "modernbert-direct");
        ModernBertCheckpoint.Write(modernBert, ModernBertFolders.ShrunkConfig(), seed: 11, withClassifier: true, ThreeBf16Shards);
        Assert.Equal(Logits(Rewrite(ModernBertFolders.GteReranker, "modernbert-rewritten", ThreeBf16Shards), ModernBertIds), Logits(modernBert, ModernBertIds));
    }

    [Fact]
    public void QuantizeHonoursCancellation()
    {
        var (single, _) = Model("bert");
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => ModelQuantization.WriteQuantizedFolder(single, Path.Combine(_root, "cancelled"), cancelled.Token));
        Assert.False(File.Exists(Path.Combine(_root, "cancelled", "model.safetensors")));
    }

    [Fact]
    public void ASingleFileBesideAnIndexIsWhatLoadsAsInTransformers()
    {
        // The index and shards hold another model (seed 8); model.safetensors (seed 7) is what transformers would load.
        using var seven = new TinyBert(classifier: true, seed: 7);
        using var eight = new TinyBert(classifier: true, seed: 8);
        string both = Rewrite(eight.Directory, "both", ThreeShards);
        File.Copy(Path.Combine(seven.Directory, "model.safetensors"), Path.Combine(both, "model.safetensors"));
        Assert.Equal(Logits(seven.Directory, TinyBertIds), Logits(both, TinyBertIds));
        Assert.NotEqual(Logits(eight.Directory, TinyBertIds), Logits(both, TinyBertIds));
    }

    [Fact]
    public void LoadErrorsOfAShardedFolderAreOneLineAndNameTheFile()
    {
        using var tiny = new TinyBert(classifier: true);
        string sharded = Rewrite(tiny.Directory, "broken", ThreeShards);
        string last = Path.Combine(sharded, SafeTensorsIndex.ShardName(3, 3));
        File.Delete(last);
        var missing = Assert.Throws<SafeTensorsFormatException>(() => Reranker.Load(sharded));
        Assert.Contains(SafeTensorsIndex.ShardName(3, 3), missing.Message);
        Assert.DoesNotContain('\n', missing.Message);

        // A shape the config does not imply names the shard holding the tensor; a missing tensor names the index.
        using var misshapen = new TinyBert(classifier: true, edit: t => t["classifier.weight"] = ([1, 2], [1f, 2f]));
        string reshaped = Rewrite(misshapen.Directory, "reshaped", ThreeShards);
        var shape = Assert.Throws<ModelFormatException>(() => Reranker.Load(reshaped));
        using (var checkpoint = SafeTensorsCheckpoint.OpenFolder(reshaped))
            Assert.Equal(checkpoint.FilePathOf("classifier.weight"), shape.FilePath);
        using var withoutBias = new TinyBert(classifier: true, edit: t => t.Remove("classifier.bias"));
        string incomplete = Rewrite(withoutBias.Directory, "incomplete", ThreeShards);
        var absent = Assert.Throws<ModelFormatException>(() => Reranker.Load(incomplete));
        Assert.Equal(Path.Combine(incomplete, SafeTensorsIndex.FileName), absent.FilePath);
        Assert.Contains("Missing (1): classifier.bias", absent.Message);
    }

    [Fact]
    public void AFolderWithoutWeightsSaysWhichFilesWereLookedFor()
    {
        using var tiny = new TinyBert(classifier: true);
        File.Delete(Path.Combine(tiny.Directory, "model.safetensors"));
        var e = Assert.Throws<ModelFormatException>(() => Reranker.Load(tiny.Directory));
        Assert.Equal("model.safetensors not found (nor a sharded checkpoint's model.safetensors.index.json).", e.Problem);
    }
}
