#!/bin/sh
# hookrelay standalone Subversion hook: post-commit.
# hookrelay-form: standalone
#
# Posts each new revision whose log message names a Pivotal Tracker story ("[Finishes #123]")
# to Tracker's source_commits API (v3 XML or v5 JSON, as the URL says), with the revision
# number as commit_id. POSIX sh: needs svnlook, curl and the POSIX text tools, nothing else.
# Install it with
#   hookrelay hooks install svn REPOS --url URL --token TOKEN --standalone
# or copy it to REPOS/hooks/post-commit and write REPOS/conf/hookrelay.conf (mode 0600), with
# `key = value` lines:
#   url        Tracker base URL, ending in /services/v3 or /services/v5
#   token      the API token (sent in X-TrackerToken, never logged)
#   commiturl  optional; the url field, %H replaced by the revision number
#   allcommits optional; true sends revisions that name no story too
#   foregroundseconds  optional (default 4); then the rest is sent in the background
#
# While the committer waits it sends a spool of up to 8 revisions, within that budget; a bigger
# one goes to a background copy of this hook at once. Each post ends within what is left of the
# budget (at least a second), or 30 s in the background, however slowly Tracker answers.
# It never fails or stalls a commit: sends are bounded by timeouts; what Tracker cannot take now
# is spooled in REPOS/hookrelay/spool and sent, oldest first, on the next commit; the log is
# REPOS/hookrelay/hookrelay.log. svnlook runs under the C.UTF-8 locale, so text arrives as
# UTF-8. Commit text only ever flows through files and pipes: it is never expanded by the
# shell, so nothing in a log message or an author name can run.
# A hook that was here before is kept as post-commit.before-hookrelay and run first, with the
# same arguments and standard input; its exit status is this hook's exit status.

#@include common.sh

hr_objects() {  # "<revision> <entry>" lines in, svn records out
    while read -r hr_rev hr_entry; do
        if LC_ALL=C.UTF-8 svnlook author -r "$hr_rev" "$hr_repos" > "$hr_tmp/author" 2> "$hr_tmp/svnlook.err" &&
            LC_ALL=C.UTF-8 svnlook log -r "$hr_rev" "$hr_repos" > "$hr_tmp/log" 2>> "$hr_tmp/svnlook.err"; then
            [ -s "$hr_tmp/author" ] || echo > "$hr_tmp/author"
            hr_size=$(cat "$hr_tmp/author" "$hr_tmp/log" | wc -c)
            printf '%s svn %s %s\n' "$hr_rev" "$((hr_size))" "$hr_entry"
            cat "$hr_tmp/author" "$hr_tmp/log"
            echo
        elif grep -q E160006 "$hr_tmp/svnlook.err"; then
            # svn_error_codes.h: SVN_ERR_FS_NO_SUCH_REVISION
            printf '%s missing\n' "$hr_rev"
        else
            head -n 1 "$hr_tmp/svnlook.err" >&2
        fi
    done
}

hr_svn_conf() {  # $1: a key. Its value in conf/hookrelay.conf; the last line wins
    sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" "$hr_repos/conf/hookrelay.conf" \
        2> /dev/null | sed 's/[[:space:]]*$//' | tail -n 1
}

hr_svn_config() {
    hr_url=$(hr_svn_conf url)
    hr_token=$(hr_svn_conf token)
    hr_commit_url=$(hr_svn_conf commiturl)
    hr_branches=
    case $(hr_svn_conf allcommits) in
        [Tt][Rr][Uu][Ee] | [Yy][Ee][Ss] | [Oo][Nn] | 1) hr_all=true ;;
        *) hr_all=false ;;
    esac
    hr_budget=$(hr_svn_conf foregroundseconds)
    hr_check_config
}

hr_main() {  # $1: the revision just committed
    hr_svn_config || {
        hr_log "nothing sent: $hr_problem"
        echo "hookrelay: nothing sent: $hr_problem" >&2
        return 0
    }
    case $1 in
        '' | *[!0-9]*)
            echo "hookrelay: usage: post-commit REPOS REV [TXN]" >&2
            return 0
            ;;
    esac
    echo "$1" > "$hr_tmp/commits"
    hr_enqueue "$hr_tmp/commits"
    hr_relay "$hr_self" --hookrelay-resend "$hr_repos"
}

hr_status=0
if [ "${1-}" = --hookrelay-resend ]; then
    # The background half of a slow run, or a manual retry: send what the spool holds.
    hr_repos=$(cd "${2-}" 2> /dev/null && pwd -P) && hr_setup "$hr_repos" && hr_svn_config &&
        hr_relay "$hr_self" --hookrelay-resend "$hr_repos"
    exit 0
fi

if [ -x "$hr_self.before-hookrelay" ]; then
    "$hr_self.before-hookrelay" "$@" || hr_status=$?
fi
if hr_repos=$(cd "${1-}" 2> /dev/null && pwd -P) && hr_setup "$hr_repos"; then
    # A subshell, so that nothing in the relay can end this hook early or change its status.
    (hr_main "${2-}") || :
else
    echo "hookrelay: cannot write to the repository's hookrelay folder; nothing sent" >&2
fi
exit "$hr_status"
