#!/usr/bin/env python3
"""Sends a signed git push webhook to dploy serve: webhook.py URL SECRET_FILE REF.

The body is a push payload naming REF and a delivery id of its own (dploy refuses the same
signed body twice within 10 minutes as a replay), also sent as X-Dploy-Delivery; the
signature is HMAC-SHA256 of the body with the secret (one line, without its newline), in
X-Dploy-Signature: sha256=HEX. Prints the status.
"""
import hashlib
import hmac
import json
import sys
import urllib.error
import urllib.request
import uuid

url, secret_file, ref = sys.argv[1:4]
with open(secret_file, "rb") as f:
    secret = f.read().strip()
delivery = str(uuid.uuid4())
body = json.dumps({"ref": ref, "delivery": delivery}).encode()
signature = hmac.new(secret, body, hashlib.sha256).hexdigest()
request = urllib.request.Request(url, data=body, method="POST", headers={
    "Content-Type": "application/json", "X-Dploy-Signature": "sha256=" + signature,
    "X-Dploy-Delivery": delivery})
try:
    with urllib.request.urlopen(request, timeout=10) as response:
        print(response.status)
except urllib.error.HTTPError as error:
    print(error.code)
