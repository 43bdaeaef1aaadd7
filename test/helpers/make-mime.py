#!/usr/bin/env python3
"""Build MIME multipart user-data for the userdata tests with Python's real `email` package.

Usage: make-mime.py SPEC.json > user-data

The spec is a JSON tree, so a fixture folder keeps the recipe next to its parts and the
test regenerates the exact bytes every run (boundaries are fixed, gzip mtime is 0):

  {"multipart": "mixed", "boundary": "b1", "headers": {...}, "parts": [NODE, ...], "wrap": 0}
  {"file": "a.yaml" | "text": "...", "type": "text/cloud-config", "filename": "a.yaml",
   "cte": "base64" | "quoted-printable" | "7bit" | "8bit", "gzip": true, "headers": {...}}

"wrap": N nests the multipart N more times inside single-part multiparts (deep-nesting cases).
"omit_boundary": true strips the boundary parameter from the top-level Content-Type.
"""

import gzip
import json
import os
import sys
from email import encoders
from email.generator import BytesGenerator
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from io import BytesIO


def leaf(spec, base_dir):
    if "file" in spec:
        with open(os.path.join(base_dir, spec["file"]), "rb") as fh:
            body = fh.read()
    else:
        body = spec.get("text", "").encode("utf-8")
    if spec.get("gzip"):
        body = gzip.compress(body, mtime=0)
    maintype, subtype = spec.get("type", "text/plain").split("/", 1)
    part = MIMEBase(maintype, subtype)
    part.set_payload(body)
    cte = spec.get("cte", "base64" if spec.get("gzip") else "7bit")
    if cte == "base64":
        encoders.encode_base64(part)
    elif cte == "quoted-printable":
        encoders.encode_quopri(part)
    else:
        # 7bit / 8bit: the payload goes out as it is; the header only labels it.
        part["Content-Transfer-Encoding"] = cte
    if "filename" in spec:
        part.add_header("Content-Disposition", "attachment", filename=spec["filename"])
    for key, value in spec.get("headers", {}).items():
        part[key] = value
    return part


def node(spec, base_dir, counter):
    if "multipart" not in spec:
        return leaf(spec, base_dir)
    counter[0] += 1
    boundary = spec.get("boundary", "==guestctx-boundary-%d==" % counter[0])
    msg = MIMEMultipart(spec["multipart"], boundary=boundary)
    for key, value in spec.get("headers", {}).items():
        msg[key] = value
    for child in spec.get("parts", []):
        msg.attach(node(child, base_dir, counter))
    for level in range(spec.get("wrap", 0)):
        counter[0] += 1
        outer = MIMEMultipart("mixed", boundary="==wrap-%d==" % level)
        outer.attach(msg)
        msg = outer
    return msg


def main():
    spec_path = sys.argv[1]
    with open(spec_path, "r", encoding="utf-8") as fh:
        spec = json.load(fh)
    msg = node(spec, os.path.dirname(os.path.abspath(spec_path)), [0])
    # Nested multiparts carry their own MIME-Version header; only the top one needs it.
    for sub in msg.walk():
        if sub is not msg and "MIME-Version" in sub:
            del sub["MIME-Version"]
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False).flatten(msg)
    data = out.getvalue()
    if spec.get("omit_boundary"):
        # A broken producer: the top-level header names a multipart type but no boundary,
        # while the body still carries the delimiter lines.
        head, sep, body = data.partition(b"\n\n")
        fixed = []
        for line in head.split(b"\n"):
            if line.lower().startswith(b"content-type: multipart/"):
                line = b"Content-Type: multipart/" + spec["multipart"].encode()
            fixed.append(line)
        data = b"\n".join(fixed) + sep + body
    sys.stdout.buffer.write(data)


if __name__ == "__main__":
    main()
