"""Signs a uid for the browser and pushes a message for it, with redis-py.

    SIGN_SECRET=... [REDIS_URL=redis://127.0.0.1:6379] [KEY_PREFIX=Q/MSG] \\
      python3 examples/python/publish.py <uid> <message> [<seconds until the signature expires>]

Prints the query the page polls with: uid=42&sign=<hex>, or uid=42&exp=<unix seconds>&sign=<hex>.
"""

import hashlib
import hmac
import os
import re
import sys
import time
from urllib.parse import quote, urlencode

import redis


def fail(message, code=2):
    print(message, file=sys.stderr)
    sys.exit(code)


def sign_uid(secret, uid, exp=None):
    """The signature the server checks: hex HMAC-SHA256 of the uid, or of uid + "\\n" + exp."""
    text = uid if exp is None else f"{uid}\n{exp}"
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def main(args):
    if len(args) not in (2, 3):
        fail("Usage: publish.py <uid> <message> [<seconds until the signature expires>]")
    uid, message = args[0], args[1]
    # A list while a secret rotates: the first one signs.
    secret = os.environ.get("SIGN_SECRET", "").split(",")[0]
    if secret == "":
        fail("Cannot sign: SIGN_SECRET is not set")
    if uid == "" or len(uid.encode()) > 256 or re.search(r"[\x00-\x1f\x7f-\x9f]", uid):
        fail(f'Cannot sign "{uid}": a uid is 1 to 256 bytes with no control characters')
    if message == "":
        fail("Cannot publish: the message is empty")
    exp = None
    if len(args) == 3:
        if not re.fullmatch(r"[1-9][0-9]{0,8}", args[2]):
            fail(f'Cannot sign: "{args[2]}" is not a whole number of seconds above 0')
        exp = int(time.time()) + int(args[2])

    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        # LPUSH Q/MSG<uid> <message>; the server pops the oldest first.
        client.lpush(os.environ.get("KEY_PREFIX", "Q/MSG") + uid, message)
    except (redis.RedisError, ValueError) as error:
        fail(f'Cannot publish: Redis at "{url}" refused or is unreachable: {error}', 1)

    query = {"uid": uid}
    if exp is not None:
        query["exp"] = exp
    query["sign"] = sign_uid(secret, uid, exp)
    print(urlencode(query, quote_via=quote))


if __name__ == "__main__":
    main(sys.argv[1:])
