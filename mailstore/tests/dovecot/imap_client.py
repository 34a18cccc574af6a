#!/usr/bin/env python3
"""IMAP client for mailstore/tests/dovecot_interop.rs, built on the standard imaplib only.

Usage:
    imap_client.py dump  HOST PORT USER PASSWORD
    imap_client.py apply HOST PORT USER PASSWORD SPEC_FILE
    imap_client.py select HOST PORT USER PASSWORD     (SELECT INBOX read-write, then dump)

`apply` first runs the operations of SPEC_FILE (one a line, fields separated by tabs,
mailbox names in UTF-8, bodies in hex):

    CREATE  <mailbox>
    APPEND  <mailbox> <flags, space separated> <internal date, epoch seconds> <hex body>
    STORE   <mailbox> #<n> <+FLAGS|-FLAGS|FLAGS> <flags, space separated>
    EXPUNGE <mailbox>
    SUBSCRIBE <mailbox>

where `#<n>` is the message of the n-th APPEND (counting from 0), and prints
`APPENDED <mailbox> <uidvalidity> <uid>` for every APPEND (from its APPENDUID).
Both modes then print what the server shows, tab separated, mailbox names decoded to UTF-8:

    MAILBOX <name as sent on the wire> <decoded name> <LIST attributes>
    SUBSCRIBED <decoded name>                       (from LSUB)
    STATUS  <mailbox> <uidvalidity> <uidnext> <messages>
    RECENT  <mailbox> <number of \\Recent messages, from EXAMINE>
    MESSAGE <mailbox> <uid> <flags without \\Recent> <RFC822.SIZE> <INTERNALDATE, epoch> <hex body>
    END

Everything goes through EXAMINE (read-only) and BODY.PEEK[], so dumping changes nothing.
"""

import base64
import datetime
import imaplib
import re
import sys


def mutf7_encode(name):
    """RFC 3501 5.1.3 modified UTF-7."""
    out, pending = [], []

    def flush():
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            text = base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",")
            out.append("&" + text + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


def mutf7_decode(name):
    out, i = [], 0
    while i < len(name):
        if name[i] == "&":
            end = name.index("-", i)
            if end == i + 1:
                out.append("&")
            else:
                text = name[i + 1 : end].replace(",", "/")
                text += "=" * (-len(text) % 4)
                out.append(base64.b64decode(text).decode("utf-16-be"))
            i = end + 1
        else:
            out.append(name[i])
            i += 1
    return "".join(out)


def quote(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def check(response, what):
    typ, data = response
    if typ != "OK":
        raise SystemExit("%s failed: %s %r" % (what, typ, data))
    return data


def emit(*fields):
    line = "\t".join(str(field) for field in fields) + "\n"
    sys.stdout.buffer.write(line.encode("utf-8"))


LIST_LINE = re.compile(rb'^\((?P<attrs>[^)]*)\) (?P<sep>"(?:[^"\\]|\\.)*"|NIL) (?P<name>.+)$')


def list_mailboxes(imap, command="LIST"):
    mailboxes = []
    listing = imap.lsub('""', "*") if command == "LSUB" else imap.list('""', "*")
    for item in check(listing, command):
        if item is None:  # no mailboxes at all
            continue
        match = LIST_LINE.match(item) if isinstance(item, bytes) else None
        if match is None:
            raise SystemExit("unexpected %s response %r" % (command, item))
        raw = match.group("name")
        if raw.startswith(b'"'):
            raw = re.sub(rb"\\(.)", rb"\1", raw[1:-1])
        wire = raw.decode("ascii")
        attrs = match.group("attrs").decode("ascii")
        mailboxes.append((wire, attrs))
    return mailboxes


FETCH_ITEMS = {
    "uid": re.compile(rb"\bUID (\d+)"),
    "flags": re.compile(rb"\bFLAGS \(([^)]*)\)"),
    "size": re.compile(rb"\bRFC822\.SIZE (\d+)"),
    "date": re.compile(rb'\bINTERNALDATE "([^"]+)"'),
}


def internaldate_epoch(text):
    date = datetime.datetime.strptime(text.decode("ascii"), "%d-%b-%Y %H:%M:%S %z")
    return int(date.timestamp())


def dump_mailbox(imap, wire, name):
    exists = int(check(imap.select(quote(wire), readonly=True), "EXAMINE " + name)[-1])
    validity = imap.response("UIDVALIDITY")[1][-1].decode("ascii")
    uidnext = imap.response("UIDNEXT")[1][-1].decode("ascii")
    emit("STATUS", name, validity, uidnext, exists)
    recent = imap.response("RECENT")[1]
    emit("RECENT", name, int(recent[-1]) if recent and recent[-1] is not None else 0)
    if exists == 0:
        return
    data = check(
        imap.uid("FETCH", "1:*", "(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[])"),
        "UID FETCH in " + name,
    )
    count = 0
    for index, item in enumerate(data):
        if not isinstance(item, tuple):
            continue
        header, body = item
        # Items after the literal (if any) arrive in the next, plain, element.
        trailer = data[index + 1] if index + 1 < len(data) and isinstance(data[index + 1], bytes) else b""
        text = header + b" " + trailer
        found = {}
        for key, pattern in FETCH_ITEMS.items():
            match = pattern.search(text)
            if match is None:
                raise SystemExit("FETCH response without %s: %r" % (key, text))
            found[key] = match.group(1)
        flags = [flag for flag in found["flags"].decode("ascii").split() if flag != "\\Recent"]
        emit(
            "MESSAGE",
            name,
            int(found["uid"]),
            " ".join(flags),
            int(found["size"]),
            internaldate_epoch(found["date"]),
            body.hex(),
        )
        count += 1
    if count != exists:
        raise SystemExit("%s: EXISTS %d but %d messages fetched" % (name, exists, count))


def dump(imap):
    for wire, attrs in list_mailboxes(imap):
        name = mutf7_decode(wire)
        emit("MAILBOX", wire, name, attrs)
        lowered = attrs.lower()
        if "\\noselect" in lowered or "\\nonexistent" in lowered:
            continue
        dump_mailbox(imap, wire, name)
    for wire, _ in list_mailboxes(imap, "LSUB"):
        emit("SUBSCRIBED", mutf7_decode(wire))
    emit("END")


APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")


def apply(imap, spec_path):
    with open(spec_path, "rb") as spec:
        lines = spec.read().decode("utf-8").splitlines()
    appended = []
    for line in lines:
        fields = line.split("\t")
        op = fields[0]
        if op == "CREATE":
            check(imap.create(quote(mutf7_encode(fields[1]))), line)
        elif op == "APPEND":
            name, flags, epoch, body = fields[1], fields[2], int(fields[3]), bytes.fromhex(fields[4])
            data = check(
                imap.append(
                    quote(mutf7_encode(name)),
                    "(" + flags + ")",
                    imaplib.Time2Internaldate(epoch),
                    body,
                ),
                "APPEND to " + name,
            )
            match = APPENDUID.search(data[0])
            if match is None:
                raise SystemExit("APPEND without APPENDUID: %r" % (data,))
            appended.append(match.group(2).decode("ascii"))
            emit("APPENDED", name, int(match.group(1)), int(match.group(2)))
        elif op == "STORE":
            name, what, flags = fields[1], fields[3], fields[4]
            uid = appended[int(fields[2].lstrip("#"))]
            check(imap.select(quote(mutf7_encode(name))), "SELECT " + name)
            check(imap.uid("STORE", uid, what, "(" + flags + ")"), line)
            check(imap.close(), "CLOSE " + name)
        elif op == "EXPUNGE":
            check(imap.select(quote(mutf7_encode(fields[1]))), "SELECT " + fields[1])
            check(imap.expunge(), line)
            check(imap.close(), "CLOSE " + fields[1])
        elif op == "SUBSCRIBE":
            check(imap.subscribe(quote(mutf7_encode(fields[1]))), line)
        else:
            raise SystemExit("unknown operation %r" % op)


def main():
    mode, host, port, user, password = sys.argv[1:6]
    imap = imaplib.IMAP4(host, int(port), timeout=60)
    check(imap.login(user, password), "LOGIN")
    if mode == "apply":
        apply(imap, sys.argv[6])
    elif mode == "select":
        check(imap.select("INBOX"), "SELECT INBOX")
        check(imap.close(), "CLOSE INBOX")
    elif mode != "dump":
        raise SystemExit("unknown mode %r" % mode)
    dump(imap)
    imap.logout()


if __name__ == "__main__":
    main()
