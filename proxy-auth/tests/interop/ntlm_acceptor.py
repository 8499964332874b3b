"""NTLM acceptor for proxy-auth's interop test, using pyspnego (an independent implementation).

Protocol on stdin/stdout, one base64 token per line:
  in: NEGOTIATE        out: CHALLENGE
  in: AUTHENTICATE     out: "OK <client principal>" or "FAIL <reason>"
Credentials come from the file named by NTLM_USER_FILE (lines DOMAIN:USER:PASSWORD).
"""
import base64
import sys

import spnego


def main() -> None:
    ctx = spnego.server(protocol="ntlm")
    negotiate = base64.b64decode(sys.stdin.readline().strip())
    challenge = ctx.step(negotiate)
    print(base64.b64encode(challenge).decode(), flush=True)
    authenticate = base64.b64decode(sys.stdin.readline().strip())
    try:
        ctx.step(authenticate)
    except Exception as e:  # report, do not crash: the Rust side asserts on the line
        print(f"FAIL {type(e).__name__}: {e}", flush=True)
        return
    print(f"OK {ctx.client_principal}" if ctx.complete else "FAIL incomplete", flush=True)


if __name__ == "__main__":
    main()
