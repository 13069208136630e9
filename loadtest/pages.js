// Browse mix against the fan's page: in one run, the same number of closed-loop virtual fans
// read (1) the page at the short link `/s/{code}`, (2) its live figure `/s/{code}/live`, and
// (3) the JSON read `GET /api/v1/flash-sales/{id}`, while orders arrive at ORDER_RATE/s so the
// figures move. Each kind gets what the server gives it, so the summary's requests per second
// per kind compare pages/s with JSON reads/s on the same server, data and moment.
//
//   loadtest/run.sh pages                      # VUS=20 per kind, DURATION=60s, ORDER_RATE=20
//   DURATION=5s loadtest/run.sh pages          # a smoke run
import http from 'k6/http';
import { check, sleep } from 'k6';
import { BASE, SALE_ID, placeOrder, checkInvariant, unexpected } from './lib.js';

const VUS = parseInt(__ENV.VUS || '20', 10);
const DURATION = __ENV.DURATION || '60s';
const ORDER_RATE = parseInt(__ENV.ORDER_RATE || '20', 10);

const closedLoop = (exec) => ({ executor: 'constant-vus', exec, vus: VUS, duration: DURATION });

export const options = {
  scenarios: {
    page: closedLoop('page'),
    live: closedLoop('live'),
    json: closedLoop('json'),
    orders: {
      executor: 'constant-arrival-rate', exec: 'order', rate: ORDER_RATE, timeUnit: '1s',
      duration: DURATION, preAllocatedVUs: 20, maxVUs: 200,
    },
  },
  thresholds: {
    unexpected_answers: ['rate<0.01'],
    'checks{phase:invariant}': ['rate==1'],
    // Listed so the summary reports each kind's count and rate.
    'http_reqs{kind:page}': ['count>0'],
    'http_reqs{kind:live}': ['count>0'],
    'http_reqs{kind:json}': ['count>0'],
    'http_req_duration{kind:page}': ['p(95)<1000'],
    'http_req_duration{kind:live}': ['p(95)<1000'],
    'http_req_duration{kind:json}': ['p(95)<1000'],
  },
  summaryTrendStats: ['avg', 'med', 'p(95)', 'p(99)', 'max'],
};

// The sale's short-link code, from the merchant's share endpoint.
export function setup() {
  const login = http.post(`${BASE}/api/v1/sessions`,
    JSON.stringify({ phone: __ENV.MERCHANT_PHONE, password: __ENV.MERCHANT_PASSWORD }),
    { headers: { 'Content-Type': 'application/json' } });
  const share = http.get(`${BASE}/api/v1/flash-sales/${SALE_ID}/share`,
    { headers: { Authorization: `Bearer ${login.json('token')}` } });
  if (share.status !== 200) throw new Error(`share: ${share.status} ${share.body}`);
  return { code: share.json('code') };
}

export function page(data) {
  const res = http.get(`${BASE}/s/${data.code}`, { tags: { kind: 'page' } });
  unexpected.add(!check(res, { 'page 200 html': (r) => r.status === 200 && r.body.includes('id="available"') }));
}

export function live(data) {
  const res = http.get(`${BASE}/s/${data.code}/live`, { tags: { kind: 'live' } });
  unexpected.add(!check(res, { 'live 200': (r) => r.status === 200 && r.json('available') >= 0 }));
}

export function json() {
  const res = http.get(`${BASE}/api/v1/flash-sales/${SALE_ID}`, { tags: { kind: 'json' } });
  unexpected.add(!check(res, { 'json 200': (r) => r.status === 200 && r.json('available') >= 0 }));
}

export function order() {
  placeOrder(`pages-${__VU}-${__ITER}`, 1);
  sleep(0.1);
}

export function teardown() {
  checkInvariant();
}

export function handleSummary(data) {
  const rate = (kind) => ((data.metrics[`http_reqs{kind:${kind}}`] || {}).values || {}).rate || 0;
  const [p, l, j] = [rate('page'), rate('live'), rate('json')];
  const line = `pages/s ${p.toFixed(1)}  live/s ${l.toFixed(1)}  json/s ${j.toFixed(1)}  ` +
    `pages÷json ${(j ? p / j : 0).toFixed(2)}  live÷json ${(j ? l / j : 0).toFixed(2)}\n`;
  return { stdout: line };
}
