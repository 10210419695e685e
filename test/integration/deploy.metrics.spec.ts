import { expect } from 'chai';
import { SERVICE_NAMES } from '../../shared/config';
import { gatewayUrl, http, login, startNode, useToken, type Node } from '../helpers/platform';
import {
  dashboardExprs,
  metricNamesIn,
  namesInScrape,
  PROMETHEUS_BUILTINS,
  recordedNames,
  ruleExprs,
} from '../helpers/metrics-catalogue';

/*
 * The metric names the alert rules and Grafana dashboards read, held against what a running platform
 * really exports at the gateway's GET /metrics (not only against the catalogue written in the tests).
 */
describe('deployment: dashboards and alerts against a live scrape', function () {
  this.timeout(60_000);
  let node: Node;
  let root: string;

  before(async function () {
    node = await startNode([...SERVICE_NAMES]);
    const api = gatewayUrl(node);
    root = api.replace(/\/api\/v1$/, '');
    // one request through the gateway and an action, so that their series exist too
    useToken(await login(api));
    await http('GET', `${api}/buildings`);
    useToken(undefined);
  });
  after(() => node.broker.stop());

  it('exports every metric that a dashboard or an alert rule reads', async function () {
    const res = await fetch(`${root}/metrics`);
    expect(res.status, 'GET /metrics on the gateway').to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^text\/plain/);
    const exported = namesInScrape(await res.text());
    const recorded = recordedNames();
    const missing = [...ruleExprs(), ...dashboardExprs()].flatMap(({ where, expr }) =>
      metricNamesIn(expr)
        .filter((n) => !recorded.includes(n) && !PROMETHEUS_BUILTINS.includes(n) && !exported.has(n))
        .map((n) => `${where}: ${n}`),
    );
    expect(missing).to.deep.equal([]);
  });
});
