"""Alipay (open platform, RSA2) conformance: `python-alipay-sdk` from PyPI, which nobody here
wrote, drives our Alipay sandbox and checks our platform's notification endpoint.

Setup differs from a merchant's against the real gateway in one place only: the gateway URL.
`AliPay` has no parameter for it (only `debug`, which picks Alipay's own sandbox host), so the
script sets the attribute that holds it, `_gateway`.

The SDK sends every parameter in the query string of a GET. Alipay's official Java SDK
(`DefaultAlipayClient`) POSTs instead, the system parameters in the query string and
`biz_content` in the form body; that split is built here from the SDK's own signed parameters
(the Java SDK is not on PyPI). Amounts are given as JSON numbers, as the SDK's README does.

Usage: python alipay_sdk.py CONFIG.json
"""

import json
import time
import urllib.parse
import urllib.request

import requests
from alipay import AliPay
from alipay.exceptions import AliPayException
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from common import (
    Notifications, Suite, beijing_now, expect, expect_eq, form, load_config, public_pem_of, read,
)


def fresh_key_pem():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def main():
    config = load_config()
    a = config["alipay"]
    app_pem = read(a["app_private_key_file"])
    platform_private_pem = read(a["platform_private_key_file"])
    platform_public_pem = public_pem_of(platform_private_pem)
    suite = Suite("alipay conformance")
    listener = Notifications()

    def sdk(app_id=a["app_id"], private_pem=app_pem, public_pem=platform_public_pem):
        client = AliPay(
            appid=app_id,
            app_notify_url=listener.url + "/alipay",
            app_private_key_string=private_pem,
            alipay_public_key_string=public_pem,
            sign_type="RSA2",
        )
        client._gateway = a["gateway_url"]  # the one change: our sandbox instead of openapi.alipay.com
        return client

    def error_node(call):
        """The answer of a call that is to fail: the SDK returns a signed failure, and raises
        on an unsigned one or an `error_response` (its docstrings show both)."""
        try:
            return call()
        except AliPayException as error:
            answer = json.loads(str(error).split("message:", 1)[1])
            return next(v for k, v in answer.items() if k.endswith("_response"))

    alipay = sdk()
    run = str(int(time.time() * 1000))[-9:]
    paid_no, closed_no, wap_no, decimal_no = f"CAP{run}", f"CAC{run}", f"CAW{run}", f"CAD{run}"

    def ok(node, what):
        expect_eq((node.get("code"), node.get("msg")), ("10000", "Success"), f"{what} ({node})")
        return node

    def failed(node, code, msg, sub_code, sub_msg):
        if callable(node):
            node = error_node(node)
        expect_eq(
            (node.get("code"), node.get("msg"), node.get("sub_code"), node.get("sub_msg")),
            (code, msg, sub_code, sub_msg),
            "error answer",
        )

    # ---- the sandbox, driven by the SDK ------------------------------------------------------

    def precreate_with_numbers():
        # The SDK's README gives amounts as numbers: `total_amount=0.01`.
        node = ok(alipay.api_alipay_trade_precreate(subject="秒杀 conformance", out_trade_no=paid_no, total_amount=0.01),
                  "precreate, total_amount 0.01")
        expect(node.get("qr_code"), "qr_code")
        ok(alipay.api_alipay_trade_precreate(subject="秒杀 conformance", out_trade_no=decimal_no, total_amount=19.8),
           "precreate, total_amount 19.8")
        expect_eq(ok(alipay.api_alipay_trade_query(out_trade_no=decimal_no), "query")["total_amount"], "19.80",
                  "19.8 yuan kept exactly")
        too_fine = alipay.api_alipay_trade_precreate(subject="x", out_trade_no=f"CAF{run}", total_amount=0.001)
        expect_eq(too_fine.get("sub_code"), "ACQ.INVALID_PARAMETER", f"0.001 yuan refused ({too_fine})")

    def precreate_with_strings():
        ok(alipay.api_alipay_trade_precreate(subject="秒杀 conformance", out_trade_no=closed_no, total_amount="0.03"),
           "precreate, total_amount \"0.03\"")

    def query_by_get():
        node = ok(alipay.api_alipay_trade_query(out_trade_no=paid_no), "query (GET, parameters in the query string)")
        expect_eq(node["trade_status"], "WAIT_BUYER_PAY", "trade_status")
        expect_eq(node["total_amount"], "0.01", "total_amount")

    def get_of_an_api_opens_no_trade():
        missing = f"CAM{run}"
        failed(alipay.api_alipay_trade_query(out_trade_no=missing),
               "40004", "Business Failed", "ACQ.TRADE_NOT_EXIST", "交易不存在")
        seen = requests.get(f"{config['sandbox_url']}/alipay/trades/{missing}", timeout=10)
        expect_eq(seen.status_code, 404, "a query by GET must not open a trade")

    def java_sdk_split():
        # Alipay's Java SDK: system parameters in the query string, biz_content in the body.
        data = alipay.build_body("alipay.trade.query", {"out_trade_no": paid_no})
        signed = dict(urllib.parse.parse_qsl(alipay.sign_data(data)))
        biz_content = signed.pop("biz_content")
        response = requests.post(
            a["gateway_url"] + "?" + urllib.parse.urlencode(signed),
            data={"biz_content": biz_content},
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
            timeout=10,
        )
        node = alipay._verify_and_return_sync_response(response.text, "alipay_trade_query_response")
        expect_eq(ok(node, "query split as the Java SDK sends it")["out_trade_no"], paid_no, "out_trade_no")

    def wap_cashier():
        order_string = alipay.api_alipay_trade_wap_pay(
            subject="秒杀 conformance wap", out_trade_no=wap_no, total_amount=0.02,
            return_url="https://example.invalid/return", notify_url=listener.url + "/alipay")
        page = requests.get(a["gateway_url"] + "?" + order_string, timeout=10)
        expect_eq(page.status_code, 200, f"cashier page ({page.text[:200]!r})")
        expect("text/html" in page.headers.get("Content-Type", ""), "the cashier is a page")
        expect_eq(ok(alipay.api_alipay_trade_query(out_trade_no=wap_no), "query")["trade_status"],
                  "WAIT_BUYER_PAY", "the WAP trade exists")

    def notification_from_the_sandbox_verifies():
        paid = requests.post(f"{config['sandbox_url']}/alipay/pay", json={"out_trade_no": paid_no}, timeout=10)
        expect_eq(paid.status_code, 200, f"sandbox pay ({paid.text})")
        _, body = listener.next("/alipay")
        data = form(body)
        signature = data.pop("sign")
        expect(alipay.verify(dict(data), signature), "the SDK refused the sandbox's notification")
        expect_eq(data["trade_status"], "TRADE_SUCCESS", "trade_status")
        expect_eq(data["total_amount"], "0.01", "total_amount")
        expect_eq(data["out_trade_no"], paid_no, "out_trade_no")

    def refund_with_a_number():
        node = ok(alipay.api_alipay_trade_refund(refund_amount=0.01, out_trade_no=paid_no, out_request_no=f"R{paid_no}"),
                  "refund, refund_amount 0.01")
        expect_eq(node.get("refund_fee"), "0.01", "refund_fee")
        expect_eq(node.get("fund_change"), "Y", "fund_change")
        failed(alipay.api_alipay_trade_refund(refund_amount=0.01, out_trade_no=paid_no, out_request_no=f"S{paid_no}"),
               "40004", "Business Failed", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")

    def close():
        node = ok(alipay.api_alipay_trade_close(out_trade_no=closed_no), "close")
        expect_eq(node.get("out_trade_no"), closed_no, "out_trade_no")
        expect_eq(ok(alipay.api_alipay_trade_query(out_trade_no=closed_no), "query")["trade_status"],
                  "TRADE_CLOSED", "trade_status after close")
        failed(alipay.api_alipay_trade_close(out_trade_no=paid_no),
               "40004", "Business Failed", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法")

    def bill():
        bill_date = beijing_now().strftime("%Y-%m-%d")
        node = ok(alipay.server_api("alipay.data.dataservice.bill.downloadurl.query",
                                    {"bill_type": "trade", "bill_date": bill_date}), "bill download url")
        text = urllib.request.urlopen(node["bill_download_url"], timeout=10).read().decode("utf-8")
        expect(paid_no in text, "the paid trade is in the bill")

    def official_error_texts():
        failed(lambda: sdk(app_id="2021000000009999").api_alipay_trade_query(out_trade_no=paid_no),
               "40002", "Invalid Arguments", "isv.invalid-app-id", "无效的AppID参数")
        failed(lambda: sdk(private_pem=fresh_key_pem()).api_alipay_trade_query(out_trade_no=paid_no),
               "40002", "Invalid Arguments", "isv.invalid-signature", "无效签名")
        failed(lambda: alipay.server_api("alipay.trade.nonexistent", {"out_trade_no": paid_no}),
               "40002", "Invalid Arguments", "isv.invalid-method", "不存在的方法名")

    def answers_are_signed_by_alipay():
        # A client holding another public key must refuse every answer.
        try:
            sdk(public_pem=public_pem_of(fresh_key_pem())).api_alipay_trade_query(out_trade_no=paid_no)
        except Exception as error:  # AliPayValidationError
            expect("Validation" in type(error).__name__, f"refused, but for {error!r}")
            return
        raise AssertionError("an answer verified with a foreign key")

    # ---- the platform's notification endpoint, sent what Alipay sends -----------------------

    # Alipay signs with its own key: the SDK's RSA2 signer, holding the sandbox's Alipay key.
    channel = sdk(private_pem=platform_private_pem)

    def notification(out_trade_no, total_amount, signer=channel, **changes):
        now = beijing_now().strftime("%Y-%m-%d %H:%M:%S")
        params = {
            "notify_time": now, "notify_type": "trade_status_sync", "notify_id": f"ntf{run}{out_trade_no}",
            "app_id": a["app_id"], "charset": "utf-8", "version": "1.0", "trade_no": f"2026{run}{out_trade_no[-6:]}",
            "out_trade_no": out_trade_no, "trade_status": "TRADE_SUCCESS", "total_amount": total_amount,
            "receipt_amount": total_amount, "buyer_pay_amount": total_amount, "subject": "秒杀 conformance",
            "gmt_create": now, "gmt_payment": now, "seller_id": "2088000000000001", "buyer_id": "2088000000000002",
        }
        # Notifications are signed over every parameter but sign and sign_type, sorted (the
        # SDK's verify() rebuilds exactly that).
        content = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        params["sign"] = signer._sign(content)
        params["sign_type"] = "RSA2"
        params.update(changes)
        return params

    def post(params):
        return requests.post(a["notify_url"], data=params, timeout=30,
                             headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"})

    payment, mismatch = a["payment"], a["mismatch_payment"]

    def yuan(fen):
        return f"{fen // 100}.{fen % 100:02d}"

    def tampered_notifications_are_refused():
        genuine = notification(payment["out_trade_no"], yuan(payment["amount_fen"]))
        check = dict(genuine)
        expect(alipay.verify(check, check.pop("sign")), "the SDK itself does not accept the genuine notification")
        cases = {
            "amount altered after signing": dict(genuine, total_amount=yuan(payment["amount_fen"] - 1)),
            "signed with the app's key": notification(payment["out_trade_no"], yuan(payment["amount_fen"]),
                                                      signer=sdk(private_pem=app_pem)),
            "sign_type RSA": dict(genuine, sign_type="RSA"),
            "signed, wrong amount": notification(mismatch["out_trade_no"], yuan(mismatch["amount_fen"] + 1)),
        }
        for case in ("amount altered after signing", "signed with the app's key"):
            check = dict(cases[case])
            expect(not alipay.verify(check, check.pop("sign")), f"{case}: the SDK accepts it, so it is no forgery")
        for case, params in cases.items():
            response = post(params)
            expect(response.text.strip() != "success", f"{case}: platform acknowledged it ({response.status_code})")

    def genuine_notification_is_accepted():
        response = post(notification(payment["out_trade_no"], yuan(payment["amount_fen"])))
        expect_eq((response.status_code, response.text.strip()), (200, "success"), "platform's answer")
        again = post(notification(payment["out_trade_no"], yuan(payment["amount_fen"])))
        expect_eq((again.status_code, again.text.strip()), (200, "success"), "answer to a repeated notification")

    suite.check("sandbox: precreate with amounts as JSON numbers, exactly", precreate_with_numbers)
    suite.check("sandbox: precreate with amounts as strings", precreate_with_strings)
    suite.check("sandbox: query with every parameter in the query string (GET)", query_by_get)
    suite.check("sandbox: a GET of an API method opens no trade", get_of_an_api_opens_no_trade)
    suite.check("sandbox: system parameters in the query, biz_content in the body (Java SDK)", java_sdk_split)
    suite.check("sandbox: WAP cashier from the SDK's signed order string", wap_cashier)
    suite.check("sandbox: notification of a payment verifies with the SDK", notification_from_the_sandbox_verifies)
    suite.check("sandbox: refund with refund_amount as a number", refund_with_a_number)
    suite.check("sandbox: close", close)
    suite.check("sandbox: bill download", bill)
    suite.check("sandbox: official error code, msg, sub_code and sub_msg", official_error_texts)
    suite.check("sandbox: answers verify only with Alipay's key", answers_are_signed_by_alipay)
    suite.check("platform: tampered notifications are refused", tampered_notifications_are_refused)
    suite.check("platform: a genuine notification is accepted, and again", genuine_notification_is_accepted)
    listener.close()
    return suite.finish()


if __name__ == "__main__":
    raise SystemExit(main())
