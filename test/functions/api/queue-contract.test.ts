import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toQueueRecord } from '../../../functions/adapters/queue/batch.ts';
import { parseRecord } from '../../../functions/correlate/records.ts';
import { agentEvent } from '../../helpers/api-events.ts';
import { API_NOW, type ApiHarness, apiHarness, OPERATOR_SECRET } from '../../helpers/api-harness.ts';
import { incidentRow, putIncident } from '../../helpers/api-incidents.ts';
import { AGENT_HOST } from '../../helpers/api-routes.ts';

const VIOS2_DOMAIN = 'vscsi:Server-9080-M9S-SN78AB12C/vios2';

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

  it("binds an agent's events to its host, keeps the API's receivedat and sentby, and leaves nothing to judge again", async () => {
    const token = await api.agentToken(AGENT_HOST);
    const event = { ...agentEvent('mirror.degraded', AGENT_HOST), sentby: 'operator:forged' };
    expect((await api.request('POST', '/v1/events', { token, body: [event] })).status).toBe(202);
    const [record] = await parsedByCorrelate();
    expect(record).toMatchObject({
      ok: true,
      sender: { kind: 'agent', hostId: AGENT_HOST },
      input: { id: event.id, receivedat: new Date(API_NOW).toISOString(), sentby: `agent:${AGENT_HOST}` },
      checkGrant: false,
    });
  });

  it("takes a registered server's announcement as judged at ingest: correlate does not judge it again", async () => {
    await api.store.putHostRecord({
      hostId: 'vios2',
      role: 'hosting',
      serves: [VIOS2_DOMAIN],
      registeredAt: new Date(API_NOW).toISOString(),
      registeredBy: 'ops',
    });
    const token = await api.agentToken('vios2');
    const ipl = agentEvent('ipl.completed', 'vios2');
    expect((await api.request('POST', '/v1/events', { token, body: ipl })).status).toBe(202);
    const [record] = await parsedByCorrelate();
    expect(record).toMatchObject({
      ok: true,
      sender: { kind: 'agent', hostId: 'vios2' },
      input: { id: ipl.id, sentby: 'agent:vios2' },
      checkGrant: false,
    });
  });

  it('marks the same announcement sent straight to SQS by its host to be judged against its grant', async () => {
    const ipl = agentEvent('ipl.completed', 'vios2');
    const direct = await api.events
      .withSender('AROAEXAMPLEAGENTROLE:vios2')
      .send({ body: JSON.stringify(ipl) });
    expect(direct.messageId).toBeTruthy();
    const [record] = await parsedByCorrelate();
    expect(record).toMatchObject({
      ok: true,
      sender: { kind: 'agent', hostId: 'vios2' },
      input: { id: ipl.id, sentby: 'agent:vios2' },
      checkGrant: true,
    });
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
          input: expect.objectContaining({ id: ipl.id, sentby: 'operator:ops' }),
          checkGrant: false,
        }),
      ]),
    );
  });
});
