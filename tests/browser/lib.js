// What the browser tests share: the real server binary started on a fresh data directory and
// a port of its own, JSON calls, SMS codes from the sandbox inbox, buyers, axe-core, checks.
"use strict";
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const readline = require("node:readline");

const ROOT = path.resolve(__dirname, "..", "..");
const BIN = process.env.FLASHSALE_BIN || path.join(ROOT, "target", "debug", "flashsale");
const SHOTS = path.join(ROOT, "target", "browser");
const AXE = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

let failures = 0;
function check(ok, what) {
  console.log((ok ? "ok   " : "FAIL ") + what);
  if (!ok) failures += 1;
}
function failed() { return failures; }

// `extraEnv` adds settings (FLASHSALE__SECTION__KEY) to the test's own.
function startServer(extraEnv) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "flashsale-browser-"));
  const child = spawn(BIN, ["serve"], {
    cwd: dir,
    stdio: ["ignore", "pipe", "inherit"],
    env: Object.assign({}, process.env, {
      FLASHSALE__SERVER__BIND: "127.0.0.1:0",
      FLASHSALE__DATABASE__URL: "sqlite://" + path.join(dir, "flashsale.db"),
      FLASHSALE__LOG__LEVEL: "warn",
      // Everyone here is 127.0.0.1: the per-network limits are for people.
      FLASHSALE__BUYER_CODES__NETWORK_DAILY_LIMIT: "0",
      FLASHSALE__BUYER_CODES__NETWORK_SESSIONS_PER_HOUR: "0",
      FLASHSALE__ADMISSION__MAX_UNPAID_ORDERS_PER_NETWORK: "0",
    }, extraEnv || {}),
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the server printed no address in 60 s")), 60000);
    child.on("exit", (code) => reject(new Error("the server exited with " + code)));
    readline.createInterface({ input: child.stdout }).on("line", (line) => {
      const found = line.match(/^flashsale listening on (\S+)/);
      if (found) { clearTimeout(timer); resolve({ child, base: found[1], dir }); }
    });
  });
}

function stopServer(server) {
  server.child.kill("SIGTERM");
  fs.rmSync(server.dir, { recursive: true, force: true });
}

async function api(base, method, url, body, token) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = "Bearer " + token;
  const answer = await fetch(base + url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await answer.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { json = text; }
  return { status: answer.status, body: json };
}

async function smsCode(base, phone) {
  for (let i = 0; i < 50; i += 1) {
    const inbox = await api(base, "GET", "/sandbox/sms/messages?phone=" + phone);
    // The newest login code: order notices reach the same inbox.
    const messages = (inbox.body && inbox.body.messages) || [];
    const login = messages.find((m) => m.text.includes("验证码"));
    const text = login && login.text;
    const code = text && text.match(/\d{6}/);
    if (code) return code[0];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("no SMS code for " + phone);
}

async function buyerToken(base, phone) {
  const sent = await api(base, "POST", "/api/v1/buyers/codes", { phone });
  if (sent.status !== 202) throw new Error("code: " + JSON.stringify(sent.body));
  const session = await api(base, "POST", "/api/v1/buyers/sessions", { phone, code: await smsCode(base, phone) });
  return session.body.token;
}

// A unified social credit code and a resident ID number of their own for a phone (the same
// rule as tests/it/helpers.rs `qualification_numbers`).
function qualificationNumbers(phone) {
  const ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  const n = BigInt(phone.replace(/\D/g, "") || "0");
  let rest = n;
  let org = "";
  for (let i = 0; i < 9; i += 1) { org += ALPHABET[Number(rest % 31n)]; rest /= 31n; }
  const body = "91110101" + org;
  let sum = 0;
  let weight = 1;
  for (const c of body) { sum += ALPHABET.indexOf(c) * weight; weight = (weight * 3) % 31; }
  const uscc = body + ALPHABET[(31 - (sum % 31)) % 31];
  const mixed = Number(n % 9999991n);
  const born = new Date(Date.UTC(1960, 0, 1) + (mixed % 10000) * 86400000);
  const ymd = born.toISOString().slice(0, 10).replace(/-/g, "");
  const id17 = "110101" + ymd + String(Math.floor(mixed / 10000)).padStart(3, "0");
  const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  let idSum = 0;
  for (let i = 0; i < 17; i += 1) idSum += Number(id17[i]) * WEIGHTS[i];
  return { uscc, id: id17 + "10X98765432"[idSum % 11] };
}

// A PNG signature and header of width × height (what the document checks read).
function pngHeader(width, height) {
  const bytes = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]).copy(bytes, 0);
  Buffer.from("IHDR").copy(bytes, 12);
  bytes.writeUInt32BE(width, 16);
  bytes.writeUInt32BE(height, 20);
  bytes[24] = 8;
  bytes[25] = 2;
  return Buffer.concat([bytes, Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82])]);
}

// Takes a signed-up merchant through the real qualification flow until approved: its
// company registered in the verification sandbox, documents uploaded, the form submitted.
async function approveMerchant(base, phone, password) {
  const session = await api(base, "POST", "/api/v1/sessions", { phone, password });
  if (session.status !== 200) throw new Error("log-in: " + JSON.stringify(session.body));
  const token = session.body.token;
  const { uscc, id } = qualificationNumbers(phone);
  const name = "测试商贸有限公司" + phone;
  const registered = await api(base, "POST", "/sandbox/verification/companies",
    { uscc, name, legal_person_name: "王测试", legal_person_id_no: id });
  if (registered.status !== 201) throw new Error("sandbox: " + JSON.stringify(registered.body));
  for (const kind of ["business_licence", "id_card_front", "id_card_back"]) {
    const form = new FormData();
    form.append("kind", kind);
    form.append("file", new Blob([pngHeader(800, 600)], { type: "image/png" }), kind + ".png");
    const answer = await fetch(base + "/api/v1/merchants/me/documents",
      { method: "POST", headers: { Authorization: "Bearer " + token }, body: form });
    if (answer.status !== 201) throw new Error("upload " + kind + ": " + (await answer.text()));
  }
  const submitted = await api(base, "PUT", "/api/v1/merchants/me/qualification", {
    entity_type: "company", business_name: name, licence_number: uscc, legal_person_name: "王测试",
    legal_person_id_no: id, contact_name: "王测试", contact_phone: phone, categories: ["apparel"], permits: [],
  }, token);
  if (submitted.status !== 202) throw new Error("qualification: " + JSON.stringify(submitted.body));
  for (let i = 0; i < 500; i += 1) {
    const me = await api(base, "GET", "/api/v1/merchants/me", undefined, token);
    if (me.body.review_state === "approved") return token;
    if (me.body.review_state !== "pending") throw new Error("review: " + JSON.stringify(me.body));
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("the review did not finish");
}

async function axeCheck(page, what) {
  // Evaluated by the debugger protocol, which the page's CSP (rightly) does not stop.
  await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const found = result.violations.map((v) => v.id + " (" + v.nodes.map((n) => n.target.join(" ")).join(", ") + ")");
  check(found.length === 0, "axe on " + what + (found.length ? ": " + found.join("; ") : ""));
}

function launchOptions() {
  return {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  };
}

module.exports = {
  ROOT, SHOTS, check, failed, startServer, stopServer, api, smsCode, buyerToken, axeCheck, launchOptions,
  approveMerchant, qualificationNumbers,
};
