using CrossEncoder.Cli;

// crossencoder: see Cli.cs for the commands. Errors are one line on stderr: exit 1 for a failure, 2 for usage, 130 when cancelled.
using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancellation.Cancel(); };
Console.OutputEncoding = System.Text.Encoding.UTF8;
return Cli.Run(args, Console.In, Console.Out, Console.Error, cancellation.Token);
