#!/bin/sh
# hookrelay standalone git hook: post-receive (on a server) and post-commit (on a laptop).
# hookrelay-form: standalone
#
# Posts each new commit whose message names a Pivotal Tracker story ("[Finishes #123]") to
# Tracker's source_commits API (v3 XML or v5 JSON, as the URL says). POSIX sh: needs git, curl
# and the POSIX text tools (awk, sed, sort), nothing else. The same file serves both hooks; it
# reads its job from its own name. Install it with
#   hookrelay hooks install git REPO --url URL --token TOKEN --standalone
# or copy it to hooks/post-receive (or post-commit), put the API token, one line, in the
# file hookrelay/token of the git folder (mode 0600, or 0640 in a repository shared with a
# group; never in the config, which anyone may read; sent in X-TrackerToken, never logged)
# and set, with `git config`:
#   hookrelay.url        Tracker base URL, ending in /services/v3 or /services/v5
#   hookrelay.commiturl  optional; the url field, %H replaced by the commit hash
#   hookrelay.branches   optional; branch globs to relay (space or comma separated)
#   hookrelay.allcommits optional; true sends commits that name no story too
#   hookrelay.foregroundseconds  optional (default 4); then the rest is sent in the background
#
# While the pusher waits it sends a spool of up to 8 commits, within that budget; a bigger one
# goes to a background copy of this hook at once. Each post ends within what is left of the
# budget (at least a second), or 30 s in the background, however slowly Tracker answers.
# It never fails or stalls a push: sends are bounded by timeouts; what Tracker cannot take now
# is spooled in $GIT_DIR/hookrelay/spool and sent, oldest first, on the next run; the log is
# $GIT_DIR/hookrelay/hookrelay.log. Commit text only ever flows through files and pipes: it is
# never expanded by the shell, so nothing in a message or an author name can run.
# A hook that was here before is kept as <hook>.before-hookrelay and run first, with the same
# arguments and standard input; its exit status is this hook's exit status.

#@include common.sh

hr_objects() {  # "<hash> <entry>" lines in, commit records out
    git cat-file --batch='%(objectname) %(objecttype) %(objectsize) %(rest)'
}

hr_read_git_config() {  # hookrelay.* and core.sharedRepository, with one git process
    hr_url='' hr_config_token='' hr_commit_url='' hr_branches='' hr_budget='' hr_sharing=''
    hr_all=false
    hr_config=$(git config --get-regexp '^(hookrelay\.|core\.sharedrepository$)') || hr_config=
    # Keys come lower-cased; the last value of a key wins, as with --get; values are one line.
    while read -r hr_key hr_value; do
        case $hr_key in
            hookrelay.url) hr_url=$hr_value ;;
            hookrelay.token) hr_config_token=$hr_value ;;
            hookrelay.commiturl) hr_commit_url=$hr_value ;;
            hookrelay.branches) hr_branches=$hr_value ;;
            hookrelay.foregroundseconds) hr_budget=$hr_value ;;
            hookrelay.allcommits)
                case $hr_value in
                    '' | [Tt][Rr][Uu][Ee] | [Yy][Ee][Ss] | [Oo][Nn] | 1) hr_all=true ;;
                    *) hr_all=false ;;
                esac
                ;;
            core.sharedrepository) hr_sharing=$hr_value ;;
        esac
    done <<EOF
$hr_config
EOF
}

hr_git_config() {  # the settings read, with the token; sane or not (hr_problem)
    # The token is in $GIT_DIR/hookrelay/token (0600), not in the repository's 0644 config;
    # hookrelay.token is read only where an install older than that file left it.
    hr_token=$hr_config_token
    if [ -f "$hr_state/token" ]; then
        IFS= read -r hr_token < "$hr_state/token" || :
    fi
    hr_check_config
}

hr_accounted_lock() {  # the accounted-tips lock: waits about 10 s at most, then goes on without
    hr_accounted_locked=0
    hr_n=0
    until hr_take_lock "$hr_state/accounted.lock"; do
        hr_n=$((hr_n + 1))
        [ "$hr_n" -gt 200 ] && return 0
        sleep 0.05 2>/dev/null || sleep 1
    done
    hr_accounted_locked=1
}

hr_new_commits() {  # ref updates on stdin; prints the commits new to the repository, oldest first
    # New means reachable from an updated branch and from no tip already accounted for: the
    # old value of every updated ref and the record in $hr_state/accounted (the tips earlier
    # pushes brought; seeded on the first run from the refs this push left alone). Not the refs
    # as they stand: two pushes landing at once would each see the other's ref moved and
    # neither send a shared commit, and a branch deleted and pushed again would be sent again.
    # The record keeps the tips that are still ref tips, and the newest 1000 others.
    hr_updated=' '
    : > "$hr_tmp/olds"
    : > "$hr_tmp/include"
    while read -r hr_old hr_new hr_ref; do
        hr_updated="$hr_updated$hr_ref "
        hr_branch_wanted "$hr_ref" || continue
        case $hr_old in *[!0]*) printf '%s\n' "$hr_old" >> "$hr_tmp/olds" ;; esac
        case $hr_ref in
            refs/heads/*) case $hr_new in *[!0]*) printf '%s\n' "$hr_new" >> "$hr_tmp/include" ;; esac ;;
        esac
    done
    hr_accounted_lock
    hr_listed=0
    if git for-each-ref --format='%(objectname) %(refname)' > "$hr_tmp/refs"; then
        if [ -f "$hr_state/accounted" ]; then
            LC_ALL=C awk '/^[0-9a-f]+$/ && length($0) >= 40' "$hr_state/accounted" > "$hr_tmp/record"
        else
            while read -r hr_obj hr_ref; do
                case $hr_updated in *" $hr_ref "*) continue ;; esac
                hr_branch_wanted "$hr_ref" && printf '%s\n' "$hr_obj"
            done < "$hr_tmp/refs" > "$hr_tmp/record"
        fi
        if [ -s "$hr_tmp/include" ]; then
            # A deleted branch's commits may be gone: only what the repository has is excluded.
            cat "$hr_tmp/record" "$hr_tmp/olds" |
                git cat-file --batch-check='%(objectname) %(objecttype)' |
                LC_ALL=C awk '$2 != "missing" { print "^" $1 }' > "$hr_tmp/revs" &&
                cat "$hr_tmp/include" >> "$hr_tmp/revs" &&
                git rev-list --reverse --topo-order --stdin < "$hr_tmp/revs" && hr_listed=1
        else
            hr_listed=1
        fi
    fi
    if [ "$hr_listed" = 1 ]; then
        # shellcheck disable=SC2016 # an awk program: its $ are awk's
        cat "$hr_tmp/record" "$hr_tmp/olds" "$hr_tmp/include" |
            HR_REFS=$hr_tmp/refs LC_ALL=C awk -v keep=1000 '
                BEGIN { while ((getline l < ENVIRON["HR_REFS"]) > 0) { split(l, f, " "); live[f[1]] = 1 } }
                /^[0-9a-f]+$/ && length($0) >= 40 && /[1-9a-f]/ { n++; at[$0] = n; h[n] = $0 }
                END {
                    for (i = n; i >= 1; i--)
                        if (at[h[i]] == i && !(h[i] in live) && ++others <= keep) ok[i] = 1
                    for (i = 1; i <= n; i++)
                        if (at[h[i]] == i && ((h[i] in live) || (i in ok))) print h[i]
                }' > "$hr_state/accounted.$$" && mv -f "$hr_state/accounted.$$" "$hr_state/accounted"
    fi
    [ "$hr_accounted_locked" = 1 ] && rm -rf "$hr_state/accounted.lock"
    [ "$hr_listed" = 1 ]
}

hr_main() {  # $1: post-receive or post-commit
    hr_git_config || {
        hr_log "nothing sent: $hr_problem"
        echo "hookrelay: nothing sent: $hr_problem" >&2
        return 0
    }
    if [ "$1" = post-receive ]; then
        hr_new_commits < "$hr_tmp/stdin" > "$hr_tmp/commits" 2>> "$hr_tmp/errors"
    else
        : > "$hr_tmp/commits"
        hr_head=$(git rev-parse -q --verify HEAD) || return 0
        hr_ref=$(git symbolic-ref -q HEAD) || hr_ref=HEAD
        hr_branch_wanted "$hr_ref" && echo "$hr_head" > "$hr_tmp/commits"
    fi
    if [ -s "$hr_tmp/errors" ]; then
        hr_log "error listing new commits: $(head -n 1 "$hr_tmp/errors")"
        : > "$hr_tmp/errors"
    fi
    hr_enqueue "$hr_tmp/commits"
    hr_relay "$hr_self" --hookrelay-resend
}

hr_status=0
case $hr_hook in
    post-commit*) hr_job=post-commit ;;
    *) hr_job=post-receive ;;
esac
hr_read_git_config
hr_git_dir=$(git rev-parse --git-common-dir 2>/dev/null) &&
    hr_git_dir=$(cd "$hr_git_dir" && pwd -P) &&
    hr_setup "$hr_git_dir" "$hr_sharing"
hr_ready=$?

if [ "${1-}" = --hookrelay-resend ]; then
    # The background half of a big push, or a manual retry: send what the spool holds.
    [ "$hr_ready" -eq 0 ] && hr_git_config && hr_relay "$hr_self" --hookrelay-resend
    exit 0
fi

if [ "$hr_ready" -ne 0 ]; then
    echo "hookrelay: cannot write to the repository's hookrelay folder; nothing sent" >&2
    [ -x "$hr_self.before-hookrelay" ] && exec "$hr_self.before-hookrelay" "$@"
    exit 0
fi
if [ "$hr_job" = post-receive ]; then
    cat > "$hr_tmp/stdin"
    if [ -x "$hr_self.before-hookrelay" ]; then
        "$hr_self.before-hookrelay" "$@" < "$hr_tmp/stdin" || hr_status=$?
    fi
elif [ -x "$hr_self.before-hookrelay" ]; then
    "$hr_self.before-hookrelay" "$@" || hr_status=$?
fi
# A subshell, so that nothing in the relay can end this hook early or change its status.
(hr_main "$hr_job") || :
exit "$hr_status"
