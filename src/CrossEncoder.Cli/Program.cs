using CrossEncoder.Cli;
using CrossEncoder.Cli.Commands;

// crossencoder: rerank | tokenize | verify | convert | bench. Errors are one line on stderr: exit 1 for a failure, 2 for usage.
using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancellation.Cancel(); };
Console.OutputEncoding = System.Text.Encoding.UTF8;
return Cli.Run(args, Console.In, Console.Out, Console.Error, cancellation.Token);
