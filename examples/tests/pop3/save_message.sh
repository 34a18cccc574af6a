#!/bin/sh
# The MDA of the fetchmail test in examples/tests/pop3_interop.rs: saves the message on
# standard input to a new file of its own in the directory given as the first argument.
set -e
dir="$1"
[ -d "$dir" ] || { echo "save_message.sh: no directory $dir" >&2; exit 75; }
n=0
while ! (set -C; : > "$dir/message-$$-$n.eml") 2>/dev/null; do
    n=$((n + 1))
done
cat > "$dir/message-$$-$n.eml"
