#!/usr/bin/python3
"""A real SMTP server for mailseal's tests: Debian's python3-aiosmtpd on
loopback, with STARTTLS or implicit TLS, optional AUTH, and scripted
failures. Each accepted message is saved as NNN.eml with NNN.json (the
envelope) in --spool. Prints "ready" when it listens; stops at the end of
its stdin."""
import argparse, asyncio, json, os, ssl, sys
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--mode", choices=["starttls", "implicit", "plain"], default="starttls")
p.add_argument("--cert"); p.add_argument("--key")
p.add_argument("--auth", help="USER:PASSWORD required")
p.add_argument("--spool", required=True)
p.add_argument("--fail-first", type=int, default=0, help="answer 451 to the first N DATA commands")
p.add_argument("--reject", action="store_true", help="answer 550 to every DATA")
p.add_argument("--drop-answer", type=int, default=0,
               help="take the first N messages and close the connection without answering their end of data")
a = p.parse_args()

state = {"fail": a.fail_first, "n": 0, "drop": a.drop_answer}

class Handler:
    async def handle_DATA(self, server, session, envelope):
        if state["fail"] > 0:
            state["fail"] -= 1
            return "451 4.3.0 Temporary failure, try again later"
        if a.reject:
            return "550 5.7.1 Message rejected by policy"
        state["n"] += 1
        base = os.path.join(a.spool, "%03d" % state["n"])
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(base + ".json", "w") as f:
            json.dump({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                       "tls": session.ssl is not None or a.mode == "implicit",
                       "auth": session.authenticated}, f)
        if state["drop"] > 0:
            # Taken, and the answer lost: the client cannot know.
            state["drop"] -= 1
            server.transport.abort()
        return "250 2.0.0 OK saved"

def authenticator(server, session, envelope, mechanism, auth_data):
    if not a.auth:
        return AuthResult(success=False)
    user, pw = a.auth.split(":", 1)
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == pw
    return AuthResult(success=ok, handled=False)

kw = dict(hostname="127.0.0.1", port=a.port)
ctx = None
if a.mode != "plain":
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(a.cert, a.key)
if a.mode == "starttls":
    kw.update(tls_context=ctx, require_starttls=True)
elif a.mode == "implicit":
    kw.update(ssl_context=ctx)
if a.auth:
    kw.update(authenticator=authenticator, auth_required=True, auth_require_tls=(a.mode == "starttls"))
controller = Controller(Handler(), **kw)
controller.start()
print("ready", flush=True)
try:
    # Serve until stdin ends: the Go side holds it open, so the server
    # ends with the test process even when that is killed or exits early.
    sys.stdin.read()
except KeyboardInterrupt:
    pass
finally:
    controller.stop()
