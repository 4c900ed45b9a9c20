# bash completion for syscontainerctl. The candidates come from the program
# itself (syscontainerctl __complete WORD... CURRENT), so that they follow its
# command table; ":files" asks for file names.
# SPDX-License-Identifier: LGPL-2.1-or-later
_syscontainerctl()
{
    local cur prev words cword split
    # '=' kept inside a word ("-f dangling=") so that KEY=VALUE values are
    # completed whole, and ':' so that an image name (NAME:TAG, a registry
    # HOST:PORT) reaches __complete whole; -s still splits "--opt=VALUE"
    _init_completion -s -n =: || return

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
    elif [[ $out == :dirs* ]]; then
        _filedir -d
        return
    fi
    COMPREPLY=($(compgen -W "$out" -- "$cur"))
    # readline replaces only what follows the last '=' (a word break)
    if [[ $cur == *=* && $COMP_WORDBREAKS == *=* ]]; then
        local i prefix=${cur%"${cur##*=}"}
        for i in "${!COMPREPLY[@]}"; do
            COMPREPLY[i]=${COMPREPLY[i]#"$prefix"}
        done
    fi
    # readline replaces only what follows the last ':' (a word break too)
    __ltrim_colon_completions "$cur"
} &&
    complete -F _syscontainerctl syscontainerctl
