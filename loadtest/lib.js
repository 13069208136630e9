// Shared pieces of the k6 scripts: configuration from the environment, a fan's verified session,
// placing an order, classifying answers, and the stock invariant checked at the end.
import http from 'k6/http';
import { check } from 'k6';
import { Counter, Rate } from 'k6/metrics';

export const BASE = __ENV.BASE || 'http://127.0.0.1:8080';
export const SALE_ID = __ENV.SALE_ID || '1';
export const QUANTITY = parseInt(__ENV.QUANTITY || '0', 10);

const JSON_HEADERS = { 'Content-Type': 'application/json' };

// Sold out (409) and limits (429) are answers a flash sale gives on purpose: not failures.
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }, 409, 429));

// Answers a flash sale gives on purpose: not errors, but counted.
const EXPECTED_REFUSALS = new Set(['sold_out', 'insufficient_stock', 'limit_exceeded', 'rate_limited']);

export const ordersCreated = new Counter('orders_created');
export const unitsCreated = new Counter('units_created');
export const refusals = new Counter('order_refusals');
export const unexpected = new Rate('unexpected_answers');

// One fan = one virtual user: a verified session made on first use.
let token = null;

export function fanPhone() {
  // 11 digits starting with 13; distinct per VU, so every VU is its own buyer.
  return String(13000000000 + __VU);
}

// A verified buyer session for `phone`, as a fan's phone gets it: ask for a code, read it
// from the bundled SMS sandbox's inbox (the fan's phone in demo mode), trade it for a token.
// Returns the token, or null (counted as unexpected).
export function verifiedSession(phone) {
  const asked = http.post(`${BASE}/api/v1/buyers/codes`, JSON.stringify({ phone }), {
    headers: JSON_HEADERS,
    tags: { kind: 'code' },
  });
  const inbox = asked.status === 202
    ? http.get(`${BASE}/sandbox/sms/messages?phone=${phone}`, { tags: { kind: 'inbox' } })
    : null;
  const text = inbox && inbox.status === 200 ? inbox.json('messages.0.text') : null;
  const code = text ? (text.match(/\d{6}/) || [])[0] : null;
  const res = code
    ? http.post(`${BASE}/api/v1/buyers/sessions`, JSON.stringify({ phone, code }), {
      headers: JSON_HEADERS,
      tags: { kind: 'session' },
    })
    : null;
  const ok = check(res, { 'session 200': (r) => r !== null && r.status === 200 });
  unexpected.add(!ok);
  return ok ? res.json('token') : null;
}

export function session() {
  if (!token) token = verifiedSession(fanPhone());
  return token;
}

export function viewSale() {
  const res = http.get(`${BASE}/api/v1/flash-sales/${SALE_ID}`, { tags: { kind: 'view' } });
  const ok = check(res, {
    'view 200': (r) => r.status === 200,
    'view balanced': (r) => {
      const s = r.json();
      return s.available + s.reserved + s.sold === s.quantity;
    },
  });
  unexpected.add(!ok);
  return res;
}

// Places an order and classifies the answer. Returns the parsed body (or null).
export function placeOrder(key, quantity) {
  const auth = session();
  if (!auth) return null;
  const res = http.post(
    `${BASE}/api/v1/flash-sales/${SALE_ID}/orders`,
    JSON.stringify({ quantity }),
    {
      headers: { ...JSON_HEADERS, Authorization: `Bearer ${auth}`, 'Idempotency-Key': key },
      tags: { kind: 'order' },
    },
  );
  let body = null;
  try {
    body = res.json();
  } catch (_) {
    body = null;
  }
  if (res.status === 201) {
    const ok = check(res, {
      'order 201 pending': () => body.state === 'pending_payment' && body.quantity === quantity,
    });
    unexpected.add(!ok);
    ordersCreated.add(1);
    unitsCreated.add(quantity);
    return body;
  }
  const code = body && body.error ? body.error.code : `http_${res.status}`;
  const expected = EXPECTED_REFUSALS.has(code);
  check(res, { 'order refusal is expected': () => expected });
  unexpected.add(!expected);
  refusals.add(1, { code });
  return body;
}

// The invariant, through the API: no oversell, every unit in exactly one bucket.
export function checkInvariant() {
  const res = http.get(`${BASE}/api/v1/flash-sales/${SALE_ID}`, { tags: { kind: 'invariant' } });
  const s = res.json();
  const ok = check(
    s,
    {
      'invariant: available + reserved + sold == quantity': (v) => v.available + v.reserved + v.sold === v.quantity,
      'invariant: nothing negative': (v) => v.available >= 0 && v.reserved >= 0 && v.sold >= 0,
      'invariant: quantity as seeded': (v) => QUANTITY === 0 || v.quantity === QUANTITY,
    },
    { phase: 'invariant' },
  );
  console.log(`invariant ${ok ? 'holds' : 'BROKEN'}: ${JSON.stringify(s)}`);
  return s;
}

// The steady-state shape of browse.js and soak.js: page views at `viewsPerOrder` × the order
// rate, both at fixed arrival rates for `duration`.
export function steadyScenarios(orderRate, viewsPerOrder, duration) {
  const fixedRate = (exec, rate) => ({
    executor: 'constant-arrival-rate',
    exec,
    rate,
    timeUnit: '1s',
    duration,
    preAllocatedVUs: 200,
    maxVUs: 2000,
  });
  return { views: fixedRate('view', viewsPerOrder * orderRate), orders: fixedRate('order', orderRate) };
}

export function thinkTime(minSecs, maxSecs) {
  return minSecs + Math.random() * (maxSecs - minSecs);
}
