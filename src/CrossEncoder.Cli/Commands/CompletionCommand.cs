using System.CommandLine;

namespace CrossEncoder.Cli.Commands;

/// <summary>
/// <c>completion</c>: prints a shell function that asks crossencoder itself for completions through System.CommandLine's
/// <c>[suggest:position]</c> directive, so commands, options and choice values complete without any other tool installed.
/// </summary>
internal static class CompletionCommand
{
    private static readonly Dictionary<string, string> Scripts = new(StringComparer.Ordinal)
    {
        ["bash"] = """
            _crossencoder_complete() {
              local IFS=$'\n'
              COMPREPLY=($(crossencoder "[suggest:${COMP_POINT}]" "${COMP_LINE}" 2>/dev/null))
            }
            complete -o default -F _crossencoder_complete crossencoder
            """,
        ["zsh"] = """
            _crossencoder_complete() {
              local -a suggestions
              suggestions=("${(@f)$(crossencoder "[suggest:${CURSOR}]" "${BUFFER}" 2>/dev/null)}")
              (( ${#suggestions} )) && compadd -a suggestions || _files
            }
            compdef _crossencoder_complete crossencoder
            """,
        ["pwsh"] = """
            Register-ArgumentCompleter -Native -CommandName crossencoder -ScriptBlock {
              param($wordToComplete, $commandAst, $cursorPosition)
              crossencoder "[suggest:$cursorPosition]" "$commandAst" | ForEach-Object {
                [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)
              }
            }
            """,
    };

    public static Command Create(CliContext context)
    {
        var shell = new Argument<string>("shell")
        {
            Description = "bash, zsh or pwsh",
            CustomParser = result =>
            {
                string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
                if (!Scripts.ContainsKey(text)) result.AddError($"shell must be bash, zsh or pwsh, got '{text}'.");
                return text;
            },
        };
        shell.CompletionSources.Add([.. Scripts.Keys]);
        var command = new Command("completion", "Print the tab-completion script for a shell (add it to the shell's startup file).") { shell };
        CliHelp.SetExamples(command,
            "source <(crossencoder completion bash)        # in ~/.bashrc",
            "source <(crossencoder completion zsh)         # in ~/.zshrc, after compinit",
            "crossencoder completion pwsh | Out-String | Invoke-Expression   # in $PROFILE");
        command.SetAction(parse =>
        {
            context.Out.WriteLine(Scripts[parse.GetValue(shell)!]);
            return 0;
        });
        return command;
    }
}
