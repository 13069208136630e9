"""Conformance of our Tencent Cloud SMS code with Tencent's own Python SDK.

Driven by tests/it/sms_conformance.rs when CONFORMANCE_PYTHON names a Python that has
tests/conformance/requirements.txt installed. Two commands, each printing one JSON object:

  sign   The SDK's TC3-HMAC-SHA256 signer over a request our Rust client prepared (same body
         bytes, host, content type, timestamp): the Rust test compares the signatures.
  drive  The SDK's SmsClient sends SendSms to our bundled SMS sandbox, once right and several
         times wrong, pulls that number's receipts (PullSmsSendStatusByPhoneNumber), and
         reports what came back: the sandbox must accept the SDK's signature
         and refuse bad ones with Tencent's error codes, in the answer shape the SDK parses.

What had to change to point the SDK at our sandbox, and why:
  * HttpProfile(protocol="http", endpoint="127.0.0.1:PORT/sandbox/sms"). The SDK builds its
    URL as scheme://endpoint with no path of its own (API 3.0 always posts to "/"), so the
    sandbox's mount path rides in the endpoint. The SDK also sends and signs that same string
    as the Host header; the sandbox verifies the Host header as received, so it still checks
    exactly what the SDK signed. Nothing else in the SDK is touched.
  * Plain HTTP: the sandbox serves no TLS (Tencent's endpoint is HTTPS only).
"""

import argparse
import json
import time
import sys
from datetime import datetime, timezone

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.http.request import RequestInternal
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client


def client(endpoint, secret_id, secret_key, region="ap-guangzhou"):
    http = HttpProfile(protocol="http", endpoint=endpoint, reqTimeout=30)
    return sms_client.SmsClient(credential.Credential(secret_id, secret_key), region, ClientProfile(httpProfile=http))


def sign(args):
    """The SDK's own signature of the exact request our client prepared."""
    body = open(args.body_file, "rb").read()
    sdk = client(args.host, args.secret_id, args.secret_key)
    request = RequestInternal(args.host, "POST", "/")
    request.header["Content-Type"] = args.content_type
    request.header["Host"] = args.host
    request.header["X-TC-Timestamp"] = str(args.timestamp)
    request.data = body
    date = datetime.fromtimestamp(args.timestamp, tz=timezone.utc).strftime("%Y-%m-%d")
    signature = sdk._get_tc3_signature(None, request, date, sdk._service, args.secret_key)
    print(json.dumps({"signature": signature, "date": date, "service": sdk._service}))
    return 0


def send(sdk, args, template_id=None, sign_name=None):
    request = models.SendSmsRequest()
    request.PhoneNumberSet = ["+86" + args.phone]
    request.SmsSdkAppId = args.sdk_app_id
    request.SignName = sign_name if sign_name is not None else args.sign_name
    request.TemplateId = template_id or args.template_id
    request.TemplateParamSet = [args.code, "5"]
    request.SessionContext = "conformance"
    return sdk.SendSms(request)


def refused_with(expected, call):
    try:
        call()
    except TencentCloudSDKException as error:
        return {"ok": error.get_code() == expected, "code": error.get_code(), "request_id": error.get_request_id()}
    return {"ok": False, "code": "accepted"}


def drive(args):
    results = {}
    good = client(args.endpoint, args.secret_id, args.secret_key)
    answer = send(good, args)
    status = answer.SendStatusSet[0]
    results["accepted"] = {
        "ok": status.Code == "Ok" and status.PhoneNumber == "+86" + args.phone and bool(answer.RequestId)
        and status.SessionContext == "conformance" and status.Fee >= 1,
        "code": status.Code,
        "serial_no": status.SerialNo,
    }
    # The receipts of that number, as the outbox reads them after a crash: the SDK's own
    # request and its own parsing of our answer find the message by its SessionContext.
    pull = models.PullSmsSendStatusByPhoneNumberRequest()
    pull.BeginTime = int(time.time()) - 600
    pull.EndTime = int(time.time()) + 600
    pull.Offset = 0
    pull.Limit = 100
    pull.PhoneNumber = "+86" + args.phone
    pull.SmsSdkAppId = args.sdk_app_id
    receipts = good.PullSmsSendStatusByPhoneNumber(pull).PullSmsSendStatusSet
    results["receipts"] = {
        "ok": [r.SessionContext for r in receipts] == ["conformance"]
        and receipts[0].SerialNo == status.SerialNo and receipts[0].ReportStatus == "SUCCESS",
        "count": len(receipts),
    }
    results["wrong_key"] = refused_with(
        "AuthFailure.SignatureFailure", lambda: send(client(args.endpoint, args.secret_id, args.secret_key + "x"), args)
    )
    results["unknown_secret_id"] = refused_with(
        "AuthFailure.SecretIdNotFound", lambda: send(client(args.endpoint, "AKIDnobody", args.secret_key), args)
    )
    results["unapproved_template"] = refused_with(
        "FailedOperation.TemplateIncorrectOrUnapproved", lambda: send(good, args, template_id="999999")
    )
    results["unapproved_signature"] = refused_with(
        "FailedOperation.SignatureIncorrectOrUnapproved", lambda: send(good, args, sign_name="别人的签名")
    )
    results["unsupported_region"] = refused_with(
        "UnsupportedRegion", lambda: send(client(args.endpoint, args.secret_id, args.secret_key, "ap-mars"), args)
    )
    print(json.dumps(results, ensure_ascii=False))
    return 0 if all(r["ok"] for r in results.values()) else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    s = commands.add_parser("sign")
    s.add_argument("--secret-id", required=True)
    s.add_argument("--secret-key", required=True)
    s.add_argument("--host", required=True)
    s.add_argument("--content-type", required=True)
    s.add_argument("--timestamp", type=int, required=True)
    s.add_argument("--body-file", required=True)
    d = commands.add_parser("drive")
    d.add_argument("--endpoint", required=True)
    d.add_argument("--secret-id", required=True)
    d.add_argument("--secret-key", required=True)
    d.add_argument("--sdk-app-id", required=True)
    d.add_argument("--sign-name", required=True)
    d.add_argument("--template-id", required=True)
    d.add_argument("--phone", required=True)
    d.add_argument("--code", required=True)
    args = parser.parse_args()
    return sign(args) if args.command == "sign" else drive(args)


if __name__ == "__main__":
    sys.exit(main())
