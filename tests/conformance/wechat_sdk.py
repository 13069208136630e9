"""WeChat Pay API v3 conformance: the `wechatpayv3` SDK from PyPI, which nobody here wrote,
drives our WeChat Pay sandbox and checks our platform's notification endpoint.

Setup differs from a merchant's against the real service in one place only: the API root.
`WeChatPay` has no parameter for it (it is the constant `https://api.mch.weixin.qq.com` in
`Core.__init__`), so the script sets the attribute that holds it, `_core._gate_way`.

To read the headers of the answers (the SDK returns only status and body), `requests` as seen
by the SDK's `core` module is wrapped by a recorder that keeps every response; it changes
nothing the SDK sends or receives. The recorded answers are checked against the rules of
WeChat's official Java client (wechatpay-apache-httpclient `WechatPay2Validator`), which
refuses a 2xx answer without `Request-ID` before it looks at the signature.

Usage: python wechat_sdk.py CONFIG.json
"""

import base64
import datetime
import gzip
import hashlib
import json
import os
import time
import urllib.request

import requests
import wechatpayv3.core as sdk_core
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives import serialization
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.utils import load_private_key, rsa_sign

from common import (
    WECHAT_TIME, Notifications, Suite, beijing_now, expect, expect_eq, load_config,
    public_pem_of, read, wechat_time,
)

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"


class Recorder:
    """`requests` for the SDK's core module, keeping each response for the header checks."""

    def __init__(self):
        self.responses = []

    def __getattr__(self, name):
        real = getattr(requests, name)
        if name not in ("get", "post", "put", "patch", "delete"):
            return real

        def call(*args, **kwargs):
            response = real(*args, **kwargs)
            self.responses.append(response)
            return response

        return call


def java_validator(headers):
    """WechatPay2Validator.validateParameters of WeChat's official Java HTTP client: Request-ID,
    then the four Wechatpay-* headers, then a timestamp at most five minutes old. The Python
    SDK adds: Wechatpay-Signature-Type must name the algorithm."""
    expect(headers.get("Request-ID"), "no Request-ID (the Java validator refuses: 'empty Request-ID')")
    for name in ("Wechatpay-Serial", "Wechatpay-Signature", "Wechatpay-Nonce", "Wechatpay-Timestamp"):
        expect(headers.get(name), f"no {name}")
    timestamp = int(headers["Wechatpay-Timestamp"])
    expect(time.time() - timestamp <= 300, f"Wechatpay-Timestamp {timestamp} is stale")
    expect_eq(headers.get("Wechatpay-Signature-Type"), SIGNATURE_TYPE, "Wechatpay-Signature-Type")


def times_in(value, path=""):
    """Every `*_time` / `time_*` field anywhere in a JSON value: [(path, text)]."""
    found = []
    if isinstance(value, dict):
        for key, inner in value.items():
            here = f"{path}.{key}" if path else key
            if isinstance(inner, str) and (key.endswith("_time") or key.startswith("time_")):
                found.append((here, inner))
            else:
                found.extend(times_in(inner, here))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            found.extend(times_in(inner, f"{path}[{i}]"))
    return found


def empty_strings_in(value, path=""):
    found = []
    if isinstance(value, dict):
        for key, inner in value.items():
            found.extend(empty_strings_in(inner, f"{path}.{key}" if path else key))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            found.extend(empty_strings_in(inner, f"{path}[{i}]"))
    elif value == "":
        found.append(path)
    return found


def main():
    config = load_config()
    w = config["wechat"]
    merchant_pem = read(w["merchant_private_key_file"])
    platform_private_pem = read(w["platform_private_key_file"])
    platform_public_pem = public_pem_of(platform_private_pem)
    suite = Suite("wechat conformance")
    listener = Notifications()
    recorder = Recorder()
    sdk_core.requests = recorder

    def sdk(private_pem=merchant_pem):
        pay = WeChatPay(
            wechatpay_type=WeChatPayType.NATIVE,
            mchid=w["mchid"],
            private_key=private_pem,
            cert_serial_no=w["merchant_serial"],
            appid=w["appid"],
            apiv3_key=w["api_v3_key"],
            notify_url=listener.url + "/wechat",
            public_key=platform_public_pem,
            public_key_id=w["platform_serial"],
            timeout=(5, 30),
        )
        pay._core._gate_way = w["base_url"]  # the one change: our sandbox instead of api.mch.weixin.qq.com
        return pay

    wxpay = sdk()
    run = str(int(time.time() * 1000))[-9:]
    native_no, h5_no, close_no = f"CFN{run}", f"CFH{run}", f"CFC{run}"
    expires = wechat_time(beijing_now() + datetime.timedelta(minutes=15))
    state = {}

    def answer(code, message, expected_code=200):
        expect_eq(code, expected_code, f"HTTP status (body {message!r})")
        return json.loads(message) if expected_code != 204 else None

    # ---- the sandbox, driven by the SDK ------------------------------------------------------

    def create_native():
        code, message = wxpay.pay(
            description="秒杀 conformance native",
            out_trade_no=native_no,
            amount={"total": 1, "currency": "CNY"},
            time_expire=expires,
        )
        body = answer(code, message)
        expect(body["code_url"].startswith("weixin://"), f"code_url {body['code_url']!r}")

    def create_h5():
        code, message = wxpay.pay(
            description="秒杀 conformance h5",
            out_trade_no=h5_no,
            amount={"total": 2, "currency": "CNY"},
            time_expire=expires,
            scene_info={"payer_client_ip": "127.0.0.1", "h5_info": {"type": "Wap"}},
            pay_type=WeChatPayType.H5,
        )
        expect(answer(code, message)["h5_url"].startswith("http"), "h5_url")

    def refuses_fractional_time_expire():
        # The documented format has whole seconds; a sandbox that takes anything else lets our
        # own client drift from it unnoticed.
        fractional = (beijing_now() + datetime.timedelta(minutes=15)).replace(microsecond=289000).isoformat(
            timespec="milliseconds")
        code, message = wxpay.pay(
            description="秒杀 conformance", out_trade_no=f"CFX{run}",
            amount={"total": 1, "currency": "CNY"}, time_expire=fractional,
        )
        expect_eq(code, 400, f"status for time_expire {fractional!r} (body {message!r})")
        expect_eq(json.loads(message)["code"], "PARAM_ERROR", "error code")

    def query_unpaid():
        body = answer(*wxpay.query(out_trade_no=native_no))
        expect_eq(body["trade_state"], "NOTPAY", "trade_state")
        expect_eq(body.get("trade_type"), "NATIVE", "trade_type of a Native trade")
        expect(not empty_strings_in(body), f"empty strings instead of omitted fields: {empty_strings_in(body)}")
        for absent in ("transaction_id", "success_time"):
            expect(absent not in body, f"{absent} present on an unpaid trade")
        h5 = answer(*wxpay.query(out_trade_no=h5_no))
        expect_eq(h5.get("trade_type"), "MWEB", "trade_type of an H5 trade")

    def notification_from_the_sandbox_verifies():
        paid = requests.post(f"{config['sandbox_url']}/wechat/pay", json={"out_trade_no": native_no}, timeout=10)
        expect_eq(paid.status_code, 200, f"sandbox pay ({paid.text})")
        headers, body = listener.next("/wechat")
        state["notification_headers"] = headers
        state["notification"] = json.loads(body)
        java_validator(headers)
        opened = wxpay.callback(headers, body)
        expect(opened is not None, "the SDK refused the sandbox's notification")
        state["resource"] = opened["resource"]
        expect_eq(opened["event_type"], "TRANSACTION.SUCCESS", "event_type")
        expect_eq(opened["resource"]["out_trade_no"], native_no, "out_trade_no")
        expect_eq(opened["resource"]["amount"]["total"], 1, "amount.total")
        expect_eq(opened["resource"]["trade_state"], "SUCCESS", "trade_state")

    def query_paid():
        body = answer(*wxpay.query(out_trade_no=native_no))
        expect_eq(body["trade_state"], "SUCCESS", "trade_state")
        expect_eq(body.get("trade_type"), "NATIVE", "trade_type")
        expect(body.get("transaction_id"), "transaction_id")
        expect(not empty_strings_in(body), f"empty strings: {empty_strings_in(body)}")

    def close():
        code, message = wxpay.pay(
            description="秒杀 conformance close", out_trade_no=close_no,
            amount={"total": 3, "currency": "CNY"}, time_expire=expires,
        )
        answer(code, message)
        # The SDK verifies the signature of every 2xx, the 204 of a close included.
        code, message = wxpay.close(out_trade_no=close_no)
        expect_eq(code, 204, f"close status ({message!r})")
        expect_eq(answer(*wxpay.query(out_trade_no=close_no))["trade_state"], "CLOSED", "trade_state after close")

    def refund():
        out_refund_no = f"R{native_no}"
        code, message = wxpay.refund(
            out_refund_no=out_refund_no, amount={"refund": 1, "total": 1, "currency": "CNY"},
            out_trade_no=native_no, reason="conformance",
        )
        first = answer(code, message)
        # The real service accepts a refund and reports it PROCESSING; the result comes later.
        expect_eq(first["status"], "PROCESSING", "status of a refund just asked for")
        again = answer(*wxpay.refund(
            out_refund_no=out_refund_no, amount={"refund": 1, "total": 1, "currency": "CNY"},
            out_trade_no=native_no,
        ))
        expect_eq(again["refund_id"], first["refund_id"], "the same out_refund_no is the same refund")
        status = None
        for _ in range(20):
            status = answer(*wxpay.query_refund(out_refund_no))["status"]
            if status == "SUCCESS":
                break
            time.sleep(0.2)
        expect_eq(status, "SUCCESS", "refund status once processed")

    def bill():
        bill_date = beijing_now().strftime("%Y-%m-%d")
        body = answer(*wxpay.trade_bill(bill_date=bill_date))  # tar_type=GZIP, the SDK's default
        expect_eq(body["hash_type"], "SHA1", "hash_type")
        code, packed = wxpay.download_bill(body["download_url"])
        expect_eq(code, 200, "bill download status")
        expect(isinstance(packed, bytes) and packed[:2] == b"\x1f\x8b", "tar_type=GZIP must send a gzip file")
        plain = gzip.decompress(packed)
        # Documented: the digest of the original bill (gzip decompressed first).
        expect_eq(body["hash_value"], hashlib.sha1(plain).hexdigest(), "hash_value = SHA1 of the bill")
        expect(native_no in plain.decode("utf-8"), "the paid trade is in the bill")
        raw = answer(*wxpay._core.request(f"/v3/bill/tradebill?bill_date={bill_date}&bill_type=ALL"))
        code, unpacked = wxpay.download_bill(raw["download_url"])
        expect_eq(code, 200, "plain bill download status")
        expect(unpacked[:2] != b"\x1f\x8b", "without tar_type the bill is not compressed")
        expect_eq(raw["hash_value"], hashlib.sha1(unpacked).hexdigest(), "hash_value of the plain bill")

    def refuses_a_forged_request():
        impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        code, message = sdk(impostor).query(out_trade_no=native_no)
        expect_eq(code, 401, f"status of a request signed with another key ({message!r})")
        expect_eq(json.loads(message)["code"], "SIGN_ERROR", "error code")

    def answers_pass_the_java_validator():
        signed = [r for r in recorder.responses if 200 <= r.status_code < 300 and "billdownload" not in r.url]
        expect(signed, "no 2xx answers recorded")
        for response in signed:
            try:
                java_validator(response.headers)
            except AssertionError as error:
                raise AssertionError(f"{response.request.method} {response.url} {response.status_code}: {error}")

    def times_are_whole_seconds():
        bodies = [r.json() for r in recorder.responses
                  if 200 <= r.status_code < 300 and "json" in r.headers.get("Content-Type", "")]
        bodies += [state.get("notification", {}), state.get("resource", {})]
        found = [pair for body in bodies for pair in times_in(body)]
        expect(found, "no times seen")
        bad = [f"{path}={text}" for path, text in found if not WECHAT_TIME.match(text)]
        expect(not bad, f"times not in yyyy-MM-DDTHH:mm:ss+TIMEZONE: {bad[:5]}")

    # ---- the platform's notification endpoint, sent what WeChat Pay sends -------------------

    platform_key = load_private_key(platform_private_pem)

    def notification(out_trade_no, total, timestamp=None, key=platform_key, serial=None):
        resource = {
            "mchid": w["mchid"], "appid": w["appid"], "out_trade_no": out_trade_no,
            "transaction_id": f"42000{run}{out_trade_no[-6:]}", "trade_type": "NATIVE",
            "trade_state": "SUCCESS", "trade_state_desc": "支付成功", "bank_type": "OTHERS",
            "success_time": wechat_time(beijing_now()), "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            "amount": {"total": total, "payer_total": total, "currency": "CNY", "payer_currency": "CNY"},
        }
        nonce = base64.b32encode(os.urandom(10)).decode()[:12]
        sealed = AESGCM(w["api_v3_key"].encode()).encrypt(
            nonce.encode(), json.dumps(resource, ensure_ascii=False).encode(), b"transaction")
        body = json.dumps({
            "id": f"EV-{run}-{out_trade_no}", "create_time": wechat_time(beijing_now()),
            "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
            "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                         "ciphertext": base64.b64encode(sealed).decode(), "associated_data": "transaction",
                         "nonce": nonce},
        }, ensure_ascii=False)
        timestamp = str(timestamp if timestamp is not None else int(time.time()))
        header_nonce = base64.b32encode(os.urandom(20)).decode()
        headers = {
            "Content-Type": "application/json",
            "Request-ID": f"08F{run}-{out_trade_no}",
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": header_nonce,
            "Wechatpay-Serial": serial or w["platform_serial"],
            "Wechatpay-Signature": rsa_sign(key, f"{timestamp}\n{header_nonce}\n{body}\n"),
            "Wechatpay-Signature-Type": SIGNATURE_TYPE,
        }
        return headers, body

    def post(headers, body):
        return requests.post(w["notify_url"], data=body.encode(), headers=headers, timeout=30)

    payment, mismatch = w["payment"], w["mismatch_payment"]

    def tampered_notifications_are_refused():
        headers, body = notification(payment["out_trade_no"], payment["amount_fen"])
        expect(wxpay.callback(headers, body) is not None, "the SDK itself does not accept the genuine notification")
        other = load_private_key(rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode())
        cases = {
            "body altered after signing": (headers, body.replace('"summary": "支付成功"', '"summary": "支付成功 "')),
            "signed with another key": notification(payment["out_trade_no"], payment["amount_fen"], key=other),
            "ten minutes old": notification(payment["out_trade_no"], payment["amount_fen"], timestamp=int(time.time()) - 600),
            "unknown serial": notification(payment["out_trade_no"], payment["amount_fen"], serial="PUB_KEY_ID_0000"),
            "signed, wrong amount": notification(mismatch["out_trade_no"], mismatch["amount_fen"] + 1),
        }
        for case in ("body altered after signing", "signed with another key"):
            # The SDK checks signatures only (not the time or an unknown serial, which it would
            # try to fetch as a certificate); where it can judge, it must agree with the platform.
            expect(wxpay.callback(*cases[case]) is None, f"{case}: the SDK accepts it, so it is no forgery")
        for case, (case_headers, case_body) in cases.items():
            response = post(case_headers, case_body)
            expect(400 <= response.status_code < 500, f"{case}: platform answered {response.status_code} {response.text!r}")

    def genuine_notification_is_accepted():
        headers, body = notification(payment["out_trade_no"], payment["amount_fen"])
        response = post(headers, body)
        expect(response.status_code in (200, 204), f"platform answered {response.status_code} {response.text!r}")
        again = post(*notification(payment["out_trade_no"], payment["amount_fen"]))
        expect(again.status_code in (200, 204), f"a repeated notification: {again.status_code} {again.text!r}")

    suite.check("sandbox: create Native (SDK verifies the signed answer)", create_native)
    suite.check("sandbox: create H5 (SDK verifies the signed answer)", create_h5)
    suite.check("sandbox: refuses time_expire with milliseconds", refuses_fractional_time_expire)
    suite.check("sandbox: query an unpaid trade (fields omitted, trade_type as created)", query_unpaid)
    suite.check("sandbox: notification of a payment verifies and decrypts with the SDK", notification_from_the_sandbox_verifies)
    suite.check("sandbox: query a paid trade", query_paid)
    suite.check("sandbox: close answers a signed 204", close)
    suite.check("sandbox: refund PROCESSING, then SUCCESS", refund)
    suite.check("sandbox: trade bill, GZIP and SHA1 hash_value", bill)
    suite.check("sandbox: refuses a request signed with another key", refuses_a_forged_request)
    suite.check("sandbox: every 2xx passes WeChat's Java validator and names its signature type", answers_pass_the_java_validator)
    suite.check("sandbox: every time has whole seconds", times_are_whole_seconds)
    suite.check("platform: tampered notifications are refused", tampered_notifications_are_refused)
    suite.check("platform: a genuine notification is accepted, and again", genuine_notification_is_accepted)
    listener.close()
    return suite.finish()


if __name__ == "__main__":
    raise SystemExit(main())
