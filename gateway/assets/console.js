// The consoles made to act: forms and buttons call the JSON API with the page's HttpOnly
// cookie (X-Session names which one) and the CSRF token of <meta name=csrf-token>; a sale's
// live board polls its figures once a second and draws orders per second as an SVG line;
// copy buttons copy the share link. The pages read fine without this script.
"use strict";
(function () {
  var csrf = (document.querySelector("meta[name=csrf-token]") || {}).content || "";
  var side = document.body.dataset.console || "merchant";
  var home = side === "operator" ? "/admin" : "/console";

  var MESSAGES = {
    invalid_phone: "请输入正确的 11 位手机号", invalid_password: "密码需 8 到 128 位",
    invalid_credentials: "账号或密码错误", phone_taken: "这个手机号已注册，请直接登录",
    login_throttled: "登录失败次数过多，请稍后再试", busy: "系统繁忙，请再试一次",
    overloaded: "系统繁忙，请再试一次", csrf_failed: "页面已过期，请刷新后重试",
    invalid_field: "请检查填写的内容", invalid_price: "价格不在允许范围内", invalid_stock: "库存不在允许范围内",
    invalid_quantity: "数量不在允许范围内", invalid_per_buyer_limit: "每人限购需在 1 和数量之间",
    invalid_payment_window: "支付时限不在允许范围内", invalid_window: "结束时间需晚于开始时间，且不能已经结束",
    invalid_time: "请选择时间", insufficient_product_stock: "商品库存不足",
    too_many_live_sales: "同时进行的秒杀已达上限", too_many_scheduled_sales: "未开始的秒杀已达上限",
    product_not_found: "商品不存在", kyc_required: "请先完成实名认证再提现", insufficient_funds: "可提现余额不足",
    daily_limit: "超过今日提现上限", below_minimum: "低于最低提现金额", invalid_amount: "请输入正确的金额",
    not_under_review: "这笔付款已处理过", not_pending: "这笔提现已处理过", review_not_found: "找不到这笔审核",
    invalid_split: "分账比例不正确", unknown_partner: "MCN 机构不存在", invalid_username: "用户名不正确",
    token_revoked: "登录已失效，请重新登录", invalid_token: "登录已失效，请重新登录", unauthorized: "请先登录",
    forbidden: "没有权限", invalid_body: "请检查填写的内容",
    merchant_not_approved: "资质审核通过后才能创建秒杀", merchant_banned: "该商家已被封禁",
    number_banned: "执照号或身份证号属于被封禁的商家", invalid_qualification: "请按提示修改资质信息",
    invalid_kind: "请选择证件类型", empty_file: "请选择照片", file_too_large: "照片太大",
    unsupported_image_type: "只接受 PNG 或 JPEG 照片", content_type_mismatch: "照片格式与文件不符",
    invalid_dimensions: "照片尺寸不符合要求", too_many_documents: "证件照片已达上限",
    not_in_review: "这份资质已处理过", reasons_required: "请填写驳回原因", already_banned: "该商家已被封禁",
    not_banned: "该商家未被封禁", already_decided: "这条举报已处理过", merchant_not_found: "商家不存在",
    banned_words: "含广告法禁用词，请修改", product_not_listed: "商品未上架", sku_required: "请选择规格",
    invalid_transition: "当前状态不能这样操作", too_many_images: "图片已达上限", invalid_image: "图片无法识别或尺寸过大",
    unsupported_media_type: "文件类型不支持", payload_too_large: "文件太大", unreadable_file: "文件无法读取",
    too_many_rows: "行数超过上限", reason_required: "请填写驳回原因", product_held_back: "该商品已被平台下架，不能自行上架"
  };

  function message(answer) {
    if (answer.status === 0) return "网络异常，请重试";
    var error = answer.body.error || {};
    var text = MESSAGES[error.code] || error.message || "出错了（" + answer.status + "），请重试";
    // Reasons per field (a qualification's): each named.
    (error.reasons || []).forEach(function (r) { text += "；" + r.field + "：" + r.message; });
    return text;
  }

  // One JSON call. Resolves to {status, body}; a network failure is status 0.
  function call(method, url, body) {
    var headers = { "Accept": "application/json", "X-CSRF-Token": csrf, "X-Session": side };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(url, { method: method, headers: headers, credentials: "same-origin", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (r) {
        return r.text().then(function (t) {
          var parsed = {};
          try { parsed = t ? JSON.parse(t) : {}; } catch (e) { parsed = {}; }
          return { status: r.status, body: parsed };
        });
      }, function () { return { status: 0, body: {} }; });
  }
  function ok(answer) { return answer.status >= 200 && answer.status < 300; }

  // "19.9" → 1990 fen; null when it is not an amount with at most two decimals.
  function fen(text) {
    var m = /^\s*(\d{1,9})(?:\.(\d{1,2}))?\s*$/.exec(text);
    if (!m) return null;
    return Number(m[1]) * 100 + Number(((m[2] || "") + "00").slice(0, 2));
  }

  // A field's value as the API wants it, or undefined with the field marked invalid.
  function valueOf(input) {
    var raw = input.value;
    switch (input.dataset.kind) {
      case "int": return /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : undefined;
      case "minutes": return /^\s*\d+\s*$/.test(raw) ? Number(raw) * 60 : undefined;
      case "yuan": { var f = fen(raw); return f === null ? undefined : f; }
      case "percent": { var p = fen(raw); return p === null ? undefined : p; }
      // datetime-local "2026-11-26T20:00" is Beijing time.
      case "list": return raw.split(/[,，、\s]+/).filter(function (x) { return x; });
      case "beijing": return /^\d{4}-\d\d-\d\dT\d\d:\d\d$/.test(raw) ? raw + ":00+08:00" : undefined;
      default: return raw;
    }
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) { return encodeURIComponent(values[key]); });
  }

  function submit(form, event) {
    event.preventDefault();
    var error = form.querySelector(".form-error");
    var button = form.querySelector("button[type=submit]");
    var spec = form.dataset.api.split(" ");
    var body = {}, path = {}, bad = null;
    Array.prototype.forEach.call(form.elements, function (input) {
      if (!input.name) return;
      input.removeAttribute("aria-invalid");
      var value = valueOf(input);
      if (value === undefined || (input.required && value === "")) {
        input.setAttribute("aria-invalid", "true");
        if (!bad) bad = input;
        return;
      }
      if (input.dataset.path) path[input.name] = value; else body[input.name] = value;
    });
    if (bad) {
      error.textContent = "请填写「" + (form.querySelector("label[for='" + bad.id + "']") || {}).textContent + "」";
      bad.focus();
      return;
    }
    if (form.dataset.split) body = { partners: [{ partner_id: body.partner_id, bps: body.bps }] };
    if (form.dataset.qualification) {
      body.permits = body.permit_kind && body.permit_number ? [{ kind: body.permit_kind, number: body.permit_number }] : [];
      delete body.permit_kind;
      delete body.permit_number;
      ["business_name", "licence_number"].forEach(function (k) { if (!body[k]) delete body[k]; });
    }
    if (form.dataset.decision) {
      body = { revision: body.revision, approve: false, reasons: [{ field: body.field, reason: "rejected", message: body.message }] };
    }
    error.textContent = "";
    button.disabled = true;
    call(spec[0], fill(spec[1], path), body).then(function (answer) {
      if (!ok(answer)) throw answer;
      if (!form.dataset.login) return answer;
      // Signed up: sign in with the same phone and password.
      return call("POST", form.dataset.login, { phone: body.phone, password: body.password }).then(function (again) {
        if (!ok(again)) throw again;
        return answer;
      });
    }).then(function (answer) {
      var then = form.dataset.then;
      if (then === "reload") location.reload(); else location.assign(fill(then, answer.body));
    }, function (answer) {
      error.textContent = message(answer);
      button.disabled = false;
    });
  }

  // A file form (data-upload): its fields as multipart (the file as `file`); an import's report
  // (data-report) is drawn as a list of its bad rows, a picture's page reloads.
  function upload(form, event) {
    event.preventDefault();
    var error = form.querySelector(".form-error");
    var input = form.querySelector("input[type=file]");
    if (!input.files.length) { error.textContent = "请选择文件"; return; }
    var url = form.dataset.upload;
    var pressed = event.submitter;
    if (pressed && pressed.name === "dry_run") url += "?dry_run=" + pressed.value;
    var data = new FormData(form);
    var buttons = form.querySelectorAll("button");
    Array.prototype.forEach.call(buttons, function (b) { b.disabled = true; });
    error.textContent = "";
    fetch(url, { method: "POST", body: data, credentials: "same-origin", cache: "no-store",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf, "X-Session": side } })
      .then(function (r) { return r.json().then(function (b) { return { status: r.status, body: b }; }, function () { return { status: r.status, body: {} }; }); },
        function () { return { status: 0, body: {} }; })
      .then(function (answer) {
        Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
        if (!ok(answer)) { error.textContent = message(answer); return; }
        if (!form.dataset.report) { location.reload(); return; }
        report(document.getElementById(form.dataset.report), answer.body);
      });
  }

  function report(box, r) {
    box.hidden = false;
    box.textContent = "";
    var head = document.createElement("h2");
    head.textContent = (r.dry_run ? "检查结果" : "导入结果") + "：共 " + r.rows + " 行，" + r.good_rows + " 行可导入，" + r.bad_rows + " 行有问题";
    box.appendChild(head);
    if (r.imported) {
      var done = document.createElement("p");
      done.textContent = "新建商品 " + r.imported.products_created + "，更新 " + r.imported.products_updated +
        "，未变 " + r.imported.products_unchanged + "；新建规格 " + r.imported.skus_created + "，更新 " + r.imported.skus_updated;
      box.appendChild(done);
    }
    if (!r.faults.length) return;
    var table = document.createElement("table");
    var row = table.insertRow();
    ["行", "列", "原因"].forEach(function (t) { var th = document.createElement("th"); th.textContent = t; row.appendChild(th); });
    r.faults.forEach(function (f) {
      var tr = table.insertRow();
      [f.row, f.column, f.reason].forEach(function (t) { tr.insertCell().textContent = t; });
    });
    var wrap = document.createElement("div");
    wrap.className = "table-wrap";
    wrap.tabIndex = 0;
    wrap.appendChild(table);
    box.appendChild(wrap);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.upload) { upload(form, event); return; }
    if (form.dataset && form.dataset.api) submit(form, event);
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button) return;
    if (button.id === "sign-out") {
      call("POST", home + "/logout", {}).then(function () { location.assign(home + "/login"); });
    } else if (button.dataset.call) {
      var spec = button.dataset.call.split(" ");
      var body = button.dataset.body ? JSON.parse(button.dataset.body) : {};
      if (button.dataset.reason) body.reason = document.getElementById(button.dataset.reason).value;
      button.disabled = true;
      call(spec[0], spec[1], body).then(function (answer) {
        if (ok(answer)) { location.reload(); return; }
        var error = document.getElementById("call-error");
        if (error) error.textContent = message(answer);
        button.disabled = false;
      });
    } else if (button.dataset.copy) {
      var input = document.getElementById(button.dataset.copy);
      var note = document.getElementById("copy-note");
      var done = function () { if (note) note.textContent = "已复制：" + input.value; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () { input.select(); });
      } else {
        input.select();
        try { document.execCommand("copy"); done(); } catch (e) { /* selected for a manual copy */ }
      }
    }
  });

  // A picker that follows another field (data-follows): only the options of the chosen value
  // (data-product) are offered, the first of them chosen; its field is shown when there is a
  // choice to make (a product of several SKUs).
  function follow(picker) {
    var leader = document.getElementById(picker.dataset.follows);
    var offered = 0;
    Array.prototype.forEach.call(picker.options, function (option) {
      var mine = option.dataset.product === leader.value;
      option.hidden = !mine;
      option.disabled = !mine;
      if (mine && offered++ === 0) picker.value = option.value;
    });
    var field = picker.closest(".field");
    if (field) field.hidden = offered < 2;
  }
  document.addEventListener("change", function (event) {
    var changed = event.target;
    if (!changed.id) return;
    document.querySelectorAll("select[data-follows='" + changed.id + "']").forEach(follow);
  });
  document.querySelectorAll("select[data-follows]").forEach(follow);

  // ---- the live board -------------------------------------------------------------------
  var board = document.getElementById("board");
  if (!board) return;
  var $ = function (id) { return document.getElementById(id); };
  var STATES = { scheduled: "未开始", live: "进行中", sold_out: "已抢光", ended: "已结束" };
  var POINTS = 120;
  var history = [];
  var last = null;

  function yuan(f) {
    var a = Math.abs(f);
    return (f < 0 ? "-" : "") + "¥" + Math.floor(a / 100) + "." + String(a % 100).padStart(2, "0");
  }

  function draw() {
    var peak = Math.max.apply(null, history.concat([1]));
    // At least a 30-second window, drawn from the left; then the last two minutes scroll by.
    var step = 300 / (Math.max(history.length, 30) - 1);
    var d = history.map(function (v, i) {
      return (i ? "L" : "M") + (i * step).toFixed(1) + " " + (88 - (v / peak) * 84).toFixed(1);
    }).join("");
    $("chart-line").setAttribute("d", d || "M0 88");
    $("chart-peak").textContent = String(Math.round(Math.max.apply(null, history.concat([0])) * 10) / 10);
  }

  function show(f) {
    ["available", "reserved", "sold", "orders", "buyers"].forEach(function (k) { $("f-" + k).textContent = f[k]; });
    ["gmv_fen", "average_order_fen", "paid_fen"].forEach(function (k) { $("f-" + k).textContent = yuan(f[k]); });
    var state = $("f-state");
    state.dataset.state = f.state;
    state.textContent = STATES[f.state] || f.state;
    if (last) {
      var secs = Math.max(0.001, (f.now_ms - last.now_ms) / 1000);
      var rate = Math.max(0, f.orders - last.orders) / secs;
      history.push(rate);
      if (history.length > POINTS) history.shift();
      $("f-rate").textContent = String(Math.round(rate * 10) / 10);
      draw();
    }
    last = f;
  }

  function poll() {
    if (document.hidden) { setTimeout(poll, 1000); return; }
    fetch(board.dataset.figures, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; }, function () { return null; })
      .then(function (f) {
        if (f) show(f);
        setTimeout(poll, 1000);
      });
  }
  poll();
})();
