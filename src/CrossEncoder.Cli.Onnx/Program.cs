using CrossEncoder.Cli;

// crossencoder-onnx: verify | bench | quantize-onnx (ONNX Runtime side by side). Exit 1 failure, 2 usage, 130 cancelled.
using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancellation.Cancel(); };
Console.OutputEncoding = System.Text.Encoding.UTF8;
return OnnxCli.Run(args, Console.In, Console.Out, Console.Error, cancellation.Token);
