// Home Assistant's influxdb integration with api_version 2 (deploy/homeassistant/configuration.v2.yaml)
// against the real meter-relay, with relay.auth: token. Home Assistant uses InfluxData's Python
// client; its requests are made here with the official JavaScript client (@influxdata/influxdb-client),
// which sends the same: POST /api/v2/write?org=<organization>&bucket=<bucket>&precision=ns with
// "Authorization: Token <token>". At setup Home Assistant writes an empty body and accepts a 2xx
// or a 400 ("invalid inputs"); anything else (401, 404, ...) makes it retry the setup forever.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InfluxDB, Point, HttpError, setLogger } from '@influxdata/influxdb-client';
import { relayStart } from './relay.mjs';

// The client logs failed writes; the test asserts on the errors instead.
setLogger({ error: () => {}, warn: () => {} });

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

// The example, parsed by PyYAML with Home Assistant's !secret tag.
function exampleConfig() {
  const json = execFileSync('python3', ['-c', `
import json, sys, yaml
yaml.SafeLoader.add_constructor('!secret', lambda loader, node: {'secret': loader.construct_scalar(node)})
print(json.dumps(yaml.safe_load(open(sys.argv[1]))))`, join(repo, 'deploy/homeassistant/configuration.v2.yaml')]);
  return JSON.parse(json).influxdb;
}

// What Home Assistant's event_to_json makes of an input_number state change, with the example's
// ignore_attributes (icon, friendly_name, editable): the unit as measurement, domain and entity
// id (without the domain) as tags, the state as field value, other attributes as fields
// (numbers as floats, the rest as <name>_str strings).
function stateChangePoint(entityId, unit, state, timeFired) {
  const [domain, objectId] = entityId.split('.');
  return new Point(unit)
    .tag('domain', domain)
    .tag('entity_id', objectId)
    .floatField('value', state)
    .stringField('initial_str', 'None')
    .floatField('max', 1000000)
    .floatField('min', 0)
    .stringField('mode_str', 'box')
    .floatField('step', 0.001)
    .timestamp(timeFired);
}

test('the v2 example: what Home Assistant sends reaches the spool, routed to the bucket', async (t) => {
  const ha = exampleConfig();
  assert.equal(String(ha.api_version), '2');
  assert.equal(ha.port, 8087, 'the relay port of the example configuration');
  assert.equal(ha.ssl, false, 'api_version 2 defaults to https; the relay speaks http');
  assert.deepEqual(ha.token, { secret: 'relay_token' });
  assert.equal(ha.username, undefined, 'Home Assistant refuses username with api_version 2');
  assert.ok(ha.organization && ha.bucket);

  const token = 'ha-token-0123456789';
  const relay = await relayStart({ relayYaml: ['  auth: token'], relayEnv: `RELAY_TOKENS=${token}\n` });
  t.after(() => relay.remove());
  // Home Assistant builds the URL from host, port and ssl; the host is the relay's here.
  const url = `http${ha.ssl ? 's' : ''}://127.0.0.1:${relay.port}`;

  // Setup: the empty write with the configured token.
  const probe = (auth) =>
    fetch(`${url}/api/v2/write?org=${encodeURIComponent(ha.organization)}&bucket=${encodeURIComponent(ha.bucket)}&precision=ns`, {
      method: 'POST',
      headers: { Authorization: `Token ${auth}`, 'Content-Type': 'text/plain; charset=utf-8', Accept: 'application/json' },
      body: '',
    });
  const setup = await probe(token);
  assert.ok(setup.status === 204 || setup.status === 400, `setup probe answered ${setup.status}`);
  assert.equal((await probe('wrong-token')).status, 401, 'a wrong token fails the setup visibly');

  // State changes, batched as Home Assistant does (one request per second of events).
  const client = new InfluxDB({ url, token });
  const writeApi = client.getWriteApi(ha.organization, ha.bucket, 'ns', { flushInterval: 0, maxRetries: 0, batchSize: 100 });
  writeApi.writePoint(stateChangePoint('input_number.haupt_wasser', 'm³', 842.137, new Date('2024-11-27T06:00:00.123Z')));
  writeApi.writePoint(stateChangePoint('input_number.haupt_wasser', 'm³', 842.361, new Date('2024-11-28T06:00:00.456Z')));
  writeApi.writePoint(
    new Point('W').tag('domain', 'sensor').tag('entity_id', 'power_total').floatField('value', 431.5)
      .stringField('device_class_str', 'power').timestamp(new Date('2024-11-28T06:00:01Z')),
  );
  await writeApi.close();

  const records = await relay.dump();
  assert.equal(records.length, 1, 'one request, one spool record');
  assert.equal(records[0].bucket, ha.bucket);
  assert.equal(records[0].org, ha.organization);
  assert.deepEqual(records[0].lines, [
    'm³,domain=input_number,entity_id=haupt_wasser initial_str="None",max=1000000,min=0,mode_str="box",step=0.001,value=842.137 1732687200123000000',
    'm³,domain=input_number,entity_id=haupt_wasser initial_str="None",max=1000000,min=0,mode_str="box",step=0.001,value=842.361 1732773600456000000',
    'W,domain=sensor,entity_id=power_total device_class_str="power",value=431.5 1732773601000000000',
  ]);

  // A wrong token: Home Assistant logs the write error; nothing is spooled.
  const wrong = new InfluxDB({ url, token: 'not-the-token' }).getWriteApi(ha.organization, ha.bucket, 'ns', { flushInterval: 0, maxRetries: 0 });
  wrong.writePoint(stateChangePoint('input_number.haupt_wasser', 'm³', 842.5, new Date('2024-11-29T06:00:00Z')));
  await assert.rejects(wrong.close(), (error) => error instanceof HttpError && error.statusCode === 401);
  assert.equal((await relay.dump()).length, 1);
});

test('the example file itself parses and names the relay', () => {
  const text = readFileSync(join(repo, 'deploy/homeassistant/configuration.v2.yaml'), 'utf8');
  assert.match(text, /^influxdb:$/m);
  assert.equal((text.match(/^influxdb:/gm) ?? []).length, 1, 'exactly one influxdb: key');
});
