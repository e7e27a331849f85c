set -u
umask 077
# The biggest spool a hook sends while the pusher waits (a bigger one goes to the background
# at once), and the seconds one post may take in the background (hookrelay.hooks.run's
# FOREGROUND_COMMITS and POST_DEADLINE).
HR_FOREGROUND_COMMITS=8
HR_POST_DEADLINE=30
# Subversion runs hooks with an empty environment.
PATH=${PATH:-/usr/local/bin:/usr/bin:/bin}
export PATH

hr_self=$0
hr_hook=${0##*/}
hr_sent=0
hr_skipped=0
hr_refused=0
hr_problem=
hr_handed_off=0
hr_stamp=

# Renders spooled commits for Tracker. Input: records as `git cat-file --batch` prints them
# (format "%(objectname) %(objecttype) %(objectsize) %(rest)", rest being the spool entry), or
# "<revision> svn <size> <entry>" records whose first line is the svn author and the rest the
# log. For each record it writes the body to $HR_OUT/<entry> and prints "<entry> story|skip"
# ("missing <id>" for an unknown object). It implements hookrelay.core.source_commit: UTF-8 is
# decoded with U+FFFD for each maximal bad subsequence (ISO-8859-1 when the commit says so),
# characters XML 1.0 forbids become U+FFFD, then XML or JSON escaping; and it tells whether the
# message names a story the way hookrelay.core.messages does. Run it with LC_ALL=C (bytes).
# shellcheck disable=SC2016 # an awk program: its $ are awk's
HR_RENDER_AWK='
#@include render.awk
'

hr_log() {  # one line in the log; callers never pass the token
    printf '%s %s %s\n' "$hr_stamp" "$hr_hook" "$*" >> "$hr_state/hookrelay.log"
}

hr_setup() {  # $1: the folder that holds hookrelay's state (spool, log) for this repository
    # $2: git's core.sharedRepository, if any. A repository shared with a group gets a state
    # folder its group can write (umask 007, folders setgid, as git makes its own); otherwise
    # it stays private (umask 077). Nothing is ever world-readable.
    hr_state=$1/hookrelay
    hr_spool=$hr_state/spool
    hr_tmp=$hr_state/tmp.$$
    hr_shared=0
    case ${2-} in
        '' | umask | [Ff][Aa][Ll][Ss][Ee] | [Nn][Oo] | [Oo][Ff][Ff]) ;;
        *[!0-7]*) hr_shared=1 ;; # group, all, world, everybody, true, yes, on
        *)
            hr_m=$((0$2))
            [ "$hr_m" -eq 1 ] || [ "$hr_m" -eq 2 ] || [ $((hr_m & 56)) -ne 0 ] && hr_shared=1
            ;;
    esac
    if [ "$hr_shared" = 1 ]; then
        umask 007
        mkdir -p "$hr_spool" "$hr_state/refused" 2>/dev/null || return 1
        for hr_f in "$hr_state" "$hr_spool" "$hr_state/refused" "$hr_state/hookrelay.log" \
            "$hr_state/accounted"; do
            # Only what this user owns (an earlier, private run's) can be changed.
            if [ -O "$hr_f" ]; then
                if [ -d "$hr_f" ]; then chmod 2770 "$hr_f"; else chmod 660 "$hr_f"; fi
            fi 2>/dev/null
        done
        # The git hook's token: the group's pushes must read it, nobody may change it.
        if [ -O "$hr_state/token" ]; then chmod 640 "$hr_state/token"; fi 2>/dev/null
    fi
    mkdir -p "$hr_spool" "$hr_state/refused" 2>/dev/null || return 1
    rm -rf "$hr_tmp"
    mkdir "$hr_tmp" 2>/dev/null || return 1
    trap 'rm -rf "$hr_tmp"' EXIT
    trap 'exit 1' HUP INT TERM
    hr_stamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    hr_started=$(date +%s)
    # Keep the log small: one older generation.
    if [ -f "$hr_state/hookrelay.log" ] &&
        [ "$(wc -c < "$hr_state/hookrelay.log")" -gt 1048576 ]; then
        mv -f "$hr_state/hookrelay.log" "$hr_state/hookrelay.log.1"
    fi
}

hr_check_config() {  # url and token set and sane; sets hr_format and hr_endpoint
    hr_url=${hr_url%/}
    case $hr_url in
        http://*/services/v3 | https://*/services/v3) hr_format=xml hr_type=application/xml ;;
        http://*/services/v5 | https://*/services/v5) hr_format=json hr_type=application/json ;;
        '') hr_problem="hookrelay is not configured (no URL)"; return 1 ;;
        *) hr_problem="the URL must end in /services/v3 or /services/v5"; return 1 ;;
    esac
    if [ -z "$hr_token" ]; then
        hr_problem="hookrelay is not configured (no token)"
        return 1
    fi
    # The rule of hookrelay.core.tracker_api.is_usable_token: what X-TrackerToken can carry.
    case $hr_token in
        *[!!-~]*)
            hr_problem="the token must be visible ASCII characters with no spaces or controls"
            return 1
            ;;
    esac
    if [ "${#hr_token}" -gt 256 ]; then
        hr_problem="the token must be at most 256 characters"
        return 1
    fi
    case $hr_budget in '' | *[!0-9]*) hr_budget=4 ;; esac
    case $hr_all in true) ;; *) hr_all=false ;; esac
    hr_endpoint=$hr_url/source_commits
}

hr_curl_quoted() {  # a value as a double-quoted string of a curl config file
    printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')"
}

hr_enqueue() {  # $1: a file of commit ids, oldest first, into the spool (once each)
    # One listing of the spool and one awk pass: linear in the size of the push and the spool.
    # The push goes in as one batch file, <stamp>.<pid>.batch, written aside and renamed in
    # (a file a commit costs a big push most of a second on some file systems); the sender
    # makes it into entries. The stamp is the time, or one more than the newest stamp spooled
    # when that is later, so names sort in the order commits were spooled whatever the
    # (wrapping) pids. hookrelay.hooks.spool describes the same layout.
    hr_n=0
    while :; do
        # shellcheck disable=SC2012 # entry names are digits, dots and hex
        LC_ALL=C ls "$hr_spool" > "$hr_tmp/spooled"
        hr_batch=$(LC_ALL=C awk -v t="$(date +%s)" -v p="$$" -v d="$hr_spool" \
            -v spooled="$hr_tmp/spooled" -v out="$hr_tmp/new" -v last="$((hr_n >= 2))" '
            BEGIN {
                while ((getline l < spooled) > 0) {
                    k = split(l, f, ".")
                    if (f[k] == "batch") {
                        while ((r = (getline c < (d "/" l))) > 0) have[c] = 1
                        if (r < 0 && !last) gone = 1
                    } else have[f[k]] = 1
                    if (f[1] ~ /^[0-9]+$/ && f[1] + 0 >= t + 0) t = f[1] + 1
                }
                if (gone) { print "again"; exit }
            }
            /^[0-9a-f]+$/ && !($0 in have) { have[$0] = 1; print > out; n++ }
            END { if (n && !gone) printf "%010d.%07d.batch\n", t, p }
        ' "$1")
        # A batch a sender expanded between the listing and its reading: list again.
        [ "$hr_batch" = again ] || break
        hr_n=$((hr_n + 1))
    done
    [ -n "$hr_batch" ] && mv -f "$hr_tmp/new" "$hr_spool/$hr_batch"
}

hr_expand() {  # make the spool's batches into entries (holding the lock, before sending)
    # Done twice (after a crash) it makes the same names again: nothing is sent twice for it.
    for hr_batch in "$hr_spool"/*.batch; do
        [ -f "$hr_batch" ] || continue
        hr_prefix=${hr_batch##*/}
        LC_ALL=C awk -v p="${hr_prefix%.batch}" '/^[0-9a-f]+$/ { printf "%s.%06d.%s\n", p, NR, $0 }' \
            "$hr_batch" > "$hr_tmp/expanded" || return 1
        if [ -s "$hr_tmp/expanded" ]; then
            (cd "$hr_spool" && xargs touch < "$hr_tmp/expanded") || return 1
        fi
        rm -f "$hr_batch"
    done
}

hr_count() {  # how many commits wait in the spool, as entries and in batches
    # shellcheck disable=SC2012 # entry names are digits, dots and hex
    LC_ALL=C ls "$hr_spool" | LC_ALL=C awk -v d="$hr_spool" '
        /\.batch$/ { while ((getline c < (d "/" $0)) > 0) n++; next }
        /\.[0-9a-f]+$/ { n++ }
        END { print n + 0 }'
}

hr_take_lock() {  # $1: a lock folder. False when another live process holds it
    # The hooks' one lock (hookrelay.hooks.dirlock): mkdir is atomic; the holder's pid inside.
    if mkdir "$1" 2>/dev/null; then
        echo "$$" > "$1/pid"
        return 0
    fi
    hr_holder=$(cat "$1/pid" 2>/dev/null) || hr_holder=
    case $hr_holder in '' | *[!0-9]*) return 1 ;; esac
    # Another user's live hook (a shared repository) cannot be signalled, but is in /proc.
    kill -0 "$hr_holder" 2>/dev/null && return 1
    [ -d "/proc/$hr_holder" ] && return 1
    # The holder died without unlocking (killed, machine reset): take the lock over.
    rm -rf "$1"
    mkdir "$1" 2>/dev/null || return 1
    echo "$$" > "$1/pid"
}

hr_lock() {  # take the spool lock; false when another live hook holds it
    hr_take_lock "$hr_state/lock"
}

hr_unlock() {
    rm -rf "$hr_state/lock"
}

hr_answer_line() {  # $1: an answer file; its start on one line, any copy of the token blanked
    HR_T=$hr_token LC_ALL=C awk '
        BEGIN { t = ENVIRON["HR_T"] }
        { s = s " " $0 }
        END {
            if (t != "") while ((k = index(s, t)) > 0) s = substr(s, 1, k - 1) "[token]" substr(s, k + length(t))
            gsub(/[[:space:][:cntrl:]]+/, " ", s)
            print substr(s, 2, 200)
        }' "$1" 2>/dev/null
}

hr_send_chunk() {  # $1: how many entries, $2: seconds each request may take, $3: seconds the
    # whole chunk may take ('' for no limit). 0: sent, 1: stop sending, 2: the spool is empty
    # shellcheck disable=SC2010,SC2012 # entry names are digits, dots and hex
    LC_ALL=C ls "$hr_spool" | grep -v '\.batch$' | head -n "$1" > "$hr_tmp/chunk"
    [ -s "$hr_tmp/chunk" ] || return 2
    hr_stamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    rm -rf "$hr_tmp/out"
    mkdir "$hr_tmp/out"
    sed 's/^\(.*\)\.\([0-9a-f]*\)$/\2 \1.\2/' "$hr_tmp/chunk" | hr_objects 2>> "$hr_tmp/errors" |
        HR_OUT=$hr_tmp/out HR_FORMAT=$hr_format HR_ALL_COMMITS=$hr_all HR_COMMIT_URL=$hr_commit_url \
            LC_ALL=C awk "$HR_RENDER_AWK" > "$hr_tmp/verdicts" 2>> "$hr_tmp/errors"
    : > "$hr_tmp/done"
    : > "$hr_tmp/curl.cfg"
    hr_q_url=$(hr_curl_quoted "$hr_endpoint")
    hr_q_token=$(hr_curl_quoted "X-TrackerToken: $hr_token")
    # Entry names are digits, dots and hex: safe inside a quoted config value.
    hr_q_data=$(hr_curl_quoted "@$hr_tmp/out")
    hr_q_data=${hr_q_data%\"}
    hr_q_out=$(hr_curl_quoted "$hr_tmp/out")
    hr_q_out=${hr_q_out%\"}
    while read -r hr_entry hr_verdict; do
        case $hr_entry in
            missing)
                hr_log "dropped $hr_verdict: not in the repository"
                set -- "$hr_spool"/*."$hr_verdict"
                rm -f "$@"
                ;;
            *)
                case $hr_verdict in
                    story)
                        # "next" separates transfers; one must not end the file.
                        [ -s "$hr_tmp/curl.cfg" ] && echo next >> "$hr_tmp/curl.cfg"
                        printf '%s\n' "url = $hr_q_url" "header = $hr_q_token" \
                            "header = \"Content-Type: $hr_type\"" "header = \"Accept: $hr_type\"" \
                            "user-agent = \"hookrelay-sh\"" "proto = \"=http,https\"" \
                            "data-binary = $hr_q_data/$hr_entry\"" \
                            "output = $hr_q_out/$hr_entry.answer\"" \
                            "write-out = \"%{http_code} $hr_entry\\n\"" \
                            "connect-timeout = 3" "max-time = $2" >> "$hr_tmp/curl.cfg"
                        ;;
                    *)
                        hr_skipped=$((hr_skipped + 1))
                        echo "$hr_entry" >> "$hr_tmp/done"
                        ;;
                esac
                ;;
        esac
    done < "$hr_tmp/verdicts"
    hr_stop=0
    if [ -s "$hr_tmp/errors" ]; then
        # A commit that could not be read stays spooled; stop so the next run tries again.
        hr_problem="could not read commits ($(head -n 1 "$hr_tmp/errors"))"
        hr_log "waiting: $hr_problem"
        : > "$hr_tmp/errors"
        hr_stop=1
    fi
    if [ -s "$hr_tmp/curl.cfg" ]; then
        hr_run_curl "$3"
        while read -r hr_code hr_entry; do
            hr_id=${hr_entry##*.}
            case $hr_code in
                2??)
                    hr_sent=$((hr_sent + 1))
                    echo "$hr_entry" >> "$hr_tmp/done"
                    hr_log "sent $hr_id: HTTP $hr_code"
                    ;;
                5??)
                    # A commit Tracker fails every time must not hold the rest back forever:
                    # runs that got a 5xx (503, down for everyone, aside) are counted in the
                    # entry; after 10 it is set aside in refused/ and the pass goes on.
                    hr_fails=$(cat "$hr_spool/$hr_entry" 2>/dev/null) || hr_fails=
                    case $hr_fails in '' | *[!0-9]*) hr_fails=0 ;; esac
                    hr_fails=$((hr_fails + 1))
                    hr_reason="HTTP $hr_code: $(hr_answer_line "$hr_tmp/out/$hr_entry.answer")"
                    if [ "$hr_code" != 503 ] && [ "$hr_fails" -ge 10 ]; then
                        hr_refused=$((hr_refused + 1))
                        mv -f "$hr_spool/$hr_entry" "$hr_state/refused/$hr_entry"
                        hr_log "refused $hr_id: gave up after 10 runs: $hr_reason (kept in hookrelay/refused)"
                    else
                        [ "$hr_code" != 503 ] && [ -e "$hr_spool/$hr_entry" ] &&
                            echo "$hr_fails" > "$hr_spool/$hr_entry"
                        hr_stop=1
                        hr_problem="Tracker unavailable ($hr_reason)"
                        hr_log "waiting $hr_id: $hr_problem"
                    fi
                    ;;
                000 | 408 | 425 | 429)
                    hr_stop=1
                    if [ "$hr_code" = 000 ]; then
                        hr_problem="Tracker unreachable (curl: $(head -n 1 "$hr_tmp/curl.err"))"
                    else
                        hr_problem="Tracker unavailable (HTTP $hr_code: $(hr_answer_line "$hr_tmp/out/$hr_entry.answer"))"
                    fi
                    hr_log "waiting $hr_id: $hr_problem"
                    ;;
                *)
                    hr_refused=$((hr_refused + 1))
                    mv -f "$hr_spool/$hr_entry" "$hr_state/refused/$hr_entry"
                    hr_log "refused $hr_id: HTTP $hr_code: $(hr_answer_line "$hr_tmp/out/$hr_entry.answer") (kept in hookrelay/refused)"
                    ;;
            esac
        done < "$hr_tmp/results"
        if [ -e "$hr_tmp/cut" ] && [ "$hr_stop" -eq 0 ]; then
            # The cut post may have reached Tracker: like a timeout, it is sent again later.
            hr_stop=1
            hr_problem="Tracker did not answer within $3 s"
            hr_log "waiting: $hr_problem"
        elif [ "$hr_curl_status" -ne 0 ] && [ "$hr_stop" -eq 0 ]; then
            hr_stop=1
            hr_problem="curl failed: $(head -n 1 "$hr_tmp/curl.err")"
            hr_log "waiting: $hr_problem"
        fi
    fi
    (cd "$hr_spool" && xargs rm -f < "$hr_tmp/done")
    return "$hr_stop"
}

hr_run_curl() {  # $1: seconds the whole run may take ('' for no limit); sets hr_curl_status
    # The token travels in the config file, never on a command line that ps could show.
    # --max-time bounds each transfer; a watcher bounds the run (a second later, so that a
    # transfer's own timeout comes first and curl reports what status it got): a Tracker
    # trickling one answer after another cannot hold a push past the foreground budget.
    rm -f "$hr_tmp/cut" "$hr_tmp/sleep.pid"
    curl -q -s -S --fail-early -K "$hr_tmp/curl.cfg" > "$hr_tmp/results" 2> "$hr_tmp/curl.err" &
    hr_curl_pid=$!
    hr_watch_pid=
    if [ -n "$1" ]; then
        (
            sleep "$1" &
            echo "$!" > "$hr_tmp/sleep.pid"
            wait "$!" || exit 0
            : > "$hr_tmp/cut"
            kill "$hr_curl_pid"
        ) < /dev/null > /dev/null 2>&1 &
        hr_watch_pid=$!
    fi
    wait "$hr_curl_pid"
    hr_curl_status=$?
    if [ -n "$hr_watch_pid" ]; then
        kill "$hr_watch_pid" 2> /dev/null
        hr_sleep_pid=$(cat "$hr_tmp/sleep.pid" 2> /dev/null) && kill "$hr_sleep_pid" 2> /dev/null
    fi
    return 0
}

hr_drain() {  # $1: seconds allowed ('' for no limit). 0: spool empty, 1: stop, 2: hand off
    # Chunks of 1, 2, 4, ... entries, each one curl run over one connection; an answer that
    # stops the pass (5xx, 429, no answer) stops it before the next chunk. In the foreground
    # (a spool of at most HR_FOREGROUND_COMMITS: a bigger one goes to the background at once)
    # at most that many entries go, each chunk within what is left of the budget.
    hr_expand || return 1
    hr_chunk=1
    hr_left=$HR_FOREGROUND_COMMITS
    while :; do
        if [ -n "$1" ]; then
            hr_limit=$(($1 - $(date +%s) + hr_started))
            if [ "$hr_limit" -lt 1 ] || [ "$hr_left" -lt 1 ]; then
                [ -n "$(ls "$hr_spool")" ] && return 2
                return 0
            fi
            [ "$hr_chunk" -gt "$hr_left" ] && hr_chunk=$hr_left
            hr_left=$((hr_left - hr_chunk))
            hr_send_chunk "$hr_chunk" "$hr_limit" $((hr_limit + 1))
        else
            hr_send_chunk "$hr_chunk" "$HR_POST_DEADLINE" ''
        fi
        case $? in
            1) return 1 ;;
            2) return 0 ;;
        esac
        [ "$hr_chunk" -lt 64 ] && hr_chunk=$((hr_chunk * 2))
    done
}

hr_relay() {  # $@: how to re-run this hook in the background. Sends the spool, bounded in time.
    # The budget counts from hr_setup: listing and spooling the commits are part of it.
    hr_budget_now=$hr_budget
    [ "${HOOKRELAY_BACKGROUND-}" = 1 ] && hr_budget_now=
    hr_waiting=$(hr_count)
    if [ -n "$hr_budget_now" ] && { [ "$hr_waiting" -gt "$HR_FOREGROUND_COMMITS" ] ||
        [ $(($(date +%s) - hr_started)) -ge "$hr_budget_now" ]; }; then
        hr_result=3 # a big spool, or no time left: straight to the background
    else
        hr_result=0
        while hr_lock; do
            hr_drain "$hr_budget_now"
            hr_result=$?
            hr_unlock
            [ "$hr_result" = 0 ] || break
            # Another hook may have queued commits while this one held the lock.
            [ -n "$(ls "$hr_spool")" ] || break
        done
    fi
    if [ "$hr_result" = 2 ]; then  # the foreground's share is sent: what is left?
        hr_waiting=$(hr_count)
    fi
    if [ "$hr_result" -ge 2 ] && [ "$hr_waiting" -gt 0 ]; then
        hr_log "handing $hr_waiting commits to the background"
        HOOKRELAY_BACKGROUND=1 nohup "$@" < /dev/null > /dev/null 2>&1 &
        hr_handed_off=1
    fi
    hr_report
}

hr_report() {  # one line for the person who pushed, when something happened
    [ "${HOOKRELAY_BACKGROUND-}" = 1 ] && return 0
    if [ "$hr_handed_off" = 1 ]; then
        echo "hookrelay: $hr_sent sent; the rest goes in the background (see $hr_state/hookrelay.log)" >&2
    elif [ -n "$hr_problem" ]; then
        echo "hookrelay: $hr_sent sent; $hr_problem; the rest is spooled for the next run" >&2
    elif [ "$hr_sent" -gt 0 ] || [ "$hr_refused" -gt 0 ]; then
        echo "hookrelay: $hr_sent sent to Tracker, $hr_refused refused (see $hr_state/hookrelay.log)" >&2
    fi
    return 0
}

# shellcheck disable=SC2317 # the svn hook has no branches, the git hooks do
hr_branch_wanted() {  # $1: a ref name. True when hookrelay.branches lets it through
    [ -z "$hr_branches" ] && return 0
    case $1 in refs/heads/*) ;; *) return 1 ;; esac
    hr_b=${1#refs/heads/}
    set -f
    hr_saved_ifs=$IFS
    IFS=' ,	'
    for hr_p in $hr_branches; do
        # shellcheck disable=SC2254 # the configured pattern is a glob on purpose
        case $hr_b in $hr_p)
            IFS=$hr_saved_ifs
            set +f
            return 0
            ;;
        esac
    done
    IFS=$hr_saved_ifs
    set +f
    return 1
}
