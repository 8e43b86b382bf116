"""A local SMTP receiver for keyway's tests (aiosmtpd): listens on 127.0.0.1 and a free
port, offers STARTTLS with the certificate and key given and requires it before mail,
optionally requires AUTH PLAIN/LOGIN with one user and password, and writes each message
it gets to DIR as a file. Prints `PORT <n>` once it listens; stops when stdin closes.

    python smtp-receiver.py DIR CERT.pem KEY.pem [USER PASSWORD]
"""

import os
import socket
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

out_dir, cert, key = sys.argv[1:4]
credentials = tuple(sys.argv[4:6]) if len(sys.argv) >= 6 else None


class Keep:
    count = 0

    async def handle_DATA(self, server, session, envelope):
        Keep.count += 1
        path = os.path.join(out_dir, f"{Keep.count:04}.eml")
        with open(path + ".part", "wb") as f:
            f.write(f"X-Envelope-From: {envelope.mail_from}\r\n".encode())
            f.write(f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n".encode())
            f.write(f"X-Was-Tls: {session.ssl is not None}\r\n".encode())
            f.write(envelope.original_content)
        os.rename(path + ".part", path)
        return "250 kept"


def authenticate(server, session, envelope, mechanism, auth_data):
    if credentials is None:
        return AuthResult(success=True)
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login.decode(), auth_data.password.decode()) == credentials
    return AuthResult(success=ok, handled=False)


context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)

with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]

controller = Controller(
    Keep(), hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
    authenticator=authenticate, auth_require_tls=True,
    auth_required=credentials is not None)
controller.start()
print(f"PORT {port}", flush=True)
sys.stdin.read()
controller.stop()
