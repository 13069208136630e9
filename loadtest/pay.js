// The whole fan journey against the bundled payment sandboxes: order, create the payment
// (WeChat Pay or Alipay, alternating), pay at the sandbox as the buyer, and wait for the order
// to turn `paid` — which happens when the channel's signed notification has been verified and
// the merchant credited. Ends with the stock invariant and the money invariants through the
// API: every sold unit credited exactly once, to the fen, and the ledger balanced and
// reconciled with both channels' bills.
import { sleep } from 'k6';
import http from 'k6/http';
import { check } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';
import exec from 'k6/execution';
import { BASE, SALE_ID, session, placeOrder, checkInvariant, thinkTime, unexpected } from './lib.js';

const PEAK = parseInt(__ENV.PEAK_VUS || '300', 10);
const PRICE_FEN = parseInt(__ENV.PRICE_FEN || '990', 10);
const FEE_BPS = parseInt(__ENV.FEE_BPS || '20', 10);
const JSON_HEADERS = { 'Content-Type': 'application/json' };

const paidOrders = new Counter('orders_paid');
const paidInTime = new Rate('orders_paid_in_time');
const payToPaid = new Trend('pay_to_paid_ms', true);

export const options = {
  scenarios: {
    live_room: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: '10s', target: PEAK },
        { duration: __ENV.DURATION || '40s', target: PEAK },
      ],
      gracefulRampDown: '10s',
    },
  },
  thresholds: {
    'http_req_duration{kind:order}': ['p(95)<500', 'p(99)<1500'],
    'http_req_duration{kind:payment}': ['p(95)<1000', 'p(99)<2500'],
    pay_to_paid_ms: ['p(95)<2000'],
    orders_paid_in_time: ['rate>0.99'],
    unexpected_answers: ['rate<0.01'],
    'checks{phase:invariant}': ['rate==1'],
  },
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export default function () {
  const token = session();
  if (!token) return;
  const key = `pay-${__VU}-${exec.vu.iterationInScenario}`;
  const order = placeOrder(key, 1);
  if (!order || !order.order_id) {
    sleep(thinkTime(1, 3));
    return;
  }
  sleep(thinkTime(0.5, 2)); // the fan reads the confirmation and taps "pay"
  const channel = (__VU + exec.vu.iterationInScenario) % 2 === 0 ? 'wechat' : 'alipay';
  const auth = { ...JSON_HEADERS, Authorization: `Bearer ${token}` };
  // An order is paid only once it says where it ships to.
  const address = http.put(`${BASE}/api/v1/orders/${order.order_id}/address`, JSON.stringify({
    name: '张三', phone: '13800138000', province: '广东省', city: '深圳市', district: '南山区',
    detail: '科技园南区1栋101',
  }), { headers: auth, tags: { kind: 'address' } });
  const addressOk = check(address, { 'address 200': (r) => r.status === 200 });
  unexpected.add(!addressOk);
  if (!addressOk) return;
  const created = http.post(`${BASE}/api/v1/orders/${order.order_id}/payments`, JSON.stringify({ channel }), {
    headers: auth,
    tags: { kind: 'payment' },
  });
  const createdOk = check(created, {
    'payment 201': (r) => r.status === 201,
    'payment has a QR code': (r) => r.status === 201 && (r.json('code_url') || r.json('qr_code')),
  });
  unexpected.add(!createdOk);
  if (!createdOk) return;
  const used = created.json('channel');
  const tradeNo = created.json('out_trade_no');
  sleep(thinkTime(1, 3)); // scans the code, confirms in the wallet
  const paid = http.post(`${BASE}/sandbox/${used}/pay`, JSON.stringify({ out_trade_no: tradeNo }), {
    headers: JSON_HEADERS,
    tags: { kind: 'sandbox_pay' },
  });
  const paidOk = check(paid, { 'sandbox pay 200': (r) => r.status === 200 });
  unexpected.add(!paidOk);
  if (!paidOk) return;
  const started = Date.now();
  let state = '';
  for (let i = 0; i < 50 && state !== 'paid'; i += 1) {
    sleep(0.1);
    const read = http.get(`${BASE}/api/v1/orders/${order.order_id}`, { headers: auth, tags: { kind: 'poll' } });
    state = read.status === 200 ? read.json('state') : '';
  }
  const inTime = state === 'paid';
  paidInTime.add(inTime);
  if (inTime) {
    paidOrders.add(1);
    payToPaid.add(Date.now() - started);
  }
  sleep(thinkTime(1, 4));
}

export function teardown() {
  sleep(2); // let the last notifications and credits land
  const sale = checkInvariant();
  const fee = Math.floor((PRICE_FEN * FEE_BPS + 5000) / 10000);
  const merchant = http
    .post(`${BASE}/api/v1/sessions`, JSON.stringify({ phone: __ENV.MERCHANT_PHONE, password: __ENV.MERCHANT_PASSWORD }), {
      headers: JSON_HEADERS,
    })
    .json('token');
  const balance = http.get(`${BASE}/api/v1/merchants/me/balance`, {
    headers: { Authorization: `Bearer ${merchant}` },
  }).json();
  const operator = http
    .post(`${BASE}/api/v1/operator/sessions`, JSON.stringify({ username: 'operator', password: __ENV.OPERATOR_PASSWORD }), {
      headers: JSON_HEADERS,
    })
    .json('token');
  const opHeaders = { headers: { Authorization: `Bearer ${operator}` } };
  const ledger = http.get(`${BASE}/api/v1/operator/ledger/check`, opHeaders).json();
  const reconciliation = http.get(`${BASE}/api/v1/operator/reconciliation`, opHeaders).json();
  const ok = check(
    { sale, balance, ledger, reconciliation },
    {
      'money: every sold unit credited exactly once': (v) => v.balance.available_fen === v.sale.sold * (PRICE_FEN - fee),
      'money: ledger balanced': (v) => v.ledger.balanced === true,
      'money: bills reconcile with the ledger': (v) => v.reconciliation.reconciled === true,
    },
    { phase: 'invariant' },
  );
  console.log(
    `money ${ok ? 'holds' : 'BROKEN'}: sold ${sale.sold}, available_fen ${balance.available_fen} ` +
      `(expected ${sale.sold * (PRICE_FEN - fee)}), postings ${ledger.postings}, reconciled ${reconciliation.reconciled}`,
  );
}
