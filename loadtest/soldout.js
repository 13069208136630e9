// Sold-out storm: the minute after stock runs out. Fans keep tapping; every answer should be a
// fast 409 sold_out served from the sold-out flag, without reaching the stock actor.
import { sleep } from 'k6';
import http from 'k6/http';
import { check } from 'k6';
import { BASE, SALE_ID, placeOrder, checkInvariant, thinkTime, verifiedSession } from './lib.js';

const PEAK = parseInt(__ENV.PEAK_VUS || '1000', 10);

export const options = {
  scenarios: {
    storm: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: '5s', target: PEAK },
        { duration: __ENV.DURATION || '55s', target: PEAK },
      ],
      gracefulRampDown: '5s',
    },
  },
  thresholds: {
    'http_req_duration{kind:order}': ['p(95)<300', 'p(99)<1000'],
    unexpected_answers: ['rate<0.01'],
    'checks{phase:invariant}': ['rate==1'],
  },
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

// Before the storm, run the stock down to nothing with a few early fans.
export function setup() {
  const sale = http.get(`${BASE}/api/v1/flash-sales/${SALE_ID}`).json();
  let left = sale.available;
  for (let fan = 0; left > 0; fan += 1) {
    const phone = String(13900000000 + fan);
    const token = verifiedSession(phone);
    const want = Math.min(left, sale.per_buyer_limit);
    const res = http.post(`${BASE}/api/v1/flash-sales/${SALE_ID}/orders`, JSON.stringify({ quantity: want }), {
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, 'Idempotency-Key': 'early' },
    });
    if (res.status === 201) left -= want;
  }
  const after = http.get(`${BASE}/api/v1/flash-sales/${SALE_ID}`).json();
  check(after, { 'sold out before the storm': (s) => s.available === 0 && s.state === 'sold_out' });
}

export default function () {
  placeOrder(`soldout-${__VU}-${__ITER}`, 1);
  sleep(thinkTime(0.05, 0.3)); // furious tapping
}

export function teardown() {
  const s = checkInvariant();
  check(s, { 'invariant: still sold out, nothing oversold': (v) => v.available === 0 }, { phase: 'invariant' });
}
