import { expect } from 'chai';
import { mergeExpositions } from '../../services/monitoring/exposition';
import { errorType } from '../../shared/monitoring';

const processA = `# HELP arxos_ready Whether this process takes work
# TYPE arxos_ready gauge
arxos_ready{node="a",app="gateway"} 1
# HELP arxos_http_request_duration_seconds HTTP requests
# TYPE arxos_http_request_duration_seconds histogram
arxos_http_request_duration_seconds_bucket{le="0.1",route="/a {b}",node="a",app="gateway"} 2
arxos_http_request_duration_seconds_sum{route="/a {b}",node="a",app="gateway"} 0.01
arxos_http_request_duration_seconds_count{route="/a {b}",node="a",app="gateway"} 2
`;
const processB = `# HELP arxos_ready Whether this process takes work
# TYPE arxos_ready gauge
arxos_ready{node="b",app="buildings"} 0
`;

describe('merging the expositions of several processes', function () {
  it('gives each family once, with HELP and TYPE once and every process’s series under it', function () {
    const merged = mergeExpositions([processA, processB]);
    expect(merged.match(/^# TYPE arxos_ready gauge$/gm)).to.have.length(1);
    expect(merged.match(/^# HELP arxos_ready /gm)).to.have.length(1);
    const lines = merged.split('\n');
    const at = lines.indexOf('# TYPE arxos_ready gauge');
    expect(lines.slice(at + 1, at + 3)).to.deep.equal([
      'arxos_ready{node="a",app="gateway"} 1',
      'arxos_ready{node="b",app="buildings"} 0',
    ]);
    expect(merged).to.include(
      'arxos_http_request_duration_seconds_count{route="/a {b}",node="a",app="gateway"} 2',
    );
  });

  it('keeps a series seen twice (two nodes sharing one process) once', function () {
    const merged = mergeExpositions([processA, processA.replace('} 1', '} 0')]);
    expect(merged.match(/^arxos_ready\{/gm)).to.have.length(1);
    expect(merged.match(/_bucket\{/gm)).to.have.length(1);
  });
});

describe('the error type an action error is counted under', function () {
  it('is the stable type of our errors and Moleculer’s, VALIDATION_FAILED for the validator, else INTERNAL', function () {
    expect(errorType({ type: 'NOT_FOUND', code: 404 })).to.equal('NOT_FOUND');
    expect(errorType({ type: 'REQUEST_TIMEOUT' })).to.equal('REQUEST_TIMEOUT');
    expect(errorType({ type: 'VALIDATION_ERROR' })).to.equal('VALIDATION_FAILED');
    expect(errorType(new TypeError('x is undefined'))).to.equal('INTERNAL');
    expect(errorType({ type: 'made up by a client <script>' })).to.equal('INTERNAL');
  });
});
