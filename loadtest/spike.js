// Live-room spike: the streamer says "3, 2, 1, go" and thousands of fans arrive within seconds.
// Each virtual user is one fan with its own verified session; each tap is a new Idempotency-Key,
// and some apps retry a tap with the same key.
import { sleep } from 'k6';
import { placeOrder, viewSale, checkInvariant, thinkTime } from './lib.js';

const PEAK = parseInt(__ENV.PEAK_VUS || '2000', 10);

export const options = {
  scenarios: {
    spike: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: '5s', target: PEAK }, // 0 → PEAK fans in five seconds
        { duration: '20s', target: PEAK },
        { duration: '5s', target: 0 },
      ],
      gracefulRampDown: '5s',
    },
  },
  thresholds: {
    'http_req_duration{kind:order}': ['p(95)<1000', 'p(99)<2000'],
    'http_req_duration{kind:view}': ['p(95)<1000'],
    unexpected_answers: ['rate<0.01'],
    'checks{phase:invariant}': ['rate==1'],
  },
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export default function () {
  viewSale(); // the order page
  sleep(thinkTime(0.2, 1.5)); // the fan reads, picks, taps
  const key = `spike-${__VU}-${__ITER}`;
  const first = placeOrder(key, 1);
  if (first === null && Math.random() < 0.5) {
    placeOrder(key, 1); // the network flaked: the app retries the same tap
  } else if (Math.random() < 0.1) {
    placeOrder(key, 1); // an impatient double tap with the same key: same order back
  }
  sleep(thinkTime(0.5, 2));
}

export function teardown() {
  checkInvariant();
}
