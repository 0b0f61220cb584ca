#!/usr/bin/env bash
# The man pages and halectl's bash completion against the programs themselves (#14 item 4, #15 item 3):
# every page renders without a groff or man warning; halectl's commands, each command's flags and the
# global options are the same in `halectl help`, halectl(1) and the completion; each daemon's options are
# the same in its --help and its page; the configuration pages carry every line of the shipped examples;
# and the completion completes commands, flags and (asking the aggregator) region names.
# Usage: docs.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
man_dir=$build/packaging/man
halectl=$build/common/halectl
completion=$src/packaging/bash-completion/halectl
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
same() {  # same WHAT EXPECTED ACTUAL: word lists compared as sets
  local a b
  a=$(tr ' ' '\n' <<<"$2" | sed '/^$/d' | sort -u | tr '\n' ' ')
  b=$(tr ' ' '\n' <<<"$3" | sed '/^$/d' | sort -u | tr '\n' ' ')
  [ "$a" = "$b" ] || fail "$1: expected [$a], found [$b]"
}

# 1. Every page renders cleanly (what lintian runs for its groff-message tag).
for page in "$man_dir"/man?/*.[158]; do
  warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null || true)
  [ -z "$warnings" ] || fail "$(basename "$page") renders with warnings: $warnings"
  grep -q "@HALE_" "$page" && fail "$(basename "$page") has an unsubstituted placeholder"
done
[ "$(ls "$man_dir"/man?/ | grep -c '\.[158]$')" -eq 5 ] || fail "expected 5 man pages in $man_dir, found: $(ls -R "$man_dir")"

# 2. halectl's commands: help, page, completion.
help_commands=$("$halectl" help | sed -n '/^commands:/,/^$/p' | sed -n 's/^  \([a-z]\+\).*/\1/p' | tr '\n' ' ')
# In the page: the first word of each .TP item of the COMMANDS section.
page_commands=$(sed -n '/^\.SH COMMANDS/,/^\.SH /p' "$man_dir/man1/halectl.1" | grep -A1 '^\.TP' |
  sed -n 's/^\.B[IR]\? "\?\([a-z]\+\).*/\1/p' | tr '\n' ' ')
# shellcheck source=/dev/null
source "$completion"
same "halectl(1) commands vs halectl help" "$help_commands" "$page_commands"
same "completion commands vs halectl help" "$help_commands" "$_halectl_commands"

# 3. Each command's flags: its usage line, its page item, the completion.
for command in $help_commands; do
  usage=$("$halectl" help "$command" | head -1)
  help_flags=$(grep -o -- '--[a-z]\+' <<<"$usage" | tr '\n' ' ' || true)
  item=$(sed -n '/^\.SH COMMANDS/,/^\.SH /p' "$man_dir/man1/halectl.1" |
    awk -v c="$command" '/^\.TP/{getline; on = ($0 ~ "^\\.B[IR]? \"?" c "([ \"]|$)"); if (on) print; next} on && /^\.[BIR]+ /{print} /^[^.]/{on=0}')
  page_flags=$(sed 's/\\-/-/g' <<<"$item" | grep -o -- '--[a-z]\+' | tr '\n' ' ' || true)
  same "halectl(1) flags of $command" "$help_flags" "$page_flags"
  same "completion flags of $command" "$help_flags" "$(_halectl_flags "$command")"
done

# 4. Global options.
help_options=$("$halectl" help | sed -n '/^options:/,/^$/p' | grep -o -- '--[a-z]\+' | tr '\n' ' ')
page_options=$(sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$man_dir/man1/halectl.1" | sed 's/\\-/-/g' | grep -o -- '--[a-z]\+' | tr '\n' ' ')
same "halectl(1) options vs halectl help" "$help_options" "$page_options"
same "completion options vs halectl help" "$help_options" "$_halectl_options"

# 5. The daemons' options.
for daemon in agent aggregator; do
  bin=$build/$daemon/hale-$daemon
  help_options=$("$bin" --help | sed -n '/^options:/,/^$/p' | grep -o -- '--[a-z-]\+' | tr '\n' ' ')
  page_options=$(sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$man_dir/man8/hale-$daemon.8" | sed 's/\\-/-/g' |
    grep -o -- '--[a-z-]\+' | tr '\n' ' ')
  same "hale-$daemon(8) options vs hale-$daemon --help" "$help_options" "$page_options"
  # 6. The configuration page shows every line of the shipped example.
  rendered=$(LC_ALL=C.UTF-8 MANWIDTH=250 man -l -Tutf8 "$man_dir/man5/hale-$daemon.toml.5" 2>/dev/null | sed 's/^ *//')
  while IFS= read -r line; do
    [ -z "$line" ] && continue
    grep -qF -- "$(sed 's/^ *//' <<<"$line")" <<<"$rendered" || fail "hale-$daemon.toml(5) lacks: $line"
  done <"$src/packaging/$daemon.toml"
done

# 7. The completion at work.
complete_line() {  # the words of a command line, the last one being completed
  COMP_WORDS=("$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _halectl
  printf '%s ' "${COMPREPLY[@]}"
}
same "halectl fa<TAB>" "failover failback" "$(complete_line halectl fa)"
same "halectl help jo<TAB>" "journal" "$(complete_line halectl help jo)"
same "halectl failover --<TAB>" "--to --force $_halectl_options" "$(complete_line halectl failover --)"
same "halectl --json nodes --u<TAB>" "--unknown" "$(complete_line halectl --json nodes --u)"
same "halectl --t<TAB>" "--timeout" "$(complete_line halectl --t)"
# Region names come from `halectl regions --json` through the socket named on the line: a halectl on PATH
# that records how it was asked and answers as the aggregator does (one object per region, by "name").
stub=$(mktemp -d)
trap 'rm -rf "$stub"' EXIT
cat >"$stub/halectl" <<STUB
#!/bin/sh
echo "\$*" >"$stub/asked"
echo '[{"name":"eu-west","active":true,"verdict":"up"},{"name":"us-east","active":false,"verdict":"up"}]'
STUB
chmod +x "$stub/halectl"
same "halectl --socket S failover --to <TAB>" "eu-west us-east" \
  "$(PATH=$stub:$PATH complete_line halectl --socket /run/x.sock failover --to '')"
[ "$(cat "$stub/asked" 2>/dev/null)" = "--socket /run/x.sock --timeout 1s --json regions" ] ||
  fail "regions were asked as: $(cat "$stub/asked" 2>/dev/null)"
same "halectl nodes --region u<TAB>" "us-east" "$(PATH=$stub:$PATH complete_line halectl nodes --region u)"

if [ "$failures" -ne 0 ]; then
  echo "FAIL: $failures mismatches"
  exit 1
fi
echo "PASS: 5 man pages render cleanly; commands, flags and options agree in help, pages and completion"
