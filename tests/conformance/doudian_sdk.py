"""Conformance of our Douyin shop (抖店) code with the `doudian` Python SDK (PyPI, 0.6).

Driven by tests/it/live_conformance.rs when CONFORMANCE_PYTHON names a Python that has
tests/conformance/requirements.txt installed. Takes one argument, a JSON file the Rust test
writes, and prints one line per check and a closing `doudian: N passed, N failed`:

  * the SDK's signer (`DouDian._sign`) over the exact `param_json` and timestamp our client
    prepared must produce our client's `sign`, and the SDK's own serialisation of the same
    business parameters must be our `param_json`;
  * the SDK's push verifier (`DouDian.callback`) must accept a push our sandbox signed and
    refuse it once a byte changed;
  * the SDK, pointed at our sandbox, exchanges a code (`token.create`), creates an item
    (`product.addV2`), sets a SKU's stock (`sku.syncStock`) and refreshes (`token.refresh`);
    with a wrong secret it is refused with the sandbox's signature error.

What had to change to point the SDK at the sandbox, and why:
  * `_gate_way` is set to the sandbox's URL (the SDK has no setting for it besides its
    `test_mode` host). Nothing else in the SDK is touched.
  * The SDK stamps requests with `datetime.now()` in local time, which the platform reads as
    Beijing time: the Rust test runs this script with TZ=Asia/Shanghai.
"""

import json
import sys

from doudian import AppType, DouDian

from common import Suite, expect, expect_eq, load_config


def sdk(config, secret=None):
    client = DouDian(config["app_key"], secret or config["app_secret"], app_type=AppType.TOOL)
    client._gate_way = config["gateway"]
    return client


def main():
    config = load_config()
    suite = Suite("doudian")
    offline = DouDian(config["app_key"], config["app_secret"], app_type=AppType.TOOL)

    for i, case in enumerate(config["sign_cases"]):
        def signs_alike(case=case):
            ours = case["sign"]
            theirs = offline._sign(method=case["method"], param_json=case["param_json"], timestamp=case["timestamp"])
            expect_eq(theirs, ours, "sign of " + case["method"])

        def serialises_alike(case=case):
            theirs = json.dumps(case["params"], sort_keys=True, separators=(",", ":"))
            expect_eq(theirs, case["param_json"], "param_json of " + case["method"])

        suite.check(f"sign {i}: the SDK's signer makes our client's signature", signs_alike)
        suite.check(f"sign {i}: the SDK sorts and serialises the parameters as we do", serialises_alike)

    push = config["push"]

    def push_verified():
        headers = {"app-id": config["app_key"], "event-sign": push["event_sign"]}
        opened = offline.callback(headers, push["body"].encode("utf-8"))
        expect(opened is not None, "the SDK refused a push our sandbox signed")
        expect_eq(opened, json.loads(push["body"]), "the push as the SDK reads it")

    def tampered_push_refused():
        headers = {"app-id": config["app_key"], "event-sign": push["event_sign"]}
        body = push["body"].replace('"tag":"101"', '"tag":"102"')
        expect(body != push["body"], "the tampering changed nothing")
        expect(offline.callback(headers, body.encode("utf-8")) is None, "the SDK accepted a tampered push")

    suite.check("push: the SDK's verifier accepts our sandbox's event-sign", push_verified)
    suite.check("push: the SDK's verifier refuses a tampered body", tampered_push_refused)

    client = sdk(config)
    state = {}

    def token_created():
        expect(client.init_token(config["code"]), "token.create failed through the sandbox")
        token = client._token
        expect(token.get("access_token") and token.get("refresh_token"), f"token data: {token}")
        expect_eq(str(token.get("shop_id")), config["shop_id"], "shop_id")

    def item_created():
        spec = [{"out_sku_id": 31, "price": 1990, "stock_num": 4, "spec_detail_name1": "红色"}]
        answer = client.request("/product/addV2", {
            "name": "SDK item", "description": "made by the doudian SDK", "out_product_id": 7001,
            "specs": "规格|红色", "spec_prices": json.dumps(spec, ensure_ascii=False), "pay_type": 1, "commit": True,
        })
        expect(answer is not None and answer.get("err_no") == 0, f"product.addV2: {answer}")
        state["product_id"] = answer["data"]["product_id"]
        state["sku_id"] = answer["data"]["sku"][0]["sku_id"]

    def stock_set():
        answer = client.request("/sku/syncStock", {
            "product_id": state["product_id"], "sku_id": state["sku_id"], "stock_num": 42,
            "incremental": False, "idempotent_id": "sdk-stock-1",
        })
        expect(answer is not None and answer.get("code") == 10000, f"sku.syncStock: {answer}")

    def refreshed():
        before = client._token["access_token"]
        client._refresh_token()
        expect(client._token["access_token"] != before, "token.refresh gave the same access token")

    def wrong_secret_refused():
        wrong = sdk(config, secret=config["app_secret"] + "x")
        wrong._token = dict(client._token)
        answer = wrong.request("/sku/syncStock", {"product_id": state["product_id"], "sku_id": state["sku_id"], "stock_num": 1})
        expect(answer is not None, "no answer")
        expect_eq(answer.get("sub_code"), config["bad_signature_sub_code"], "sub_code of a wrong signature")

    for title, check in [
        ("token.create through the sandbox", token_created),
        ("product.addV2 through the sandbox", item_created),
        ("sku.syncStock through the sandbox", stock_set),
        ("token.refresh through the sandbox", refreshed),
        ("a wrong secret is refused with the signature error", wrong_secret_refused),
    ]:
        if not suite.check(title, check):
            break
    if "product_id" in state:
        print("IDS " + json.dumps({"product_id": str(state["product_id"]), "sku_id": str(state["sku_id"])}))
    return suite.finish()


if __name__ == "__main__":
    sys.exit(main())
