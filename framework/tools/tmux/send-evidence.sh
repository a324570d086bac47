# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154  # agent-send.sh's globals: it sources this file
# send-evidence.sh - agent-send.sh's evidence checks, sourced by it (never run directly): does the
# screen prove that THIS message was pasted, and then submitted?
#
#   evidence_probe TEXT    set what the checks look for: last_line (TEXT's last line, and its
#                          length last_line_bytes) and probe (its tail as the screen shows it)
#   snapshot PREFIX        one look at the pane (pane_id) down to the cursor; parse_snapshot and
#                          count_recent turn the capture into PREFIX_* counts
#   pasted_evidence        the message (or a TUI's paste placeholder) now stands at the cursor
#   submitted_evidence     it left the cursor line and the transcript above took it in (sets
#                          evidence=transcript), or the program answered (evidence=response)
#   check_tty_echo         tty_echoes=1 when the pane's terminal echoes input by itself
# A pane that died or went away sets pane_lost (why). The counts of the screen the paste landed
# on are base_* (parse_snapshot base, count_recent base); the look after the paste sets p_*, the
# looks after Enter e_*. tmux's output goes through out_file (beside the lock).
#
# tmux's output is read into the array `snap` (mapfile: one line an element) and the string work
# runs with LC_ALL=C: in a UTF-8 locale bash's patterns and substrings count characters, which
# makes a 64 KB capture take milliseconds per operation. Byte-wise matching of UTF-8 text finds
# exactly the character-wise matches.

# How long a changed screen must hold still to count as the program's answer. Only a program that
# answers instead of echoing the message waits for it; on a loaded 2-core host a 64 KB echo was
# seen stalling for more than 50 ms, so 150 ms.
SETTLE_US=150000
RECENT_LINES=20  # lines above the input that count as "the transcript just took it in"

last_line_of() {  # last_line_of TEXT VAR
  local LC_ALL=C _pre
  if [[ $1 != *$'\n'* ]]; then printf -v "$2" '%s' "$1"; return; fi
  _pre=${1%$'\n'*}
  printf -v "$2" '%s' "${1:${#_pre}+1}"
}
evidence_probe() {  # evidence_probe TEXT: the tail of TEXT's last line, as the screen shows it
  last_line_of "$1" last_line
  byte_length "$last_line" last_line_bytes
  if ((${#last_line} > 12)); then probe=${last_line: -12}; else probe=$last_line; fi
  probe=${probe##*[$'\t\r\x01'-$'\x1f']}
  # A TUI that wraps its input at word boundaries can leave only the message's last word on the
  # cursor's line (opencode's input box is about 75 columns wide whatever the pane's width): look
  # for that word when the tail holds a space and the word has 4 characters or more.
  local word=${probe##*[[:space:]]}
  ((${#word} >= 4)) && probe=$word
  [[ -n $probe ]] || probe=${preamble% }
}

count_of() {  # count_of HAYSTACK NEEDLE VAR
  local LC_ALL=C _hay=$1 _rest
  if [[ $_hay != *"$2"* ]]; then printf -v "$3" 0; return; fi
  _rest=${_hay//"$2"/}
  printf -v "$3" '%s' "$(((${#_hay} - ${#_rest}) / ${#2}))"
}
placeholders_in() {  # placeholders_in TEXT VAR: paste placeholders in TEXT
  local _a _b
  count_of "$1" "[Pasted text #" _a
  count_of "$1" "[paste #" _b
  printf -v "$2" '%s' "$((_a + _b))"
}
snap=()
parse_snapshot() {  # parse_snapshot PREFIX FIRST LAST: snap[FIRST..LAST] is a capture whose last
  # line is the cursor's logical line (-J joins wrapped rows). Sets PREFIX_above (the screen above
  # that line), probe/placeholder counts in the cursor's line (PREFIX_cur_*), PREFIX_recent (the
  # RECENT_LINES above it) and PREFIX_recent_line (see below). count_recent counts in the window.
  local LC_ALL=C IFS=$'\n' cur n from=$(($3 - RECENT_LINES))
  ((from >= $2)) || from=$2
  cur=${snap[$3]}
  printf -v "${1}_cur" '%s' "$cur"
  printf -v "${1}_above" '%s' "${snap[*]:$2:$3-$2}"
  printf -v "${1}_recent" '%s' "${snap[*]:from:$3-from}"
  count_of "$cur" "$probe" n; printf -v "${1}_cur_probe" '%s' "$n"
  placeholders_in "$cur" n; printf -v "${1}_cur_ph" '%s' "$n"
  # Lines in that window that end with the message's whole last line: the probe is only its
  # tail, which earlier messages may share, and then the window (which scrolls) need not show
  # one occurrence more. The screen's top line may be the rest of a line that began above it:
  # it counts when it is at least 64 bytes of the end of the message's last line.
  local line len=$last_line_bytes
  n=0
  for ((from = from; from < $3; from++)); do
    line=${snap[from]}
    if ((${#line} >= len)); then
      [[ ${line:${#line}-len} == "$last_line" ]] && ((n++))
    elif ((from == $2 && ${#line} >= 64)); then
      [[ ${last_line:len-${#line}} == "$line" ]] && ((n++))
    fi
  done
  printf -v "${1}_recent_line" '%s' "$n"
}
count_recent() {  # count_recent PREFIX: probe and placeholder counts in PREFIX_recent (a scan of up
  # to 20 long lines each: done only when the cheaper evidence is not enough)
  local -n _window=${1}_recent
  local n
  count_of "$_window" "$probe" n; printf -v "${1}_recent_probe" '%s' "$n"
  placeholders_in "$_window" n; printf -v "${1}_recent_ph" '%s' "$n"
}
pane_lost=""
snapshot() {  # snapshot PREFIX: one tmux call reads the cursor row, captures down to it (run-shell
  # -C expands #{cursor_y} when it runs, so a cursor that moved since the last look needs no
  # second call) and reports the cursor row again; when the two differ the cursor moved during
  # the call, and it is taken again. Sets PREFIX_hist (the pane's history size: it changes when
  # the screen scrolls). A pane that died or went away sets pane_lost (why).
  local tries n y2 dead hist
  for tries in 1 2 3; do
    if ! mosaic_tmux run-shell -C -t "$pane_id" \
        "display-message -p -t $pane_id #{cursor_y} ; capture-pane -p -J -t $pane_id -S 0 -E #{cursor_y}" \; \
        display-message -p -t "$pane_id" '#{cursor_y} #{pane_dead} #{history_size}' >"$out_file" 2>&1; then
      IFS= read -r -d '' pane_lost <"$out_file"
      pane_lost="the pane of $session went away: ${pane_lost//$'\n'/ }"
      return 1
    fi
    mapfile -t snap <"$out_file"
    n=${#snap[@]}
    ((n >= 3)) || return 1
    read -r y2 dead hist <<<"${snap[n - 1]}"
    if [[ $dead != 0 ]]; then pane_lost="the pane of $session died (its program exited)"; return 1; fi
    [[ ${snap[0]} =~ ^[0-9]+$ ]] || return 1
    [[ ${snap[0]} == "$y2" ]] && break
    ((tries < 3)) || return 1
  done
  printf -v "${1}_hist" '%s' "$hist"
  parse_snapshot "$1" 1 $((n - 2))
}
pasted_evidence() {  # the message (or a placeholder) now stands at the cursor
  snapshot p || return 1
  ((p_cur_probe > base_cur_probe || p_cur_ph > base_cur_ph))
}
# The program still drawing this message's echo is not its answer: on a loaded host tmux can
# stall for a while in the middle of a long echo. While the newest text on the screen (the end of
# the cursor's line, or of the last line above it) is a piece of the message, keep looking.
drawing_message() {
  local LC_ALL=C line piece
  for line in "$e_cur" "${e_above##*$'\n'}"; do
    ((${#line} >= 32)) || continue
    piece=${line: -32}
    [[ $text == *"$piece"* ]] && return 0
  done
  return 1
}
settled_above="" settled_at=0
submitted_evidence() {  # it left the cursor line, and the transcript above took it in
  snapshot e || return 1
  ((e_cur_probe <= base_cur_probe && e_cur_ph <= base_cur_ph)) || return 1
  ((e_recent_line > base_recent_line)) || count_recent e
  if ((e_recent_line > base_recent_line || e_recent_probe > base_recent_probe ||
    e_recent_ph > base_recent_ph)); then
    evidence=transcript  # the message (or its placeholder) shows once more above the input
    return 0
  fi
  # The same text sent before can stand just where this one now stands (a long message whose
  # visible tail repeats an earlier one's: the screens before and after look alike). Then the
  # pane must have scrolled since the paste: the program printed it.
  if ((e_recent_line > 0 && e_hist != p_hist)); then evidence=transcript; return 0; fi
  # Otherwise the program must have answered (pi without an API key prints an error instead of
  # the message): the screen above changed since the paste and then held still for SETTLE_US,
  # so a half-drawn transcript (a long echo stalls for milliseconds on a busy host) is not
  # taken for an answer.
  [[ $e_above != "$p_above" ]] || return 1
  drawing_message && return 1
  local t
  now_us t
  if [[ $e_above == "$settled_above" ]]; then
    ((t - settled_at >= SETTLE_US)) || return 1
    evidence=response
    return 0
  fi
  settled_above=$e_above settled_at=$t
  return 1
}

# A terminal in canonical echo mode shows pasted text by itself: no program proves it read it.
tty_echoes=0
check_tty_echo() {
  local out
  out=$(stty -a -F "$pane_tty" 2>/dev/null) || return 0
  out=" ${out//$'\n'/ } "
  [[ $out =~ [\ \;]icanon[\ \;] && $out =~ [\ \;]echo[\ \;] ]] && tty_echoes=1
  return 0
}
