// Soak: a steady live room for a long time (default 10 minutes). Holds expire after a short
// payment window and their units sell again, so stock churns for the whole run; the invariant
// must hold at the end and the server's memory (sampled by run.sh) must stay flat.
import { sleep } from 'k6';
import { placeOrder, viewSale, checkInvariant, steadyScenarios } from './lib.js';

const DURATION = __ENV.DURATION || '10m';
const ORDER_RATE = parseInt(__ENV.ORDER_RATE || '200', 10);

export const options = {
  scenarios: steadyScenarios(ORDER_RATE, 5, DURATION),
  thresholds: {
    'http_req_duration{kind:order}': ['p(99)<1000'],
    unexpected_answers: ['rate<0.01'],
    'checks{phase:invariant}': ['rate==1'],
  },
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export function view() {
  viewSale();
}

export function order() {
  placeOrder(`soak-${__VU}-${__ITER}`, 1);
  sleep(0.05);
}

export function teardown() {
  checkInvariant();
}
