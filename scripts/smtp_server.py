"""A real SMTP server for the operator's e-mail tests, on Debian's aiosmtpd.

Stores every accepted message in a Maildir with the envelope prepended as X-Envelope-From and
X-Envelope-To headers; offers STARTTLS; accepts optional AUTH (PLAIN, LOGIN) over TLS; and
injects faults from a control file re-read on every transaction:
    {"mode": "accept"}            (default)
    {"mode": "reject-permanent"}  550 at RCPT TO
    {"mode": "reject-temporary"}  451 at DATA
Logs one line per transaction (never the body) to server.log in the state directory.
"""

import argparse
import asyncio
import json
import mailbox
import os
import signal
import ssl
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, state, maildir):
        self.state = state
        self.maildir = mailbox.Maildir(maildir, create=True)
        self.log = open(os.path.join(state, "server.log"), "a", buffering=1)

    def mode(self):
        try:
            with open(os.path.join(self.state, "control.json")) as f:
                return json.load(f).get("mode", "accept")
        except (OSError, ValueError):
            return "accept"

    def note(self, envelope, result):
        self.log.write("%s from=%s to=%s size=%d result=%s\n" % (
            time.strftime("%Y-%m-%dT%H:%M:%S"), envelope.mail_from, ",".join(envelope.rcpt_tos),
            len(envelope.content or b""), result))

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.mode() == "reject-permanent":
            self.note(envelope, "550")
            return "550 5.7.1 rejected for testing"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.mode() == "reject-temporary":
            self.note(envelope, "451")
            return "451 4.3.0 try again later"
        head = ("X-Envelope-From: %s\r\nX-Envelope-To: %s\r\n" % (
            envelope.mail_from, ",".join(envelope.rcpt_tos))).encode()
        self.maildir.add(head + envelope.original_content)
        self.note(envelope, "250")
        return "250 Message accepted for delivery"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
            and auth_data.password.decode() == password
        return AuthResult(success=ok)
    return check


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--state", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--require-auth", action="store_true")
    a = p.parse_args()
    with open(os.path.join(a.state, "password")) as f:
        password = f.read().strip()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(os.path.join(a.state, "cert.pem"), os.path.join(a.state, "key.pem"))
    handler = Handler(a.state, os.path.join(a.state, "maildir"))
    controller = Controller(
        handler, hostname="127.0.0.1", port=a.port, tls_context=tls, require_starttls=False,
        authenticator=authenticator("conferencing", password), auth_required=a.require_auth,
        auth_require_tls=True, server_hostname="localhost")
    controller.start()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.run_until_complete(stop.wait())
    controller.stop()


if __name__ == "__main__":
    main()
