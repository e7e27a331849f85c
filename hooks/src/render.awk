BEGIN {
    for (i = 1; i < 256; i++) ORD[sprintf("%c", i)] = i
    FFFD = "\357\277\275"
    Q = sprintf("%c", 39)
    json = ENVIRON["HR_FORMAT"] == "json"
    all = ENVIRON["HR_ALL_COMMITS"] == "true"
    if (json) {
        ESC["\""] = "\\\""; ESC["\\"] = "\\\\"; ESC["\n"] = "\\n"; ESC["\r"] = "\\r"
        ESC["\t"] = "\\t"
    } else {
        ESC["&"] = "&amp;"; ESC["<"] = "&lt;"; ESC[">"] = "&gt;"; ESC["\""] = "&quot;"
        ESC[Q] = "&apos;"; ESC["\r"] = "&#13;"
    }
    want = 0
}
want == 0 {
    split($0, h, " ")
    if (h[2] == "missing" || h[3] == "") { print "missing", h[1]; next }
    id = h[1]; kind = h[2]; want = h[3] + 1; entry = h[4]; nl = 0
    next
}
{
    L[++nl] = $0
    want -= length($0) + 1
    if (want <= 0) { want = 0; finish() }
}
function finish(   i, start, last, author, enc, seen, t, url, A, I, U) {
    if (kind == "commit") {
        author = ""; enc = ""; seen = 0
        for (i = 1; i <= nl && L[i] != ""; i++) {
            if (!seen && substr(L[i], 1, 7) == "author ") { seen = 1; author = substr(L[i], 8) }
            else if (substr(L[i], 1, 9) == "encoding ") enc = substr(L[i], 10)
        }
        start = i + 1
        t = last_index(author, " <")
        if (t) author = substr(author, 1, t - 1)
    } else if (kind == "svn") {
        author = L[1]; enc = ""; start = 2
    } else { print entry, "skip"; return }
    for (last = nl; last >= start; last--) {
        t = L[last]; sub(/\r+$/, "", t)
        if (t != "") { L[last] = t; break }
    }
    enc = tolower(enc)
    latin = (enc == "iso-8859-1" || enc == "iso8859-1" || enc == "iso_8859-1" || enc == "iso88591" || enc == "latin1" || enc == "latin-1" || enc == "l1" || enc == "cp819")
    url = ENVIRON["HR_COMMIT_URL"]; gsub(/%H/, id, url)
    A = field(author, latin); I = field(id, 0); U = field(url, 0)
    file = ENVIRON["HR_OUT"] "/" entry
    if (json) printf "{\"source_commit\":{\"commit_id\":\"%s\",\"message\":\"", I > file
    else printf "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<source_commit><message>" > file
    tostr = 0; wantplain = 1; obuf = ""; pbuf = ""; pn = 0
    for (i = start; i <= last; i++) {
        if (i > start) chr("\n", 10)
        text(L[i], latin)
    }
    printf "%s", obuf > file
    if (json) printf "\",\"author\":\"%s\",\"url\":\"%s\"}}", A, U > file
    else printf "</message><author>%s</author><commit_id>%s</commit_id><url>%s</url></source_commit>", A, I, U > file
    close(file)
    print entry, ((all || names_story(plain_text())) ? "story" : "skip")
    split("", L)
}
function field(s, latin) {
    tostr = 1; wantplain = 0; sbuf = ""
    text(s, latin)
    tostr = 0
    return sbuf
}
function put(x) {
    if (tostr) { sbuf = sbuf x; return }
    obuf = obuf x
    if (length(obuf) >= 512) { printf "%s", obuf > file; obuf = "" }
}
function plain(x) {
    pbuf = pbuf x
    if (length(pbuf) >= 512) { PP[++pn] = pbuf; pbuf = "" }
}
function plain_text(   r, k) {
    r = ""
    for (k = 1; k <= pn; k++) r = r PP[k]
    return r pbuf
}
function text(s, latin,   n, i, b, need, cp, lo, hi, j, k, ok, b2) {
    if (s !~ /[^ -~]/ && !index(s, "&") && !index(s, "<") && !index(s, ">") && !index(s, "\"") && !index(s, "\\") && !index(s, Q)) {
        put(s)
        if (wantplain) plain(s)
        return
    }
    n = length(s); i = 1
    while (i <= n) {
        b = ORD[substr(s, i, 1)]
        if (b < 128) { chr(substr(s, i, 1), b); i++; continue }
        if (latin) { chr(sprintf("%c%c", 192 + int(b / 64), 128 + b % 64), b); i++; continue }
        lo = 128; hi = 191
        if (b >= 194 && b <= 223) { need = 1; cp = b - 192 }
        else if (b == 224) { need = 2; cp = 0; lo = 160 }
        else if (b == 237) { need = 2; cp = 13; hi = 159 }
        else if (b >= 225 && b <= 239) { need = 2; cp = b - 224 }
        else if (b == 240) { need = 3; cp = 0; lo = 144 }
        else if (b >= 241 && b <= 243) { need = 3; cp = b - 240 }
        else if (b == 244) { need = 3; cp = 4; hi = 143 }
        else { chr(FFFD, 65533); i++; continue }
        j = i + 1; ok = 1
        for (k = 0; k < need; k++) {
            if (j > n) { ok = 0; break }
            b2 = ORD[substr(s, j, 1)]
            if (b2 < lo || b2 > hi) { ok = 0; break }
            cp = cp * 64 + b2 - 128; lo = 128; hi = 191; j++
        }
        if (ok) chr(substr(s, i, j - i), cp)
        else chr(FFFD, 65533)
        i = j
    }
}
function chr(c, cp) {
    if (cp < 32 ? (cp != 9 && cp != 10 && cp != 13) : (cp == 65534 || cp == 65535)) {
        c = FFFD; cp = 65533
    }
    if (wantplain) {
        if (cp == 9 || cp == 10 || cp == 13 || cp == 133 || cp == 160 || cp == 5760 || (cp >= 8192 && cp <= 8202) || cp == 8232 || cp == 8233 || cp == 8239 || cp == 8287 || cp == 12288) plain(" ")
        else if (cp < 128) plain(c)
        else plain("x")
    }
    put((c in ESC) ? ESC[c] : c)
}
function last_index(s, t,   at, k) {
    at = 0
    while ((k = index(substr(s, at + 1), t)) > 0) at += k
    return at
}
function names_story(s,   np, pieces, k, content, nt, toks, t, d) {
    np = split(s, pieces, "]")
    for (k = 1; k < np; k++) {
        if (!match(pieces[k], /\[[^[]*$/)) continue
        content = substr(pieces[k], RSTART + 1)
        nt = split(content, toks, "[ ,&]+")
        for (t = 1; t <= nt; t++) {
            if (toks[t] ~ /^#+[0-9]+#*$/) {
                d = toks[t]; gsub(/#/, "", d)
                if (length(d) <= 4300) return 1
            }
        }
    }
    return 0
}
