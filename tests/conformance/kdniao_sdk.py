"""Conformance of our KDNiao (快递鸟) code with the `kdniao` SDK on PyPI (menduo/kdniao_python,
unofficial, MIT), an implementation we did not write.

Driven by tests/it/courier_conformance.rs when CONFORMANCE_PYTHON names a Python that has
tests/conformance/requirements.txt installed. Two commands, each printing one JSON object:

  sign   The SDK's DataSign of the given RequestData under the given AppKey, and whether the
         SDK's `valid_sign` accepts a push our sandbox signed (its form body in a file).
  drive  The SDK's client orders an e-waybill (1007) from our courier sandbox, orders it again
         for the same order, subscribes the waybill (1008), and tries with a wrong AppKey;
         reports what came back.

What had to change to point the SDK at our sandbox, and why:
  * The SDK builds its URLs from two fixed hosts (api.kdniao.cc, testapi.kdniao.cc:8081) plus
    its own path per RequestType (/api/EOrderService for 1007, /api/dist for 1008). We replace
    `APIPathBuilder.gen_api_url` so the same paths hang under the sandbox's base URL instead;
    the form, the signing and the parsing are the SDK's own.
  * The SDK prints every signature it makes to stdout; that goes to stderr here, so stdout
    carries only the JSON result.
"""

import argparse
import contextlib
import json
import sys
import urllib.parse

import kdniao.api
from kdniao.client import KdNiaoClient
from kdniao.conf import APIPathBuilder, RequestTypeAPIPathMap


def point_at(base):
    def gen_api_url(cls, env_type, req_type):
        return base.rstrip("/") + RequestTypeAPIPathMap[req_type]

    APIPathBuilder.gen_api_url = classmethod(gen_api_url)


def sdk_sign(data, key):
    # The SDK's private signer (name-mangled `__sign` of kdniao.api.API).
    return kdniao.api.API._API__sign(data, key)


def party(name, mobile, city, district, address):
    return {
        "Name": name,
        "Mobile": mobile,
        "ProvinceName": "广东省",
        "CityName": city,
        "ExpAreaName": district,
        "Address": address,
    }


def eorder(order_code, shipper="SF"):
    return {
        "ShipperCode": shipper,
        "OrderCode": order_code,
        "PayType": 1,
        "ExpType": "1",
        "Sender": party("直播小店", "13800000001", "深圳市", "南山区", "科技园路1号"),
        "Receiver": party("李四", "13800000002", "广州市", "天河区", "天河路385号"),
        "Commodity": [{"GoodsName": "秒杀商品"}],
        "Quantity": 1,
    }


def sign(args):
    with open(args.push_file, encoding="utf-8") as f:
        push = urllib.parse.parse_qs(f.read(), keep_blank_values=True)
    client = KdNiaoClient(args.ebusiness_id, args.app_key, is_prod=False)
    with contextlib.redirect_stdout(sys.stderr):
        result = {
            "sign": sdk_sign(args.data, args.app_key),
            "push_verifies": client.valid_sign(push["DataSign"][0], push["RequestData"][0]),
            "push_request_type": push["RequestType"][0],
            "push_under_wrong_key": KdNiaoClient(args.ebusiness_id, "wrong", is_prod=False).valid_sign(
                push["DataSign"][0], push["RequestData"][0]
            ),
        }
    print(json.dumps(result, ensure_ascii=False))


def drive(args):
    point_at(args.base)
    client = KdNiaoClient(args.ebusiness_id, args.app_key, is_prod=False)
    forger = KdNiaoClient(args.ebusiness_id, "0" * 36, is_prod=False)
    with contextlib.redirect_stdout(sys.stderr):
        first = client.create_eorder(eorder("CONF-1"))["data"]
        again = client.create_eorder(eorder("CONF-1"))["data"]
        other = client.create_eorder(eorder("CONF-2", "ZTO"))["data"]
        code = first.get("Order", {}).get("LogisticCode", "")
        follow = client.follow(code, "SF")["data"]
        forged = forger.create_eorder(eorder("CONF-3"))["data"]
        unknown = client.create_eorder(eorder("CONF-4", "NOPE"))["data"]
    print(
        json.dumps(
            {"first": first, "again": again, "other": other, "follow": follow, "forged": forged, "unknown": unknown},
            ensure_ascii=False,
        )
    )


def main():
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    s = commands.add_parser("sign")
    s.add_argument("--ebusiness-id", required=True)
    s.add_argument("--app-key", required=True)
    s.add_argument("--data", required=True)
    s.add_argument("--push-file", required=True)
    d = commands.add_parser("drive")
    d.add_argument("--base", required=True)
    d.add_argument("--ebusiness-id", required=True)
    d.add_argument("--app-key", required=True)
    args = parser.parse_args()
    {"sign": sign, "drive": drive}[args.command](args)


if __name__ == "__main__":
    main()
