import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toQueueRecord } from '../../../functions/adapters/queue/batch.ts';
import { freshHost, type Slices } from '../../../functions/core/index.ts';
import { parseRecord } from '../../../functions/correlate/records.ts';
import { agentEvent } from '../../helpers/api-events.ts';
import { API_NOW, type ApiHarness, apiHarness, OPERATOR_SECRET } from '../../helpers/api-harness.ts';
import { incidentRow, putIncident } from '../../helpers/api-incidents.ts';
import { AGENT_HOST } from '../../helpers/api-routes.ts';

/** What correlate makes of what the API queues (functions/correlate/messages.ts is the contract). */
describe('the API and correlate on the events queue', () => {
  let api: ApiHarness;
  const policy = { trustedSenders: ['api'] };

  beforeEach(async () => {
    api = await apiHarness();
  });
  afterEach(async () => api.close());

  /** Every message on the queue as correlate parses it. */
  const parsedByCorrelate = async () => {
    const parsed = [];
    for (;;) {
      const batch = await api.events.receive({ maxMessages: 10 });
      if (batch.length === 0) return parsed;
      for (const message of batch) {
        parsed.push(parseRecord(toQueueRecord(message), policy));
        await api.events.delete(message.receiptHandle);
      }
    }
  };

  it("binds an agent's events to its host and keeps the API's receivedat", async () => {
    const token = await api.agentToken(AGENT_HOST);
    const event = agentEvent('mirror.degraded', AGENT_HOST);
    expect((await api.request('POST', '/v1/events', { token, body: [event] })).status).toBe(202);
    const [record] = await parsedByCorrelate();
    expect(record).toMatchObject({
      ok: true,
      sender: { kind: 'agent', hostId: AGENT_HOST },
      input: { id: event.id, receivedat: new Date(API_NOW).toISOString() },
    });
  });

  it('leaves a server event of a host whose role is unknown to correlate, which refuses it until a heartbeat says hosting', async () => {
    const token = await api.agentToken('vios2');
    expect(
      (await api.request('POST', '/v1/events', { token, body: agentEvent('ipl.completed', 'vios2') })).status,
    ).toBe(202);
    const [record] = await parsedByCorrelate();
    if (record?.ok !== true || record.guard === undefined) throw new Error('expected a guarded record');
    const noHeartbeat: Slices = { control: { paused: false }, domains: {}, hosts: {} };
    expect(record.guard(noHeartbeat)).toMatch(/has sent no heartbeat/);
    const hosting: Slices = { ...noHeartbeat, hosts: { vios2: { ...freshHost('vios2'), role: 'hosting' } } };
    expect(record.guard(hosting)).toBeUndefined();
  });

  it('delivers operator commands and operator-posted events as the operator', async () => {
    await putIncident(api.store, incidentRow('inc-1'));
    expect(
      (await api.request('POST', '/v1/incidents/inc-1/approve', { token: OPERATOR_SECRET })).status,
    ).toBe(202);
    const ipl = agentEvent('ipl.completed', 'vios2');
    expect((await api.request('POST', '/v1/events', { token: OPERATOR_SECRET, body: ipl })).status).toBe(202);
    const records = await parsedByCorrelate();
    expect(records).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          ok: true,
          sender: { kind: 'operator', label: 'ops' },
          input: expect.objectContaining({ type: 'operator.approve', incidentId: 'inc-1' }),
        }),
        expect.objectContaining({
          ok: true,
          sender: { kind: 'operator', label: 'ops' },
          input: expect.objectContaining({ id: ipl.id }),
          guard: undefined,
        }),
      ]),
    );
  });
});
