"""moto's S3 server with signature checking on, for the S3 blob store's tests.

moto checks nothing by default. With its IAM authentication on (`/moto-api/reset-auth`),
every request's AWS Signature V4 is recomputed by botocore — an implementation independent
of waterdesk's — and a mismatch is answered 403 SignatureDoesNotMatch. botocore takes the
payload hash from the `x-amz-content-sha256` header as given, so a small WSGI layer in
front checks that header against the body, as S3 does (400 XAmzContentSHA256Mismatch).

The script serves on a free loopback port, creates an IAM user allowed `s3:*` with an
access key while authentication is still off, turns it on, prints one JSON line
`{"endpoint", "access_key", "secret_key"}`, and serves until its standard input closes
(the test ended or died).

Needs `pip install 'moto[server]'` (which brings boto3 and botocore).
"""

import hashlib
import io
import json
import logging
import sys
import threading
import urllib.request

import boto3
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

UNSIGNED = ("UNSIGNED-PAYLOAD", "STREAMING-")


def content_hash_checked(app):
    def checked(environ, start_response):
        declared = environ.get("HTTP_X_AMZ_CONTENT_SHA256")
        if declared and not declared.startswith(UNSIGNED):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            if hashlib.sha256(body).hexdigest() != declared:
                xml = b"<?xml version='1.0'?><Error><Code>XAmzContentSHA256Mismatch</Code></Error>"
                start_response("400 Bad Request", [("Content-Type", "application/xml")])
                return [xml]
            environ["wsgi.input"] = io.BytesIO(body)
        return app(environ, start_response)

    return checked


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = content_hash_checked(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_port}"
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bootstrap",
        aws_secret_access_key="bootstrap",
    )
    iam.create_user(UserName="waterdesk")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_user_policy(UserName="waterdesk", PolicyName="s3", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="waterdesk")["AccessKey"]
    # From now on every request must carry a valid signature of that key.
    req = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
    )
    urllib.request.urlopen(req).read()
    out = {"endpoint": endpoint, "access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"]}
    print(json.dumps(out), flush=True)
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
