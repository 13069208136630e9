// The fan's page made live: figures from /s/{code}/live, countdowns, and the three steps
// (sale → confirm → pay) through the JSON API, authenticated by the page's HttpOnly cookie
// and the CSRF token of <meta name=csrf-token>. Plain script, no library.
"use strict";
(function () {
  var csrf = (document.querySelector("meta[name=csrf-token]") || {}).content || "";
  var $ = function (id) { return document.getElementById(id); };

  var MESSAGES = {
    sold_out: "已抢光", insufficient_stock: "库存不足，请减少数量", not_started: "秒杀还未开始",
    ended: "秒杀已结束", limit_exceeded: "超出每人限购数量", too_many_orders: "下单次数过多",
    too_many_unpaid_orders: "您有未支付的订单，请先支付", rate_limited: "操作太频繁，请稍后再试",
    overloaded: "人太多了，请再点一次", journal_full: "人太多了，请再点一次",
    not_confirmed: "网络繁忙，请再点一次", busy: "人太多了，请再点一次", shutting_down: "服务维护中，请稍后再试",
    invalid_phone: "请输入正确的 11 位手机号", invalid_code: "请输入 6 位数字验证码", wrong_code: "验证码错误",
    code_expired: "验证码已过期，请重新获取", no_code: "请先获取验证码", code_locked: "错误次数过多，请稍后再试",
    code_resend_too_soon: "发送太频繁，请稍后再试", phone_daily_limit: "该手机号今日验证码次数已用完",
    network_daily_limit: "验证码发送次数过多", too_many_sessions: "验证次数过多，请稍后再试",
    sms_unavailable: "短信发送失败，请稍后再试", csrf_failed: "页面已过期，请刷新后重试",
    not_payable: "订单已无法支付", payment_channels_unavailable: "支付通道繁忙，请稍后再试",
    channel_not_offered: "暂不支持该支付方式", invalid_token: "请重新验证手机号", token_revoked: "请重新验证手机号",
    address_required: "请先填写收货地址", not_shipped: "订单尚未发货"
  };
  // A server-side address error, by the field its code names, and what to say there.
  var ADDRESS = {
    invalid_name: ["recv-name", "请填写收货人姓名（1–25 字）"], invalid_phone: ["recv-phone", "请输入正确的 11 位手机号"],
    invalid_province: ["province", "没有这个省份，请检查"], invalid_city: ["city", "该省没有这个城市，请检查"],
    invalid_district: ["district", "该市没有这个区县，请检查"], invalid_district_code: ["district", "区县不正确"],
    invalid_detail: ["detail", "请填写 4–120 字的详细地址"]
  };
  var ADDRESS_FIELDS = ["recv-name", "recv-phone", "province", "city", "district", "detail"];
  var STATES = {
    pending_payment: "待支付", paid: "已支付", shipped: "已发货", completed: "已完成",
    expired: "已过期（未在时限内支付）", cancelled: "已取消", refunded: "已退款"
  };

  function message(error, fallback) {
    return MESSAGES[error.code] || error.message || fallback || "出错了，请重试";
  }

  // One JSON call. Resolves to {status, body}; a network failure is status 0.
  function call(method, url, body, headers) {
    var h = { "Accept": "application/json", "X-CSRF-Token": csrf };
    if (body !== undefined) h["Content-Type"] = "application/json";
    for (var k in headers || {}) h[k] = headers[k];
    return fetch(url, { method: method, headers: h, credentials: "same-origin", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (r) {
        return r.text().then(function (t) {
          var parsed = {};
          try { parsed = t ? JSON.parse(t) : {}; } catch (e) { parsed = {}; }
          return { status: r.status, body: parsed };
        });
      }, function () { return { status: 0, body: {} }; });
  }
  function errorOf(answer) {
    if (answer.status === 0) return { code: "network", message: "网络异常，请重试" };
    return answer.body.error || { code: "http_" + answer.status, message: "" };
  }

  function yuan(fen) {
    var f = Math.abs(fen);
    return (fen < 0 ? "-" : "") + "¥" + Math.floor(f / 100) + "." + String(f % 100).padStart(2, "0");
  }
  function clock(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var two = function (n) { return String(n).padStart(2, "0"); };
    return two(Math.floor(s / 3600)) + ":" + two(Math.floor(s / 60) % 60) + ":" + two(s % 60);
  }
  function show(id) {
    document.querySelectorAll(".screen").forEach(function (s) { s.hidden = s.id !== id; });
    var heading = $(id) && $(id).querySelector("h1, h2");
    if (heading) { heading.tabIndex = -1; heading.focus(); }
    window.scrollTo(0, 0);
  }
  function fieldError(input, errorId, text) {
    $(errorId).textContent = text || "";
    if (input) input.setAttribute("aria-invalid", text ? "true" : "false");
  }
  function randomKey() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  // Paying: creates the payment at the chosen channel and opens its cashier page, which
  // returns to the order's page.
  function payOrder(code, orderId, button, errorId) {
    var picked = document.querySelector("input[name=channel]:checked");
    var channel = picked ? picked.value : "wechat";
    button.disabled = true;
    $(errorId).textContent = "";
    call("POST", "/api/v1/orders/" + orderId + "/payments",
      { channel: channel, method: channel === "wechat" ? "h5" : "wap" })
      .then(function (answer) {
        var back = location.origin + "/s/" + code + "/o/" + orderId;
        if (answer.status === 201) {
          var body = answer.body;
          if (body.h5_url) { location.assign(body.h5_url + "&redirect_url=" + encodeURIComponent(back)); return; }
          if (body.pay_url) { location.assign(body.pay_url); return; }
          $(errorId).textContent = "该支付方式请在手机上完成";
        } else if (answer.status === 409) {
          location.assign(back);
          return;
        } else {
          $(errorId).textContent = message(errorOf(answer));
        }
        button.disabled = false;
      });
  }

  function salePage(main) {
    var code = main.dataset.code, saleId = main.dataset.sale;
    var skew = Number(main.dataset.now) - Date.now();
    var starts = Number(main.dataset.starts), ends = Number(main.dataset.ends);
    var price = Number(main.dataset.price), limit = Number(main.dataset.limit);
    var signedIn = main.dataset.signedIn === "1";
    var serverState = main.dataset.phase;
    var available = Number($("available").textContent);
    var buy = $("buy"), quantity = $("quantity"), phone = $("phone"), codeInput = $("code");
    var order = null;

    function phase() {
      var now = Date.now() + skew;
      if (now < starts) return "scheduled";
      if (now >= ends || serverState === "ended") return "ended";
      if (available === 0 || serverState === "sold_out") return "sold_out";
      return "live";
    }
    function tick() {
      var p = phase(), now = Date.now() + skew;
      $("countdown").textContent = p === "scheduled" ? "距开抢 " + clock(starts - now)
        : p === "ended" ? "秒杀已结束" : p === "sold_out" ? "已抢光 · 距结束 " + clock(ends - now)
        : "距结束 " + clock(ends - now);
      buy.disabled = p !== "live";
      buy.textContent = { scheduled: "即将开抢", ended: "已结束", sold_out: "已抢光", live: "立即抢购" }[p];
      if (order) {
        var left = Date.parse(order.expires_at) - now;
        $("pay-deadline").textContent = left > 0 ? "请在 " + clock(left) + " 内完成支付" : "支付已超时";
      }
    }
    function poll() {
      if (document.hidden) return;
      fetch("/s/" + code + "/live", { cache: "no-store" }).then(function (r) { return r.ok ? r.json() : null; })
        .then(function (live) {
          if (!live) return;
          available = live.available;
          serverState = live.state;
          skew = live.now_ms - Date.now();
          $("available").textContent = live.available;
          $("meter").max = live.quantity;
          $("meter").value = live.quantity - live.available;
          tick();
        }, function () {});
    }
    setInterval(tick, 1000);
    setInterval(poll, 1000);
    tick();

    buy.addEventListener("click", function () { show("step-confirm"); });
    document.querySelectorAll("[data-back]").forEach(function (b) {
      b.addEventListener("click", function () { show(b.dataset.back); });
    });

    function wanted() {
      var n = Math.floor(Number(quantity.value));
      return n >= 1 && n <= limit ? n : null;
    }
    function total() {
      var n = wanted();
      $("total").textContent = n ? yuan(price * n) : "—";
      fieldError(quantity, "quantity-error", n ? "" : "数量为 1 到 " + limit + " 件");
    }
    document.querySelectorAll("[data-step]").forEach(function (b) {
      b.addEventListener("click", function () {
        var n = (wanted() || 1) + Number(b.dataset.step);
        quantity.value = Math.min(limit, Math.max(1, n));
        total();
      });
    });
    quantity.addEventListener("input", total);

    function phoneOk() {
      var ok = /^1\d{10}$/.test(phone.value.trim());
      fieldError(phone, "phone-error", ok ? "" : MESSAGES.invalid_phone);
      return ok;
    }
    var send = $("send-code");
    send.addEventListener("click", function () {
      if (!phoneOk()) { phone.focus(); return; }
      send.disabled = true;
      call("POST", "/api/v1/buyers/codes", { phone: phone.value.trim() }).then(function (answer) {
        if (answer.status !== 202) {
          var error = errorOf(answer);
          if (error.code === "invalid_phone") fieldError(phone, "phone-error", message(error));
          else fieldError(null, "code-error", message(error));
          send.disabled = false;
          return;
        }
        fieldError(null, "code-error", "");
        codeInput.focus();
        var wait = answer.body.resend_after_secs || 60;
        var timer = setInterval(function () {
          wait -= 1;
          send.textContent = wait > 0 ? wait + " 秒后重发" : "重新获取";
          if (wait <= 0) { clearInterval(timer); send.disabled = false; }
        }, 1000);
        send.textContent = wait + " 秒后重发";
      });
    });

    // The Idempotency-Key of this sale and quantity, kept until an order is placed: every
    // retry of the button (and a reload) sends the same one.
    function keyFor(n) {
      var slot = "fs-key-" + saleId, kept = null;
      try { kept = JSON.parse(sessionStorage.getItem(slot) || "null"); } catch (e) { kept = null; }
      if (!kept || kept.quantity !== n) {
        kept = { quantity: n, key: randomKey() };
        try { sessionStorage.setItem(slot, JSON.stringify(kept)); } catch (e) { /* private mode */ }
      }
      return kept.key;
    }

    function signIn() {
      if (signedIn) return Promise.resolve(true);
      var okPhone = phoneOk();
      var okCode = /^\d{6}$/.test(codeInput.value.trim());
      fieldError(codeInput, "code-error", okCode ? "" : MESSAGES.invalid_code);
      if (!okPhone || !okCode) return Promise.resolve(false);
      return call("POST", "/s/session", { phone: phone.value.trim(), code: codeInput.value.trim() })
        .then(function (answer) {
          if (answer.status === 200) { signedIn = true; $("verify").hidden = true; return true; }
          var error = errorOf(answer);
          if (error.code === "invalid_phone") fieldError(phone, "phone-error", message(error));
          else fieldError(codeInput, "code-error", message(error));
          return false;
        });
    }

    // The address goes to the order once it exists; the server checks it against the
    // division table and names the field it refuses.
    function address() {
      var v = function (id) { return $(id).value.trim(); };
      ADDRESS_FIELDS.forEach(function (id) { fieldError($(id), id + "-error", ""); });
      if (!v("recv-phone") && phone.value.trim()) $("recv-phone").value = phone.value.trim();
      return { name: v("recv-name"), phone: v("recv-phone"), province: v("province"), city: v("city"),
        district: v("district"), detail: v("detail") };
    }
    function toPay() {
      $("pay-quantity").textContent = order.quantity;
      $("pay-amount").textContent = yuan(order.amount_fen);
      $("pay").textContent = "去支付 " + yuan(order.amount_fen);
      tick();
      show("step-pay");
    }
    function setAddress() {
      return call("PUT", "/api/v1/orders/" + order.order_id + "/address", address()).then(function (answer) {
        place.disabled = false;
        if (answer.status === 200) { toPay(); return; }
        var error = errorOf(answer), field = ADDRESS[error.code];
        if (field) { fieldError($(field[0]), field[0] + "-error", field[1]); $(field[0]).focus(); }
        else $("order-error").textContent = message(error);
      });
    }

    var place = $("place");
    $("confirm-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var n = wanted();
      if (!n) { quantity.focus(); return; }
      place.disabled = true;
      $("order-error").textContent = "";
      if (order) { setAddress(); return; }
      signIn().then(function (ok) {
        if (!ok) return null;
        return call("POST", "/api/v1/flash-sales/" + saleId + "/orders", { quantity: n },
          { "Idempotency-Key": keyFor(n) });
      }).then(function (answer) {
        if (!answer) { place.disabled = false; return; }
        if (answer.status === 201) {
          sessionStorage.removeItem("fs-key-" + saleId);
          order = answer.body;
          quantity.disabled = true;
          setAddress();
          return;
        }
        place.disabled = false;
        var error = errorOf(answer);
        if (answer.status === 401) {
          signedIn = false;
          $("verify").hidden = false;
          fieldError(phone, "phone-error", MESSAGES.invalid_token);
        } else if (error.code === "limit_exceeded" || error.code === "insufficient_stock") {
          fieldError(quantity, "quantity-error", message(error));
        } else {
          $("order-error").textContent = message(error);
        }
        if (error.code === "sold_out") { available = 0; tick(); }
      });
    });
    $("pay").addEventListener("click", function () { payOrder(code, order.order_id, $("pay"), "pay-error"); });
  }

  function orderPage(main) {
    var code = main.dataset.code, orderId = main.dataset.order;
    var steps = ["pending_payment", "paid", "shipped", "completed"];
    var stateLine = $("order-state");
    function poll() {
      call("GET", "/api/v1/orders/" + orderId).then(function (answer) {
        var delay = 1500;
        if (answer.status === 200) {
          var o = answer.body;
          stateLine.textContent = STATES[o.state] || o.state;
          stateLine.dataset.state = o.state;
          $("order-quantity").textContent = o.quantity + " 件";
          $("order-amount").textContent = yuan(o.amount_fen);
          $("order-created").textContent = new Date(o.created_at).toLocaleString("zh-CN", { hour12: false });
          var reached = steps.indexOf(o.state);
          document.querySelectorAll("#timeline li").forEach(function (li) {
            li.classList.toggle("done", reached >= 0 && steps.indexOf(li.dataset.step) <= reached);
          });
          $("repay").hidden = o.state !== "pending_payment";
          shipment(o);
          if (o.state === "paid") delay = 10000;
          if (o.state === "shipped") delay = 30000;
          if (["completed", "expired", "cancelled", "refunded"].indexOf(o.state) >= 0) return;
        } else if (answer.status === 401 || answer.status === 403 || answer.status === 404) {
          stateLine.textContent = "请在下单的手机上查看此订单";
          stateLine.dataset.state = "unknown";
          return;
        }
        setTimeout(poll, delay);
      });
    }
    // The parcel: courier and waybill, where it is, every scan, and receipt once shipped.
    function shipment(o) {
      var s = o.shipment;
      $("shipment").hidden = !s;
      if (!s) return;
      $("ship-line").textContent = s.courier_name + " " + s.waybill_no;
      var delivered = s.tracking_state === "delivered";
      $("ship-state").textContent = s.tracking_state_name;
      $("ship-state").dataset.state = delivered ? "delivered" : s.tracking_state;
      var list = $("tracking");
      list.textContent = "";
      s.tracking.slice().reverse().forEach(function (t) {
        var li = document.createElement("li");
        li.textContent = new Date(t.at).toLocaleString("zh-CN", { hour12: false }) + " " + t.description;
        list.appendChild(li);
      });
      $("receive").hidden = o.state !== "shipped";
    }
    poll();
    $("pay").addEventListener("click", function () { payOrder(code, orderId, $("pay"), "pay-error"); });
    $("receive").addEventListener("click", function () {
      $("receive").disabled = true;
      call("POST", "/api/v1/orders/" + orderId + "/receipt").then(function (answer) {
        $("receive").disabled = false;
        if (answer.status === 200) { poll(); return; }
        $("receive-error").textContent = message(errorOf(answer));
      });
    });
  }

  var sale = $("fan"), order = $("order");
  if (sale) salePage(sale);
  if (order) orderPage(order);
})();
