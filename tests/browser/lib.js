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

module.exports = { ROOT, SHOTS, check, failed, startServer, stopServer, api, smsCode, buyerToken, axeCheck, launchOptions };
