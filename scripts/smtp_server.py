"""A real SMTP server for the operator's e-mail tests, on Debian's aiosmtpd (stdlib + aiosmtpd).

Started by scripts/smtp-server; run it with Debian's /usr/bin/python3, for which the
python3-aiosmtpd package is installed:

    /usr/bin/python3 scripts/smtp_server.py --state DIR --port PORT [--require-auth]

DIR must hold cert.pem and key.pem (the STARTTLS certificate) and password (the AUTH password
of user "conferencing"); the server writes to DIR:

  maildir/       every accepted message (mailbox.Maildir, new/), the DATA content byte-exact
                 (CRLF line ends, dot-stuffing removed) after two prepended envelope headers:
                     X-Envelope-From: <MAIL FROM address>\r\n
                     X-Envelope-To: <RCPT TO addresses, comma-separated>\r\n
  server.log     one line per transaction and nothing else (tests count its lines), never a body:
                     2026-11-23T00:40:01 from=a@x to=b@y,c@z size=123 tls=no auth=- result=250
  control.json   fault injection, read by the server (re-read whenever it changed, checked at
                 every MAIL, RCPT and DATA command):
                     {"mode": "accept"}            default (also when the file is absent)
                     {"mode": "reject-permanent"}  "550 5.7.1 rejected for testing" at RCPT TO
                                                   (and at DATA if switched mid-transaction)
                     {"mode": "reject-temporary"}  "451 4.3.0 try again later" at DATA
                     {"mode": "slow", "delay": 5}  accept, after waiting `delay` seconds (default
                                                   3) before answering DATA: a slow relay
                 An empty or unparsable file (e.g. caught mid-rewrite) keeps the previous mode.

STARTTLS is offered (never required); AUTH PLAIN and LOGIN are accepted only after STARTTLS and
are optional unless --require-auth is given. Warnings go to stderr (stderr.log), never to
server.log.
"""

import argparse
import asyncio
import json
import mailbox
import os
import signal
import ssl
import sys
import logging
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER = "conferencing"
MODES = ("accept", "reject-permanent", "reject-temporary", "slow")
REJECT_PERMANENT = "550 5.7.1 rejected for testing"
REJECT_TEMPORARY = "451 4.3.0 try again later"
# A file changed this recently may change again within the file system's timestamp
# granularity without its (mtime, size) changing, so it is read again until it is older.
RACY_NS = 2_000_000_000


def warn(text):
    print("smtp_server: " + text, file=sys.stderr, flush=True)


class Control:
    """The fault-injection mode from control.json, re-read only when the file changed."""

    def __init__(self, path):
        self.path = path
        self.key = None
        self.mode = "accept"
        self.delay = 3.0

    def get(self):
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self.key, self.mode = None, "accept"
            return self.mode
        except OSError as e:
            warn("control file: %s; keeping mode %s" % (e, self.mode))
            return self.mode
        key = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if key == self.key and time.time_ns() - st.st_mtime_ns > RACY_NS:
            return self.mode
        try:
            with open(self.path, "rb") as f:
                data = json.loads(f.read())
            mode = data.get("mode", "accept")
            delay = float(data.get("delay", 3))
        except (OSError, ValueError, AttributeError, TypeError):
            # Most likely caught between truncate and write: keep the mode, read it again next time.
            return self.mode
        if mode not in MODES:
            if mode != self.mode:
                warn("control file: unknown mode %r, accepting" % (mode,))
            mode = "accept"
        self.key, self.mode, self.delay = key, mode, delay
        return mode


class Handler:
    def __init__(self, state):
        self.maildir = mailbox.Maildir(os.path.join(state, "maildir"), create=True)
        self.control = Control(os.path.join(state, "control.json"))
        self.log = open(os.path.join(state, "server.log"), "a", buffering=1)

    def note(self, session, envelope, to, result):
        self.log.write("%s from=%s to=%s size=%d tls=%s auth=%s result=%s\n" % (
            time.strftime("%Y-%m-%dT%H:%M:%S"), envelope.mail_from or "<>", ",".join(to) or "-",
            len(envelope.original_content or b""), "yes" if session.ssl is not None else "no",
            session.auth_data if session.authenticated else "-", result))

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.control.get()  # picks up a change early; the decisions are at RCPT and DATA
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.control.get() == "reject-permanent":
            self.note(session, envelope, [address], "550")
            return REJECT_PERMANENT
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        mode = self.control.get()
        if mode == "reject-permanent":
            self.note(session, envelope, envelope.rcpt_tos, "550")
            return REJECT_PERMANENT
        if mode == "reject-temporary":
            self.note(session, envelope, envelope.rcpt_tos, "451")
            return REJECT_TEMPORARY
        if mode == "slow":
            await asyncio.sleep(self.control.delay)
        head = "X-Envelope-From: %s\r\nX-Envelope-To: %s\r\n" % (
            envelope.mail_from, ",".join(envelope.rcpt_tos))
        try:
            # Maildir.add writes to tmp/ and renames into new/: a reader never sees half a message.
            key = self.maildir.add(head.encode("utf-8", "surrogateescape") + envelope.original_content)
        except OSError as e:
            warn("storing a message failed: %s" % e)
            self.note(session, envelope, envelope.rcpt_tos, "451")
            return "451 4.3.0 could not store the message"
        self.note(session, envelope, envelope.rcpt_tos, "250")
        return "250 2.0.0 OK stored as %s" % key


def authenticator(password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == USER.encode() and auth_data.password == password.encode())
        if ok:
            return AuthResult(success=True, auth_data=USER)
        # handled=False: aiosmtpd answers 535 5.7.8. (AuthResult's default, handled=True, means
        # "the reply was already sent", and the client would get no answer at all.)
        return AuthResult(success=False, handled=False)
    return check


def main():
    # aiosmtpd 1.4 itself sets the deprecated Session.login_data on every AUTH, and logs a warning.
    logging.getLogger("mail.log").addFilter(
        lambda record: "login_data is deprecated" not in record.getMessage())
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--state", required=True, help="state directory (see above)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--require-auth", action="store_true", help="make AUTH mandatory for MAIL")
    a = p.parse_args()
    with open(os.path.join(a.state, "password")) as f:
        password = f.read().strip()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(os.path.join(a.state, "cert.pem"), os.path.join(a.state, "key.pem"))
    controller = Controller(
        Handler(a.state), hostname=a.host, port=a.port,
        # The name in the greeting and EHLO reply; the default, socket.getfqdn(), may wait on DNS.
        server_hostname="localhost",
        tls_context=tls, require_starttls=False,
        authenticator=authenticator(password), auth_required=a.require_auth, auth_require_tls=True,
        enable_SMTPUTF8=True)
    # Binds (asyncio sets SO_REUSEADDR, so the port is free again right after a stop) and waits
    # until the server answers; raises, so the process exits non-zero, if it cannot.
    controller.start()
    print("smtp_server: listening on %s:%d (pid %d, auth %s)" % (
        a.host, a.port, os.getpid(), "required" if a.require_auth else "optional"),
        file=sys.stderr, flush=True)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    loop.run_until_complete(stop.wait())
    controller.stop()
    print("smtp_server: stopped", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
