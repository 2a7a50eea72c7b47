// crossencoder-fuzz: the afl-fuzz entry point and two helpers.
//
//   CrossEncoder.Fuzz <target> [--all]              under afl-fuzz (tools/fuzz/run.sh): SharpFuzz's out-of-process loop;
//                                                   known findings are not crashes unless --all
//   CrossEncoder.Fuzz <target> --replay <path>...   runs files (or every file of folders) once, prints each new finding (and
//                                                   names known ones), exit 1 if any new
//   CrossEncoder.Fuzz make-corpus <dir>             writes the seed corpus (tools/fuzz/corpus/<target>/)
//
// Targets: safetensors, config, tokenizer-json, vocab, sentencepiece, hub-json, server-request (FuzzTargets.cs).

using CrossEncoder.Fuzz;

if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.Error.WriteLine($"usage: CrossEncoder.Fuzz <target> [--replay <file|dir>...] | make-corpus <dir>\ntargets: {string.Join(", ", FuzzTargets.Names)}");
    return 2;
}
if (args[0] == "make-corpus")
{
    if (args.Length != 2) { Console.Error.WriteLine("usage: CrossEncoder.Fuzz make-corpus <dir>"); return 2; }
    Seeds.Write(args[1]);
    return 0;
}
string target = args[0];
if (!FuzzTargets.Names.Contains(target))
{
    Console.Error.WriteLine($"unknown target '{target}'; the targets are {string.Join(", ", FuzzTargets.Names)}.");
    return 2;
}
if (args.Length > 1 && args[1] == "--replay")
{
    using var targets = new FuzzTargets();
    int findings = 0, runs = 0;
    var files = args.Skip(2).SelectMany(p => Directory.Exists(p) ? Directory.EnumerateFiles(p, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal) : (IEnumerable<string>)[p]);
    foreach (string file in files)
    {
        runs++;
        try { targets.Run(target, File.ReadAllBytes(file)); }
        catch (Exception e)
        {
            if (FuzzTargets.Known(target, e) is { } known)
            {
                Console.WriteLine($"{file}: known finding: {known.Description}");
                continue;
            }
            findings++;
            Console.WriteLine($"{file}: {e.GetType().FullName} in {FuzzTargets.ThrowSite(e) ?? "(no library frame)"}: {e.Message.Split('\n')[0]}");
            Console.WriteLine("  " + e.StackTrace?.Split('\n').FirstOrDefault(l => l.Contains("CrossEncoder.Native") || l.Contains("CrossEncoder.Server"))?.Trim());
        }
    }
    Console.WriteLine($"{target}: {runs} inputs, {findings} findings");
    return findings == 0 ? 0 : 1;
}
// Under afl-fuzz: one process runs many inputs; an exception that escapes Run is reported to afl as a crash. Nothing
// instrumented (the library) may run before the loop has set up afl's shared memory, hence the targets are made inside.
// A known finding (FuzzTargets.KnownFindings) is not reported again unless --all is given.
bool all = args.Contains("--all");
FuzzTargets? fuzz = null;
SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
{
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    try { (fuzz ??= new FuzzTargets()).Run(target, buffer.ToArray()); }
    catch (Exception e) when (!all && FuzzTargets.Known(target, e) is not null) { }
});
fuzz?.Dispose();
return 0;
