"""A local SMTP server for the notify tests: aiosmtpd (Debian's
python3-aiosmtpd) storing every message in a Maildir, with STARTTLS and
PLAIN/LOGIN authentication when a certificate and a user are given.

    smtpd.py PORT MAILDIR [CERT KEY USER PASSWORD]

Prints "ready" once it listens, and stops when its standard input closes.
"""
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword


def main():
    port, maildir = int(sys.argv[1]), sys.argv[2]
    kwargs = {}
    if len(sys.argv) > 3:
        cert, key, user, password = sys.argv[3:7]
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)

        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword)
                  and auth_data.login == user.encode()
                  and auth_data.password == password.encode())
            return AuthResult(success=ok, handled=False)

        kwargs = dict(tls_context=ctx, require_starttls=True,
                      authenticator=authenticate, auth_require_tls=True)
    controller = Controller(Mailbox(maildir), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()
    controller.stop()


main()
