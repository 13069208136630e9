// Fixed-rate probe for compare.sh: TARGET=bare (GET /livez) or TARGET=order (POST an order) at
// RATE requests per second, so that latency is compared at the same offered load.
import http from 'k6/http';
import { BASE, SALE_ID } from './lib.js';

const TOKENS = open(__ENV.TOKENS).split('\n').filter((t) => t.length > 0);
const TARGET = __ENV.TARGET || 'bare';

export const options = {
  scenarios: {
    probe: {
      executor: 'constant-arrival-rate',
      rate: parseInt(__ENV.RATE || '1000', 10),
      timeUnit: '1s',
      duration: __ENV.DURATION || '15s',
      preAllocatedVUs: 200,
      maxVUs: 2000,
    },
  },
  summaryTrendStats: ['med', 'p(95)', 'p(99)', 'max'],
};

export default function () {
  if (TARGET === 'bare') {
    http.get(`${BASE}/livez`);
    return;
  }
  const token = TOKENS[(__VU * 7919 + __ITER) % TOKENS.length];
  http.post(`${BASE}/api/v1/flash-sales/${SALE_ID}/orders`, '{"quantity":1}', {
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, 'Idempotency-Key': `rate-${__VU}-${__ITER}` },
  });
}
