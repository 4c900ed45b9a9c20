# bash completion for syscontainerctl. The candidates come from the program
# itself (syscontainerctl __complete WORD... CURRENT), so that they follow its
# command table; ":files" asks for file names.
# SPDX-License-Identifier: LGPL-2.1-or-later
_syscontainerctl()
{
    local cur prev words cword split
    _init_completion -s || return

    local -a args=("${words[@]:1:cword-1}")
    if [[ $split == true ]]; then
        # "--opt=" so that an option whose value can only be attached
        # (--tls-verify=false) is told from one followed by an operand
        args+=("$prev=")
    fi
    local out
    out=$("${words[0]}" __complete "${args[@]}" "$cur" 2>/dev/null) || return
    if [[ $out == :files* ]]; then
        _filedir
        return
    fi
    COMPREPLY=($(compgen -W "$out" -- "$cur"))
    __ltrim_colon_completions "$cur"
} &&
    complete -F _syscontainerctl syscontainerctl
