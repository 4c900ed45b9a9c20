#!/usr/bin/env python3
# Writes the template cases' expected results with Python's own
# string.Template.substitute(), the reference semantics. Run it in this
# directory after adding or changing a case in CASES.
import os
import re
import string

CASES = {
    "braced-and-bare": ("name=$NAME braced=${NAME} dollar=$$ literal=$$NAME\n", {"NAME": "etcd"}),
    "identifier-boundaries": ("$NAME.conf ${NAME}ctl $NAME-x $NAME/y $_U1 ${_U1}z\n",
                              {"NAME": "etcd", "_U1": "u"}),
    "raw-json-fragment": ("\"bounding\": [${CAPS}],\n\"mounts\": [ $ADDTL_MOUNTS\n]\n",
                          {"CAPS": "\"CAP_CHOWN\",\n\"CAP_KILL\"\n", "ADDTL_MOUNTS": ""}),
    "value-not-reexpanded": ("$A and ${B}\n", {"A": "$B", "B": "${A} $$"}),
    "triple-dollar": ("$$$NAME $$${NAME}$$\n", {"NAME": "n"}),
    "no-placeholders": ("plain text\r\nwith CRLF\tand tabs, unicode \u00e9\u2028 and $$\n", {}),
    "empty-value": ("[$EMPTY]\n", {"EMPTY": ""}),
    "invalid-digit": ("first line\nsecond $1 line\n", {}),
    "invalid-space": ("ab $ cd", {}),
    "invalid-at-end": ("trailing $", {}),
    "invalid-unclosed-brace": ("x ${NAME", {"NAME": "n"}),
    "invalid-brace-digit": ("x ${1abc}", {}),
    "invalid-empty-brace": ("${}", {}),
    "invalid-crlf-lines": ("a\r\nb\r\n  $(x)", {}),
    "invalid-cr-line": ("x\ry$-", {}),
    "invalid-unicode-column": ("\u00e9\u00e9 $\u00e9", {}),
    "invalid-line-separator": ("a\u2028b\u0085c $%", {}),
    "invalid-formfeed": ("a\x0cb\x1dc\n$;", {}),
    "undefined-bare": ("ok $NAME\nthen $MISSING_VAR here", {"NAME": "n"}),
    "undefined-braced": ("${NAME} ${Missing}", {"NAME": "n"}),
    "undefined-case-sensitive": ("$name", {"NAME": "n"}),
    "first-error-wins": ("$UNDEFINED then $1", {}),
}


def position(text, i):
    lines = text[:i].splitlines(keepends=True)
    if not lines:
        return 1, 1
    return len(lines), i - len("".join(lines[:-1]))


def main():
    for name, (text, values) in sorted(CASES.items()):
        os.makedirs(name, exist_ok=True)
        with open(os.path.join(name, "input"), "w", encoding="utf-8", newline="") as f:
            f.write(text)
        with open(os.path.join(name, "values"), "w", encoding="utf-8", newline="") as f:
            for k, v in sorted(values.items()):
                f.write("%s=%s\0" % (k, v))
        for old in ("expected", "error"):
            if os.path.exists(os.path.join(name, old)):
                os.unlink(os.path.join(name, old))
        try:
            out = string.Template(text).substitute(values)
            with open(os.path.join(name, "expected"), "w", encoding="utf-8", newline="") as f:
                f.write(out)
        except ValueError as e:
            m = re.search(r"line (\d+), col (\d+)", str(e))
            with open(os.path.join(name, "error"), "w") as f:
                f.write("invalid placeholder at line %s, col %s\n" % m.groups())
        except KeyError as e:
            var = e.args[0]
            mo = next(m for m in string.Template.pattern.finditer(text)
                      if (m.group("named") or m.group("braced")) == var)
            line, col = position(text, mo.start() + 1)
            with open(os.path.join(name, "error"), "w") as f:
                f.write("variable '%s' at line %d, col %d is not defined\n" % (var, line, col))


if __name__ == "__main__":
    main()
