// Browse mix: fans watching the sale page (stock, price) at 20× the rate at which they order.
import { sleep } from 'k6';
import { placeOrder, viewSale, checkInvariant, steadyScenarios } from './lib.js';

const ORDER_RATE = parseInt(__ENV.ORDER_RATE || '100', 10);
const DURATION = __ENV.DURATION || '60s';

export const options = {
  scenarios: steadyScenarios(ORDER_RATE, 20, DURATION),
  thresholds: {
    'http_req_duration{kind:view}': ['p(95)<200', 'p(99)<500'],
    'http_req_duration{kind:order}': ['p(95)<500', 'p(99)<1000'],
    unexpected_answers: ['rate<0.01'],
    dropped_iterations: ['count<100'],
    'checks{phase:invariant}': ['rate==1'],
  },
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export function view() {
  viewSale();
}

export function order() {
  placeOrder(`browse-${__VU}-${__ITER}`, 1);
  sleep(0.1);
}

export function teardown() {
  checkInvariant();
}
